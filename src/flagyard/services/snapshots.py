"""What one deployment serves, compiled once per change: the snapshot behind every SDK route."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from flagyard import engine
from flagyard.domain.compile import CompileInput, CompileWarning, compile_flags
from flagyard.domain.deployments import Deployment
from flagyard.domain.document import flag_document
from flagyard.domain.flags import Flag
from flagyard.services.dependencies import parent_ids
from flagyard.services.uow import UnitOfWork


@dataclass(frozen=True)
class FlagsBody:
    """A pre-serialised `/sdk/v2/flags` answer and its ETag."""

    body: bytes
    etag: str


@dataclass(frozen=True)
class Snapshot:
    deployment: Deployment
    revision: int
    flags: engine.FlagSet  # every compiled flag, dependencies included
    deployed_keys: tuple[str, ...]  # flags linked to the deployment, in id order
    local: FlagsBody  # local-evaluation flags (and what they depend on)
    everything: FlagsBody  # `eval_mode=remote`: every flag
    warnings: tuple[CompileWarning, ...]
    # Linked to the deployment but not served (disabled): OFREP answers them DISABLED.
    dormant_keys: frozenset[str] = frozenset()


def build_snapshot(uow: UnitOfWork, deployment: Deployment, revision: int) -> Snapshot:
    linked = uow.flags.linked_to(deployment.id)
    everything = _with_ancestors(uow, linked)
    result = compile_flags([_compile_input(uow, flag) for flag in everything])
    deployed = {flag.key for flag in linked}
    compiled = [_mark_deployed(flag, flag["key"] in deployed) for flag in result.flags]
    by_key = {flag["key"]: flag for flag in compiled}
    local_keys = [
        key for key in by_key
        if key in deployed and by_key[key].get("metadata", {}).get("evaluationMode") == "local"
    ]
    return Snapshot(
        deployment=deployment,
        revision=revision,
        flags=engine.FlagSet(engine.parse_flags(compiled)),
        deployed_keys=tuple(flag.key for flag in linked if flag.key in by_key),
        local=_body([by_key[k] for k in _closure(local_keys, by_key)]),
        everything=_body(compiled),
        warnings=tuple(result.warnings),
        dormant_keys=frozenset(flag.key for flag in linked if flag.key not in by_key),
    )


def _with_ancestors(uow: UnitOfWork, linked: list[Flag]) -> list[Flag]:
    """Parents are evaluated first even when not linked here, so they are compiled too."""
    found = {flag.id: flag for flag in linked}
    wanted = {pid for flag in linked for pid in parent_ids(flag)} - found.keys()
    while wanted:
        parents = uow.flags.get_many(wanted)
        for parent in parents:
            found[parent.id] = parent
        wanted = {pid for flag in parents for pid in parent_ids(flag)} - found.keys()
    return sorted(found.values(), key=lambda flag: flag.id)


def _compile_input(uow: UnitOfWork, flag: Flag) -> CompileInput:
    keys_by_id = {variant.id: variant.key for variant in flag.variants}
    users = uow.inclusions.users.for_variants(list(keys_by_id))
    cohorts = uow.inclusions.cohorts.for_variants(list(keys_by_id))
    return CompileInput(
        document=flag_document(flag),
        kind=flag.kind.value,
        user_inclusions={keys_by_id[v]: ids for v, ids in users.items()},
        cohort_inclusions={keys_by_id[v]: ids for v, ids in cohorts.items()},
    )


def _mark_deployed(flag: dict[str, Any], deployed: bool) -> dict[str, Any]:
    # A parent served only because a linked flag depends on it is not deployed here.
    metadata = dict(flag.get("metadata") or {})
    metadata["deployed"] = deployed
    return {**flag, "metadata": metadata}


def _closure(keys: list[str], by_key: dict[str, dict[str, Any]]) -> list[str]:
    wanted: list[str] = []
    stack = list(keys)
    while stack:
        key = stack.pop()
        if key in wanted or key not in by_key:
            continue
        wanted.append(key)
        stack.extend(by_key[key].get("dependencies") or [])
    position = {key: index for index, key in enumerate(by_key)}
    return sorted(wanted, key=position.__getitem__)


def _body(flags: list[dict[str, Any]]) -> FlagsBody:
    body = json.dumps(flags, separators=(",", ":"), ensure_ascii=False).encode()
    return FlagsBody(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
