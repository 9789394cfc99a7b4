"""Errors a caller can act on, raised anywhere in a handler and turned into a gRPC status once.

Handlers raise `InvalidArgument` or `NotFound`; `rpc_errors` (the decorator on every RPC)
turns them into the matching status with a message that names the field. Anything else
is a bug: it is logged with its traceback and answered INTERNAL without leaking details.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

log = logging.getLogger(__name__)

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])


class CallerError(Exception):
    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class InvalidArgument(CallerError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(CallerError):
    code = grpc.StatusCode.NOT_FOUND


class Unavailable(CallerError):
    code = grpc.StatusCode.UNAVAILABLE


def rpc_errors(handler: Handler) -> Handler:
    """Map CallerError to its status; log and mask anything unexpected."""

    @functools.wraps(handler)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await handler(self, request, context)
        except CallerError as exc:
            await context.abort(exc.code, str(exc))
        except (grpc.aio.AbortError, grpc.aio.BaseError):
            raise
        except Exception:
            log.exception("unhandled error in %s", handler.__name__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error; it has been logged")

    return wrapper  # type: ignore[return-value]
