"""What one deployment serves: the snapshot behind every SDK route, rebuilt by what changed.

A snapshot keeps each served flag compiled twice: its JSON bytes and the parsed engine flag
(the config dict they come from is dropped: nothing reads it and it is the largest form).
The next build, after a write, asks the project's version rows which flags changed since the
last build and reloads only those. A write that leaves the dependency graph as it was (same
flags served, same keys and parents) recompiles just its own flag and swaps the new bytes in
place; one that changes the graph re-plans it from the cached nodes in one linear pass and
recompiles each flag whose version, deployed mark or resolved parents differ (children of a
changed parent included). A build with no previous snapshot compiles every flag.

The parts are also shared between the deployments of a process (`PartPool`): a flag served by
several deployments alike (same version, deployed mark and parents) is compiled once, by
whichever build comes first, and held once.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from flagyard import engine
from flagyard.manage.model.deployments import Deployment
from flagyard.manage.model.document import flag_document
from flagyard.manage.model.flags import Flag, parent_ids
from flagyard.manage.ports import UnitOfWork
from flagyard.serve.bodies import FlagsBody
from flagyard.serve.compile.compiler import (
    CompileInput,
    CompileWarning,
    FlagNode,
    ServedFlag,
    compile_flag,
    flag_node,
    plan_graph,
)


@dataclass(frozen=True, slots=True)
class _Known:
    """What the last build knew of one flag row, enough to re-plan without reloading it."""

    version: int
    node: FlagNode | CompileWarning
    parents: tuple[int, ...]  # ids of the rows it depends on


@dataclass(frozen=True, slots=True, weakref_slot=True)
class _Part:
    """One served flag, compiled; reused while its signature stays the same."""

    signature: tuple[Any, ...]  # (version, deployed, resolved parents, unresolved reasons)
    key: str
    body: bytes
    digest: bytes
    flag: engine.Flag
    local: bool
    dependencies: tuple[str, ...]
    warnings: tuple[CompileWarning, ...]


# Parts per block of a served body. A round that changes one flag copies the list of blocks and
# one block, not a list of every flag, and joins the blocks it did not touch from their cached
# joins: at 10,000 flags, passing over every part's bytes objects (scattered in memory) to copy
# the lists and join them was a few milliseconds of every round (ADR 0109).
BLOCK = 64


@dataclass(frozen=True, slots=True)
class _Block:
    """Up to BLOCK consecutive parts of a body, with their join made once."""

    bodies: tuple[bytes, ...]
    digests: tuple[bytes, ...]
    joined: list[tuple[bytes, bytes]] = field(default_factory=list, compare=False)

    def join(self) -> tuple[bytes, bytes]:
        """(the bodies joined by commas, the digests joined)."""
        if not self.joined:  # two first callers may both join; either result is the same
            self.joined.append((b",".join(self.bodies), b"".join(self.digests)))
        return self.joined[0]


@dataclass(frozen=True, slots=True)
class _Bodies:
    """One served body as blocks of parts, with each node's place, so a part swaps in place."""

    blocks: list[_Block]
    position: dict[str, tuple[int, int]]  # node id -> (block, index in the block)
    # The joined body, made by the first request that needs it: a write that changes only
    # remote flags never joins the local body, and an unchanged _Bodies keeps its join.
    joined: list[FlagsBody] = field(default_factory=list, compare=False)

    @classmethod
    def of(cls, node_ids: Iterable[str], parts: Mapping[str, _Part]) -> _Bodies:
        ids = list(node_ids)
        blocks = [_Block(tuple(parts[i].body for i in ids[start:start + BLOCK]),
                         tuple(parts[i].digest for i in ids[start:start + BLOCK]))
                  for start in range(0, len(ids), BLOCK)]
        return cls(blocks, {node_id: divmod(index, BLOCK) for index, node_id in enumerate(ids)})

    def swapped(self, changed: dict[str, _Part]) -> _Bodies:
        replaced: dict[int, dict[int, _Part]] = {}
        for node_id, part in changed.items():
            at = self.position.get(node_id)
            if at is not None:
                replaced.setdefault(at[0], {})[at[1]] = part
        blocks = list(self.blocks)
        for number, swaps in replaced.items():
            bodies, digests = list(blocks[number].bodies), list(blocks[number].digests)
            for index, part in swaps.items():
                bodies[index], digests[index] = part.body, part.digest
            blocks[number] = _Block(tuple(bodies), tuple(digests))
        return _Bodies(blocks, self.position)

    def served(self) -> FlagsBody:
        if not self.joined:  # two first requests may both join; either result is the same
            self.joined.append(FlagsBody.join_blocks([block.join() for block in self.blocks]))
        return self.joined[0]


