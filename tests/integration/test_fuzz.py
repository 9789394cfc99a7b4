"""Every RPC, fuzzed through the real server: never UNKNOWN/INTERNAL, still SERVING afterwards (bounded)."""

import pytest

from benchmarks.fuzz import RPCS, Fuzzer

pytestmark = pytest.mark.integration

PER_RPC = 120  # ~600 requests in total here; `make fuzz` sends 10,000


def test_fuzzed_requests_never_get_unknown_or_internal(server):
    fuzzer = Fuzzer(server.target)
    try:
        fuzzer.fuzz(per_rpc=PER_RPC)
        summary = fuzzer.summary()
        print(f"\nfuzz summary: {summary['requests']} requests, per RPC {summary['per_rpc']}")
        assert summary["forbidden"] == 0, summary["examples_of_forbidden"]
        assert set(summary["per_rpc"]) == set(RPCS)
        assert all(sum(c.values()) >= PER_RPC // 2 for c in summary["per_rpc"].values())
        assert any("OK" in c for c in summary["per_rpc"].values())
        assert fuzzer.health() == "SERVING"
    finally:
        fuzzer.close()
