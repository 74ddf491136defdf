"""Compile management flags and experiments into Amplitude's evaluation config.

`compile_flags` is the only way a management document becomes an `EvaluationFlag` JSON dict
(served at `/sdk/v2/flags` and evaluated for remote evaluation). It never raises on bad
input: a flag that cannot compile is served always-off and reported as a `CompileWarning`.
See docs/adr/0100-evaluation-compiler.md for the choices made here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from flagyard.domain.compile_graph import cycles, parents_first
from flagyard.domain.compile_groups import FLAG_TYPES, compile_group
from flagyard.domain.compile_segments import (
    ALL_OTHER_USERS,
    OFF,
    Uncompilable,
    bucket_selector,
    bucketed_segment,
    cohort_inclusion_segment,
    compile_condition,
    dependency_segment,
    percentage,
    show,
    sticky_segment,
    string_list,
    user_inclusion_segment,
    weights,
)


@dataclass(frozen=True, slots=True)
class CompileInput:
    document: Mapping[str, Any]
    kind: Literal["flag", "experiment", "holdout", "mutex"]
    user_inclusions: Mapping[str, Sequence[str]] = field(default_factory=dict)
    cohort_inclusions: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CompileWarning:
    flag_key: str
    message: str


@dataclass(frozen=True, slots=True)
class CompileResult:
    flags: list[dict[str, Any]]
    warnings: list[CompileWarning]


@dataclass(slots=True)
class _Entry:
    """One input that is to be served, with its dependency edges once known."""

    source: CompileInput
    id: str
    key: str
    parents: list[tuple[str, list[str]]] = field(default_factory=list)
    broken: str | None = None  # why the document cannot compile, when it cannot


def compile_flags(inputs: Sequence[CompileInput]) -> CompileResult:
    """Compile a deployment's flags (plus their ancestors), parents before children."""
    warnings: list[CompileWarning] = []
    by_id: dict[str, CompileInput] = {}
    entries: list[_Entry] = []
    seen_keys: set[str] = set()
    for item in inputs:
        entry = _entry(item, warnings)
        if entry is None:
            continue
        by_id.setdefault(entry.id, item)
        if not _is_live(item):
            continue
        if entry.key in seen_keys or any(other.id == entry.id for other in entries):
            message = "another served flag has the same key or id; this one is not served"
            warnings.append(CompileWarning(entry.key, message))
            continue
        seen_keys.add(entry.key)
        entries.append(entry)

    live = {entry.id: entry for entry in entries}
    edges = {entry.id: [pid for pid, _ in entry.parents] for entry in entries}
    cyclic: set[str] = set()
    for cycle in cycles(edges):
        cyclic.update(cycle)
        keys = ", ".join(live[member].key for member in cycle)
        what = f"flags {keys} depend on each other" if len(cycle) > 1 else "it depends on itself"
        for member in cycle:
            message = f"{what} (a dependency cycle); the flag is not served"
            warnings.append(CompileWarning(live[member].key, message))

    flags: list[dict[str, Any]] = []
    acyclic = [entry.id for entry in entries if entry.id not in cyclic]
    for entry in (live[entry_id] for entry_id in parents_first(acyclic, edges)):
        resolved, unresolved = _resolve_parents(entry, live, cyclic, by_id)
        for reason in unresolved:
            warnings.append(CompileWarning(entry.key, f"{reason}; the flag always returns off"))
        flags.append(_compile_one(entry, resolved, bool(unresolved), warnings))
    return CompileResult(flags=flags, warnings=warnings)


def _entry(item: CompileInput, warnings: list[CompileWarning]) -> _Entry | None:
    doc = item.document
    if not isinstance(doc, Mapping):
        warnings.append(CompileWarning("", "a flag document is not an object; it is not served"))
        return None
    raw_id, key = doc.get("id"), doc.get("key")
    if not isinstance(key, str) or not key:
        label = f"#{raw_id}" if raw_id is not None else ""
        warnings.append(CompileWarning(label, "the flag has no key; it is not served"))
        return None
    entry = _Entry(source=item, id=str(raw_id), key=key)
    try:
        entry.parents = _parent_dependencies(doc.get("parentDependencies"))
    except Uncompilable as exc:
        entry.broken = str(exc)
    return entry


def _is_live(item: CompileInput) -> bool:
    # A group has no on/off of its own: it is served while not archived.
    enabled = item.kind in FLAG_TYPES or item.document.get("enabled") is True
    return enabled and item.document.get("deleted") is not True


def _parent_dependencies(raw: Any) -> list[tuple[str, list[str]]]:
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        raise Uncompilable("parentDependencies must be an object")
    operator = raw.get("operator", "all")
    if operator != "all":
        raise Uncompilable(f"parentDependencies.operator {show(operator)} is not supported")
    parents = raw.get("flags")
    if parents is None:
        return []
    if not isinstance(parents, Mapping):
        raise Uncompilable("parentDependencies.flags must be an object")
    return [
        (str(pid), string_list(allowed, f"parentDependencies.flags.{pid}"))
        for pid, allowed in parents.items()
    ]


