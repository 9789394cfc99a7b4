"""One name table's key matching for Search: exact, prefix and typo-tolerant (fuzzy) lookups.

Match quality of a normalised query q against a key (a title, a person's name, a keyword):

    exact key                                      1.00
    prefix of a key (autocomplete, "star w")       0.90
    fuzzy: rapidfuzz OSA similarity ≥ cutoff       sim, at most 0.95 (typo, transposition)
    fuzzy prefix: OSA of q vs the key's first |q|  0.90 × sim (a typo while still typing)
           characters (q of 4+ characters)

Exact and prefix matches are bisections of the sorted keys. Fuzzy candidates come from trigram
blocking (`service/blocking.py`, one pass for the tables a query visits): among the keys long
enough to pass the cutoff, those sharing the most of q's rarer trigrams are scored with rapidfuzz;
queries of up to `SHORT_QUERY` characters also score every key of about their length. Queries
under 4 characters are prefix-only.

Why a class built at load: Search answers on every keystroke and a query visits three tables,
each with ~60 candidate keys, so the cost is the fixed overhead of many small steps (a numpy call
costs ~1-10 µs whatever its size), not arithmetic. `KeyMatcher` keeps what every query would
otherwise recompute: short keys bucketed by length, the postings pointers as a list.
"""

from __future__ import annotations

from bisect import bisect_left
from functools import lru_cache

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from movierec.artifacts.search import NameTable, trigrams

from .blocking import QueryBlocking, TrigramBlocker
from .short_keys import ShortKeys

EXACT = 1.0
PREFIX = 0.90
FUZZY_MAX = 0.95
MIN_FUZZY_LENGTH = 4
SHORT_QUERY = 6                              # up to this length, fuzzy also tries every key of ±1 length
MIN_FUZZY_PREFIX_LENGTH = 4
PREFIX_KEYS = 64                             # prefix-matching keys kept (most popular first)
QUERY_GRAMS_CACHE = 1024                     # recent queries' trigrams (three tables, repeated keystrokes)


def fuzzy_cutoff(length: int) -> float:
    """Smallest OSA similarity accepted: one edit per 5 characters (plus one), never below 0.6."""
    return max(0.6, 1.0 - (1 + length // 5) / max(length, 1))


@lru_cache(maxsize=QUERY_GRAMS_CACHE)
def query_trigrams(q: str) -> tuple[str, ...]:
    """`trigrams(q)`, computed once per query for all three tables (a tuple: cached and shared)."""
    return tuple(trigrams(q))


class KeyMatcher:
    """Exact/prefix/fuzzy matching of normalised queries against one `NameTable`'s keys."""

    def __init__(self, table: NameTable, blocker: TrigramBlocker | None = None, position: int = 0):
        """`blocker` holds this table at `position` (shared with the other tables a query visits);
        without one the matcher blocks its table alone."""
        self.table = table
        self.keys = table.keys
        self.postings_start = table.indptr.tolist()   # key id → its postings, as Python ints (no numpy scalars)
        self.blocker = blocker if blocker is not None else TrigramBlocker([table])
        self.position = position if blocker is not None else 0
        self._longest = self.blocker.longest[self.position]
        self._short = ShortKeys(self.keys, range(MIN_FUZZY_LENGTH, SHORT_QUERY + 1), fuzzy_cutoff,
                                self.blocker.key_lengths[self.position])

    def __len__(self) -> int:
        return len(self.keys)

    def match(self, q: str, enough: int = 0, fuzzy: bool = True,
              blocking: QueryBlocking | None = None) -> dict[int, float]:
        """Key id → match quality of the normalised query `q` (exact, prefix, fuzzy unless told not to).

        With `enough` > 0, an exact key with at least that many movies is returned alone: no prefix
        or fuzzy match (quality < 1) could rank above any of them. `blocking` shares the trigram
        blocking of one query between tables.
        """
        found: dict[int, float] = {}
        keys = self.keys
        if not q or not keys:
            return found
        lo = bisect_left(keys, q)
        hi = bisect_left(keys, q + "\U0010ffff", lo)
        if lo < hi:
            if keys[lo] == q:
                found[lo] = EXACT
                if enough and self.postings_start[lo + 1] - self.postings_start[lo] >= enough:
                    return found
                lo += 1
            if hi - lo > PREFIX_KEYS:
                window = np.asarray(self.table.key_prior[lo:hi])
                chosen = (lo + np.argpartition(-window, PREFIX_KEYS)[:PREFIX_KEYS]).tolist()
            else:
                chosen = range(lo, hi)
            for key_id in chosen:
                found[key_id] = PREFIX
        if fuzzy and len(q) >= MIN_FUZZY_LENGTH:
            for key_id, quality in self._fuzzy(q, blocking).items():
                if quality > found.get(key_id, 0.0):
                    found[key_id] = quality
        return found

    def _fuzzy(self, q: str, blocking: QueryBlocking | None = None) -> dict[int, float]:
        keys = self.keys
        size = len(q)
        cutoff = fuzzy_cutoff(size)
        out: dict[int, float] = {}
        if self._longest < cutoff * size:
            return out  # OSA similarity ≤ shorter/longer length: every key is too short to pass
        # only keys long enough to pass the cutoff (as a whole, or by their first |q| characters)
        if blocking is not None:
            candidates = blocking.candidates(q, query_trigrams(q), cutoff * size, self.position)
        else:
            candidates = self._candidates(q, cutoff * size)
        choices = [keys[c] for c in candidates]
        for _, sim, position in process.extract(q, choices, scorer=OSA.normalized_similarity,
                                                score_cutoff=cutoff, limit=None):
            out[candidates[position]] = min(float(sim), FUZZY_MAX)
        if size >= MIN_FUZZY_PREFIX_LENGTH:
            # a key no longer than q is its own head: scored as a whole above, higher than PREFIX × the same
            heads = [choice[:size] for choice in choices]
            for _, sim, position in process.extract(q, heads, scorer=OSA.normalized_similarity,
                                                    score_cutoff=cutoff, limit=None):
                key_id = candidates[position]
                out[key_id] = max(out.get(key_id, 0.0), PREFIX * float(sim))
        if size <= SHORT_QUERY:
            # A typo in a short word leaves it few trigrams in common with the right key: also score
            # every key of about the same length (service/short_keys.py).
            for key_id, sim in self._short.matches(q):
                out[key_id] = max(out.get(key_id, 0.0), min(float(sim), FUZZY_MAX))
        return out

    def _candidates(self, q: str, min_length: float) -> list[int]:
        """Trigram blocking of this table alone: key ids (ascending) worth scoring with rapidfuzz."""
        return self.blocker.candidates(query_trigrams(q), min_length, (self.position,))[self.position]


__all__ = ["EXACT", "FUZZY_MAX", "KeyMatcher", "PREFIX", "fuzzy_cutoff", "query_trigrams"]
