"""Engine construction for SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

WRITE_OPTION = "flagyard_write"


def inserted_id(result: sa.CursorResult[Any]) -> int:
    """The primary key an INSERT produced."""
    key = result.inserted_primary_key
    assert key is not None, "not an INSERT"
    return int(key[0])


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url, pool_size)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = sa.create_engine(
        # At most twice `pool_size` connections, all kept open once made: with a pool of
        # `pool_size` plus as many in overflow, sustained concurrency above `pool_size` closed
        # and re-opened a connection on almost every checkout (a fifth of a loaded list
        # request's time went to connecting).
        url, pool_size=2 * pool_size, max_overflow=0,
        # A database that went away must cost a request a second or two, never a hang: a
        # bounded connect, a bounded wait for a pooled connection, and TCP keepalives that
        # notice a peer that vanished without closing its sockets.
        pool_timeout=POOL_TIMEOUT_SECONDS,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS, **TCP_KEEPALIVES},
        json_deserializer=json_loads,
    )
    _ping_when_idle(engine)
    return engine


CONNECT_TIMEOUT_SECONDS = 2
POOL_TIMEOUT_SECONDS = 2
TCP_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 2}
IDLE_PING_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use when it has sat idle for a second or more.

    A database that restarted while the pool was quiet leaves only dead connections; the
    check finds them before a request does. Checking every checkout (`pool_pre_ping`) cost a
    round trip per unit of work, a fifth of a loaded list request; a connection that was in
    use a moment ago is alive, and if the database goes away mid-load the failing statement
    invalidates the whole pool (SQLAlchemy does on a disconnect error)."""

    @sa.event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in_at = record.info.get("checked_in_at")
        if checked_in_at is None or time.monotonic() - checked_in_at < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool discards this connection and checks out (or opens) another.
            raise sa.exc.DisconnectionError(str(error)) from error


def _sqlite_engine(url: str, pool_size: int) -> Engine:
    # A file database gets the same fixed pool as PostgreSQL (in-memory ones keep SQLAlchemy's
    # single shared connection): with SQLAlchemy's default overflow, 32 clients listing flags
    # opened and closed a connection, with its PRAGMAs and schema read, on most requests.
    pooling = {} if _in_memory(url) else {"pool_size": 2 * pool_size, "max_overflow": 0}
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False},
                              json_deserializer=json_loads, **pooling)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (the driver's implicit one is
        # deferred, which turns concurrent writers into "database is locked" errors).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cursor.close()

    # The writers of this process queue on a lock of their own before asking SQLite for its
    # write lock. SQLite's busy handler polls with sleeps growing to 100 ms, so writers that
    # waited on it alone woke late and in no order: with 8 clients writing, a write's p99 was
    # a second (benchmarks/write_throughput.py). Writers of other processes still meet at
    # SQLite's lock. Waiting here is bounded like SQLite's own wait: past it, the writer goes
    # on to SQLite's lock without this one (a thread that already holds it never deadlocks).
    writers = threading.Lock()

    def _release(info: dict[str, Any]) -> None:
        if info.pop(_HOLDS_WRITERS_LOCK, False):
            writers.release()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # Writers take the write lock up front so two writers queue instead of deadlocking.
        if not connection.get_execution_options().get(WRITE_OPTION):
            connection.exec_driver_sql("BEGIN")
            return
        if writers.acquire(timeout=SQLITE_BUSY_SECONDS):
            connection.info[_HOLDS_WRITERS_LOCK] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(connection.info)
            raise

    # The transaction's end lets the next writer in; a connection that is invalidated or
    # returned to the pool with its transaction still open does too.
    sa.event.listen(engine, "commit", lambda connection: _release(connection.info))
    sa.event.listen(engine, "rollback", lambda connection: _release(connection.info))
    sa.event.listen(engine, "checkin", lambda _dbapi, record: _release(record.info))
    sa.event.listen(engine, "invalidate", lambda _dbapi, record, _error: _release(record.info))
    return engine


SQLITE_BUSY_SECONDS = 30
_HOLDS_WRITERS_LOCK = "flagyard_holds_writers_lock"


def json_loads(text: str | bytes | memoryview) -> Any:
    """How JSON columns are read: by orjson, several times json's speed (a cold snapshot build
    reads seven values per flag); json reads what orjson refuses (integers beyond 64 bits,
    NaN, lone surrogates), so every stored value reads back as before. SQLite hands a bare
    number back as a number (its JSON columns have numeric affinity)."""
    if isinstance(text, int | float):
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text if isinstance(text, str | bytes) else bytes(text))


def _in_memory(url: str) -> bool:
    return sa.make_url(url).database in (None, "", ":memory:")
