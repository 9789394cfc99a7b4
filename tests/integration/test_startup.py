"""When a starting server takes calls: after its model is loaded, unless asked to listen while loading."""

import asyncio
import threading

import pytest

from movierec.service import server as server_module
from movierec.service.config import ServeConfig
from movierec.service.healthcheck import check

pytestmark = pytest.mark.integration


def _blocked_load(monkeypatch) -> threading.Event:
    """Make the server's model load wait until the returned event is set."""
    release = threading.Event()
    real_load = server_module.load_model

    def load_when_released(*args, **kwargs):
        release.wait(30)
        return real_load(*args, **kwargs)
    monkeypatch.setattr(server_module, "load_model", load_when_released)
    return release


async def _health_while_loading(config: ServeConfig, release: threading.Event) -> tuple[str, str]:
    server = server_module.Server(config)
    target = f"127.0.0.1:{server.port}"
    starting = asyncio.ensure_future(server.start())
    await asyncio.sleep(0.3)
    during = await asyncio.to_thread(check, target, 0.5)
    release.set()
    await starting
    after = await asyncio.to_thread(check, target, 5.0)
    await server.grpc.stop(0)
    await server.ops.stop(0)
    return during, after


def _config(trained, **overrides) -> ServeConfig:
    return ServeConfig(registry_dir=trained.path.parent, host="127.0.0.1", port=0, metrics_port=0, admin_port=-1,
                       reload_poll_seconds=0, **overrides)


def test_a_loading_server_answers_no_call_so_a_port_sharing_peer_gets_them(trained, monkeypatch):
    during, after = asyncio.run(_health_while_loading(_config(trained), _blocked_load(monkeypatch)))
    assert during in {"DEADLINE_EXCEEDED", "UNAVAILABLE"}  # no answer at all, not NOT_SERVING
    assert after == "SERVING"


def test_listen_while_loading_reports_not_serving_until_the_model_is_loaded(trained, monkeypatch):
    config = _config(trained, listen_while_loading=True)
    during, after = asyncio.run(_health_while_loading(config, _blocked_load(monkeypatch)))
    assert (during, after) == ("NOT_SERVING", "SERVING")


def test_a_serving_server_imports_the_stemmer_before_the_first_search(trained, monkeypatch):
    from movierec.artifacts import text

    text._stemmer.cache_clear()

    async def start_and_stop() -> None:
        server = server_module.Server(_config(trained))
        await server.start()
        warming = [t for t in threading.enumerate() if t.name == "warm-up-stemmer"]
        for thread in warming:
            await asyncio.to_thread(thread.join, 60)
        await server.grpc.stop(0)
        await server.ops.stop(0)

    asyncio.run(start_and_stop())
    assert text._stemmer.cache_info().currsize == 1  # no Search call was made
