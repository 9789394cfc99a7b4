"""Search's free-text field: embedding neighbours ∪ BM25 candidates, one blended score per movie.

Semantic half: the query is projected like the movies (`artifacts.text`, TF-IDF → SVD), and its
`wanted` nearest rows in the text block of the content vectors are the ones the global FAISS index
returns. Lexical half: BM25 over the same analysed soups (`search/terms.*`). Every candidate of
either half is scored

    text match = 0.3 × cosine(query, movie text block) + 0.7 × BM25 / best BM25 of this query
    score      = 0.6 × text match

Cost and exactness. One float32 product of the query with the whole text block (11k × 128 on the
real catalog) gives every row's inner product; it serves both the semantic candidates and every
candidate's cosine, so a movie's cosine is one value whatever else is a candidate. The semantic
candidates are the global (flat, exact) FAISS index's answer for the query: its top `wanted` rows
by inner product over the same vectors. Rows tied with its `wanted`-th place are all candidates:
FAISS would keep an arbitrary few of them (whichever its heap admitted first while scanning), while
here the ranking decides among them, so popularity breaks the tie as everywhere else in Search.
"Tied" is as wide as float32 arithmetic needs: two float32 evaluations of one inner product of
length n differ by at most ~2·n·2⁻²⁴·|x|·|q| (`_slack` bounds it), so a row within that slack of
the boundary is one FAISS might rank on either side (on the real catalog: identical text vectors,
e.g. 44 of them across the 30th place for "road trip comedy"); any other row is in or out for both.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from movierec.artifacts.search import TermPostings
from movierec.artifacts.text import query_terms, tfidf_row

from .ranking import ranking_order

if TYPE_CHECKING:
    from .requests import RowFilter

TEXT_WEIGHT = 0.60                           # field weight: a text hit scores at most 0.6
TEXT_CANDIDATES = 30                         # at least this many rows from each half (3·k for larger k)
LEXICAL_SHARE = 0.7                          # share of BM25 (vs embedding cosine) in the blend
GEMV_ELEMENTS = 2048 * 128                   # own inner products: matrix slice size
FLOAT32_DOT_SLACK = 4e-5                     # × largest row norm: two float32 inner products can differ by less / 2


class FreeText:
    """The content model pieces free text needs, with the text block laid out once at load."""

    def __init__(self, *, vectors: np.ndarray, vocabulary: dict[str, int], idf: np.ndarray,
                 components: np.ndarray, terms: TermPostings | None, prior: np.ndarray,
                 known_words: dict[str, str] | None = None):
        self.vocabulary = vocabulary
        self.known_words = known_words          # word → term: query words looked up, not stemmed
        self.terms = terms
        self.prior = prior
        self.text_dims = int(components.shape[0])
        self._idf = np.asarray(idf, dtype=np.float64)
        # terms × dims: a query's few columns are then a few contiguous rows (the stored dims × terms
        # matrix puts each column's 128 values on 128 pages), laid out as the column gather was
        self._term_rows = np.ascontiguousarray(np.asarray(components).T)
        self._block = np.ascontiguousarray(np.asarray(vectors)[:, :self.text_dims], dtype=np.float32)
        norms = np.linalg.norm(self._block, axis=1)
        self._divisor = np.where(norms > 0, norms, 1.0)          # cosine = inner product / this
        self._slack = FLOAT32_DOT_SLACK * float(norms.max()) if len(norms) else 0.0
        self._everyone = np.arange(len(self._block))

    @classmethod
    def usable(cls, vectors: np.ndarray | None, components: np.ndarray | None) -> bool:
        """Free text needs the content vectors with the text block at their front."""
        return (vectors is not None and components is not None and np.ndim(vectors) == 2
                and np.shape(vectors)[1] >= components.shape[0])

    def hits(self, query: str, k: int, row_filter: RowFilter | None) -> list[tuple[int, float]]:
        """The top k (row, score) of free text, best first, scores > 0."""
        terms = query_terms(query, self.vocabulary, self.known_words)
        columns = [self.vocabulary[t] for t in terms if t in self.vocabulary]
        if not columns:
            return []
        # = project_text(query, ...) from the terms above (stemming the query once, not twice)
        tfidf_columns, values = tfidf_row(terms, self.vocabulary, self._idf)
        projected = (self._term_rows[tfidf_columns].T.astype(np.float64)
                     @ values.astype(np.float64)).astype(np.float32)
        norm = float(np.linalg.norm(projected))
        if not norm or not math.isfinite(norm):
            return []
        q_text = projected / norm
        wanted = max(TEXT_CANDIDATES, 3 * k)
        products = self._products(q_text)
        passing = None if row_filter is None else row_filter.passes(self._everyone)
        inside, tied = self._semantic(products, wanted, passing)

        lexical = lexical_top = None
        if self.terms is not None:
            lexical = self.terms.scores(columns, len(self.prior))
            if passing is not None:
                lexical[~passing] = 0.0
            lexical_top = np.flatnonzero(lexical)
            if len(lexical_top) > wanted:
                lexical_top = lexical_top[np.argpartition(-lexical[lexical_top], wanted)[:wanted]]
            if not lexical_top.size or not lexical.max() > 0:
                lexical = None  # no BM25 anywhere: the blend is the cosine alone
        candidates = _union(inside, tied) if len(tied) else inside
        if lexical_top is not None:
            candidates = _union(candidates, lexical_top)
        return _positive(self._top(candidates, products, lexical, k))

    def _products(self, q_text: np.ndarray) -> np.ndarray:
        """Inner product of the query with every row's text block (float32)."""
        block = self._block
        out = np.empty(len(block), dtype=np.float32)
        step = max(1, GEMV_ELEMENTS // max(1, block.shape[1]))  # slices small enough for BLAS to stay on this thread
        for start in range(0, len(block), step):
            np.dot(block[start:start + step], q_text, out=out[start:start + step])
        return out

    def _semantic(self, products: np.ndarray, wanted: int,
                  passing: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Rows in the global FAISS search's top `wanted` (of the passing rows), and rows tied with its boundary.

        With E the bound on |own product − FAISS's| (slack = 2E): a row whose product exceeds the
        (wanted+1)-th by more than the slack is in FAISS's top `wanted` (it beats every row outside),
        and a row below the wanted-th by more than the slack is not; the rows within the slack of the
        boundary (none unless it has near ties) are the tied ones. Which rows hold the wanted-th and
        next values does not matter, so partitioning the values is enough (no argpartition, no negated copy).
        """
        ids = self._everyone if passing is None else np.flatnonzero(passing)
        pool = products if passing is None else products[ids]
        nothing = np.empty(0, dtype=np.int64)
        n = len(pool)
        if n <= wanted:
            return ids.astype(np.int64), nothing  # FAISS returns every passing row
        cut = np.partition(pool, n - wanted - 1)     # the `wanted` largest values end up after n − wanted − 1
        highest_out, lowest_in = float(cut[n - wanted - 1]), float(cut[n - wanted:].min())
        if lowest_in - highest_out > self._slack:
            return ids[np.flatnonzero(pool >= lowest_in)], nothing  # exactly `wanted` rows
        # compared in float64: a float32 threshold would round the slack away by up to half an ulp
        wide = pool.astype(np.float64)
        inside = np.flatnonzero(wide > highest_out + self._slack)
        tied = np.flatnonzero((wide >= lowest_in - self._slack) & (wide <= highest_out + self._slack))
        return ids[inside], ids[tied]

    def _top(self, candidates: np.ndarray, products: np.ndarray, lexical: np.ndarray | None,
             k: int) -> list[tuple[int, float]]:
        """Blended scores of the candidates; the top k (row, score), best first."""
        if not len(candidates):
            return []
        cosine = np.clip(products[candidates] / self._divisor[candidates], 0.0, 1.0)
        if lexical is not None:
            blended = (1.0 - LEXICAL_SHARE) * cosine + LEXICAL_SHARE * lexical[candidates] / lexical.max()
        else:
            blended = cosine
        scores = TEXT_WEIGHT * blended
        chosen = ranking_order(candidates, scores, self.prior)[:k]
        return list(zip(candidates[chosen].tolist(), scores[chosen].tolist(), strict=True))


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.union1d (sorted distinct rows) for short arrays, without its generic overhead."""
    both = np.concatenate((a, b))
    both.sort()
    first = np.empty(len(both), dtype=bool)
    first[:1] = True
    np.not_equal(both[1:], both[:-1], out=first[1:])
    return both[first]


def _positive(ranked: list[tuple[int, float]]) -> list[tuple[int, float]]:
    return [(row, score) for row, score in ranked if score > 0]


__all__ = ["FreeText", "LEXICAL_SHARE", "TEXT_CANDIDATES", "TEXT_WEIGHT"]
