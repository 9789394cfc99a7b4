"""Search's scoring, callable in-process (benchmarks, tests) without any RPC.

A query is matched against four fields; every candidate movie gets one score in [0, 1] and
the best hit per movie is kept. Ranking (one list across fields):

    score = field weight × match quality (× year factor for titles)
    order = score (rounded to 1e-4) descending, then popularity prior descending, then row

Match quality of the normalised query against a key (exact 1.00, prefix 0.90, fuzzy OSA similarity
≤ 0.95, fuzzy prefix 0.90 × similarity) and the trigram blocking behind fuzzy matches are in
`service/name_match.py` (one `KeyMatcher` per table, built at load). A title alias scores its
kind factor: a title's original/alternate title ×0.99, without its leading article ×0.97.

Field weights: TITLE 1.00, PERSON 0.98, KEYWORD 0.92, TEXT 0.60 × cosine. So an exact title
beats an exact name beats an exact keyword beats a title prefix; free-text (embedding) hits
come after every lexical match and fill the rest of the list. A person's or keyword's
movies all share the match score, so they come most popular first.

Years: "heat 1995", "Heat (1995)" and "Matrix, The (1999)" are also tried without the year;
a movie of that year gets +0.01, a title match of another year ×0.9.

Free text (service/free_text.py) is hybrid: the query projected into the content embedding
(the same TF-IDF → SVD as the movies) and BM25 over the same analysed soups; the union of both
candidate lists is scored

    text match = 0.3 × cosine(query, movie text block) + 0.7 × BM25 / best BM25 of this query

so a movie that has the query's words *and* sits near it in the embedding comes first (the
128-dimension SVD alone blurs short queries: "toys come to life" → "life" movies).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from movierec.artifacts.search import NameTable, SearchTables, has_search, normalize, read_search, title_search_key
from movierec.artifacts.titles import split_year
from movierec.v1 import recommender_pb2 as pb

if TYPE_CHECKING:
    from .model import LoadedModel
    from .requests import RowFilter

from .blocking import QueryBlocking, TrigramBlocker
from .free_text import TEXT_WEIGHT, FreeText
from .gc_pause import collections_paused
from .name_match import FUZZY_MAX, KeyMatcher
from .ranking import ranking_order, ranking_order_few

TITLE, PERSON, KEYWORD, TEXT = pb.SEARCH_FIELD_TITLE, pb.SEARCH_FIELD_PERSON, pb.SEARCH_FIELD_KEYWORD, \
    pb.SEARCH_FIELD_TEXT
ALL_FIELDS = (TITLE, PERSON, KEYWORD, TEXT)
NAME_FIELDS = (TITLE, PERSON, KEYWORD)       # the tables of the trigram blocker, in its order
FIELD_WEIGHTS = {TITLE: 1.0, PERSON: 0.98, KEYWORD: 0.92, TEXT: TEXT_WEIGHT}

TITLE_KIND_FACTOR = (1.0, 0.99, 0.97)        # own title, original/alternate title, article dropped
YEAR_BONUS = 0.01
YEAR_MISMATCH = 0.90
POSTINGS_PER_KEY = 200                       # movies of one key considered (most popular first)
FEW_POSTINGS = 16                            # up to this many, a field is scored in Python (`_rank_few`)
_BARE_YEAR = re.compile(r"^(?P<title>.+?)\s+(?P<year>(?:18[89]|19\d|20\d)\d)$")


Ranked = tuple[int, int, float, int]         # (row, posting, score, key id) of one posting


@dataclass(frozen=True)
class Hit:
    row: int
    score: float
    field: int
    matched: str
    detail: str


class SearchEngine:
    """Search tables of one version + the content model pieces free text needs."""

    def __init__(self, tables: SearchTables, *, vectors: np.ndarray | None = None,
                 vocabulary: dict[str, int] | None = None, idf: np.ndarray | None = None,
                 components: np.ndarray | None = None, years: np.ndarray | None = None):
        self.tables = tables
        self.prior = np.array(tables.prior, dtype=np.float32)
        self.kind_factor = np.array(TITLE_KIND_FACTOR + (1.0,) * (256 - len(TITLE_KIND_FACTOR)))
        self._title_factor = self.kind_factor[np.asarray(tables.titles.kinds, dtype=np.uint8)]  # per title posting
        self.years = np.array(years, dtype=np.int32) if years is not None else np.zeros(len(self.prior), np.int32)
        # the same, as Python lists for fields with few postings (`_rank_few`)
        self._title_factors, self._row_years = self._title_factor.tolist(), self.years.tolist()
        self._priors = self.prior.tolist()
        self.load_seconds = 0.0
        self.text: FreeText | None = None
        if vocabulary and idf is not None and FreeText.usable(vectors, components):
            known = None
            if tables.known_words is not None:
                in_order = list(vocabulary.values()) == list(range(len(vocabulary)))  # as `load` builds it
                by_column = list(vocabulary) if in_order else sorted(vocabulary, key=vocabulary.__getitem__)
                known = tables.known_words.terms(by_column)
            self.text = FreeText(vectors=vectors, vocabulary=vocabulary, idf=idf, components=components,
                                 terms=tables.terms, prior=self.prior, known_words=known,
                                 groups=tables.text_groups)
        self.blocker = TrigramBlocker([tables.titles, tables.people, tables.keywords])
        self.titles, self.people, self.keywords = (
            KeyMatcher(t, self.blocker, position)
            for position, t in enumerate((tables.titles, tables.people, tables.keywords)))

    @property
    def has_text(self) -> bool:
        return self.text is not None

    @classmethod
    def load(cls, version_dir: Path, *, vectors: np.ndarray, years: np.ndarray,
             manifest: dict[str, Any] | None = None) -> SearchEngine | None:
        """The engine for a version, or None when the version has no `search/` (built before Search)."""
        if not has_search(version_dir):
            return None
        with collections_paused():
            return cls._load(version_dir, vectors=vectors, years=years, manifest=manifest)

    @classmethod
    def _load(cls, version_dir: Path, *, vectors: np.ndarray, years: np.ndarray,
              manifest: dict[str, Any] | None) -> SearchEngine:
        started = time.perf_counter()
        tables = read_search(version_dir)
        content = version_dir / "content"
        vocabulary = idf = components = None
        if (content / "vocabulary.json").is_file() and (content / "svd_components.npy").is_file():
            import json

            terms = json.loads((content / "vocabulary.json").read_text())
            vocabulary = {term: column for column, term in enumerate(terms)}
            idf = np.load(content / "idf.npy", mmap_mode="r")
            components = np.load(content / "svd_components.npy", mmap_mode="r")
            blocks = ((manifest or {}).get("reports", {}).get("content", {}).get("block_dims") or {})
            if blocks and (next(iter(blocks)) != "text" or int(blocks["text"]) != components.shape[0]):
                components = None  # the text block is not where free text expects it: switch TEXT off
        engine = cls(tables, vectors=vectors, vocabulary=vocabulary, idf=idf,
                     components=components, years=years)
        engine.load_seconds = time.perf_counter() - started
        return engine

    # ------------------------------------------------------------------ fields

    def _field_hits(self, field: int, matcher: KeyMatcher, variants: list[tuple[str, int | None]], k: int,
                    row_filter: RowFilter | None, best: dict[int, tuple[float, int, str, str]],
                    blocking: QueryBlocking, fuzzy: bool = True) -> None:
        """Score every posting of the matched keys at once; keep each movie's best, then the field's top k.

        Cutting a field to its own top k is exact: a movie below it has k better movies in this field
        alone, and its other fields can only score it lower (a movie keeps its best field).
        """
        weight = FIELD_WEIGHTS[field]
        pointers = matcher.postings_start
        per_key = _postings_per_key(field, k, row_filter)
        starts: list[int] = []
        ends: list[int] = []
        qualities: list[float] = []
        key_ids: list[int] = []
        years: list[int] = []
        for q, year in variants:
            for key_id, quality in matcher.match(q, k if year is None else 0, fuzzy, blocking).items():
                start = pointers[key_id]
                starts.append(start)
                ends.append(min(pointers[key_id + 1], start + per_key))
                qualities.append(weight * quality)
                key_ids.append(key_id)
                years.append(-1 if year is None else year)
        if not starts:
            return
        table = matcher.table
        if sum(ends) - sum(starts) <= FEW_POSTINGS:
            ranked = self._rank_few(field, table, starts, ends, qualities, key_ids, years, row_filter)
        else:
            ranked = self._rank_many(field, table, starts, ends, qualities, key_ids, years, row_filter)
        # A movie's first posting in ranking order is its best one, and these first postings are
        # already in ranking order (distinct rows: the order is total), so the top k are the first k.
        taken: set[int] = set()
        for row, posting, score, key_id in ranked:
            if row in taken:
                continue
            taken.add(row)
            seen = best.get(row)
            if seen is None or seen[0] < score:
                detail = table.detail(posting) if field == PERSON else ""
                best[row] = (score, field, table.display[key_id], detail)
            if len(taken) == k:
                break

    def _rank_many(self, field: int, table: NameTable, starts: list[int], ends: list[int], qualities: list[float],
                   key_ids: list[int], years: list[int], row_filter: RowFilter | None) -> Iterable[Ranked]:
        """(row, posting, score, key id) of every posting of the matched keys, best first; numpy arrays."""
        if sum(ends) - sum(starts) == len(starts):  # one posting per key (most titles): nothing to expand
            postings = np.array(starts)
            scores = np.array(qualities, dtype=np.float64)
            keys = np.array(key_ids)
            wanted = np.array(years)
        else:
            # postings of every matched key, concatenated: start of its key + position inside it
            lengths = np.subtract(ends, starts)
            offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            postings = np.repeat(np.array(starts), lengths) + offsets
            scores = np.repeat(np.array(qualities, dtype=np.float64), lengths)
            keys = np.repeat(np.array(key_ids), lengths)
            wanted = np.repeat(np.array(years), lengths)
        rows = table.rows[postings]
        if field == TITLE:
            scores *= self._title_factor[postings]
            if max(years) >= 0:  # the query names a year
                named = wanted >= 0
                same = self.years[rows] == wanted
                scores = np.where(named & same, scores + YEAR_BONUS, np.where(named, scores * YEAR_MISMATCH, scores))
        if row_filter is not None:
            keep = row_filter.passes(rows)
            postings, scores, keys, rows = postings[keep], scores[keep], keys[keep], rows[keep]
        order = ranking_order(rows, scores, self.prior)
        return zip(rows[order].tolist(), postings[order].tolist(), scores[order].tolist(), keys[order].tolist(),
                   strict=True)

    def _rank_few(self, field: int, table: NameTable, starts: list[int], ends: list[int], qualities: list[float],
                  key_ids: list[int], years: list[int], row_filter: RowFilter | None) -> Iterable[Ranked]:
        """`_rank_many` for at most FEW_POSTINGS postings, in Python floats: the same arithmetic
        (IEEE doubles either way), so the same scores and order for a fraction of the calls."""
        postings: list[int] = []
        scores: list[float] = []
        keys: list[int] = []
        wanted: list[int] = []
        for start, end, quality, key_id, year in zip(starts, ends, qualities, key_ids, years, strict=True):
            for posting in range(start, end):
                postings.append(posting)
                scores.append(quality)
                keys.append(key_id)
                wanted.append(year)
        rows = table.rows[postings].tolist()
        if field == TITLE:
            factor = self._title_factors
            scores = [score * factor[posting] for score, posting in zip(scores, postings, strict=True)]
            if max(years) >= 0:  # the query names a year
                year_of = self._row_years
                scores = [score if year < 0 else score + YEAR_BONUS if year_of[row] == year else score * YEAR_MISMATCH
                          for score, row, year in zip(scores, rows, wanted, strict=True)]
        if row_filter is not None:
            keep = row_filter.passes(np.array(rows, dtype=np.int64)).tolist()
            postings, scores, keys, rows = ([value for value, kept in zip(column, keep, strict=True) if kept]
                                            for column in (postings, scores, keys, rows))
        order = ranking_order_few(rows, scores, self._priors)
        return [(rows[i], postings[i], scores[i], keys[i]) for i in order]


    # ------------------------------------------------------------------ the query

    def search(self, query: str, k: int = 10, fields: Iterable[int] = ALL_FIELDS,
               row_filter: RowFilter | None = None) -> list[Hit]:
        """The top-k hits, one per movie, best first (see the module docstring for the ranking)."""
        fields = set(fields) or set(ALL_FIELDS)
        if row_filter is not None and not row_filter.active and not row_filter.excluded:
            row_filter = None
        best: dict[int, tuple[float, int, str, str]] = {}
        plain = normalize(query)
        # the name tables asked about `plain` are blocked together, by whichever asks first
        blocking = QueryBlocking(self.blocker, plain, [position for position, field in enumerate(NAME_FIELDS)
                                                       if field in fields])
        if TITLE in fields:
            self._field_hits(TITLE, self.titles, title_variants(query), k, row_filter, best, blocking)
        if PERSON in fields:
            self._field_hits(PERSON, self.people, [(plain, None)], k, row_filter, best, blocking,
                             _fuzzy_may_count(PERSON, k, best))
        if KEYWORD in fields:
            self._field_hits(KEYWORD, self.keywords, [(plain, None)], k, row_filter, best, blocking,
                             _fuzzy_may_count(KEYWORD, k, best))
        if self.text is not None and TEXT in fields and sum(1 for hit in best.values() if hit[0] > TEXT_WEIGHT) < k:
            # skipped when no text hit (≤ 0.6) could reach the top k
            for row, score in self.text.hits(query, k, row_filter):
                seen = best.get(row)
                if seen is None or seen[0] < score:
                    best[row] = (score, TEXT, query, "")
        prior = self.prior
        ranked = sorted(best.items(), key=lambda item: (-round(item[1][0], 4), -float(prior[item[0]]), item[0]))
        return [Hit(row, min(score, 1.0), field, matched, detail)
                for row, (score, field, matched, detail) in ranked[:k]]


def title_variants(query: str) -> list[tuple[str, int | None]]:
    """Normalised title forms of a query, each with the year it names (if any).

    "Heat (1995)" → [("heat", 1995)]; "heat 1995" → [("heat 1995", None), ("heat", 1995)] (the number
    may belong to the title, as in "Blade Runner 2049"); "Matrix, The" → [("the matrix", None)].
    """
    whole = title_search_key(query)
    bare, year = split_year(query)
    if year is None:
        match = _BARE_YEAR.match(query.strip())
        if match:
            bare, year = match.group("title"), int(match.group("year"))
    variants: list[tuple[str, int | None]] = []
    key = title_search_key(bare) if year is not None else ""
    if whole and whole != key:
        variants.append((whole, None))
    if key:
        variants.append((key, year))
    return variants


def _postings_per_key(field: int, k: int, row_filter: RowFilter | None) -> int:
    """How many movies of one matched key can matter for a field's top k.

    A person's or keyword's movies share one score and are stored in ranking order (prior, then
    row), so past its first k none can be in the field's top k: k distinct movies of the same key
    rank above it. Titles score per posting (kind, year), and a filter may drop any of the first k.
    """
    return POSTINGS_PER_KEY if field == TITLE or row_filter is not None else min(POSTINGS_PER_KEY, k)


def _fuzzy_may_count(field: int, k: int, best: dict[int, tuple[float, int, str, str]]) -> bool:
    """False when k movies already rank above anything a fuzzy match in `field` can score.

    A fuzzy match scores at most weight × FUZZY_MAX; with k movies above that (after the ranking's
    rounding) no fuzzy hit of this field can reach the top k or change a movie in it, and finding
    fuzzy candidates is most of a field's cost. Keystroke prefixes ("the ma") often have k title
    prefix hits (0.90) above every keyword fuzzy match (≤ 0.874).
    """
    ceiling = round(FIELD_WEIGHTS[field] * FUZZY_MAX, 4)
    return sum(1 for score, *_ in best.values() if round(score, 4) > ceiling) < k


def engine_of(model: LoadedModel) -> SearchEngine | None:
    return model.extras.get("search")


__all__ = ["ALL_FIELDS", "FIELD_WEIGHTS", "Hit", "SearchEngine", "engine_of", "title_variants"]
