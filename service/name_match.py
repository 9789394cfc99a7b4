"""One name table's key matching for Search: exact, prefix and typo-tolerant (fuzzy) lookups.

Match quality of a normalised query q against a key (a title, a person's name, a keyword):

    exact key                                      1.00
    prefix of a key (autocomplete, "star w")       0.90
    fuzzy: rapidfuzz OSA similarity ≥ cutoff       sim, at most 0.95 (typo, transposition)
    fuzzy prefix: OSA of q vs the key's first |q|  0.90 × sim (a typo while still typing)
           characters (q of 4+ characters)

Exact and prefix matches are bisections of the sorted keys. Fuzzy candidates come from trigram
blocking: among the keys long enough to pass the cutoff, those sharing the most of q's rarer
trigrams (Dice and containment, `FUZZY_CANDIDATES` each) are scored with rapidfuzz; queries of
up to `SHORT_QUERY` characters also score every key of about their length. Queries under 4
characters are prefix-only.

Why a class built at load: Search answers on every keystroke and a query visits three tables,
each with ~60 candidate keys, so the cost is the fixed overhead of many small steps (a numpy call
costs ~1-10 µs whatever its size), not arithmetic. `KeyMatcher` keeps what every query would
otherwise recompute: trigram → postings spans as a plain dict, key lengths and trigram counts in
the dtypes the arithmetic wants, short keys bucketed by length, the postings pointers as a list.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from functools import lru_cache

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from movierec.artifacts.search import NameTable, trigrams

from .short_keys import ShortKeys

EXACT = 1.0
PREFIX = 0.90
FUZZY_MAX = 0.95
MIN_FUZZY_LENGTH = 4
SHORT_QUERY = 6                              # up to this length, fuzzy also tries every key of ±1 length
GRAM_DF_FLOOR = 256                          # a trigram in more keys than this and 1/GRAM_DF_SHARE
GRAM_DF_SHARE = 50                           # of them is not used for blocking
MIN_FUZZY_PREFIX_LENGTH = 4
FUZZY_CANDIDATES = 40
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

    def __init__(self, table: NameTable):
        self.table = table
        self.keys = table.keys
        self.postings_start = table.indptr.tolist()   # key id → its postings, as Python ints (no numpy scalars)
        self._lengths = np.fromiter(map(len, self.keys), dtype=np.int32, count=len(self.keys))
        self._longest = int(self._lengths.max()) if len(self._lengths) else 0
        self._shortest = int(self._lengths.min()) if len(self._lengths) else 0
        self._gram_index = table.gram_index                # trigram → id, built when the table was read
        self._gram_bounds = table.gram_indptr.tolist()     # id → its members, as Python ints
        self._common_df = max(GRAM_DF_FLOOR, len(table) // GRAM_DF_SHARE)
        self._members, self._gram_bits, self._length_bits = _trigram_members(table, self._lengths)
        self._short = ShortKeys(self.keys, range(MIN_FUZZY_LENGTH, SHORT_QUERY + 1), fuzzy_cutoff)

    def __len__(self) -> int:
        return len(self.keys)

    def match(self, q: str, enough: int = 0, fuzzy: bool = True) -> dict[int, float]:
        """Key id → match quality of the normalised query `q` (exact, prefix, fuzzy unless told not to).

        With `enough` > 0, an exact key with at least that many movies is returned alone: no prefix
        or fuzzy match (quality < 1) could rank above any of them.
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
            for key_id, quality in self._fuzzy(q).items():
                if quality > found.get(key_id, 0.0):
                    found[key_id] = quality
        return found

    def _fuzzy(self, q: str) -> dict[int, float]:
        keys = self.keys
        size = len(q)
        cutoff = fuzzy_cutoff(size)
        out: dict[int, float] = {}
        if self._longest < cutoff * size:
            return out  # OSA similarity ≤ shorter/longer length: every key is too short to pass
        # only keys long enough to pass the cutoff (as a whole, or by their first |q| characters)
        candidates = self._candidates(q, cutoff * size)
        choices = [keys[c] for c in candidates]
        for _, sim, position in process.extract(q, choices, scorer=OSA.normalized_similarity,
                                                score_cutoff=cutoff, limit=None):
            out[candidates[position]] = min(float(sim), FUZZY_MAX)
        if size >= MIN_FUZZY_PREFIX_LENGTH:
            longer = [(c, choice[:size]) for c, choice in zip(candidates, choices, strict=True) if len(choice) > size]
            for _, sim, position in process.extract(q, [head for _, head in longer], scorer=OSA.normalized_similarity,
                                                    score_cutoff=cutoff, limit=None):
                key_id = longer[position][0]
                out[key_id] = max(out.get(key_id, 0.0), PREFIX * float(sim))
        if size <= SHORT_QUERY:
            # A typo in a short word leaves it few trigrams in common with the right key: also score
            # every key of about the same length (service/short_keys.py).
            for key_id, sim in self._short.matches(q):
                out[key_id] = max(out.get(key_id, 0.0), min(float(sim), FUZZY_MAX))
        return out

    def _candidates(self, q: str, min_length: float) -> list[int]:
        """Trigram blocking: key ids (ascending) worth scoring with rapidfuzz.

        Keys of at least `min_length` characters sharing q's rarer trigrams; when more than
        FUZZY_CANDIDATES do, the top FUZZY_CANDIDATES by Dice ∪ the top half as many by overlap + Dice.
        """
        grams = query_trigrams(q)
        index, bounds = self._gram_index, self._gram_bounds
        found = [(bounds[i], bounds[i + 1]) for gram in grams if (i := index.get(gram)) is not None]
        if not found:
            return []
        # Common trigrams (" th", "the") name thousands of keys and tell little: block on the rarer ones
        # (at least the two rarest).
        rare = [span for span in found if span[1] - span[0] <= self._common_df]
        if len(rare) < 2:
            rare = sorted(found, key=_span_size)[:2]
        members = np.concatenate([self._members[start:end] for start, end in rare])  # a copy: sorted in place
        if min_length > self._shortest:
            lengths = np.right_shift(members, self._gram_bits)
            lengths &= (1 << self._length_bits) - 1
            members = members[lengths >= math.ceil(min_length)]  # integer lengths: the same test
            if not len(members):
                return []
        # distinct keys (ascending: a member sorts by its key first) and how many of the rare
        # trigrams each has: one sort, no np.unique
        members.sort()
        first = np.empty(len(members), dtype=bool)
        first[0] = True
        np.not_equal(members[1:], members[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        distinct = members[starts]
        keys = distinct >> (self._gram_bits + self._length_bits)
        if len(keys) <= FUZZY_CANDIDATES:
            return keys.tolist()  # both tops are all of them
        overlap = np.empty(len(starts), dtype=np.int64)
        np.subtract(starts[1:], starts[:-1], out=overlap[:-1])
        overlap[-1] = len(members) - starts[-1]
        # -Dice and -(overlap + Dice), bit for bit (negation is exact; the small integers are exact
        # in float64), without negated copies
        denominator = (distinct & ((1 << self._gram_bits) - 1)).astype(np.float64)
        denominator += len(grams)
        negative = np.multiply(overlap, -2.0)
        negative /= denominator
        picked = set(keys[np.argpartition(negative, FUZZY_CANDIDATES)[:FUZZY_CANDIDATES]].tolist())
        negative -= overlap
        picked.update(keys[np.argpartition(negative, FUZZY_CANDIDATES // 2)[:FUZZY_CANDIDATES // 2]].tolist())
        return sorted(picked)


def _trigram_members(table: NameTable, lengths: np.ndarray) -> tuple[np.ndarray, int, int]:
    """The trigram postings laid out for blocking: (members, count bits, length bits).

    A member is `key id << (length bits + count bits) | the key's length << count bits | the key's
    trigram count`, aligned with `table.gram_keys`: sorting members sorts by key, and what blocking
    needs of a key (its length for the cutoff test, its trigram count for Dice) comes with it
    instead of a random read per candidate or a second array to gather. ~10 ms at load (11k movies).
    """
    counts = np.asarray(table.key_grams, dtype=np.int64)
    count_bits = max(1, int(counts.max()).bit_length()) if len(counts) else 1
    length_bits = max(1, int(lengths.max()).bit_length()) if len(lengths) else 1
    wide = len(table) << (count_bits + length_bits) >= 2 ** 31
    keys = np.asarray(table.gram_keys, dtype=np.int64 if wide else np.int32)
    members = np.left_shift(keys, count_bits + length_bits, dtype=keys.dtype)
    members |= ((lengths.astype(keys.dtype) << count_bits) | counts.astype(keys.dtype))[keys]
    return members, count_bits, length_bits


def _span_size(span: tuple[int, int]) -> int:
    return span[1] - span[0]


__all__ = ["EXACT", "FUZZY_MAX", "KeyMatcher", "PREFIX", "fuzzy_cutoff", "query_trigrams"]
