"""Serving: the one front door of every SDK-facing answer.

`evaluate` is the whole use case "remote evaluation": the deployment's snapshot (cached, or
refreshed in a worker thread), the user's cohort membership resolved on the server, the engine
run, the assignments recorded and the evaluations counted. `/sdk/v2/vardata`, `/v1/vardata`,
OFREP and the console's debugger all call it, so one user gets one answer on every edge.
`config` serves `/sdk/v2/flags` (and the first event of a stream). Plain values in, never a
request; what to track is a `Tracking` the edge read from its protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from anyio import to_thread

from flagyard import engine
from flagyard.measure.model.tracking import Tracking
from flagyard.serve.cohort_membership import CohortMembership
from flagyard.serve.snapshot_cache import SnapshotCache
from flagyard.serve.snapshots import FlagsBody, Snapshot

Variants = dict[str, dict[str, Any]]


class AssignmentSink(Protocol):
    """Where the assignment and exposure events of remote evaluations go (the events wing)."""

    def record(self, project_id: int, user: Mapping[str, Any],
               results: Mapping[str, Mapping[str, Any]], tracking: Tracking) -> object: ...


@dataclass(frozen=True, slots=True)
class Evaluation:
    snapshot: Snapshot  # what was evaluated: its deployed and dormant keys, its compiled flags
    variants: Variants  # by flag key, default variants included


class Serving:
    def __init__(self, snapshots: SnapshotCache, membership: CohortMembership,
                 assignments: AssignmentSink,
                 counted: Callable[[int, int], None] = lambda deployment_id, n: None) -> None:
        self.snapshots = snapshots
        self._membership = membership
        self._assignments = assignments
        self._counted = counted  # (deployment id, evaluations): the metrics counter

    async def snapshot(self, deployment_key: str) -> Snapshot:
        """The deployment's snapshot; authenticates the key (`Unauthenticated` otherwise)."""
        cached = self.snapshots.cached(deployment_key)
        return cached if cached is not None else await to_thread.run_sync(
            self.snapshots.refresh, deployment_key)

    async def config(self, deployment_key: str, remote: bool) -> FlagsBody:
        """The flag configs an SDK downloads: local-evaluation flags, or every flag (remote)."""
        snapshot = await self.snapshot(deployment_key)
        return snapshot.everything if remote else snapshot.local

    async def evaluate(self, deployment_key: str, user: Mapping[str, Any],
                       flag_keys: Iterable[str] | None, tracking: Tracking) -> Evaluation:
        """Variants of the deployment's flags for one SDK-shaped user."""
        snapshot = await self.snapshot(deployment_key)
        # Flags that target no cohort, or a user with no id to look up, cost no database read.
        if self._membership.needs_lookup(snapshot, user):
            user = await to_thread.run_sync(self._membership.enrich, snapshot, user)
        return self._evaluated(snapshot, user, flag_keys, tracking)

    def evaluate_blocking(self, deployment_key: str, user: Mapping[str, Any],
                          flag_keys: Iterable[str] | None, tracking: Tracking) -> Evaluation:
        """`evaluate` for callers already on a worker thread (the console's pages)."""
        snapshot = self.snapshots.snapshot(deployment_key)
        if self._membership.needs_lookup(snapshot, user):
            user = self._membership.enrich(snapshot, user)
        return self._evaluated(snapshot, user, flag_keys, tracking)

    def _evaluated(self, snapshot: Snapshot, user: Mapping[str, Any],
                   flag_keys: Iterable[str] | None, tracking: Tracking) -> Evaluation:
        variants = evaluate_snapshot(snapshot, user, flag_keys)
        if tracking.any:
            self._assignments.record(snapshot.deployment.project_id, user, variants, tracking)
        self._counted(snapshot.deployment.id, len(variants))
        return Evaluation(snapshot, variants)


def evaluate_snapshot(snapshot: Snapshot, user: Mapping[str, Any],
                      flag_keys: Iterable[str] | None = None) -> Variants:
    """Variants of a snapshot's deployed flags for one SDK-shaped user, as it stands (no cohort
    lookup, nothing recorded): the pure step of `Serving.evaluate`."""
    deployed = snapshot.deployed_keys
    if flag_keys is not None:
        wanted = set(flag_keys)
        deployed = tuple(key for key in deployed if key in wanted)
    context = engine.user_to_context(user)
    results = engine.evaluate(context, snapshot.flags, deployed)
    return {key: results[key].to_dict() for key in deployed if key in results}
