"""Loading a version without garbage collections in the middle of it.

A load creates a few hundred thousand objects (name tables, lookups, the trigram spans) and keeps
nearly all of them; CPython's collector, counting allocations, runs ~50 times during one Search
load alone and scans the growing heap each time, for nothing to collect (~10% of the load, more
in the first load of a process). Collections resume, as they were, when the outermost load ends.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = True


@contextmanager
def collections_paused() -> Iterator[None]:
    """No automatic collections inside (nested and concurrent loads included); explicit gc.collect() still runs."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()


__all__ = ["collections_paused"]
