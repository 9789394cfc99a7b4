"""KeyMatcher: the per-table matching Search builds at load (service/name_match.py)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from movierec.artifacts.search import NameTable, trigrams
from movierec.service.blocking import FUZZY_CANDIDATES, GRAM_DF_FLOOR, GRAM_DF_SHARE
from movierec.service.name_match import EXACT, PREFIX, KeyMatcher, fuzzy_cutoff, query_trigrams


def reference_candidates(table: NameTable, q: str, min_length: float) -> list[int]:
    """The blocking rule written the plain way (np.unique, then the two tops): what KeyMatcher must equal."""
    grams = trigrams(q)
    gram_index = {gram: i for i, gram in enumerate(table.grams)}
    ids = np.asarray([gram_index[g] for g in grams if g in gram_index], dtype=np.int64)
    if not len(ids):
        return []
    df = table.gram_indptr[ids + 1] - table.gram_indptr[ids]
    rare = df <= max(GRAM_DF_FLOOR, len(table) // GRAM_DF_SHARE)
    if rare.sum() < 2:
        rare = np.zeros(len(ids), dtype=bool)
        rare[np.argsort(df, kind="stable")[:2]] = True
    members = np.concatenate([table.gram_keys[table.gram_indptr[i]:table.gram_indptr[i + 1]] for i in ids[rare]])
    keys, overlap = np.unique(members, return_counts=True)
    lengths = np.array([len(table.keys[k]) for k in keys])
    keys, overlap = keys[lengths >= min_length], overlap[lengths >= min_length]
    if len(keys) <= FUZZY_CANDIDATES:
        return keys.tolist()
    dice = 2.0 * overlap / (len(grams) + table.key_grams[keys])
    first = keys[np.argpartition(-dice, FUZZY_CANDIDATES)[:FUZZY_CANDIDATES]]
    second = keys[np.argpartition(-(overlap + dice), FUZZY_CANDIDATES // 2)[:FUZZY_CANDIDATES // 2]]
    return np.union1d(first, second).tolist()


def syllable_table(seed: int, size: int) -> NameTable:
    """Made-up names from a few syllables: many shared trigrams, so blocking has to choose."""
    rng = random.Random(seed)
    syllables = ["ka", "ro", "mi", "tan", "sel", "vo", "ri", "an", "der", "son", "li", "ma", "be", "th", "or"]
    keys = {" ".join("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
                     for _ in range(rng.randint(1, 3))) for _ in range(size)}
    prior = np.linspace(0, 1, len(keys), dtype=np.float32)
    return NameTable.build(((k, k, row, 0, "") for row, k in enumerate(sorted(keys))), prior)


@pytest.fixture(scope="module")
def names() -> NameTable:
    return syllable_table(7, 3000)


def test_blocking_equals_the_plain_rule(names):
    matcher = KeyMatcher(names)
    rng = random.Random(11)
    queries = rng.sample(names.keys, 200)
    queries += [q[:i] + "x" + q[i + 1:] for q in queries[:100] for i in [len(q) // 2]]  # typos
    checked_top = 0
    for q in queries:
        min_length = fuzzy_cutoff(len(q)) * len(q)
        expected = reference_candidates(names, q, min_length)
        assert matcher._candidates(q, min_length) == expected, q
        checked_top += len(expected) > FUZZY_CANDIDATES
    assert checked_top > 20  # the two-tops branch is exercised, not only the small one


def test_match_scores_exact_prefix_and_typo(names):
    matcher = KeyMatcher(names)
    key = max(names.keys, key=len)
    assert matcher.match(key)[names.keys.index(key)] == EXACT
    assert matcher.match(key[:len(key) // 2])[names.keys.index(key)] == PREFIX
    typo = key[:3] + ("q" if key[3] != "q" else "z") + key[4:]
    assert 0.6 <= matcher.match(typo)[names.keys.index(key)] < EXACT


def test_query_trigrams_are_the_key_trigrams():
    for q in ["", "a", "heat", "the matrix", "amélie poulain"]:
        assert list(query_trigrams(q)) == trigrams(q)
