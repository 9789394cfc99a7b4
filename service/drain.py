"""Graceful drain: keep taking calls after SIGTERM until the queue has run dry.

grpc core cancels every call it has received but the application has not yet picked up
when `server.stop()` runs, and a busy asyncio loop picks calls up one at a time — so a
burst that is already on the server would partly come back CANCELLED. After turning
health NOT_SERVING we therefore keep serving until no new call has started for a quiet
window (at most `drain_max_seconds`), and only then stop; calls then still running get
the grace period to finish.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc

POLL_SECONDS = 0.05


class CallStarts(grpc.aio.ServerInterceptor):
    """Remembers when the server last picked up a call."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    async def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        self.last = time.monotonic()
        return await continuation(details)


async def wait_until_quiet(starts: CallStarts, quiet: float, limit: float) -> None:
    """Wait until no call has started for `quiet` seconds, or `limit` seconds have passed."""
    began = time.monotonic()
    while time.monotonic() - began < limit and time.monotonic() - starts.last < quiet:
        await asyncio.sleep(POLL_SECONDS)