@dataclass(frozen=True, slots=True)
class _Compiled:
    marker: int  # newest version row id of the project this build has seen
    linked: frozenset[int]  # unarchived rows linked to the deployment
    known: dict[int, _Known]  # every row read: linked flags and their ancestors
    served: dict[str, ServedFlag]  # by node id, in the served (parents-first) order
    plan_warnings: tuple[CompileWarning, ...]
    parts: dict[str, _Part]  # by node id, in the served order
    everything: _Bodies
    local: _Bodies  # local-evaluation flags linked here and their dependencies
    engine_flags: dict[str, engine.Flag]  # by flag key
    deployed_keys: tuple[str, ...]
    dormant_keys: frozenset[str]


@dataclass(frozen=True)
class Snapshot:
    deployment: Deployment
    revision: int
    flags: engine.FlagSet  # every compiled flag, dependencies included
    deployed_keys: tuple[str, ...]  # flags linked to the deployment, in id order
    compiled: _Compiled = field(repr=False, compare=False)

    @property
    def local(self) -> FlagsBody:
        """Local-evaluation flags (and what they depend on)."""
        return self.compiled.local.served()

    @property
    def everything(self) -> FlagsBody:
        """`eval_mode=remote`: every flag."""
        return self.compiled.everything.served()

    @property
    def warnings(self) -> tuple[CompileWarning, ...]:
        found = list(self.compiled.plan_warnings)
        for part in self.compiled.parts.values():
            found.extend(part.warnings)
        return tuple(found)

    @property
    def configs(self) -> list[dict[str, Any]]:
        """Every served flag's config, in the served (parents-first) order."""
        return [json.loads(part.body) for part in self.compiled.parts.values()]

    @property
    def dormant_keys(self) -> frozenset[str]:
        """Linked to the deployment but not served (disabled): OFREP answers them DISABLED."""
        return self.compiled.dormant_keys


class PartPool:
    """Compiled flags by (row id, signature), for every build in this process. Held weakly: a
    part stays while a snapshot serves it."""

    def __init__(self) -> None:
        self._parts: weakref.WeakValueDictionary[tuple[int, tuple[Any, ...]], _Part] = (
            weakref.WeakValueDictionary())
        self._lock = threading.Lock()  # builds of different deployments run on their own threads

    def get(self, row_id: int, signature: tuple[Any, ...]) -> _Part | None:
        with self._lock:
            return self._parts.get((row_id, signature))

    def put(self, row_id: int, part: _Part) -> None:
        with self._lock:
            self._parts[(row_id, part.signature)] = part


def build_snapshot(
    uow: UnitOfWork, deployment: Deployment, revision: int, previous: Snapshot | None = None,
    pool: PartPool | None = None,
) -> Snapshot:
    """The deployment's snapshot; `previous` (same deployment) lends what did not change, and
    `pool` what other deployments' builds compiled."""
    pool = pool if pool is not None else PartPool()
    if previous is not None and previous.deployment.id == deployment.id:
        old = previous.compiled
        marker, changed = uow.versions.changed_since(deployment.project_id, old.marker)
        compiled = _update(uow, deployment.id, old, marker, changed, pool)
        if compiled.parts is old.parts:
            return replace(previous, deployment=deployment, revision=revision, compiled=compiled)
    else:
        marker, _ = uow.versions.changed_since(deployment.project_id, None)
        linked = frozenset(uow.flags.versions_linked_to(deployment.id))
        known, loaded = _walk(uow, linked, {}, {})
        compiled = _compile(uow, marker, linked, known, None, loaded, pool)
    return _snapshot(deployment, revision, compiled)


def _snapshot(deployment: Deployment, revision: int, compiled: _Compiled) -> Snapshot:
    return Snapshot(
        deployment=deployment,
        revision=revision,
        # A build's engine flags are never changed once built (the next build copies them).
        flags=engine.FlagSet.adopting(compiled.engine_flags),
        deployed_keys=compiled.deployed_keys,
        compiled=compiled,
    )


