"""benchmarks/search_equivalence.py: two recordings of Search's answers compared bit for bit."""

from __future__ import annotations

import copy

from benchmarks.search_equivalence import compare

RECORDING = {"model_version": "v1", "queries": ["toy stroy", "tom hanks"],
             "results": {"0|all": [[0, 0.889, 1, "Toy Story", ""]],
                         "1|all": [[5, 0.98, 2, "Tom Hanks", "Cast: Woody"]]}}


def test_identical_recordings_have_no_differences():
    assert compare(RECORDING, copy.deepcopy(RECORDING)) == []


def test_a_score_changed_in_the_last_bit_is_a_difference_naming_the_query():
    after = copy.deepcopy(RECORDING)
    after["results"]["1|all"][0][1] = 0.98 + 1e-16
    differences = compare(RECORDING, after)
    assert len(differences) == 1 and "'tom hanks'" in differences[0]


def test_recordings_of_different_queries_are_not_compared():
    after = copy.deepcopy(RECORDING)
    after["queries"] = ["toy story", "tom hanks"]
    assert "different queries" in compare(RECORDING, after)[0]


def test_a_tolerance_forgives_a_rounding_but_not_another_hit_or_order():
    after = copy.deepcopy(RECORDING)
    after["results"]["1|all"][0][1] = 0.98 + 1e-9
    assert compare(RECORDING, after, tolerance=1e-6) == []
    after["results"]["1|all"][0][1] = 0.98 + 1e-3
    assert len(compare(RECORDING, after, tolerance=1e-6)) == 1
    after = copy.deepcopy(RECORDING)
    after["results"]["0|all"][0][0] = 1
    assert len(compare(RECORDING, after, tolerance=1.0)) == 1
