"""Search's free-text field: embedding neighbours ∪ BM25 candidates, one blended score per movie.

Semantic half: the query is projected like the movies (`artifacts.text`, TF-IDF → SVD), and its
`wanted` nearest rows in the text block of the content vectors are the ones the global FAISS index
returns. Lexical half: BM25 over the same analysed soups (`search/terms.*`). Every candidate of
either half is scored

    text match = 0.3 × cosine(query, movie text block) + 0.7 × BM25 / best BM25 of this query
    score      = 0.6 × text match

Exactness. The semantic candidates are the global (flat, exact) FAISS index's answer for the query:
its top `wanted` rows by inner product over the same vectors. Rows tied with its `wanted`-th place
are all candidates: FAISS would keep an arbitrary few of them (whichever its heap admitted first
while scanning), while here the ranking decides among them, so popularity breaks the tie as
everywhere else in Search. "Tied" is as wide as float32 arithmetic needs: two float32 evaluations
of one inner product of length n differ by at most ~2·n·2⁻²⁴·|x|·|q| (`_slack` bounds it), so a
row within that slack of the boundary is one FAISS might rank on either side (on the real catalog:
identical text vectors, e.g. 44 of them across the 30th place for "road trip comedy"); any other
row is in or out for both. A candidate's cosine is its inner product in float64 (exact to ~1e-16),
so it does not depend on which other rows were computed with it.

Cost. Streaming the whole text block (11k × 128 float32, 5.6 MB) costs ~0.5 ms per query once the
block has left the CPU caches — on a shared machine, between any two queries. With the trainer's
group bounds (`artifacts.search.TextGroups`, trainer/text_groups.py) only the groups that can
reach the boundary are read (`_reachable`), ~5% of the rows on the real catalog; a version
without them computes every row's product, with the same answer.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from movierec.artifacts.search import TermPostings, TextGroups
from movierec.artifacts.text import query_terms, tfidf_row

from .ranking import ranking_order

if TYPE_CHECKING:
    from .requests import RowFilter

TEXT_WEIGHT = 0.60                           # field weight: a text hit scores at most 0.6
TEXT_CANDIDATES = 30                         # at least this many rows from each half (3·k for larger k)
LEXICAL_SHARE = 0.7                          # share of BM25 (vs embedding cosine) in the blend
GEMV_ELEMENTS = 2048 * 128                   # own inner products: matrix slice size
FLOAT32_DOT_SLACK = 4e-5                     # × largest row norm: two float32 inner products can differ by less / 2
FIRST_GROUPS = 32                            # groups read first, by bound, to find how high the boundary is


class FreeText:
    """The content model pieces free text needs, with the text block laid out once at load."""

    def __init__(self, *, vectors: np.ndarray, vocabulary: dict[str, int], idf: np.ndarray,
                 components: np.ndarray, terms: TermPostings | None, prior: np.ndarray,
                 known_words: dict[str, str] | None = None, groups: TextGroups | None = None):
        """`groups`: the trainer's group bounds for these vectors and this vocabulary (ignored when
        they do not fit them: every row's product is computed instead)."""
        self.vocabulary = vocabulary
        self.known_words = known_words          # word → term: query words looked up, not stemmed
        self.terms = terms
        self.prior = prior
        self.text_dims = int(components.shape[0])
        self._idf = np.asarray(idf, dtype=np.float64)
        # terms × dims: a query's few columns are then a few contiguous rows (the stored dims × terms
        # matrix puts each column's 128 values on 128 pages), laid out as the column gather was
        self._term_rows = np.ascontiguousarray(np.asarray(components).T)
        n = len(vectors)
        self.groups = groups if groups is not None and groups.fits(n, len(vocabulary)) else None
        # the text block, group after group when there are groups (a group's rows are one slice)
        self._order = (np.asarray(self.groups.order, dtype=np.int64) if self.groups is not None
                       else np.arange(n))
        self._position = np.empty(n, dtype=np.int64)            # row → its place in the block
        self._position[self._order] = np.arange(n)
        self._block = np.ascontiguousarray(np.asarray(vectors)[self._order, :self.text_dims], dtype=np.float32)
        norms = np.linalg.norm(self._block, axis=1)[self._position]
        self._divisor = np.where(norms > 0, norms, 1.0)          # cosine = inner product / this (by row)
        self._slack = FLOAT32_DOT_SLACK * float(norms.max()) if len(norms) else 0.0
        self._everyone = np.arange(n)
        if self.groups is not None:
            indptr = np.asarray(self.groups.indptr, dtype=np.int64)
            self._starts, self._sizes = indptr[:-1], np.diff(indptr)
            # each group's block positions: a query's groups are then one concatenation, not ~7 numpy calls
            everywhere, edges = np.arange(n), indptr.tolist()
            self._group_positions = [everywhere[a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]

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
        weights = values.astype(np.float64)
        projected = self._term_rows[tfidf_columns].T.astype(np.float64) @ weights
        norm = float(np.linalg.norm(projected))
        if not norm or not math.isfinite(norm):
            return []
        q_text = projected / norm
        wanted = max(TEXT_CANDIDATES, 3 * k)
        passing = None if row_filter is None else row_filter.passes(self._everyone)
        if self.groups is not None:
            ids, pool = self._reachable(tfidf_columns, weights / norm, q_text.astype(np.float32), wanted, passing)
        else:
            ids = self._everyone if passing is None else np.flatnonzero(passing)
            pool = self._products(q_text.astype(np.float32))
            pool = pool if passing is None else pool[ids]
        inside, tied = self._semantic(ids, pool, wanted)

        lexical = lexical_top = None
        best_lexical = 0.0
        if self.terms is not None:
            lexical = self.terms.scores(columns, len(self.prior))
            if passing is not None:
                lexical[~passing] = 0.0
            lexical_top = np.flatnonzero(lexical)
            if len(lexical_top) > wanted:
                lexical_top = lexical_top[np.argpartition(-lexical[lexical_top], wanted)[:wanted]]
            best_lexical = float(lexical[lexical_top].max()) if lexical_top.size else 0.0  # the top holds the max
            if not best_lexical > 0:
                lexical = None  # no BM25 anywhere: the blend is the cosine alone
        candidates = _union(inside, tied) if len(tied) else np.sort(inside)
        if lexical_top is not None:
            candidates = _union(candidates, lexical_top)
        return _positive(self._top(candidates, q_text, lexical, best_lexical, k))

    def _products(self, q_text: np.ndarray) -> np.ndarray:
        """Inner product of the query with every row's text block (float32, block order = row order
        without groups)."""
        block = self._block
        out = np.empty(len(block), dtype=np.float32)
        step = max(1, GEMV_ELEMENTS // max(1, block.shape[1]))  # slices small enough for BLAS to stay on this thread
        for start in range(0, len(block), step):
            np.dot(block[start:start + step], q_text, out=out[start:start + step])
        return out

    def _reachable(self, columns: np.ndarray, weights: np.ndarray, q_text: np.ndarray, wanted: int,
                   passing: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(rows, float32 products) of every passing row that can be a semantic candidate, and more.

        q = Σ weights × term directions (weights > 0), so Σ weights × bounds bounds every real
        inner product of a group. The FIRST_GROUPS groups of the highest bounds (more if they hold
        fewer than `wanted` passing rows) give `level`, their `wanted`-th product: at most the
        global one, v. A group whose bound is below level − 2·slack is skipped: its rows' own
        products are below bound + slack/2 (float32 error) < v − slack, so none is inside FAISS's
        top or tied with its boundary, and `_semantic` over the rows read decides as over all rows.
        """
        bounds = weights @ self.groups.bounds[columns].astype(np.float64)   # per group
        if passing is None:
            counts, placed = self._sizes, None
        else:
            placed = passing[self._order]                                    # passing, in block order
            counts = np.add.reduceat(placed.astype(np.int64), self._starts)
        if int(counts.sum()) <= wanted:                                      # every passing row is a candidate
            ids = self._everyone if passing is None else np.flatnonzero(passing)
            return ids, self._block[self._position[ids]] @ q_text
        first = _first_groups(bounds, counts, wanted)
        positions = self._positions(first, placed)
        pool = self._block[positions] @ q_text
        level = float(np.partition(pool, len(pool) - wanted)[len(pool) - wanted])
        reach = bounds >= level - 2.0 * self._slack
        reach[first] = False
        if passing is not None:
            reach &= counts > 0
        rest = np.flatnonzero(reach)
        if len(rest):
            more = self._positions(rest, placed)
            positions = np.concatenate((positions, more))
            pool = np.concatenate((pool, self._block[more] @ q_text))
        return self._order[positions], pool

    def _positions(self, groups: np.ndarray, placed: np.ndarray | None) -> np.ndarray:
        """Block positions of the (passing) rows of `groups`."""
        ranges = self._group_positions
        positions = np.concatenate([ranges[g] for g in groups.tolist()])
        return positions if placed is None else positions[placed[positions]]

    def _semantic(self, ids: np.ndarray, pool: np.ndarray, wanted: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows (of `ids`, whose products are `pool`) in the global FAISS search's top `wanted`, and rows
        tied with its boundary. `ids` are the passing rows, or a subset holding every row that can matter.

        With E the bound on |own product − FAISS's| (slack = 2E): a row whose product exceeds the
        (wanted+1)-th by more than the slack is in FAISS's top `wanted` (it beats every row outside),
        and a row below the wanted-th by more than the slack is not; the rows within the slack of the
        boundary (none unless it has near ties) are the tied ones. Which rows hold the wanted-th and
        next values does not matter, so partitioning the values is enough (no argpartition, no negated copy).
        """
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

    def _top(self, candidates: np.ndarray, q_text: np.ndarray, lexical: np.ndarray | None, best_lexical: float,
             k: int) -> list[tuple[int, float]]:
        """Blended scores of the candidates (rows, ascending); the top k (row, score), best first.
        `best_lexical`: the largest BM25 score of the query (> 0 when `lexical` is given)."""
        if not len(candidates):
            return []
        products = self._block[self._position[candidates]].astype(np.float64) @ q_text
        cosine = np.clip(products / self._divisor[candidates], 0.0, 1.0)
        if lexical is not None:
            blended = (1.0 - LEXICAL_SHARE) * cosine + LEXICAL_SHARE * lexical[candidates] / best_lexical
        else:
            blended = cosine
        scores = TEXT_WEIGHT * blended
        chosen = ranking_order(candidates, scores, self.prior)[:k]
        return list(zip(candidates[chosen].tolist(), scores[chosen].tolist(), strict=True))


def _first_groups(bounds: np.ndarray, counts: np.ndarray, wanted: int) -> np.ndarray:
    """The FIRST_GROUPS groups of the highest bounds, or as many more (by bound) as hold `wanted` rows."""
    if len(bounds) > FIRST_GROUPS:
        first = np.argpartition(-bounds, FIRST_GROUPS - 1)[:FIRST_GROUPS]
        if int(counts[first].sum()) >= wanted:
            return first
    by_bound = np.argsort(-bounds, kind="stable")
    enough = int(np.searchsorted(np.cumsum(counts[by_bound]), wanted)) + 1
    return by_bound[:max(enough, min(FIRST_GROUPS, len(bounds)))]


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