def _resolve_parents(
    entry: _Entry,
    live: Mapping[str, _Entry],
    cyclic: set[str],
    by_id: Mapping[str, CompileInput],
) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """(served parent key, allowed variants) pairs, and a reason for each parent not served."""
    resolved: list[tuple[str, list[str]]] = []
    unresolved: list[str] = []
    for pid, allowed in entry.parents:
        if pid in live and pid not in cyclic:
            resolved.append((live[pid].key, allowed))
        elif pid in cyclic:
            unresolved.append(f"parent flag {pid} ({live[pid].key}) is on a dependency cycle")
        elif pid in by_id:
            doc = by_id[pid].document
            state = "archived" if doc.get("deleted") is True else "disabled"
            key = doc.get("key")
            label = key if isinstance(key, str) else show(key)
            unresolved.append(f"parent flag {pid} ({label}) is {state}")
        else:
            unresolved.append(f"parent flag {pid} is not served")
    return resolved, unresolved


def _compile_one(
    entry: _Entry,
    parents: list[tuple[str, list[str]]],
    gate_closed: bool,
    warnings: list[CompileWarning],
) -> dict[str, Any]:
    item = entry.source
    compiler = _FlagCompiler(item, entry.key)
    try:
        if entry.broken is not None:
            raise Uncompilable(entry.broken)
        if item.kind in FLAG_TYPES:
            mode = item.document.get("evaluationMode")
            if mode not in ("local", "remote"):
                raise Uncompilable(f"evaluationMode {show(mode)} is not 'local' or 'remote'")
            metadata = _flag_metadata(item, mode, _version(item.document))
            flag = compile_group(item.document, item.kind, entry.key, parents, gate_closed, metadata)
        else:
            flag = compiler.compile(parents, gate_closed)
    except Uncompilable as exc:
        reason = str(exc)
    except Exception as exc:  # noqa: BLE001 - house rule 2: a bad document is never a 500
        reason = f"unexpected {type(exc).__name__}: {exc}"
    else:
        warnings.extend(compiler.warnings)
        return flag
    warnings.append(CompileWarning(entry.key, f"{reason}; the flag always returns off"))
    return _always_off(item, entry.key)


def _flag_metadata(item: CompileInput, evaluation_mode: str, version: int) -> dict[str, Any]:
    flag_type = FLAG_TYPES.get(item.kind, "experiment" if item.kind == "experiment" else "release")
    metadata: dict[str, Any] = {
        # A group is served only because a deployed experiment depends on it.
        "deployed": item.kind not in FLAG_TYPES,
        "evaluationMode": evaluation_mode,
        "flagType": flag_type,
        "flagVersion": version,
    }
    if item.kind == "experiment":
        metadata["experimentKey"] = f"exp-{item.document.get('id')}"
    return metadata


def _version(doc: Mapping[str, Any]) -> int:
    version = doc.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise Uncompilable("version must be a whole number")
    return version


def _always_off(item: CompileInput, key: str) -> dict[str, Any]:
    """The safe default: only the "off" variant, served to everyone."""
    doc = item.document
    mode = doc.get("evaluationMode")
    version = doc.get("version")
    return {
        "key": key,
        "variants": {OFF: {"key": OFF, "metadata": {"default": True}}},
        "segments": [{"variant": OFF, "metadata": {"segmentName": ALL_OTHER_USERS}}],
        "metadata": _flag_metadata(
            item,
            mode if mode in ("local", "remote") else "remote",
            version if isinstance(version, int) and not isinstance(version, bool) else 0,
        ),
    }


