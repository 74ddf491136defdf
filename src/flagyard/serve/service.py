"""Serving: the one front door of every SDK-facing answer.

`evaluate` is the whole use case "remote evaluation": the deployment's snapshot (cached, or
refreshed in a worker thread), the user's cohort membership resolved on the server, the engine
run, the assignments recorded and the evaluations counted (a metric, and each flag's usage:
serve/usage.py). `/v1/vardata`, OFREP and the
console's debugger call it, and `vardata` is the same use case answering `/sdk/v2/vardata`
with its JSON body (a repeated request's answer is reused while the flags stay the same), so
one user gets one answer on every edge. `config` serves `/sdk/v2/flags` (and the first event
of a stream). Plain values in, never a request; what to track is a `Tracking` the edge read
from its protocol.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import orjson
from anyio import to_thread

from flagyard import engine
from flagyard.measure.model.tracking import Tracking
from flagyard.serve.answer_cache import Answer, AnswerCache, RequestIdentity
from flagyard.serve.cohort_membership import CohortMembership
from flagyard.serve.snapshot_cache import SnapshotCache
from flagyard.serve.snapshots import FlagsBody, Snapshot
from flagyard.serve.usage import UsageCounter

Variants = dict[str, dict[str, Any]]


class AssignmentSink(Protocol):
    """Where the assignment and exposure events of remote evaluations go (the events wing)."""

    def record(self, project_id: int, user: Mapping[str, Any],
               results: Mapping[str, Mapping[str, Any]], tracking: Tracking) -> object: ...


@dataclass(frozen=True, slots=True)
class Evaluation:
    snapshot: Snapshot  # what was evaluated: its deployed and dormant keys, its compiled flags
    variants: Variants  # by flag key, default variants included
    flags: tuple[str, ...]  # the flags evaluated: the snapshot's deployed keys, or those asked for


@dataclass(frozen=True, slots=True)
class EncodedRequest:
    """A user and flag keys as an SDK sent them (a base64 header, a JSON body), decoded only
    when no earlier answer to the same `identity` can be reused."""

    identity: RequestIdentity
    decode: Callable[[], tuple[Mapping[str, Any], list[str] | None]]  # (user, flag keys or None)


@dataclass(frozen=True, slots=True)
class _NeedsCohorts:
    user: Mapping[str, Any]
    flag_keys: list[str] | None


class Serving:
    def __init__(self, snapshots: SnapshotCache, membership: CohortMembership,
                 assignments: AssignmentSink, usage: UsageCounter | None = None,
                 counted: Callable[[int, int], None] = lambda deployment_id, n: None) -> None:
        self.snapshots = snapshots
        self._membership = membership
        self._assignments = assignments
        self._usage = usage  # each flag's evaluations, for finding unused flags
        self._counted = counted  # (deployment id, evaluations): the metrics counter
        self._preparations: dict[str, _Prepared] = {}  # by deployment key: for its current flags

    async def snapshot(self, deployment_key: str) -> Snapshot:
        """The deployment's snapshot; authenticates the key (`Unauthenticated` otherwise)."""
        cached = self.snapshots.cached(deployment_key)
        return cached if cached is not None else await to_thread.run_sync(
            self.snapshots.refresh, deployment_key)

    async def config(self, deployment_key: str, remote: bool) -> FlagsBody:
        """The flag configs an SDK downloads: local-evaluation flags, or every flag (remote)."""
        snapshot = await self.snapshot(deployment_key)
        return snapshot.everything if remote else snapshot.local

    def config_at_hand(self, deployment_key: str, remote: bool) -> FlagsBody | None:
        """`config` when the snapshot is known current, without waiting; None when answering
        needs the database (a check is due, or the key is unknown: `config` says which)."""
        snapshot = self.snapshots.cached(deployment_key)
        if snapshot is None:
            return None
        return snapshot.everything if remote else snapshot.local

    async def evaluate(self, deployment_key: str, user: Mapping[str, Any],
                       flag_keys: Iterable[str] | None, tracking: Tracking) -> Evaluation:
        """Variants of the deployment's flags for one SDK-shaped user."""
        snapshot = await self.snapshot(deployment_key)
        # Flags that target no cohort, or a user with no id to look up, cost no database read.
        if self._membership.needs_lookup(snapshot, user):
            user = await to_thread.run_sync(self._membership.enrich, snapshot, user)
        return self._evaluated(await self._prepared(deployment_key, snapshot), user, flag_keys, tracking)

    async def vardata(self, deployment_key: str, request: EncodedRequest, tracking: Tracking) -> bytes:
        """`evaluate` as `/sdk/v2/vardata` answers it: the variants' JSON object.

        The key is checked before the request is decoded. An answer that needed no cohort
        lookup is kept for the next identical request to the same flags (serve/answer_cache.py):
        that request is neither decoded nor evaluated again, but still tracked and counted."""
        snapshot = await self.snapshot(deployment_key)
        prepared = await self._prepared(deployment_key, snapshot)
        answered = self._vardata(prepared, request, tracking)
        if isinstance(answered, bytes):
            return answered
        user = await to_thread.run_sync(self._membership.enrich, snapshot, answered.user)
        return _json(self._evaluated(prepared, user, answered.flag_keys, tracking).variants)

    def vardata_at_hand(self, deployment_key: str, request: EncodedRequest,
                        tracking: Tracking) -> bytes | None:
        """`vardata` when it needs no waiting: the snapshot known current and prepared, and no
        cohort to look up. None otherwise (or for an unknown key: `vardata` says which)."""
        snapshot = self.snapshots.cached(deployment_key)
        prepared = self._reused(deployment_key, snapshot) if snapshot is not None else None
        if prepared is None:
            return None
        answered = self._vardata(prepared, request, tracking)
        return answered if isinstance(answered, bytes) else None

    def _vardata(self, prepared: _Prepared, request: EncodedRequest,
                 tracking: Tracking) -> bytes | _NeedsCohorts:
        """The answer, or the decoded request when the user's cohorts must be looked up first
        (nothing is tracked or counted then)."""
        snapshot = prepared.snapshot
        answer = prepared.answers.get(request.identity)
        if answer is not None:
            if tracking.any and prepared.assigns:
                user, _ = request.decode()
                self._assignments.record(snapshot.deployment.project_id, user,
                                         json.loads(answer.body), tracking)
            self._used(snapshot, answer.flags)
            self._counted(snapshot.deployment.id, len(answer.flags))
            return answer.body
        user, flag_keys = request.decode()
        if self._membership.needs_lookup(snapshot, user):
            return _NeedsCohorts(user, flag_keys)
        evaluation = self._evaluated(prepared, user, flag_keys, tracking)
        body = _json(evaluation.variants)
        prepared.answers.put(request.identity, Answer(body, evaluation.flags))
        return body

    def evaluate_blocking(self, deployment_key: str, user: Mapping[str, Any],
                          flag_keys: Iterable[str] | None, tracking: Tracking) -> Evaluation:
        """`evaluate` for callers already on a worker thread (the console's pages)."""
        snapshot = self.snapshots.snapshot(deployment_key)
        if self._membership.needs_lookup(snapshot, user):
            user = self._membership.enrich(snapshot, user)
        # A person trying flags out in the console is not usage by an application.
        return self._evaluated(self._prepared_for(deployment_key, snapshot), user, flag_keys, tracking,
                               used=False)

    def _evaluated(self, prepared: _Prepared, user: Mapping[str, Any],
                   flag_keys: Iterable[str] | None, tracking: Tracking, used: bool = True) -> Evaluation:
        snapshot = prepared.snapshot
        if flag_keys is None:
            variants = prepared.evaluate(user)
            evaluated = snapshot.deployed_keys
        else:
            variants = evaluate_snapshot(snapshot, user, flag_keys)
            evaluated = tuple(variants)
        if tracking.any and prepared.assigns:
            self._assignments.record(snapshot.deployment.project_id, user, variants, tracking)
        if used:
            self._used(snapshot, evaluated)
        self._counted(snapshot.deployment.id, len(evaluated))
        return Evaluation(snapshot, variants, evaluated)

    def _used(self, snapshot: Snapshot, evaluated: tuple[str, ...]) -> None:
        if self._usage is None:
            return
        deployment = snapshot.deployment
        if evaluated is snapshot.deployed_keys:
            self._usage.count_all(deployment.project_id, deployment.id, evaluated)
        else:
            self._usage.count_each(deployment.project_id, deployment.id, evaluated)

    async def _prepared(self, deployment_key: str, snapshot: Snapshot) -> _Prepared:
        """`_prepared_for`; a new build's preparation (tens of milliseconds at 10,000 flags) is
        made in a worker thread, so the event loop keeps answering meanwhile."""
        prepared = self._reused(deployment_key, snapshot)
        return prepared if prepared is not None else await to_thread.run_sync(
            self._prepared_for, deployment_key, snapshot)

    def _prepared_for(self, deployment_key: str, snapshot: Snapshot) -> _Prepared:
        prepared = self._reused(deployment_key, snapshot)
        if prepared is None:
            prepared = _Prepared.of(snapshot, self._preparations.get(deployment_key))
            self._preparations[deployment_key] = prepared
            # Deployments this process no longer serves (deleted keys) leave with the next one.
            for key in list(self._preparations):  # one step: other threads may add meanwhile
                if self.snapshots.current(key) is None:
                    self._preparations.pop(key, None)
        return prepared

    def _reused(self, deployment_key: str, snapshot: Snapshot) -> _Prepared | None:
        """The preparation for these flags, if made: a rebuild that changed no flag keeps the
        same flags (snapshots.py), and so the same preparation, answers included."""
        prepared = self._preparations.get(deployment_key)
        if prepared is None or prepared.snapshot is snapshot:
            return prepared
        if (prepared.snapshot.flags is not snapshot.flags
                or prepared.snapshot.deployed_keys is not snapshot.deployed_keys):
            return None
        prepared = prepared.moved_to(snapshot)
        self._preparations[deployment_key] = prepared
        return prepared


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What every evaluation of one build of a deployment's flags shares, worked out once."""

    snapshot: Snapshot  # the latest with these flags (its deployment names the project)
    closure: engine.FlagSet  # the deployed flags and those they depend on; its order is cached
    experiments: frozenset[str]  # keys of the flags in `closure` that can assign a variant
    # Whether a deployed flag can: only experiments' assignments are recorded
    # (measure/assignments.py), so evaluations of other flags skip the recorder.
    assigns: bool
    answers: AnswerCache = field(default_factory=AnswerCache)

    @classmethod
    def of(cls, snapshot: Snapshot, previous: _Prepared | None) -> _Prepared:
        """`previous` (the deployment's last preparation) lends what it found of the flags
        this build still has (a build reuses the compiled flags that did not change)."""
        closure = engine.FlagSet(snapshot.flags.ordered(snapshot.deployed_keys))
        before = previous.closure if previous is not None else {}
        known = previous.experiments if previous is not None else frozenset()
        experiments = frozenset(
            key for key in closure
            if (key in known if before.get(key) is closure[key] else _can_assign(closure[key])))
        return cls(snapshot, closure, experiments, not experiments.isdisjoint(snapshot.deployed_keys))

    def moved_to(self, snapshot: Snapshot) -> _Prepared:
        return replace(self, snapshot=snapshot)

    def evaluate(self, user: Mapping[str, Any]) -> Variants:
        """`evaluate_snapshot` of every deployed flag, without ordering the flags again."""
        results = engine.evaluate(engine.user_to_context(user), self.closure)
        return {key: results[key].to_dict() for key in self.snapshot.deployed_keys if key in results}


def _can_assign(flag: engine.Flag) -> bool:
    """Whether some result of the flag is an experiment's variant (its metadata merged from
    the flag's, the segment's and the variant's, as the recorder reads it)."""
    return any(outcome[3].get("flagType") == "experiment"
               for segment in flag.plan for outcome in segment.outcomes.values())


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


def _json(variants: Variants) -> bytes:
    """Compact UTF-8 JSON; payloads with integers beyond 64 bits, which orjson refuses, take
    the standard library's path (the same bytes the API's other JSON answers have)."""
    try:
        return orjson.dumps(variants)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(variants, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
