"""TLS and mutual TLS from the server flags, with certificates made in the test; client and CLI support."""

import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from movierec.client import MovieRecClient, MovieRecError
from movierec.client.cli import main as cli_main
from tests.certs import CertificateAuthority
from tests.conftest import RunningServer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    ca, rogue = CertificateAuthority(), CertificateAuthority("rogue CA")
    (directory / "ca.pem").write_bytes(ca.pem)
    files = {"dir": directory, "ca": directory / "ca.pem", "ca_pem": ca.pem}
    files["server_cert"], files["server_key"] = ca.issue("localhost", server=True).write(directory, "server")
    files["client_cert"], files["client_key"] = ca.issue("client-a", server=False).write(directory, "client")
    files["rogue_cert"], files["rogue_key"] = rogue.issue("intruder", server=False).write(directory, "rogue")
    return files


def wait_serving_tls(server: RunningServer, client: MovieRecClient, timeout: float = 60.0) -> None:
    stub = health_pb2_grpc.HealthStub(client._channel)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(server.process.stdout.read())
        try:
            if stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status == health_pb2.HealthCheckResponse.SERVING:
                return
        except grpc.RpcError:
            pass
        time.sleep(0.2)
    raise TimeoutError("TLS server not SERVING")


def test_tls_server_answers_tls_clients_and_refuses_plaintext(trained, pki):
    server = RunningServer(trained.path.parent, "--tls-cert", str(pki["server_cert"]), "--tls-key",
                           str(pki["server_key"]), "--admin-port", "-1", "--metrics-port", "0")
    try:
        with MovieRecClient(server.target, timeout=5, root_certificates=pki["ca_pem"]) as client:
            wait_serving_tls(server, client)
            assert client.movie(tmdb_id=100_001).movie.movie.tmdb_id == 100_001
        with MovieRecClient(server.target, timeout=2) as plaintext, pytest.raises(MovieRecError) as caught:
            plaintext.movie(tmdb_id=100_001)
        assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    finally:
        assert server.stop() == 0


def test_mutual_tls_requires_a_client_certificate_from_the_client_ca(trained, pki, capsys):
    server = RunningServer(trained.path.parent, "--tls-cert", str(pki["server_cert"]), "--tls-key",
                           str(pki["server_key"]), "--tls-client-ca", str(pki["ca"]), "--admin-port", "-1",
                           "--metrics-port", "0")
    try:
        good = dict(root_certificates=pki["ca_pem"], private_key=pki["client_key"].read_bytes(),
                    certificate_chain=pki["client_cert"].read_bytes())
        with MovieRecClient(server.target, timeout=5, **good) as client:
            wait_serving_tls(server, client)
            assert client.similar(tmdb_id=100_001, k=3).results
        rogue = dict(root_certificates=pki["ca_pem"], private_key=pki["rogue_key"].read_bytes(),
                     certificate_chain=pki["rogue_cert"].read_bytes())
        for credentials in (dict(root_certificates=pki["ca_pem"]), rogue):
            with MovieRecClient(server.target, timeout=2, **credentials) as refused:
                with pytest.raises(MovieRecError) as caught:
                    refused.movie(tmdb_id=100_001)
            assert caught.value.code == grpc.StatusCode.UNAVAILABLE
        assert cli_main(["--target", server.target, "--tls-ca", str(pki["ca"]), "--tls-cert", str(pki["client_cert"]),
                         "--tls-key", str(pki["client_key"]), "movie", "--tmdb", "100001"]) == 0
        assert "tmdb:100001" in capsys.readouterr().out
    finally:
        assert server.stop() == 0
    assert b"PRIVATE KEY" not in server.process.stdout.read().encode()


def test_unreadable_tls_files_stop_startup(trained, pki):
    server = RunningServer(trained.path.parent, "--tls-cert", str(pki["server_cert"]), "--tls-key",
                           str(pki["dir"] / "missing.key"), "--admin-port", "-1", "--metrics-port", "0")
    assert server.process.wait(timeout=60) == 2
    assert "cannot read TLS key" in server.process.stdout.read()