def _update(uow: UnitOfWork, deployment_id: int, old: _Compiled, marker: int,
            changed: set[int], pool: PartPool) -> _Compiled:
    """The previous build brought up to date with the rows written since it."""
    flags = uow.flags.get_many(changed) if changed else []
    here = {flag.id for flag in flags if deployment_id in flag.deployments and not flag.deleted}
    joined = here - old.linked
    left = {flag.id for flag in flags if flag.id not in here} & old.linked
    # Most rounds link and unlink nothing: the set of every linked row is then not copied.
    linked = (old.linked | joined) - left if joined or left else old.linked
    loaded = {flag.id: flag for flag in flags if flag.id in linked or flag.id in old.known}
    if not loaded:
        return replace(old, marker=marker)
    fresh = {row_id: _know(flag) for row_id, flag in loaded.items()}
    known = {**old.known, **fresh}
    same_graph = not joined and not left and all(
        row_id in old.known and old.known[row_id].node == item.node
        and old.known[row_id].parents == item.parents
        for row_id, item in fresh.items()
    )
    if not same_graph:  # a flag came, went, was switched, or its parents changed: re-plan
        known, loaded = _walk(uow, linked, known, loaded)
        return _compile(uow, marker, linked, known, old, loaded, pool)
    # Same graph: every other flag's parents resolve as before, so only these rows recompile.
    signatures = {row_id: _signature(old.served[str(row_id)], known, old.linked)
                  for row_id in loaded if str(row_id) in old.parts}
    changed_parts = {str(row_id): part for row_id, signature in signatures.items()
                     if (part := pool.get(row_id, signature)) is not None}
    stale = [row_id for row_id in signatures if str(row_id) not in changed_parts]
    inputs = _compile_inputs(uow, stale, loaded)
    for row_id in stale:
        part = _compile_part(old.served[str(row_id)], inputs[row_id], signatures[row_id])
        pool.put(row_id, part)
        changed_parts[str(row_id)] = part
    parts = {**old.parts, **changed_parts}  # same keys, so the served order stays
    local_shape = any(
        (part.local, part.dependencies) != (old.parts[node_id].local, old.parts[node_id].dependencies)
        for node_id, part in changed_parts.items()
    )
    if local_shape:  # a flag switched evaluation mode: the local set itself changed
        local = _Bodies.of(_local_ids(parts, old.linked), parts)
    elif any(node_id in old.local.position for node_id in changed_parts):
        local = old.local.swapped(changed_parts)
    else:
        local = old.local
    engine_flags = dict(old.engine_flags)
    for part in changed_parts.values():
        engine_flags[part.key] = part.flag
    return replace(old, marker=marker, known=known, parts=parts,
                   everything=old.everything.swapped(changed_parts), local=local,
                   engine_flags=engine_flags)


def _compile(uow: UnitOfWork, marker: int, linked: frozenset[int], known: dict[int, _Known],
             old: _Compiled | None, loaded: dict[int, Flag], pool: PartPool) -> _Compiled:
    """Plan the whole graph again; recompile the flags whose signature changed."""
    plan = plan_graph([known[row_id].node for row_id in sorted(known)])
    previous = old.parts if old is not None else {}
    signatures = [(served, _signature(served, known, linked)) for served in plan.served]
    found = {
        served.node.id: part for served, signature in signatures
        if (part := _reusable(previous.get(served.node.id), signature)
            or pool.get(int(served.node.id), signature)) is not None
    }
    inputs = _compile_inputs(uow, [int(served.node.id) for served, _ in signatures
                                   if served.node.id not in found], loaded)
    parts: dict[str, _Part] = {}
    for served, signature in signatures:
        part = found.get(served.node.id)
        if part is None:
            part = _compile_part(served, inputs[int(served.node.id)], signature)
            pool.put(int(served.node.id), part)
        parts[served.node.id] = part
    by_key = {part.key: part for part in parts.values()}
    return _Compiled(
        marker=marker, linked=linked, known=known,
        served={served.node.id: served for served in plan.served},
        plan_warnings=tuple(plan.warnings), parts=parts,
        everything=_Bodies.of(parts, parts),
        local=_Bodies.of(_local_ids(parts, linked), parts),
        engine_flags={key: part.flag for key, part in by_key.items()},
        deployed_keys=tuple(part.key for row_id in sorted(linked)
                            if (part := parts.get(str(row_id))) is not None),
        dormant_keys=frozenset(
            node.key for row_id in linked
            if str(row_id) not in parts and row_id in known
            and isinstance(node := known[row_id].node, FlagNode)
        ),
    )


