"""Snapshots cached per deployment key, with deployment-key authentication.

A snapshot is rebuilt only when its project's revision moved. This process learns of its own
writes at once (`invalidate`, called after commit); writes made by other processes are seen
by a revision check of one tiny query, made at most once per `check_interval` per deployment.
With a change feed running (serve/propagation.py) the interval is infinite: the feed says
when to look, and snapshots are refreshed before any request asks. At start every
deployment's snapshot is built before the process says it is ready (`build_all`), so no
request waits for a cold build.

While the database is unreachable a deployment that has a snapshot keeps being served from it;
only a key never seen before gets `Unavailable`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from flagyard.errors import Unauthenticated, Unavailable
from flagyard.manage.ports import UnitOfWorkFactory
from flagyard.serve.snapshots import PartPool, Snapshot, build_snapshot


@dataclass
class _Entry:
    snapshot: Snapshot
    checked_at: float
    # The last re-check could not reach the database: serve this snapshot without asking
    # again on the request path; the propagator retries in the background.
    unreachable: bool = False


class SnapshotCache:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        *,
        check_interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._uow = uow_factory
        self._check_interval = check_interval
        self._clock = clock
        self._entries: dict[str, _Entry] = {}  # by deployment key
        self._parts = PartPool()  # compiled flags the deployments' snapshots share
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        # Moves on every invalidation: a refresh that read the database before a change was
        # reported must not install its result as current.
        self._generation = 0

    def cached(self, deployment_key: str) -> Snapshot | None:
        """The snapshot if it is known to be current; None when a check is due. No I/O."""
        entry = self._entries.get(deployment_key)
        if entry is None:
            return None
        if entry.unreachable or self._clock() - entry.checked_at < self._check_interval:
            return entry.snapshot
        return None

    def refresh(self, deployment_key: str) -> Snapshot:
        """Check the revision (and the key) in the database; recompile only if it moved."""
        with self._lock_for(deployment_key):
            entry = self._entries.get(deployment_key)
            now = self._clock()
            if entry is not None and not entry.unreachable and now - entry.checked_at < self._check_interval:
                return entry.snapshot
            generation = self._generation
            try:
                with self._uow() as uow:
                    found = uow.deployments.get_by_key_with_revision(deployment_key)
                    if found is None or found[0].deleted:
                        self._forget(deployment_key)
                        raise Unauthenticated("unknown or archived deployment key", code="invalid_key")
                    deployment, revision = found
                    if entry is None or entry.snapshot.revision != revision or entry.snapshot.deployment != deployment:
                        previous = entry.snapshot if entry is not None else None
                        snapshot = build_snapshot(uow, deployment, revision, previous, self._parts)
                    else:
                        snapshot = entry.snapshot
            except Unavailable:
                if entry is None:
                    raise
                entry.unreachable = True  # keep serving the last flags this process had
                return entry.snapshot
            current = self._generation == generation
            self._entries[deployment_key] = _Entry(snapshot, now if current else float("-inf"))
            return snapshot

    def snapshot(self, deployment_key: str) -> Snapshot:
        return self.cached(deployment_key) or self.refresh(deployment_key)

    def build_all(self) -> int:
        """Build the snapshot of every unarchived deployment, with the bodies its first
        requests will ask for (joined and gzipped), before this process takes traffic; how
        many. Raises `Unavailable` while the database is unreachable."""
        with self._uow() as uow:
            keys = uow.deployments.unarchived_keys()
        for key in keys:
            try:
                snapshot = self.refresh(key)
            except Unauthenticated:
                continue  # archived since it was listed
            for body in (snapshot.local, snapshot.everything):
                body.gzipped()
        return len(keys)

    def invalidate(self, project_ids: Iterable[int] | None) -> None:
        """Called after this process commits a change, or when the change feed reports one
        (None: any project may have changed): the next request re-checks."""
        touched = None if project_ids is None else set(project_ids)
        self._generation += 1
        for entry in list(self._entries.values()):
            if touched is None or entry.snapshot.deployment.project_id in touched:
                entry.checked_at = float("-inf")
                entry.unreachable = False

    def current(self, deployment_key: str) -> Snapshot | None:
        """The snapshot this process holds for the key, however old; None if it has none."""
        entry = self._entries.get(deployment_key)
        return entry.snapshot if entry is not None else None

    def keys_for(self, project_ids: Iterable[int] | None) -> list[str]:
        """Deployment keys this process serves in these projects (None: all of them)."""
        wanted = None if project_ids is None else set(project_ids)
        return [key for key, entry in list(self._entries.items())
                if wanted is None or entry.snapshot.deployment.project_id in wanted]

    def unreachable_keys(self) -> list[str]:
        return [key for key, entry in list(self._entries.items()) if entry.unreachable]

    def _forget(self, deployment_key: str) -> None:
        self._entries.pop(deployment_key, None)
        with self._lock:  # unknown keys must not pile up locks
            self._key_locks.pop(deployment_key, None)

    def _lock_for(self, deployment_key: str) -> threading.Lock:
        # One lock per deployment: a slow rebuild of one never holds up another.
        with self._lock:
            return self._key_locks.setdefault(deployment_key, threading.Lock())
