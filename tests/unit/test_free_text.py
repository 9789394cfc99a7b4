"""FreeText (service/free_text.py): the global index's exact top by inner product ∪ BM25's top,
with rows tied at the boundary decided by the ranking (popularity), not by FAISS's scan order;
with the trainer's group bounds it reads only the groups that can reach that top, same answer."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.artifacts.search import TermPostings
from movierec.artifacts.text import project_text, query_terms
from movierec.service.free_text import TEXT_CANDIDATES, FreeText
from movierec.service.requests import RowFilter
from movierec.trainer.config import SearchConfig
from movierec.trainer.text_groups import build_text_groups

WORDS = ["heist", "space", "robot", "love", "war", "ocean"]
TEXT_DIMS = 4
TIE = 1e-6                                   # float64 products this close count as one value
SMALL_GROUPS = SearchConfig(text_groups=100)  # ~4 rows a group on 400 rows


def make(vectors: np.ndarray, seed: int = 0, bm25: bool = True, grouped: bool = False) -> FreeText:
    """`grouped`: with group bounds built by the trainer's code for these vectors."""
    rng = np.random.default_rng(seed)
    n = len(vectors)
    components = rng.standard_normal((TEXT_DIMS, len(WORDS))).astype(np.float32)
    rows_of = [np.sort(rng.choice(n, size=max(1, n // 4), replace=False)) for _ in WORDS]
    terms = TermPostings(indptr=np.cumsum([0] + [len(r) for r in rows_of]).astype(np.int64),
                         rows=np.concatenate(rows_of).astype(np.int32),
                         weights=rng.uniform(0.5, 3.0, sum(len(r) for r in rows_of)).astype(np.float32))
    groups = build_text_groups(vectors[:, :TEXT_DIMS], components, SMALL_GROUPS) if grouped else None
    return FreeText(vectors=vectors, vocabulary={w: i for i, w in enumerate(WORDS)},
                    idf=np.ones(len(WORDS)), components=components, terms=terms if bm25 else None,
                    prior=rng.uniform(0, 1, n).astype(np.float32), groups=groups)


def reference_hits(text: FreeText, vectors: np.ndarray, query: str, k: int,
                   row_filter: RowFilter | None) -> list[int]:
    """Free text written the plain way, in float64: every passing row scoring at least the
    `wanted`-th best inner product (ties included) ∪ the BM25 top, blended, ranked."""
    n = len(vectors)
    passing = np.ones(n, dtype=bool) if row_filter is None else row_filter.passes(np.arange(n))
    columns = [text.vocabulary[t] for t in query_terms(query, text.vocabulary) if t in text.vocabulary]
    q_text = project_text(query, text.vocabulary, np.ones(len(WORDS)), text._term_rows.T)
    q_text = q_text / np.linalg.norm(q_text)
    block = vectors[:, :TEXT_DIMS].astype(np.float64)
    products = block @ q_text
    wanted = max(TEXT_CANDIDATES, 3 * k)
    boundary = np.sort(products[passing])[::-1][min(wanted, passing.sum()) - 1]
    semantic = np.flatnonzero(passing & (products >= boundary - TIE))
    lexical = (text.terms.scores(columns, n).astype(np.float64) if text.terms is not None else np.zeros(n))
    lexical[~passing] = 0.0
    lexical_top = np.argsort(-lexical, kind="stable")[:wanted]
    lexical_top = lexical_top[lexical[lexical_top] > 0]
    candidates = np.union1d(semantic, lexical_top)
    cosine = np.clip(products[candidates] / np.linalg.norm(block[candidates], axis=1), 0.0, 1.0)
    blended = 0.3 * cosine + (0.7 * lexical[candidates] / lexical.max() if lexical.max() > 0 else 0.0)
    scores = 0.6 * blended
    order = np.lexsort((candidates, -text.prior[candidates], -np.round(scores, 4)))[:k]
    return [int(candidates[i]) for i in order if scores[i] > 0]


@pytest.fixture
def vectors() -> np.ndarray:
    rng = np.random.default_rng(3)
    v = rng.standard_normal((400, TEXT_DIMS + 2)).astype(np.float32)
    v[:, :TEXT_DIMS] /= np.linalg.norm(v[:, :TEXT_DIMS], axis=1, keepdims=True)
    return v


@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("query", ["heist", "space robot", "love war ocean", "robots in space"])
def test_hits_blend_the_exact_global_top_and_the_bm25_top(vectors, query, grouped):
    text = make(vectors, grouped=grouped)
    assert [row for row, _ in text.hits(query, 10, None)] == reference_hits(text, vectors, query, 10, None)


@pytest.mark.parametrize("grouped", [False, True])
def test_filters_apply_to_both_halves(vectors, grouped):
    text = make(vectors, grouped=grouped)
    allowed = np.arange(len(vectors)) % 3 != 0
    row_filter = RowFilter(allowed, frozenset({1, 2, 4}))
    hits = text.hits("space robot", 10, row_filter)
    assert hits and all(allowed[row] and row not in (1, 2, 4) for row, _ in hits)
    assert [row for row, _ in hits] == reference_hits(text, vectors, "space robot", 10, row_filter)


def test_identical_vectors_at_the_boundary_are_tied_not_guessed(vectors):
    text = make(vectors)
    products = np.linspace(1.0, 0.0, len(vectors)).astype(np.float32)
    products[28:34] = products[30]  # rows 28..33 tie across the 30th place
    everyone = np.arange(len(vectors))
    inside, tied = text._semantic(everyone, products, 30)
    assert inside.tolist() == list(range(28)) and tied.tolist() == list(range(28, 34))
    products = np.linspace(1.0, 0.0, len(vectors)).astype(np.float32)  # clear gaps: no doubt
    inside, tied = text._semantic(everyone, products, 30)
    assert sorted(inside.tolist()) == list(range(30)) and not len(tied)


def identical_best_matches(vectors: np.ndarray, rows: slice, grouped: bool = False) -> tuple[FreeText, np.ndarray]:
    """`rows` all get the text vector of "heist" itself: identical best matches for that query."""
    text = make(vectors, seed=5)
    duplicated = vectors.copy()
    duplicated[rows, :TEXT_DIMS] = text._term_rows[0] / np.linalg.norm(text._term_rows[0])
    return make(duplicated, seed=5, bm25=False, grouped=grouped), duplicated


@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("k", [10, 40])
def test_tied_best_matches_across_the_boundary_come_most_popular_first(vectors, k, grouped):
    """61 (k=10) or 200 (k=40) identical best matches, more than the 30 (3·k) semantic candidates:
    FAISS would keep whichever its scan admitted first; every one is a candidate, popularity decides."""
    tied = slice(200, 261) if k == 10 else slice(100, 300)
    text, duplicated = identical_best_matches(vectors, tied, grouped)
    hits = [row for row, _ in text.hits("heist", k, None)]
    rows = np.arange(len(vectors))[tied]
    assert hits == rows[np.argsort(-text.prior[rows], kind="stable")][:k].tolist()
    assert hits == reference_hits(text, duplicated, "heist", k, None)


def test_the_faiss_answer_lies_between_the_inside_and_the_tied_rows():
    """What the global (flat) FAISS index returns is every inside row plus some tied ones: the
    float32 slack covers the difference between its arithmetic and the own products."""
    faiss = pytest.importorskip("faiss")
    dims = 128  # as on the real catalog: long sums, whose float32 rounding depends on their order
    rng = np.random.default_rng(11)
    base = rng.standard_normal((3000, dims)).astype(np.float32)
    near = np.repeat(base[:100], 15, axis=0)
    near[::2] += rng.normal(0, 1e-7, (len(near[::2]), dims)).astype(np.float32)  # near and exact ties
    vectors = np.concatenate([base, near])[rng.permutation(len(base) + len(near))]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    text = FreeText(vectors=vectors, vocabulary={w: i for i, w in enumerate(WORDS)}, idf=np.ones(len(WORDS)),
                    components=np.ones((dims, len(WORDS)), dtype=np.float32), terms=None,
                    prior=np.zeros(len(vectors), dtype=np.float32))
    index = faiss.IndexFlatIP(dims)
    index.add(vectors)
    ties_seen = 0
    for _ in range(100):
        query = vectors[rng.integers(len(vectors))] + rng.normal(0, 0.05, dims).astype(np.float32)
        query /= np.linalg.norm(query)
        products = text._products(query)
        for wanted in (30, 60, 150):
            inside, tied = text._semantic(np.arange(len(vectors)), products, wanted)
            answer = set(index.search(query[None], wanted)[1][0].tolist())
            assert set(inside.tolist()) <= answer <= set(inside.tolist()) | set(tied.tolist())
            ties_seen += bool(len(tied))
    assert ties_seen > 50  # the data does exercise the tied case


@pytest.mark.parametrize("k", [10, 50])
@pytest.mark.parametrize("filtered", [False, True])
def test_group_bounds_give_the_answer_of_every_product(vectors, k, filtered):
    """The groups only spare work: rows, order and scores bit for bit as with every row's product."""
    row_filter = RowFilter(np.arange(len(vectors)) % 4 != 1, frozenset({3, 7})) if filtered else None
    plain, grouped = make(vectors, seed=2), make(vectors, seed=2, grouped=True)
    assert grouped.groups is not None and plain.groups is None
    for query in ["heist", "space robot", "love war ocean", "war", "ocean heist robot love space"]:
        assert grouped.hits(query, k, row_filter) == plain.hits(query, k, row_filter)


def test_understated_group_bounds_would_lose_candidates(vectors):
    """What the test above relies on: a group is skipped on its bound alone, so bounds that
    understate a group's products change the answer."""
    plain, grouped = make(vectors, seed=2), make(vectors, seed=2, grouped=True)
    grouped.groups.bounds = np.full_like(grouped.groups.bounds, -1.0)
    assert any(grouped.hits(query, 10, None) != plain.hits(query, 10, None)
               for query in ["heist", "space robot", "love war ocean", "war"])


def test_a_small_filter_reads_groups_until_it_has_enough_rows(vectors):
    """A filter that keeps few rows: the first groups by bound hold too few, more are read."""
    allowed = np.zeros(len(vectors), dtype=bool)
    allowed[::37] = True                                  # 11 rows: fewer than the 30 wanted
    allowed[1::5] = True                                  # and 80 more, spread over every group
    row_filter = RowFilter(allowed, frozenset())
    plain, grouped = make(vectors, seed=4), make(vectors, seed=4, grouped=True)
    for query in ["heist", "space robot", "robots in space"]:
        assert grouped.hits(query, 10, row_filter) == plain.hits(query, 10, row_filter)
    few = RowFilter(np.arange(len(vectors)) % 50 == 0, frozenset())   # 8 rows: every one is a candidate
    assert grouped.hits("heist", 10, few) == plain.hits("heist", 10, few)


def test_group_bounds_spare_reading_most_rows(vectors):
    """A one-word query's semantic top comes from the groups near its direction: most are skipped."""
    grouped = make(vectors, seed=2, grouped=True)
    column = grouped.vocabulary["heist"]
    direction = grouped._term_rows[column].astype(np.float64)
    rows, _ = grouped._reachable(np.array([column]), np.array([1.0 / np.linalg.norm(direction)]),
                                 (direction / np.linalg.norm(direction)).astype(np.float32), 30, None)
    assert 30 <= len(rows) < len(vectors) / 2
