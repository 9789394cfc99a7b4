"""TrigramBlocker (service/blocking.py): several name tables blocked in one pass, each as if alone."""

from __future__ import annotations

import random

import numpy as np
import pytest

from movierec.service.blocking import QueryBlocking, TrigramBlocker, member_dtype
from movierec.service.name_match import fuzzy_cutoff, query_trigrams
from tests.unit.test_name_match import reference_candidates, syllable_table


@pytest.fixture(scope="module")
def tables():
    return [syllable_table(7, 3000), syllable_table(8, 800), syllable_table(9, 5000)]


def queries(tables, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    picked = [q for table in tables for q in rng.sample(table.keys, 60)]
    return picked + [q[:i] + "x" + q[i + 1:] for q in picked[::2] for i in [len(q) // 2]]


def test_blocking_tables_together_gives_each_table_its_own_candidates(tables):
    blocker = TrigramBlocker(tables)
    for q in queries(tables):
        min_length = fuzzy_cutoff(len(q)) * len(q)
        together = blocker.candidates(query_trigrams(q), min_length, (0, 1, 2))
        for position, table in enumerate(tables):
            assert together[position] == reference_candidates(table, q, min_length), (q, position)


def test_a_table_blocked_alone_gets_the_same_candidates(tables):
    blocker = TrigramBlocker(tables)
    for q in queries(tables)[:40]:
        min_length = fuzzy_cutoff(len(q)) * len(q)
        grams = query_trigrams(q)
        together = blocker.candidates(grams, min_length, (0, 1, 2))
        assert blocker.candidates(grams, min_length, (1,)) == {1: together[1]}


def test_a_query_blocks_its_shared_text_once_for_every_table(tables, monkeypatch):
    blocker = TrigramBlocker(tables)
    calls = []
    original = blocker.candidates
    monkeypatch.setattr(blocker, "candidates", lambda *a: calls.append(a[2]) or original(*a))
    q = tables[0].keys[5]
    min_length = fuzzy_cutoff(len(q)) * len(q)
    blocking = QueryBlocking(blocker, q, [0, 1, 2])
    for position in (0, 1, 2):
        assert blocking.candidates(q, query_trigrams(q), min_length, position) == \
            reference_candidates(tables[position], q, min_length)
    other = tables[1].keys[3]
    blocking.candidates(other, query_trigrams(other), fuzzy_cutoff(len(other)) * len(other), 1)
    assert calls == [[0, 1, 2], (1,)]  # the shared text in one pass; another text for its table alone


def test_members_are_int32_until_a_member_needs_more_bits():
    assert member_dtype(81_000, 14) is np.int32          # the real catalog: 81k keys, 7 + 7 bits
    assert member_dtype(1 << 17, 14) is np.int64


def test_int64_members_give_the_same_candidates(tables):
    narrow, wide = TrigramBlocker(tables), TrigramBlocker(tables, dtype=np.int64)
    assert narrow.members.dtype == np.int32 and wide.members.dtype == np.int64
    for q in queries(tables)[:60]:
        grams, min_length = query_trigrams(q), fuzzy_cutoff(len(q)) * len(q)
        assert narrow.candidates(grams, min_length, (0, 1, 2)) == wide.candidates(grams, min_length, (0, 1, 2))
