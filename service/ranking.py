"""Search's one ranking rule, shared by the lexical fields (service/search.py) and free text
(service/free_text.py): score rounded to 1e-4 descending, then popularity prior descending, then row.

Rounding first lets near-equal scores (a person's movies, a keyword's movies) fall back on popularity;
the row makes the order total, so a top k never depends on the order candidates were gathered in.
"""

from __future__ import annotations

import numpy as np


def ranking_order(rows: np.ndarray, scores: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Positions of `rows` best first (np.lexsort: stable, so equal keys keep their positions)."""
    return np.lexsort((rows, -prior[rows], -np.round(scores, 4)))


def ranking_order_few(rows: list[int], scores: list[float], prior: list[float]) -> list[int]:
    """`ranking_order` for a few candidates as Python lists: the same positions in the same order.

    For a handful of candidates (most fields of most queries) the numpy version's fixed cost, about
    ten calls, is most of a field's scoring; Python's sort is stable like np.lexsort.
    """
    return sorted(range(len(rows)), key=lambda i: (-round_score(scores[i]), -prior[rows[i]], rows[i]))


def round_score(score: float) -> float:
    """np.round(score, 4) for one Python float, bit for bit: numpy multiplies by 10⁴, rounds half to
    even (rint) and divides by 10⁴; `round` to an integer also rounds half to even, and the integer
    (< 2⁵³) converts to float exactly."""
    return round(score * 10000.0) / 10000.0


__all__ = ["ranking_order", "ranking_order_few", "round_score"]