def _walk(uow: UnitOfWork, linked: frozenset[int], known: dict[int, _Known],
          loaded: dict[int, Flag]) -> tuple[dict[int, _Known], dict[int, Flag]]:
    """Linked rows and the ancestors they reach; rows not yet known are read."""
    loaded, known = dict(loaded), dict(known)
    reached: dict[int, _Known] = {}
    wanted = set(linked)
    while wanted:
        missing = [row_id for row_id in wanted if row_id not in known]
        for flag in uow.flags.get_many(missing) if missing else ():
            loaded[flag.id] = flag
            known[flag.id] = _know(flag)
        for row_id in wanted:
            if row_id in known:
                reached[row_id] = known[row_id]
        # Parents that are not linked here are compiled too: children are evaluated after them.
        wanted = {p for row_id in wanted if row_id in reached for p in reached[row_id].parents}
        wanted -= reached.keys()
        wanted -= {row_id for row_id in missing if row_id not in known}  # rows that do not exist
    return reached, loaded


def _know(flag: Flag) -> _Known:
    document = {  # just what the graph reads; the full input is loaded when compiling
        "id": str(flag.id), "key": flag.key, "enabled": flag.enabled, "deleted": flag.deleted,
        "parentDependencies": flag.parent_dependencies,
    }
    return _Known(flag.version, flag_node(CompileInput(document, kind=flag.kind.value)),
                  tuple(parent_ids(flag)))


def _signature(served: ServedFlag, known: dict[int, _Known],
               linked: Collection[int]) -> tuple[Any, ...]:
    row_id = int(served.node.id)  # nodes built from rows carry the row id
    return (known[row_id].version, row_id in linked, served.parents, served.unresolved)


def _reusable(part: _Part | None, signature: tuple[Any, ...]) -> _Part | None:
    return part if part is not None and part.signature == signature else None


def _compile_inputs(uow: UnitOfWork, row_ids: list[int], loaded: dict[int, Flag]) -> dict[int, CompileInput]:
    """Full compile inputs for the given rows: a few queries per batch, not two per flag."""
    missing = [row_id for row_id in row_ids if row_id not in loaded]
    flags = [loaded[row_id] for row_id in row_ids if row_id in loaded]
    flags += uow.flags.get_many(missing) if missing else []
    variant_ids = [variant.id for flag in flags for variant in flag.variants]
    users = uow.inclusions.users.for_variants(variant_ids) if variant_ids else {}
    cohorts = uow.inclusions.cohorts.for_variants(variant_ids) if variant_ids else {}
    inputs: dict[int, CompileInput] = {}
    for flag in flags:
        inputs[flag.id] = CompileInput(
            document=flag_document(flag),
            kind=flag.kind.value,
            user_inclusions={v.key: users[v.id] for v in flag.variants if users.get(v.id)},
            cohort_inclusions={v.key: cohorts[v.id] for v in flag.variants if cohorts.get(v.id)},
        )
    return inputs


def _compile_part(served: ServedFlag, item: CompileInput, signature: tuple[Any, ...]) -> _Part:
    # A parent served only because a linked flag depends on it is not deployed here.
    compiled = compile_flag(served, replace(item, deployed=bool(signature[1])))
    config = compiled.flag
    body = _json_bytes(config)
    return _Part(
        signature=signature,
        key=config["key"],
        body=body,
        digest=hashlib.sha256(body).digest(),
        flag=engine.parse_flag(config),
        local=config["metadata"].get("evaluationMode") == "local",
        dependencies=tuple(config.get("dependencies") or ()),
        warnings=compiled.warnings,
    )


def _json_bytes(config: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON, by orjson (ten times json's speed, which a cold build of 10,000
    flags felt); json writes what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(config)
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(config, separators=(",", ":"), ensure_ascii=False).encode()


def _local_ids(parts: dict[str, _Part], linked: Collection[int]) -> list[str]:
    """Node ids of the local flags linked here and of everything they depend on, served order."""
    node_of = {part.key: node_id for node_id, part in parts.items()}
    deployed_local = [part.key for node_id, part in parts.items()
                      if part.local and int(node_id) in linked]
    by_key = {part.key: part for part in parts.values()}
    return [node_of[key] for key in _closure(deployed_local, by_key)]


def _closure(keys: Iterable[str], by_key: dict[str, _Part]) -> list[str]:
    """`keys` and everything they depend on, in the served order."""
    wanted: set[str] = set()
    stack = list(keys)
    while stack:
        key = stack.pop()
        if key in wanted or key not in by_key:
            continue
        wanted.add(key)
        stack.extend(by_key[key].dependencies)
    return [key for key in by_key if key in wanted]


__all__ = ["FlagsBody", "PartPool", "Snapshot", "build_snapshot"]
