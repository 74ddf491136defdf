"""How each process hears that any process changed a project's flags.

PostgreSQL: the statement that bumps a project's revision also sends `NOTIFY flagyard_changes,
'<project id>'` (`change_notice`, in its RETURNING clause, so it costs no round trip of its own);
NOTIFY is transactional, so the notification is delivered when, and only if, the write commits. Each process keeps one listening connection on a thread of its own and
reconnects when the database comes back.

SQLite has no notifications; one thread per process asks the file's `PRAGMA data_version`
(it moves whenever another connection commits) every 50 ms, and only when it moved reads the
projects' revisions to name the projects that changed.

Both call `on_change(project_ids)` from their thread; `None` means "changes may have been
missed" (first start, or back after losing the database), so the receiver re-checks everything.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from flagyard.store.db import CONNECT_TIMEOUT_SECONDS, TCP_KEEPALIVES

CHANNEL = "flagyard_changes"
SQLITE_POLL_SECONDS = 0.05
# After a notification, PostgreSQL's feed gathers the next ones this long before reading again:
# under a steady stream of writes (every process hears its own too) a wake-up per write was 4-5 %
# of a busy server's CPU (py-spy). The first change of a quiet spell is still passed on at once.
NOTICE_GATHER_SECONDS = 0.02
RECONNECT_MAX_SECONDS = 0.5

ChangeCallback = Callable[[frozenset[int] | None], None]

log = logging.getLogger("flagyard.changes")


def change_notice(project_id: sa.ColumnElement[int]) -> sa.ColumnElement[str]:
    """PostgreSQL: the expression that tells every listening process, at commit, that this
    project changed (identical notices of one transaction are delivered once)."""
    return sa.func.pg_notify(CHANNEL, sa.cast(project_id, sa.Text))


class _FeedThread:
    """A daemon thread that runs `_follow` until stopped, reconnecting with a growing pause."""

    name = "flagyard-changes"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = False
        self._on_change: ChangeCallback = lambda _: None

    def start(self, on_change: ChangeCallback) -> None:
        self._on_change = on_change
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)

    def _run(self) -> None:
        pause = 0.05
        while not self._stop.is_set():
            try:
                self._follow()
            except Exception as error:  # the database went away; come back when it does
                if self.connected:
                    log.warning("change feed lost the database (%s); reconnecting",
                                type(error).__name__)
            self.connected = False
            self._stop.wait(pause)
            pause = min(pause * 2, RECONNECT_MAX_SECONDS)

    def _follow(self) -> None:
        raise NotImplementedError


class PostgresChangeFeed(_FeedThread):
    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def _follow(self) -> None:
        options: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS, **TCP_KEEPALIVES}
        with psycopg.connect(self._conninfo, autocommit=True, **options) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self.connected = True
            self._on_change(None)  # whatever happened while not listening is re-checked
            while not self._stop.is_set():
                # Returns at the first packet holding notifications (or after half a second).
                changed = {int(n.payload) for n in conn.notifies(timeout=0.5, stop_after=1)}
                if changed:
                    self._on_change(frozenset(changed))
                    self._stop.wait(NOTICE_GATHER_SECONDS)
                else:
                    conn.execute("SELECT 1")  # a quiet connection still proves it is alive


class SqliteChangeFeed(_FeedThread):
    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._path = engine.url.database or ""

    def _follow(self) -> None:
        conn = sqlite3.connect(self._path, timeout=1, isolation_level=None, check_same_thread=False)
        try:
            version = _data_version(conn)
            revisions = _revisions(conn)
            self.connected = True
            self._on_change(None)
            while not self._stop.wait(SQLITE_POLL_SECONDS):
                now = _data_version(conn)
                if now == version:
                    continue
                version = now
                latest = _revisions(conn)
                changed = {p for p, r in latest.items() if revisions.get(p) != r}
                revisions = latest
                if changed:
                    self._on_change(frozenset(changed))
        finally:
            conn.close()


def _data_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


def _revisions(conn: sqlite3.Connection) -> dict[int, int]:
    return {int(row[0]): int(row[1]) for row in conn.execute("SELECT id, revision FROM projects")}


def make_change_feed(engine: Engine) -> PostgresChangeFeed | SqliteChangeFeed | None:
    """The feed for this database, or None where nothing else can write (in-memory SQLite)."""
    if engine.dialect.name == "postgresql":
        return PostgresChangeFeed(engine)
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        return SqliteChangeFeed(engine)
    return None

