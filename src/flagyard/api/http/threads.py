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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# As many as anyio's default limiter allows: reads wait on the database, not on the CPU.
_WORKERS = ThreadPoolExecutor(max_workers=40, thread_name_prefix="flagyard-read")


async def in_thread(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    context = contextvars.copy_context()  # request-scoped values (the client's address) go along
    return await asyncio.get_running_loop().run_in_executor(
        _WORKERS, lambda: context.run(function, *args, **kwargs))
