"""FreeText (service/free_text.py): own inner products stand in for FAISS's global search exactly."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.artifacts.search import TermPostings
from movierec.artifacts.text import project_text, query_terms
from movierec.index import Scope
from movierec.service.free_text import TEXT_CANDIDATES, FreeText
from movierec.service.requests import RowFilter

WORDS = ["heist", "space", "robot", "love", "war", "ocean"]
TEXT_DIMS = 4


class ExactIndex:
    """A global search like the real index's: top k by inner product (ties by row), filters inside."""

    def __init__(self, vectors: np.ndarray):
        self.vectors = vectors
        self.ntotal, self.dim = vectors.shape
        self.calls = 0

    def search(self, query, k, scope, *, allowed=None, exclude=()):
        self.calls += 1
        scores = self.vectors.astype(np.float64) @ np.asarray(query, dtype=np.float64)
        rows = np.arange(self.ntotal)
        keep = np.ones(self.ntotal, dtype=bool) if allowed is None else np.asarray(allowed).copy()
        keep[list(exclude)] = False
        rows, scores = rows[keep], scores[keep]
        order = np.lexsort((rows, -scores))[:k]
        return rows[order], scores[order].astype(np.float32)


def make(vectors: np.ndarray, seed: int = 0, bm25: bool = True) -> tuple[FreeText, ExactIndex]:
    rng = np.random.default_rng(seed)
    n = len(vectors)
    components = rng.standard_normal((TEXT_DIMS, len(WORDS))).astype(np.float32)
    rows_of = [np.sort(rng.choice(n, size=max(1, n // 4), replace=False)) for _ in WORDS]
    terms = TermPostings(indptr=np.cumsum([0] + [len(r) for r in rows_of]).astype(np.int64),
                         rows=np.concatenate(rows_of).astype(np.int32),
                         weights=rng.uniform(0.5, 3.0, sum(len(r) for r in rows_of)).astype(np.float32))
    index = ExactIndex(vectors)
    text = FreeText(index=index, vectors=vectors, vocabulary={w: i for i, w in enumerate(WORDS)},
                    idf=np.ones(len(WORDS)), components=components, terms=terms if bm25 else None,
                    prior=rng.uniform(0, 1, n).astype(np.float32))
    return text, index


def reference_hits(text: FreeText, query: str, k: int, row_filter: RowFilter | None) -> list[int]:
    """Free text written the plain way: the index's global top ∪ BM25 top, blended in float64."""
    index = text.index
    calls = index.calls
    columns = [text.vocabulary[t] for t in query_terms(query, text.vocabulary) if t in text.vocabulary]
    q_text = project_text(query, text.vocabulary, np.ones(len(WORDS)), text._term_rows.T)
    q_text = q_text / np.linalg.norm(q_text)
    full = np.zeros(index.dim, dtype=np.float32)
    full[:TEXT_DIMS] = q_text
    wanted = max(TEXT_CANDIDATES, 3 * k)
    semantic, _ = index.search(full, wanted, Scope.GLOBAL,
                               allowed=None if row_filter is None else row_filter.allowed,
                               exclude=() if row_filter is None else row_filter.excluded)
    index.calls = calls  # the reference's own call does not count
    lexical = (text.terms.scores(columns, index.ntotal).astype(np.float64) if text.terms is not None
               else np.zeros(index.ntotal))
    if row_filter is not None:
        lexical[~row_filter.passes(np.arange(index.ntotal))] = 0.0
    lexical_top = np.argsort(-lexical, kind="stable")[:wanted]
    lexical_top = lexical_top[lexical[lexical_top] > 0]
    candidates = np.union1d(semantic, lexical_top)
    block = index.vectors[candidates, :TEXT_DIMS].astype(np.float64)
    cosine = np.clip(block @ q_text / np.linalg.norm(block, axis=1), 0.0, 1.0)
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
def test_hits_equal_the_faiss_answer_without_asking_faiss(vectors, query):
    text, index = make(vectors)
    expected = reference_hits(text, query, 10, None)
    assert [row for row, _ in text.hits(query, 10, None)] == expected
    assert index.calls == 0


def test_filters_apply_to_both_halves(vectors):
    text, index = make(vectors)
    allowed = np.arange(len(vectors)) % 3 != 0
    row_filter = RowFilter(allowed, frozenset({1, 2, 4}))
    hits = text.hits("space robot", 10, row_filter)
    assert hits and all(allowed[row] and row not in (1, 2, 4) for row, _ in hits)
    assert [row for row, _ in hits] == reference_hits(text, "space robot", 10, row_filter)


def test_identical_vectors_at_the_boundary_are_unsure_not_guessed(vectors):
    text, _ = make(vectors)
    products = np.linspace(1.0, 0.0, len(vectors)).astype(np.float32)
    products[28:34] = products[30]  # rows 28..33 tie across the 30th place
    sure, unsure = text._semantic(products, 30, None)
    assert sure.tolist() == list(range(28)) and unsure.tolist() == list(range(28, 34))
    products = np.linspace(1.0, 0.0, len(vectors)).astype(np.float32)  # clear gaps: no doubt
    sure, unsure = text._semantic(products, 30, None)
    assert sorted(sure.tolist()) == list(range(30)) and not len(unsure)


def test_ties_that_could_reach_the_top_k_ask_faiss(vectors):
    text, index = make(vectors, seed=5)
    duplicated = vectors.copy()
    heist = text._term_rows[0] / np.linalg.norm(text._term_rows[0])
    duplicated[200:261, :TEXT_DIMS] = heist  # 61 identical best matches across the 30th place: the index picks
    text, index = make(duplicated, seed=5, bm25=False)
    hits = [row for row, _ in text.hits("heist", 10, None)]
    assert index.calls == 1
    assert hits == reference_hits(text, "heist", 10, None)


def test_ties_at_a_large_k_ask_faiss_for_its_whole_answer(vectors):
    """From exact_heap_limit() on (k ≥ 34 here), the near-tie fallback runs the unrestricted search."""
    text, _ = make(vectors, seed=5)
    duplicated = vectors.copy()
    duplicated[100:300, :TEXT_DIMS] = text._term_rows[0] / np.linalg.norm(text._term_rows[0])
    text, index = make(duplicated, seed=5, bm25=False)
    hits = [row for row, _ in text.hits("heist", 40, None)]
    assert index.calls == 1
    assert hits == reference_hits(text, "heist", 40, None)


def test_faiss_restricted_to_the_rows_it_may_admit_answers_the_same():
    """The near-tie fallback asks FAISS about `_may_enter` rows only: same rows, ties included."""
    faiss = pytest.importorskip("faiss")
    from movierec.index import exact_heap_limit
    from movierec.index.selector import BITMAP_BIT_ORDER

    rng = np.random.default_rng(11)
    base = rng.standard_normal((3000, TEXT_DIMS + 2)).astype(np.float32)
    base[:, :TEXT_DIMS] /= np.linalg.norm(base[:, :TEXT_DIMS], axis=1, keepdims=True)
    vectors = np.concatenate([base, np.repeat(base[:100], 15, axis=0)])  # exact ties everywhere
    vectors = vectors[rng.permutation(len(vectors))]
    text, _ = make(vectors)
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    for _ in range(100):
        query = np.zeros(vectors.shape[1], dtype=np.float32)
        query[:TEXT_DIMS] = vectors[rng.integers(len(vectors)), :TEXT_DIMS] + rng.normal(0, 0.05, TEXT_DIMS)
        query[:TEXT_DIMS] /= np.linalg.norm(query[:TEXT_DIMS])
        products = text._products(query[:TEXT_DIMS])
        for k in (10, 30, 60, exact_heap_limit() - 1):
            may = text._may_enter(products, k)
            assert may.sum() < len(vectors) // 2
            selector = faiss.IDSelectorBitmap(np.packbits(may, bitorder=BITMAP_BIT_ORDER))
            everything = index.search(query[None], k)
            restricted = index.search(query[None], k, params=faiss.SearchParameters(sel=selector))
            np.testing.assert_array_equal(everything[1], restricted[1])
            np.testing.assert_array_equal(everything[0], restricted[0])
