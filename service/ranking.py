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


__all__ = ["ranking_order"]
