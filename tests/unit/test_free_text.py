"""FreeText (service/free_text.py): the global index's exact top by inner product ∪ BM25's top,
with rows tied at the boundary decided by the ranking (popularity), not by FAISS's scan order."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.artifacts.search import TermPostings
from movierec.artifacts.text import project_text, query_terms
from movierec.service.free_text import TEXT_CANDIDATES, FreeText
from movierec.service.requests import RowFilter

WORDS = ["heist", "space", "robot", "love", "war", "ocean"]
TEXT_DIMS = 4
TIE = 1e-6                                   # float64 products this close count as one value


def make(vectors: np.ndarray, seed: int = 0, bm25: bool = True) -> FreeText:
    rng = np.random.default_rng(seed)
    n = len(vectors)
    components = rng.standard_normal((TEXT_DIMS, len(WORDS))).astype(np.float32)
    rows_of = [np.sort(rng.choice(n, size=max(1, n // 4), replace=False)) for _ in WORDS]
    terms = TermPostings(indptr=np.cumsum([0] + [len(r) for r in rows_of]).astype(np.int64),
                         rows=np.concatenate(rows_of).astype(np.int32),
                         weights=rng.uniform(0.5, 3.0, sum(len(r) for r in rows_of)).astype(np.float32))
    return FreeText(vectors=vectors, vocabulary={w: i for i, w in enumerate(WORDS)},
                    idf=np.ones(len(WORDS)), components=components, terms=terms if bm25 else None,
                    prior=rng.uniform(0, 1, n).astype(np.float32))


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


@pytest.mark.parametrize("query", ["heist", "space robot", "love war ocean", "robots in space"])
def test_hits_blend_the_exact_global_top_and_the_bm25_top(vectors, query):
    text = make(vectors)
    assert [row for row, _ in text.hits(query, 10, None)] == reference_hits(text, vectors, query, 10, None)


def test_filters_apply_to_both_halves(vectors):
    text = make(vectors)
    allowed = np.arange(len(vectors)) % 3 != 0
    row_filter = RowFilter(allowed, frozenset({1, 2, 4}))
    hits = text.hits("space robot", 10, row_filter)
    assert hits and all(allowed[row] and row not in (1, 2, 4) for row, _ in hits)
    assert [row for row, _ in hits] == reference_hits(text, vectors, "space robot", 10, row_filter)


def test_identical_vectors_at_the_boundary_are_tied_not_guessed(vectors):
    text = make(vectors)
    products = np.linspace(1.0, 0.0, len(vectors)).astype(np.float32)
    products[28:34] = products[30]  # rows 28..33 tie across the 30th place
    inside, tied = text._semantic(products, 30, None)
    assert inside.tolist() == list(range(28)) and tied.tolist() == list(range(28, 34))
    products = np.linspace(1.0, 0.0, len(vectors)).astype(np.float32)  # clear gaps: no doubt
    inside, tied = text._semantic(products, 30, None)
    assert sorted(inside.tolist()) == list(range(30)) and not len(tied)


def identical_best_matches(vectors: np.ndarray, rows: slice) -> tuple[FreeText, np.ndarray]:
    """`rows` all get the text vector of "heist" itself: identical best matches for that query."""
    text = make(vectors, seed=5)
    duplicated = vectors.copy()
    duplicated[rows, :TEXT_DIMS] = text._term_rows[0] / np.linalg.norm(text._term_rows[0])
    return make(duplicated, seed=5, bm25=False), duplicated


@pytest.mark.parametrize("k", [10, 40])
def test_tied_best_matches_across_the_boundary_come_most_popular_first(vectors, k):
    """61 (k=10) or 200 (k=40) identical best matches, more than the 30 (3·k) semantic candidates:
    FAISS would keep whichever its scan admitted first; every one is a candidate, popularity decides."""
    tied = slice(200, 261) if k == 10 else slice(100, 300)
    text, duplicated = identical_best_matches(vectors, tied)
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
            inside, tied = text._semantic(products, wanted, None)
            answer = set(index.search(query[None], wanted)[1][0].tolist())
            assert set(inside.tolist()) <= answer <= set(inside.tolist()) | set(tied.tolist())
            ties_seen += bool(len(tied))
    assert ties_seen > 50  # the data does exercise the tied case
