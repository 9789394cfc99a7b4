"""Free text's group bounds, as the trainer builds them (trainer/text_groups.py)."""

from __future__ import annotations

import numpy as np
import pytest

from movierec.artifacts.search import TextGroups
from movierec.trainer.config import SearchConfig
from movierec.trainer.text_groups import build_text_groups, round_up_float16


@pytest.fixture
def content() -> tuple[np.ndarray, np.ndarray]:
    """A text block (300 rows × 16 dims) and orthonormal SVD components (16 × 50 terms)."""
    rng = np.random.default_rng(7)
    block = rng.standard_normal((300, 16)).astype(np.float32) * 0.4
    components = np.linalg.qr(rng.standard_normal((50, 16)))[0].T.astype(np.float32)
    return block, components


def test_groups_partition_the_rows(content):
    block, components = content
    groups = build_text_groups(block, components, SearchConfig(text_groups=30))
    assert sorted(groups.order.tolist()) == list(range(len(block)))
    assert groups.indptr[0] == 0 and groups.indptr[-1] == len(block) and np.all(np.diff(groups.indptr) > 0)
    assert groups.fits(len(block), components.shape[1]) and len(groups) <= 30


def test_a_bound_holds_for_every_row_of_its_group_and_is_close(content):
    """bound ≥ the exact (float64) product of every row of the group with the term's direction, and
    within float16 rounding of the largest: a loose bound would only make free text read more rows."""
    block, components = content
    groups = build_text_groups(block, components, SearchConfig(text_groups=30))
    exact = block.astype(np.float64) @ components.astype(np.float64)           # rows × terms
    for g in range(len(groups)):
        rows = groups.order[groups.indptr[g]:groups.indptr[g + 1]]
        highest = exact[rows].max(axis=0)
        bound = groups.bounds[:, g].astype(np.float64)
        assert np.all(bound >= highest)
        assert np.all(bound - highest <= 2.0 ** -10 * np.maximum(np.abs(highest), 2.0 ** -14) + 1e-5)


def test_small_catalogs_get_fewer_groups(content):
    block, components = content
    assert len(build_text_groups(block[:20], components, SearchConfig(text_groups=1024, min_group_rows=4))) <= 5
    assert len(build_text_groups(block[:3], components, SearchConfig(text_groups=1024))) == 1


def test_rounding_up_to_float16_never_rounds_down():
    values = np.array([0.1, -0.1, 1 / 3, -1 / 3, 0.5, 65000.0, 1e-9])
    rounded = round_up_float16(values)
    assert rounded.dtype == np.float16 and np.all(rounded.astype(np.float64) >= values)
    assert np.all(np.nextafter(rounded, np.float16(-np.inf)).astype(np.float64) < values)


def test_groups_round_trip_through_files(tmp_path, content):
    block, components = content
    groups = build_text_groups(block, components, SearchConfig(text_groups=30))
    groups.write(tmp_path)
    read = TextGroups.read(tmp_path)
    assert read is not None and read.bounds.dtype == np.float16
    for name in ("order", "indptr", "bounds"):
        assert np.array_equal(getattr(read, name), getattr(groups, name))
    assert TextGroups.read(tmp_path / "elsewhere") is None


def test_block_and_components_must_fit():
    with pytest.raises(ValueError, match="do not fit"):
        build_text_groups(np.zeros((10, 8), np.float32), np.zeros((6, 20), np.float32), SearchConfig())
