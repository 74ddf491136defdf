"""Compile management flags and experiments into Amplitude's evaluation config.

`compile_flags` is the only way a management document becomes an `EvaluationFlag` JSON dict
(served at `/sdk/v2/flags` and evaluated for remote evaluation). It never raises on bad
input: a flag that cannot compile is served always-off and reported as a `CompileWarning`.
See docs/adr/0100-evaluation-compiler.md for the choices made here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flagyard.serve.compile.groups import FLAG_TYPES, compile_group
from flagyard.serve.compile.plan import (
    CompileInput,
    CompileWarning,
    FlagNode,
    GraphPlan,
    ServedFlag,
    flag_node,
    plan_graph,
)
from flagyard.serve.compile.segments import (
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
class CompileResult:
    flags: list[dict[str, Any]]
    warnings: list[CompileWarning]


@dataclass(frozen=True, slots=True)
class CompiledFlag:
    flag: dict[str, Any]
    warnings: tuple[CompileWarning, ...]


def compile_flags(inputs: Sequence[CompileInput]) -> CompileResult:
    """Compile a deployment's flags (plus their ancestors), parents before children."""
    nodes = [flag_node(item) for item in inputs]
    source = {id(node): item for node, item in zip(nodes, inputs, strict=True)}
    plan = plan_graph(nodes)
    flags: list[dict[str, Any]] = []
    warnings = list(plan.warnings)
    for served in plan.served:
        compiled = compile_flag(served, source[id(served.node)])
        flags.append(compiled.flag)
        warnings.extend(compiled.warnings)
    return CompileResult(flags=flags, warnings=warnings)


def compile_flag(served: ServedFlag, item: CompileInput) -> CompiledFlag:
    """One served flag's evaluation config, from its input and its resolved parents alone."""
    warnings = [
        CompileWarning(served.node.key, f"{reason}; the flag always returns off")
        for reason in served.unresolved
    ]
    parents = [(key, list(allowed)) for key, allowed in served.parents]
    flag = _compile_one(item, served.node, parents, bool(served.unresolved), warnings)
    return CompiledFlag(flag, tuple(warnings))


def _compile_one(
    item: CompileInput,
    entry: FlagNode,
    parents: list[tuple[str, list[str]]],
    gate_closed: bool,
    warnings: list[CompileWarning],
) -> dict[str, Any]:
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
        # Unless the caller knows (a snapshot does): a group is served only because a deployed
        # experiment depends on it.
        "deployed": item.kind not in FLAG_TYPES if item.deployed is None else item.deployed,
        "evaluationMode": evaluation_mode,
        "flagType": flag_type,
        "flagVersion": version,
    }
    if item.kind == "experiment":
        metadata["experimentKey"] = f"exp-{item.document.get('id')}"
    return metadata


def _json_copy(value: Any) -> Any:
    """A copy of JSON-shaped data (a payload): lists and objects anew, the immutable rest as it
    is; several times cheaper than deepcopy, which showed in a compile of 10,000 flags."""
    if isinstance(value, list):
        return [_json_copy(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_copy(item) for key, item in value.items()}
    return value


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
                variant["payload"] = _json_copy(payload)
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


__all__ = [
    "CompileInput", "CompileResult", "CompileWarning", "CompiledFlag", "FlagNode", "GraphPlan",
    "ServedFlag", "compile_flag", "compile_flags", "flag_node", "plan_graph",
]
