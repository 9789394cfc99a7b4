"""Deadlines inside a handler: stop between stages once the caller has given up.

The scoring code runs on the event loop without awaiting, so a cancelled or timed-out call
cannot be interrupted mid-stage; instead an expensive handler calls `check_deadline` between
its stages and the remaining stages never run. A call whose deadline has passed is answered
DEADLINE_EXCEEDED (the caller has already seen that status; this just stops the work).
"""

from __future__ import annotations

import grpc

from .errors import CallerError


class DeadlineExceeded(CallerError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


def check_deadline(context: grpc.aio.ServicerContext, stage: str) -> None:
    """Raise DeadlineExceeded when the call's deadline has passed or the client cancelled it."""
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        raise DeadlineExceeded("", f"deadline exceeded before {stage}; the work was stopped")
    if context.cancelled():
        raise DeadlineExceeded("", f"call cancelled before {stage}; the work was stopped")
