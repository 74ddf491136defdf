"""What one deployment serves: the snapshot behind every SDK route, rebuilt by what changed.

A snapshot keeps each served flag compiled three ways (the config dict, its JSON bytes and
the parsed engine flag). The next build, after a write, reads one narrow (id, version) list,
reloads only the flags whose version moved, re-plans the dependency graph from the cached
nodes, and recompiles a flag only when its version, its deployed mark or its resolved parents
differ; every other flag's parts are reused as they are. The served body is the cached bytes
joined, so a write costs what it changed plus a linear pass of cheap bookkeeping.
A build with no previous snapshot runs the same steps over every flag (a full rebuild).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from flagyard import engine
from flagyard.domain.compile import (
    CompileInput,
    CompileWarning,
    FlagNode,
    ServedFlag,
    compile_flag,
    flag_node,
    plan_graph,
)
from flagyard.domain.deployments import Deployment
from flagyard.domain.document import flag_document
from flagyard.domain.flags import Flag
from flagyard.services.dependencies import parent_ids
from flagyard.services.flags_body import FlagsBody
from flagyard.services.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class _Known:
    """What the last build knew of one flag row, enough to re-plan without reloading it."""

    version: int
    node: FlagNode | CompileWarning
    parents: tuple[int, ...]  # ids of the rows it depends on


@dataclass(frozen=True, slots=True)
class _Part:
    """One served flag, compiled; reused while its signature stays the same."""

    signature: tuple[Any, ...]  # (version, deployed, resolved parents, unresolved reasons)
    config: dict[str, Any]
    body: bytes
    digest: bytes
    flag: engine.Flag
    local: bool
    dependencies: tuple[str, ...]
    warnings: tuple[CompileWarning, ...]


@dataclass(frozen=True, slots=True)
class _Compiled:
    known: dict[int, _Known]  # every row read: linked flags and their ancestors
    parts: dict[str, _Part]  # by node id, served flags only


@dataclass(frozen=True)
class Snapshot:
    deployment: Deployment
    revision: int
    flags: engine.FlagSet  # every compiled flag, dependencies included
    deployed_keys: tuple[str, ...]  # flags linked to the deployment, in id order
    local: FlagsBody  # local-evaluation flags (and what they depend on)
    everything: FlagsBody  # `eval_mode=remote`: every flag
    warnings: tuple[CompileWarning, ...]
    compiled: _Compiled = field(repr=False, compare=False)

    @property
    def configs(self) -> list[dict[str, Any]]:
        """Every served flag's config, in the served (parents-first) order."""
        return [part.config for part in self.compiled.parts.values()]


def build_snapshot(
    uow: UnitOfWork, deployment: Deployment, revision: int, previous: Snapshot | None = None
) -> Snapshot:
    """The deployment's snapshot; `previous` (same deployment) lends what did not change."""
    if previous is not None and previous.deployment.id != deployment.id:
        previous = None
    old = previous.compiled if previous is not None else _Compiled({}, {})
    linked = uow.flags.versions_linked_to(deployment.id)
    known = _refresh_known(uow, linked, old.known)
    nodes = [known[i].node for i in sorted(known)]
    plan = plan_graph(nodes)

    signatures = [(served, _signature(served, known, linked)) for served in plan.served]
    stale = [
        int(served.node.id) for served, signature in signatures
        if _reusable(old.parts.get(served.node.id), signature) is None
    ]
    inputs = _compile_inputs(uow, stale)
    parts: dict[str, _Part] = {}
    for served, signature in signatures:
        part = _reusable(old.parts.get(served.node.id), signature)
        parts[served.node.id] = part or _compile_part(served, inputs[int(served.node.id)], signature)

    deployed = [part for row_id in sorted(linked) if (part := parts.get(str(row_id))) is not None]
    by_key = {part.config["key"]: part for part in parts.values()}
    local_keys = [part.config["key"] for part in deployed if part.local]
    warnings = list(plan.warnings)
    for part in parts.values():
        warnings.extend(part.warnings)
    return Snapshot(
        deployment=deployment,
        revision=revision,
        flags=engine.FlagSet({key: part.flag for key, part in by_key.items()}),
        deployed_keys=tuple(part.config["key"] for part in deployed),
        local=FlagsBody.join([by_key[key] for key in _closure(local_keys, by_key)]),
        everything=FlagsBody.join(list(parts.values())),
        warnings=tuple(warnings),
        compiled=_Compiled(known, parts),
    )


def _refresh_known(uow: UnitOfWork, linked: dict[int, int], old: dict[int, _Known]) -> dict[int, _Known]:
    """Linked rows and their ancestors at their current versions; only moved rows are read."""
    versions = dict(linked)
    ancestors = [row_id for row_id in old if row_id not in linked]
    versions.update(uow.flags.versions_of(ancestors))
    known: dict[int, _Known] = {}
    wanted = set(linked)
    while wanted:
        moved = [i for i in wanted if i in versions and (i not in old or old[i].version != versions[i])]
        for flag in uow.flags.get_many(moved) if moved else ():
            known[flag.id] = _know(flag)
        for row_id in wanted:
            if row_id not in known and row_id in old and old[row_id].version == versions.get(row_id):
                known[row_id] = old[row_id]
        # Parents that are not linked here are compiled too: children are evaluated after them.
        wanted = {p for i in wanted if i in known for p in known[i].parents} - known.keys()
        missing = [p for p in wanted if p not in versions]
        versions.update(uow.flags.versions_of(missing))
        wanted = {p for p in wanted if p in versions}
    return known


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


def _compile_inputs(uow: UnitOfWork, row_ids: list[int]) -> dict[int, CompileInput]:
    """Full compile inputs for the given rows: three queries per batch, not two per flag."""
    flags = uow.flags.get_many(row_ids) if row_ids else []
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
    compiled = compile_flag(served, item)
    # A parent served only because a linked flag depends on it is not deployed here.
    config = compiled.flag
    config["metadata"] = {**(config.get("metadata") or {}), "deployed": bool(signature[1])}
    body = json.dumps(config, separators=(",", ":"), ensure_ascii=False).encode()
    return _Part(
        signature=signature,
        config=config,
        body=body,
        digest=hashlib.sha256(body).digest(),
        flag=engine.parse_flag(config),
        local=config["metadata"].get("evaluationMode") == "local",
        dependencies=tuple(config.get("dependencies") or ()),
        warnings=compiled.warnings,
    )


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


__all__ = ["FlagsBody", "Snapshot", "build_snapshot"]
