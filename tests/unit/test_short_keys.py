"""ShortKeys (service/short_keys.py): the character-set bound drops keys, never a match."""

from __future__ import annotations

import random

import numpy as np
import pytest
from rapidfuzz import process
from rapidfuzz.distance import OSA

from movierec.service import short_keys
from movierec.service.name_match import fuzzy_cutoff
from movierec.service.short_keys import ShortKeys, character_mask, character_masks

SIZES = range(4, 7)


def brute_force(keys: list[str], q: str) -> list[tuple[int, float]]:
    """Every key of length |q|-1 .. |q|+1 scored, length by length, as KeyMatcher did before."""
    out = []
    for length in range(len(q) - 1, len(q) + 2):
        ids = [i for i, k in enumerate(keys) if len(k) == length]
        for _, sim, position in process.extract(q, [keys[i] for i in ids], scorer=OSA.normalized_similarity,
                                                score_cutoff=fuzzy_cutoff(len(q)), limit=None):
            out.append((ids[position], sim))
    return out


@pytest.fixture(scope="module")
def keys() -> list[str]:
    rng = random.Random(5)
    alphabet = "aeiourstnlmkdb 0123é"
    return sorted({"".join(rng.choice(alphabet) for _ in range(rng.randint(2, 9))) for _ in range(4000)})


def queries(keys: list[str]) -> list[str]:
    rng = random.Random(9)
    picked = [k for k in keys if 4 <= len(k) <= 6][:150]
    typos = [k[:i] + rng.choice("aeiouxyzé9") + k[i + 1:] for k in picked for i in [rng.randrange(len(k))]]
    swaps = [k[:i] + k[i + 1] + k[i] + k[i + 2:] for k in picked for i in [rng.randrange(len(k) - 1)]]
    return picked + typos + swaps + ["zzzz", "ab cd", "ßüøq", "12345"]


def test_matches_equal_scoring_every_key(keys):
    short = ShortKeys(keys, SIZES, fuzzy_cutoff)
    for q in queries(keys):
        assert list(short.matches(q)) == brute_force(keys, q), q


def test_popcount_without_numpy_bitwise_count(keys, monkeypatch):
    values = np.array([0, 1, 0b1011, (1 << 37) | 5, character_mask("hello world")], dtype=np.int64)
    expected = [bin(int(v)).count("1") for v in values]
    assert short_keys._popcount(values).tolist() == expected
    monkeypatch.delattr(np, "bitwise_count", raising=False)
    assert short_keys._popcount(values).tolist() == expected
    short = ShortKeys(keys, SIZES, fuzzy_cutoff)
    for q in queries(keys)[:50]:
        assert list(short.matches(q)) == brute_force(keys, q), q


def test_queries_of_other_lengths_have_no_window(keys):
    short = ShortKeys(keys, SIZES, fuzzy_cutoff)
    assert list(short.matches("abc")) == [] and list(short.matches("abcdefg")) == []


def test_masks_of_many_keys_are_each_key_s_mask(keys):
    mixed = keys + ["", "中文", "x" * 40, "ÿ ö", "a\U0001F600"]
    assert character_masks(mixed).tolist() == [character_mask(k) for k in mixed]
