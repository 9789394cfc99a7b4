import gc

import pytest

from movierec.service.gc_pause import collections_paused


@pytest.fixture(autouse=True)
def _restore_gc():
    enabled = gc.isenabled()
    yield
    (gc.enable if enabled else gc.disable)()


def test_collections_are_off_inside_and_back_on_after():
    gc.enable()
    with collections_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_pauses_resume_only_when_the_outermost_ends():
    gc.enable()
    with collections_paused():
        with collections_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_collections_disabled_before_stay_disabled():
    gc.disable()
    with collections_paused():
        pass
    assert not gc.isenabled()


def test_collections_resume_when_the_load_raises():
    gc.enable()
    with pytest.raises(ValueError), collections_paused():
        raise ValueError("bad artifact")
    assert gc.isenabled()
