"""Serving SDKs: deployment-key authentication, cached snapshots, and remote evaluation.

A snapshot is rebuilt only when its project's revision moved. This process learns of its own
writes at once (`invalidate`, called after commit); writes made by other processes are seen
by a revision check of one tiny query, made at most once per `check_interval` per deployment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flagyard import engine
from flagyard.errors import Unauthenticated
from flagyard.services.snapshots import Snapshot, build_snapshot
from flagyard.services.uow import UnitOfWorkFactory


@dataclass
class _Entry:
    snapshot: Snapshot
    checked_at: float


class EvaluationService:
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
        self._lock = threading.Lock()

    # --- snapshots ------------------------------------------------------------------------

    def cached(self, deployment_key: str) -> Snapshot | None:
        """The snapshot if it is known to be current; None when a check is due. No I/O."""
        entry = self._entries.get(deployment_key)
        if entry is None or self._clock() - entry.checked_at >= self._check_interval:
            return None
        return entry.snapshot

    def refresh(self, deployment_key: str) -> Snapshot:
        """Check the revision (and the key) in the database; recompile only if it moved."""
        with self._lock:
            entry = self._entries.get(deployment_key)
            now = self._clock()
            if entry is not None and now - entry.checked_at < self._check_interval:
                return entry.snapshot
            with self._uow() as uow:
                deployment = uow.deployments.get_by_key(deployment_key)
                if deployment is None or deployment.deleted:
                    self._entries.pop(deployment_key, None)
                    raise Unauthenticated("unknown or archived deployment key", code="invalid_key")
                revision = uow.projects.revision(deployment.project_id)
                if entry is None or entry.snapshot.revision != revision or entry.snapshot.deployment != deployment:
                    previous = entry.snapshot if entry is not None else None
                    snapshot = build_snapshot(uow, deployment, revision, previous)
                else:
                    snapshot = entry.snapshot
            self._entries[deployment_key] = _Entry(snapshot, now)
            return snapshot

    def snapshot(self, deployment_key: str) -> Snapshot:
        return self.cached(deployment_key) or self.refresh(deployment_key)

    def invalidate(self, project_ids: Iterable[int]) -> None:
        """Called after this process commits a change: the next request re-checks."""
        touched = set(project_ids)
        for entry in list(self._entries.values()):
            if entry.snapshot.deployment.project_id in touched:
                entry.checked_at = float("-inf")

    # --- evaluation -----------------------------------------------------------------------

    @staticmethod
    def evaluate(snapshot: Snapshot, user: Mapping[str, Any],
                 flag_keys: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Variants of the deployment's flags for one SDK-shaped user, defaults included."""
        deployed = snapshot.deployed_keys
        if flag_keys is not None:
            wanted = set(flag_keys)
            deployed = tuple(key for key in deployed if key in wanted)
        context = engine.user_to_context(user)
        results = engine.evaluate(context, snapshot.flags, deployed)
        return {key: results[key].to_dict() for key in deployed if key in results}
