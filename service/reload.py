"""Hot reload: notice a new production version, load and check it off the event loop, swap it in.

Triggers: polling the `production` pointer every `reload_poll_seconds`, SIGHUP, and the
Admin `Reload` RPC. One reload runs at a time (an asyncio lock); a second trigger waits.

A reload loads the version on a worker thread (`load_model`: sha256 of every file, shapes
that belong together), runs a few smoke queries on it (SimilarMovies on three movies,
GetMovie, a title search, a recommendation from a short history when the version has them),
and only then swaps it into the `ModelHolder` — one reference assignment. Handlers take the
model once at their start, so an in-flight call finishes on the version it started with;
the old version's arrays and memory maps are released when the last such call returns (no
cache in the service keeps a model alive; tests/integration/test_reload.py checks with a
weakref). A failed load or smoke query leaves the old version serving, logs why, and counts
`movierec_model_reload_failures_total`; a successful swap counts `movierec_model_reloads_total`.
Polling does not retry a version that failed until the pointer names another one (SIGHUP
or Admin/Reload retries at once).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from movierec.artifacts import registry
from movierec.v1 import recommender_pb2 as pb

from .config import ServeConfig
from .convert import details_message
from .model import LoadedModel, load_model
from .recommender import ModelHolder

log = logging.getLogger("movierec.service.reload")

SMOKE_MOVIES = 3


class ReloadError(RuntimeError):
    """The requested version could not be loaded or failed its smoke queries; the old one serves on."""


@dataclass(frozen=True)
class ReloadOutcome:
    previous: str
    version: str
    changed: bool


class _Counters:
    """The two reload counters, created on first use (after any worker fork, like service/metrics.py)."""

    _lock = threading.Lock()
    _made: tuple | None = None

    @classmethod
    def get(cls) -> tuple:
        with cls._lock:
            if cls._made is None:
                from prometheus_client import Counter

                cls._made = (
                    Counter("movierec_model_reloads_total", "Model versions swapped in without a restart."),
                    Counter("movierec_model_reload_failures_total",
                            "Reloads refused (load, checksum, shape or smoke query failed); old version kept."),
                )
        return cls._made


def smoke_check(model: LoadedModel) -> None:
    """A few real queries through the scoring code; raises ReloadError naming the one that failed."""
    from .personal import profile_of, recommend
    from .requests import RowFilter
    from .search import engine_of
    from .similar import SCOPES, default_probes, similar_rows

    n = len(model.catalog)
    if n == 0:
        raise ReloadError(f"version {model.version}: empty catalog")
    rows = sorted({0, n // 2, n - 1})[:SMOKE_MOVIES]
    stage = "similar"
    try:
        no_filter = RowFilter(None, frozenset())
        for row in rows:
            found, scores, _ = similar_rows(model, row, 5, SCOPES[pb.SCOPE_MULTI_PROBE], default_probes(model),
                                            no_filter)
            if len(found) == 0 or not np.all(np.isfinite(scores)):
                raise ReloadError(f"version {model.version}: SimilarMovies of row {row} returned no finite scores")
            stage = "details"
            details_message(model.catalog, row, model.index.cluster_of(row))
            stage = "similar"
        engine = engine_of(model)
        if engine is not None:
            stage = "search"
            title = str(np.asarray(model.catalog.title)[rows[0]])
            if not engine.search(title, 5):
                raise ReloadError(f"version {model.version}: searching its own title {title!r} found nothing")
        if model.personal is not None:
            stage = "recommend"
            history = np.asarray(rows, dtype=np.int64)
            ratings = np.full(len(history), 4.5, dtype=np.float32)
            recommend(model.personal, profile_of(model.personal, history, ratings), 5)
    except ReloadError:
        raise
    except Exception as exc:  # any failure of a smoke query refuses the version
        raise ReloadError(f"version {model.version}: smoke query {stage} failed: {type(exc).__name__}: {exc}") from exc


def load_checked(registry_dir: Path, version: str, verify: bool) -> LoadedModel:
    model = load_model(registry_dir, version, verify=verify)
    smoke_check(model)
    return model


class ModelReloader:
    def __init__(self, holder: ModelHolder, config: ServeConfig):
        self.holder = holder
        self.config = config
        self._lock = asyncio.Lock()
        self._failed: str | None = None      # version whose last load failed (polling skips it)
        self.loaded_at: str = ""
        self.reloads, self.failures = _Counters.get()

    @property
    def served_version(self) -> str:
        return self.holder.get().version if self.holder.loaded else ""

    @property
    def pinned(self) -> bool:
        """`--version` serves one version; polling and pointer-following are off."""
        return bool(self.config.version)

    def _target(self, requested: str) -> str:
        if requested:
            return requested
        if self.pinned:
            return self.config.version
        name = registry.read_pointer(self.config.registry_dir)
        if name is None:
            raise ReloadError(f"no production pointer in {self.config.registry_dir}")
        return name

    async def reload(self, version: str = "", *, reason: str = "request", force: bool = False) -> ReloadOutcome:
        """Load `version` (default: production) and swap it in; ReloadError leaves the old one serving."""
        async with self._lock:
            previous = self.served_version
            try:
                target = self._target(version)
            except (ReloadError, OSError) as exc:
                self.failures.inc()
                log.error("reload (%s) refused: %s; still serving %s", reason, exc, previous or "nothing")
                raise ReloadError(str(exc)) from exc
            if target == previous and not force:
                return ReloadOutcome(previous, previous, False)
            started = time.perf_counter()
            log.info("reload (%s): loading %s (serving %s)", reason, target, previous or "nothing")
            try:
                model = await asyncio.to_thread(load_checked, self.config.registry_dir, target,
                                                self.config.verify_checksums)
            except (registry.RegistryError, ReloadError, OSError, ValueError, KeyError) as exc:
                self._failed = target
                self.failures.inc()
                log.error("reload (%s) of %s failed, still serving %s: %s", reason, target, previous or "nothing", exc)
                raise ReloadError(str(exc)) from exc
            self.install(model)
            self._failed = None
            self.reloads.inc()
            log.info("reload (%s): now serving %s (was %s; loaded and checked in %.2fs)", reason, model.version,
                     previous or "nothing", time.perf_counter() - started)
            return ReloadOutcome(previous, model.version, model.version != previous)

    def install(self, model: LoadedModel) -> None:
        """Swap `model` in; the old one lives only as long as calls that already hold it."""
        import datetime as dt

        self.holder.set(model)
        self.loaded_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        try:
            from . import metrics
        except ImportError:  # metrics module absent: nothing to export
            return
        metrics.observe_model(model)

    async def poll_forever(self) -> None:
        """Follow the production pointer; never raises (a failed reload is logged and counted)."""
        interval = self.config.reload_poll_seconds
        if interval <= 0 or self.pinned:
            return
        while True:
            await asyncio.sleep(interval)
            try:
                name = await asyncio.to_thread(registry.read_pointer, self.config.registry_dir)
            except OSError as exc:
                log.warning("cannot read the production pointer: %s", exc)
                continue
            if name is None or name == self.served_version or name == self._failed:
                continue
            try:
                await self.reload(name, reason="production pointer changed")
            except ReloadError:
                pass
