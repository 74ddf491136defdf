"""A blocking call (a database read) run in a worker thread, with the caller's context.

The management routes' short reads (a key check, a kept list answer) hop to a thread and back
on every request. Through anyio's `to_thread`, the bookkeeping around each hop (finding the
running async library and task, the capacity limiter) was about a quarter of the event loop's
GIL time under 32 clients listing flags (py-spy `--gil`); asyncio's own executor hop does the
same work without it. FastAPI's sync routes keep their own threads.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from starlette.responses import Response

from flagyard.api.http.errors import domain_error_response, error_response
from flagyard.errors import DomainError

log = logging.getLogger("flagyard.api")
P = ParamSpec("P")
T = TypeVar("T")

# As many as anyio's default limiter allows: reads wait on the database, not on the CPU.
_WORKERS = ThreadPoolExecutor(max_workers=40, thread_name_prefix="flagyard-read")


async def in_thread(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    context = contextvars.copy_context()  # request-scoped values (the client's address) go along
    return await asyncio.get_running_loop().run_in_executor(
        _WORKERS, lambda: context.run(function, *args, **kwargs))


async def answered_in_thread(request_line: str, function: Callable[P, Response], *args: P.args,
                             **kwargs: P.kwargs) -> Response:
    """`function`'s response, made in a worker thread; a domain error answered as the app's
    handlers answer it, anything else logged (naming `request_line`) and answered 500."""
    try:
        return await in_thread(function, *args, **kwargs)
    except DomainError as error:
        return domain_error_response(error)
    except Exception:
        log.exception("unhandled error on %s", request_line)
        return error_response(500, "internal_error", "internal server error")