class _FlagCompiler:
    """Compiles one live document; raises `Uncompilable` on anything it cannot express."""

    def __init__(self, item: CompileInput, key: str) -> None:
        self.item = item
        self.doc = item.document
        self.key = key
        self.warnings: list[CompileWarning] = []  # kept only when the flag compiles
        self.variant_keys: list[str] = []

    def warn(self, message: str) -> None:
        warning = CompileWarning(self.key, message)
        if warning not in self.warnings:
            self.warnings.append(warning)

    def compile(self, parents: list[tuple[str, list[str]]], gate_closed: bool) -> dict[str, Any]:
        mode = self.doc.get("evaluationMode", "remote")
        if mode not in ("local", "remote"):
            raise Uncompilable(f"evaluationMode {show(mode)} is not 'local' or 'remote'")
        variants = self._variants()
        metadata = _flag_metadata(self.item, mode, _version(self.doc))
        salt = self.doc.get("bucketingSalt")
        if not isinstance(salt, str):
            raise Uncompilable("bucketingSalt must be a string")
        unit = self.doc.get("bucketingUnit") or "User"
        if not isinstance(unit, str):
            raise Uncompilable("bucketingUnit must be a string")
        flag_weights = self._flag_weights()
        segments: list[dict[str, Any]] = []
        if parents or gate_closed:
            segments.append(dependency_segment(parents, gate_closed))
        segments += self._user_inclusions()
        segments += self._cohort_inclusions(unit)
        segments += self._sticky(mode)
        for i, raw in enumerate(self._list("targetSegments")):
            segments.append(self._target_segment(raw, i, salt, unit, mode, flag_weights))
        segments.append(
            bucketed_segment(
                name=ALL_OTHER_USERS,
                conditions=None,
                selector=self._selector(self.doc.get("bucketingKey"), unit, mode),
                salt=salt,
                percent=percentage(self.doc.get("rolloutPercentage", 0), "rolloutPercentage"),
                weighted=flag_weights,
            )
        )
        flag: dict[str, Any] = {"key": self.key, "variants": variants, "segments": segments}
        if parents:
            flag["dependencies"] = [parent_key for parent_key, _ in parents]
        flag["metadata"] = metadata
        return flag

    def _list(self, name: str) -> list[Any]:
        raw = self.doc.get(name)
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise Uncompilable(f"{name} must be a list")
        return raw

    def _variants(self) -> dict[str, Any]:
        variants: dict[str, Any] = {}
        for i, raw in enumerate(self._list("variants")):
            key = raw.get("key") if isinstance(raw, Mapping) else None
            if not isinstance(key, str) or not key:
                raise Uncompilable(f"variants[{i}].key must be a non-empty string")
            if key == OFF or key in variants:
                raise Uncompilable(f"variants[{i}].key {show(key)} is reserved or repeated")
            variant: dict[str, Any] = {"key": key, "value": key}
            payload = raw.get("payload")
            if payload is not None:
                variant["payload"] = copy.deepcopy(payload)
            variants[key] = variant
        self.variant_keys = list(variants)
        variants[OFF] = {"key": OFF, "metadata": {"default": True}}
        return variants

    def _flag_weights(self) -> list[tuple[str, int]]:
        raw = self.doc.get("rolloutWeights")
        if raw is None:  # fall back to the per-variant weights, default 1
            raw = {
                variant["key"]: variant.get("rolloutWeight", 1)
                for variant in self._list("variants")
            }
        return weights(raw, self.variant_keys, "rolloutWeights")

    def _selector(self, bucketing_key: Any, unit: str, mode: str) -> list[str]:
        if not isinstance(bucketing_key, str) or not bucketing_key:
            bucketing_key = "amplitude_id"
        if bucketing_key == "amplitude_id" and unit == "User":
            # flagyard keeps no identity graph to resolve Amplitude IDs; see ADR 0100.
            bucketing_key = "device_id"
        return bucket_selector(bucketing_key, unit)

    def _inclusion_lists(
        self, name: str, raw: Mapping[str, Sequence[str]]
    ) -> list[tuple[str, list[str]]]:
        """(variant, ids) in variant order; lists for unknown variants are dropped."""
        for variant in raw:
            if variant not in self.variant_keys and raw[variant]:
                self.warn(f"{name} name variant {show(variant)}, which the flag lacks; ignored")
        found = []
        for variant in self.variant_keys:
            ids: Any = raw.get(variant) or []
            ids = string_list([ids] if isinstance(ids, str) else list(ids), f"{name}.{variant}")
            if ids:
                found.append((variant, ids))
        return found

    def _user_inclusions(self) -> list[dict[str, Any]]:
        lists = self._inclusion_lists("user inclusions", self.item.user_inclusions)
        return [user_inclusion_segment(variant, ids) for variant, ids in lists]

    def _cohort_inclusions(self, unit: str) -> list[dict[str, Any]]:
        lists = self._inclusion_lists("cohort inclusions", self.item.cohort_inclusions)
        return [cohort_inclusion_segment(variant, ids, unit) for variant, ids in lists]

    def _sticky(self, mode: str) -> list[dict[str, Any]]:
        if self.doc.get("stickyBucketing") is not True:
            return []
        if mode != "remote":
            self.warn("sticky bucketing needs remote evaluation; ignored for a local flag")
            return []
        return [sticky_segment(self.key, variant) for variant in self.variant_keys]

    def _target_segment(
        self,
        raw: Any,
        i: int,
        salt: str,
        unit: str,
        mode: str,
        flag_weights: list[tuple[str, int]],
    ) -> dict[str, Any]:
        where = f"targetSegments[{i}]"
        if not isinstance(raw, Mapping):
            raise Uncompilable(f"{where} must be an object")
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            name = f"Segment {i + 1}"
        raw_conditions = raw.get("conditions") or []
        if not isinstance(raw_conditions, list):
            raise Uncompilable(f"{where}.conditions must be a list")
        conditions = [
            compile_condition(condition, f"{where}.conditions[{j}]")
            for j, condition in enumerate(raw_conditions)
        ]
        raw_weights = raw.get("rolloutWeights")
        seg_weights = (
            flag_weights
            if raw_weights is None
            else weights(raw_weights, self.variant_keys, f"{where}.rolloutWeights")
        )
        return bucketed_segment(
            name=name,
            conditions=[conditions] if conditions else None,
            selector=self._selector(
                raw.get("bucketingKey") or self.doc.get("bucketingKey"), unit, mode
            ),
            salt=salt,
            percent=percentage(raw.get("percentage", 0), f"{where}.percentage"),
            weighted=seg_weights,
        )


__all__ = ["CompileInput", "CompileResult", "CompileWarning", "compile_flags"]
