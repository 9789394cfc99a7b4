"""KeyMatcher: the per-table matching Search builds at load (service/name_match.py)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from movierec.artifacts.search import NameTable, trigrams
from movierec.service.name_match import (
    EXACT,
    FUZZY_CANDIDATES,
    GRAM_DF_FLOOR,
    GRAM_DF_SHARE,
    PREFIX,
    KeyMatcher,
    _trigram_members,
    fuzzy_cutoff,
    query_trigrams,
)


def reference_candidates(table: NameTable, q: str, min_length: float) -> list[int]:
    """The blocking rule written the plain way (np.unique, then the two tops): what KeyMatcher must equal."""
    grams = trigrams(q)
    ids = np.asarray([table.gram_index[g] for g in grams if g in table.gram_index], dtype=np.int64)
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


@pytest.fixture(scope="module")
def names() -> NameTable:
    rng = random.Random(7)
    syllables = ["ka", "ro", "mi", "tan", "sel", "vo", "ri", "an", "der", "son", "li", "ma", "be", "th", "or"]
    keys = {" ".join("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
                     for _ in range(rng.randint(1, 3))) for _ in range(3000)}
    prior = np.linspace(0, 1, len(keys), dtype=np.float32)
    return NameTable.build(((k, k, row, 0, "") for row, k in enumerate(sorted(keys))), prior)


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


@pytest.mark.parametrize("n_keys", [3_000, 1 << 20])  # the second needs int64 members
def test_a_trigram_member_encodes_its_key_length_and_trigram_count(n_keys):
    rng = np.random.default_rng(5)
    gram_keys = np.sort(rng.choice(n_keys, size=500, replace=False)).astype(np.int32)
    lengths = rng.integers(1, 90, n_keys)
    table = _Sized(key_grams=rng.integers(1, 60, n_keys).astype(np.int16), gram_keys=gram_keys, size=n_keys)
    members, count_bits, length_bits = _trigram_members(table, lengths)
    assert members.dtype == (np.int64 if n_keys << (count_bits + length_bits) >= 2 ** 31 else np.int32)
    assert np.array_equal(members >> (count_bits + length_bits), gram_keys)
    assert np.array_equal((members >> count_bits) & ((1 << length_bits) - 1), lengths[gram_keys])
    assert np.array_equal(members & ((1 << count_bits) - 1), table.key_grams[gram_keys])


class _Sized:
    """A NameTable stand-in: the arrays `_trigram_members` reads, and a length."""

    def __init__(self, key_grams, gram_keys, size):
        self.key_grams, self.gram_keys, self._size = key_grams, gram_keys, size

    def __len__(self):
        return self._size


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
