"""Group commit for event data: one thread, one transaction for everything queued meanwhile.

Requests queue their jobs and wait on a future; the writer thread takes every job waiting,
runs them in one transaction and commits once, then completes their futures. Under load the
groups grow by themselves (no timer): the more requests arrive during a commit, the more the
next commit carries. A future completes only after the commit returned, so an acknowledged
event is on disk: SQLite runs this connection with `synchronous=FULL`, PostgreSQL commits
with its default `synchronous_commit=on`.

Jobs that can merge (ingestion's batches) and are queued one after another run as one call, so
the group's statements each carry all of their events. When a group's transaction fails, each
job is retried alone so one bad job fails only itself.

Each job names what it touches (`Scope`: some users of a project, or all of it); a group's
transaction locks that on PostgreSQL, so writers of several processes run at once on different
users and one after the other on the same ones (event_locks.py, ADR 0106). A group ends before a
job that would take it past the bucket locks allowed; that job starts the next group.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from flagyard.errors import DomainError
from flagyard.measure.ports import EventStore, MergeableJob, Scope
from flagyard.store.db import WRITE_OPTION
from flagyard.store.measure.event_locks import MAX_BUCKET_LOCKS, LockPlan
from flagyard.store.measure.event_repository import SqlEventStore
from flagyard.store.measure.wal_checkpointer import WalCheckpointer

log = logging.getLogger("flagyard.events")
T = TypeVar("T")
MAX_JOBS_PER_GROUP = 500
WRITER_CACHE_KIB = 256 * 1024  # SQLite page cache of the writer's connection


@dataclass
class _Job:
    run: Callable[[EventStore], Any]
    future: Future[Any]
    scopes: Sequence[Scope]


class GroupCommitWriter:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._connection: sa.Connection | None = None
        self._checkpointer = WalCheckpointer(engine) if engine.dialect.name == "sqlite" else None

    def submit(self, job: Callable[[EventStore], T], scopes: Sequence[Scope] = ()) -> Future[T]:
        future: Future[T] = Future()
        self._ensure_started()
        self._queue.put(_Job(job, future, tuple(scopes)))
        return future

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._checkpointer is not None:
            self._checkpointer.close()

    # --- the writer thread ----------------------------------------------------------------

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._loop, name="flagyard-event-writer", daemon=True)
                thread.start()
                self._thread = thread

    def _plan(self) -> LockPlan:
        return LockPlan(None if self._engine.dialect.name == "sqlite" else MAX_BUCKET_LOCKS)

    def _loop(self) -> None:
        carried: _Job | None = None  # the job that ended the last group, to start the next
        while True:
            first = carried if carried is not None else self._queue.get()
            carried = None
            if first is None:
                return
            plan = self._plan()
            plan.admit(first.scopes, first=True)
            group = [first]
            while len(group) < MAX_JOBS_PER_GROUP:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    self._run_group(group, plan)
                    return
                if not plan.admit(job.scopes):
                    carried = job
                    break
                group.append(job)
            self._run_group(group, plan)

    def _run_group(self, group: list[_Job], plan: LockPlan) -> None:
        live = [job for job in group if job.future.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            results = self._transaction(live, plan)
        except Exception as error:
            if len(live) == 1:
                live[0].future.set_exception(_failure(error))
                return
            for job in live:
                alone = self._plan()
                alone.admit(job.scopes, first=True)
                try:
                    (result,) = self._transaction([job], alone)
                except Exception as job_error:
                    job.future.set_exception(_failure(job_error))
                else:
                    job.future.set_result(result)
            return
        for job, result in zip(live, results, strict=True):
            job.future.set_result(result)

    def _transaction(self, jobs: list[_Job], plan: LockPlan) -> list[Any]:
        connection = self._connect()
        try:
            with connection.begin():
                store = SqlEventStore(connection)
                store.take_locks(plan)
                results = _run_all(store, jobs)
            if self._checkpointer is not None:
                self._checkpointer.poke()
            return results
        except sa.exc.DBAPIError:
            # The connection may be broken (database restarted): take a fresh one next time.
            self._drop_connection()
            raise

    def _connect(self) -> sa.Connection:
        if self._connection is None or self._connection.closed:
            connection = self._engine.connect()
            if connection.dialect.name == "sqlite":
                # Per connection, on the driver (outside any transaction): every commit of
                # this writer waits for the disk.
                driver = connection.connection.dbapi_connection
                assert driver is not None
                driver.execute("PRAGMA synchronous=FULL")
                # The indexes ingestion touches at random (insert ids, users) must stay in
                # memory: SQLite's default cache is 2 MB, and misses cost more than the inserts.
                driver.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
                # Its commits leave checkpoints to the checkpointer's thread.
                driver.execute("PRAGMA wal_autocheckpoint=0")
            self._connection = connection.execution_options(**{WRITE_OPTION: True})
        return self._connection

    def _drop_connection(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail again
                pass
            self._connection = None


def _run_all(store: EventStore, jobs: list[_Job]) -> list[Any]:
    """Each job's result, in order; consecutive mergeable jobs of one kind run as one (results None)."""
    results: list[Any] = []
    mergeable: list[MergeableJob] = []
    for job in jobs:
        if isinstance(job.run, MergeableJob):
            if mergeable and type(mergeable[0]) is not type(job.run):
                _run_merged(store, mergeable, results)
            mergeable.append(job.run)
            continue
        _run_merged(store, mergeable, results)
        results.append(job.run(store))
    _run_merged(store, mergeable, results)
    return results


def _run_merged(store: EventStore, jobs: list[MergeableJob], results: list[Any]) -> None:
    if jobs:
        jobs[0].merged(jobs[1:])(store)
        results.extend([None] * len(jobs))
        jobs.clear()


class EventWriteFailed(Exception):
    """The transaction carrying a job failed; the job's data was not stored."""


def _failure(error: Exception) -> Exception:
    """What the job's caller gets: a refusal as it was raised (the transaction rolled back, so
    it changed nothing), anything else logged and reported as a failed write."""
    if isinstance(error, DomainError):
        return error
    log.error("event write failed", exc_info=error)
    return EventWriteFailed("the events could not be stored")
