"""Fuzzy matching's brute-force part: every key of about a short query's length, scored with OSA.

A typo in a 4-6 character query leaves it one or two trigrams in common with the right key, too
few for trigram blocking, so `KeyMatcher` also scores every key of length |q| − 1 … |q| + 1.
With rapidfuzz that is ~60 ns a key, and a 6-character query meets ~4,000 such keys over the
three tables (~0.25 ms). Nearly all of them share too few characters with the query to pass:

    OSA distance ≥ the number of distinct characters one string has and the other lacks

(each edit — substitution, insertion, deletion, transposition — brings at most one character
into either set difference). A key whose bound exceeds the distance the cutoff allows cannot
pass, so only the others are scored; the answer, and the order rapidfuzz returns it in, are the
same. Characters are compared by class (a-z, 0-9, space, everything else as one class), which
can only lower the bound.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

_CLASS = {c: i for i, c in enumerate("abcdefghijklmnopqrstuvwxyz0123456789 ")}
_OTHER = len(_CLASS)                       # every other character: one shared bit
_ALL = (1 << (_OTHER + 1)) - 1
_SLACK = 1e-9                              # keeps keys a float rounding away from the allowed distance
_BYTE_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)
_ASCII_BITS = np.array([1 << _CLASS.get(chr(c), _OTHER) for c in range(128)], dtype=np.int64)


def character_mask(text: str) -> int:
    """Bit per character class present in `text`."""
    mask = 0
    for char in text:
        mask |= 1 << _CLASS.get(char, _OTHER)
    return mask


def character_masks(keys: list[str]) -> np.ndarray:
    """`character_mask` of every key (int64), keys of one length at a time as a code-point matrix:
    ~10x faster than key by key, which was most of building ShortKeys at load."""
    out = np.zeros(len(keys), dtype=np.int64)
    lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
    for length in np.unique(lengths).tolist():
        if length == 0:
            continue
        positions = np.flatnonzero(lengths == length)
        text = "".join([keys[i] for i in positions.tolist()])
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).reshape(len(positions), length)
        bits = np.where(codes < len(_ASCII_BITS), _ASCII_BITS[np.minimum(codes, len(_ASCII_BITS) - 1)], 1 << _OTHER)
        out[positions] = np.bitwise_or.reduce(bits, axis=1)
    return out


def _popcount(values: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):  # numpy ≥ 2.0
        return np.bitwise_count(values)
    return _BYTE_BITS[values.view(np.uint8)].reshape(len(values), -1).sum(axis=1)


class ShortKeys:
    """The keys of lengths q−1 … q+1 for each short query length, with their character masks."""

    def __init__(self, keys: list[str], sizes: range, cutoff: Callable[[int], float],
                 lengths: np.ndarray | None = None):
        """`lengths`: the keys' lengths (int64), when the caller has them already."""
        if lengths is None:
            lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
        short = np.flatnonzero((lengths >= sizes.start - 1) & (lengths <= sizes.stop))  # key order
        by_length = {int(length): short[lengths[short] == length] for length in np.unique(lengths[short])}
        masks = dict(zip(short.tolist(), character_masks([keys[i] for i in short.tolist()]).tolist()))
        self._windows = {}
        for size in sizes:
            groups = [by_length.get(length, short[:0]) for length in range(size - 1, size + 2)]
            ids = np.concatenate(groups).tolist()
            window_lengths = lengths[ids] if ids else np.zeros(0, dtype=np.int64)
            allowed = (1.0 - cutoff(size)) * np.maximum(size, window_lengths) + _SLACK
            self._windows[size] = (ids, [keys[i] for i in ids], np.cumsum([0] + [len(g) for g in groups]).tolist(),
                                   np.array([masks[i] for i in ids], dtype=np.int64), allowed)
        self._cutoff = cutoff

    def matches(self, q: str) -> Iterator[tuple[int, float]]:
        """(key id, OSA similarity ≥ cutoff) of the keys of length |q|−1, then |q|, then |q|+1, each
        length best first — what rapidfuzz's extract over each length's keys returns."""
        window = self._windows.get(len(q))
        if window is None:
            return
        ids, strings, bounds, masks, allowed = window
        mask = character_mask(q)
        lacking = np.maximum(_popcount(masks & (_ALL ^ mask)), _popcount((masks ^ _ALL) & mask))
        kept = np.flatnonzero(lacking <= allowed).tolist()
        cutoff = self._cutoff(len(q))
        start = 0
        for end in bounds[1:]:
            group = []
            while start < len(kept) and kept[start] < end:
                group.append(kept[start])
                start += 1
            if group:
                for _, sim, position in process.extract(q, [strings[i] for i in group],
                                                        scorer=OSA.normalized_similarity,
                                                        score_cutoff=cutoff, limit=None):
                    yield ids[group[position]], sim


__all__ = ["ShortKeys", "character_mask", "character_masks"]
