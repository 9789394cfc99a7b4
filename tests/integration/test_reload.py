"""Hot reload: zero failed calls while versions swap, bad versions never served, memory released, Admin auth."""

import asyncio
import gc
import shutil
import time
import urllib.request
import weakref

import grpc
import pytest

from benchmarks.reload_under_load import run as reload_under_load
from movierec.artifacts import registry
from movierec.service.config import ServeConfig
from movierec.service.model import load_model
from movierec.service.recommender import ModelHolder
from movierec.service.reload import ModelReloader, ReloadError
from movierec.v1 import admin_pb2, admin_pb2_grpc
from movierec.v1 import recommender_pb2 as pb
from movierec.v1 import recommender_pb2_grpc as pb_grpc
from tests.conftest import RunningServer, free_port
from tests.registry_tools import clone_version, largest_file

pytestmark = pytest.mark.integration


@pytest.fixture()
def registry_copy(trained, tmp_path):
    target = tmp_path / "registry"
    target.mkdir()
    shutil.copytree(trained.path, target / trained.version)
    registry.set_pointer(target, trained.version)
    clone_version(target, trained.version, "twin")
    broken = clone_version(target, trained.version, "broken")
    data = bytearray(largest_file(broken).read_bytes())
    data[-1] ^= 0xFF
    largest_file(broken).write_bytes(bytes(data))
    return target


def test_ten_swaps_under_load_fail_no_call(trained):
    result = asyncio.run(reload_under_load(trained.path.parent, seconds=6.0, swaps=10, concurrency=4))
    print(f"\nreload under load: {result['calls']} calls, {result['failures']} failures, {result['swaps_done']} swaps; "
          f"p99 without reloads {result['without_reloads']['p99_ms']} ms, "
          f"during reloads {result['during_reloads']['p99_ms']} ms")
    assert result["failures"] == 0, result["failure_examples"]
    assert result["swaps_done"] == 10
    assert len(result["answers_by_version"]) == 2


def model_info(admin):
    return admin.GetModelInfo(admin_pb2.GetModelInfoRequest(), timeout=5)


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_reload_follows_production_and_never_serves_a_broken_version(trained, registry_copy):
    admin_port, metrics_port = free_port(), free_port()
    server = RunningServer(registry_copy, "--admin-port", str(admin_port), "--metrics-port", str(metrics_port),
                           "--reload-poll", "0.2")
    try:
        server.wait_serving()
        with grpc.insecure_channel(f"127.0.0.1:{admin_port}") as channel, \
                grpc.insecure_channel(server.target) as serving:
            admin, stub = admin_pb2_grpc.AdminStub(channel), pb_grpc.RecommenderStub(serving)
            info = model_info(admin)
            assert info.version == trained.version and info.catalog_size > 0 and info.loaded_at
            assert info.metrics["silhouette"] == pytest.approx(trained.manifest["metrics"]["silhouette"])

            # Admin/Reload of a corrupted version: refused, the old version answers on.
            with pytest.raises(grpc.RpcError) as caught:
                admin.Reload(admin_pb2.ReloadRequest(version="broken"), timeout=30)
            assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "sha256" in caught.value.details() and trained.version in caught.value.details()
            assert model_info(admin).version == trained.version

            # production → broken: not served (polling does not retry the version that just failed).
            registry.set_pointer(registry_copy, "broken")
            time.sleep(1.0)
            assert model_info(admin).version == trained.version
            reply = stub.SimilarMovies(pb.SimilarMoviesRequest(movie=pb.MovieRef(tmdb_id=100_001)), timeout=5)
            assert reply.model_version == trained.version

            # production → twin: polling swaps it in.
            registry.set_pointer(registry_copy, "twin")
            assert wait_for(lambda: model_info(admin).version == "twin")

            # SIGHUP reloads production (back to the original version).
            registry.set_pointer(registry_copy, trained.version)
            server.process.send_signal(1)  # SIGHUP
            assert wait_for(lambda: model_info(admin).version == trained.version)

        scraped = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
        counters = {line.split()[0]: float(line.split()[1]) for line in scraped.splitlines()
                    if line.startswith("movierec_model_reload")}
        assert counters["movierec_model_reload_failures_total"] >= 1
        assert counters["movierec_model_reloads_total"] >= 2
    finally:
        assert server.stop() == 0
    log = server.process.stdout.read()
    assert "reload (Admin/Reload) of broken failed, still serving" in log


def test_old_version_memory_is_released_after_a_swap(registry_copy, trained):
    config = ServeConfig(registry_dir=registry_copy, reload_poll_seconds=0)
    holder = ModelHolder()

    async def scenario():
        reloader = ModelReloader(holder, config)
        reloader.install(load_model(registry_copy, trained.version))
        old = weakref.ref(holder.get())
        assert (await reloader.reload("twin")).changed
        with pytest.raises(ReloadError):
            await reloader.reload("broken")
        return old

    old = asyncio.run(scenario())
    gc.collect()
    assert holder.get().version == "twin"
    assert old() is None, gc.get_referrers(old())


def test_admin_exposed_beyond_loopback_needs_a_token(trained, tmp_path):
    refused = RunningServer(trained.path.parent, "--admin-host", "0.0.0.0", "--admin-port", str(free_port()))
    assert refused.process.wait(timeout=60) == 2
    assert "needs a token" in refused.process.stdout.read()


def test_admin_token_is_required_and_never_logged(trained, monkeypatch):
    token = "s3cret-token-0123456789abcdef"
    monkeypatch.setenv("MOVIEREC_ADMIN_TOKEN", token)
    admin_port = free_port()
    server = RunningServer(trained.path.parent, "--admin-host", "0.0.0.0", "--admin-port", str(admin_port),
                           "--metrics-port", "0")
    try:
        server.wait_serving()
        with grpc.insecure_channel(f"127.0.0.1:{admin_port}") as channel:
            admin = admin_pb2_grpc.AdminStub(channel)
            for metadata in ((), (("authorization", "Bearer wrong-token-0123456789"),), (("authorization", token),)):
                with pytest.raises(grpc.RpcError) as caught:
                    admin.GetModelInfo(admin_pb2.GetModelInfoRequest(), metadata=metadata, timeout=5)
                assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
            info = admin.GetModelInfo(admin_pb2.GetModelInfoRequest(),
                                      metadata=(("authorization", f"Bearer {token}"),), timeout=5)
            assert info.version == trained.version
    finally:
        server.stop()
    log = server.process.stdout.read()
    assert "bearer token required" in log and token not in log
