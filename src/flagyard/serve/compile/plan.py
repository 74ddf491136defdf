"""The dependency-graph plan of a compile: which flags are served, parents first, and how each
one's parents resolve. Linear in flags and edges, and needs only each document's identity and
parentDependencies (a `FlagNode`), so the incremental snapshot re-plans without re-reading.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from flagyard.serve.compile.graph import cycles, parents_first
from flagyard.serve.compile.groups import FLAG_TYPES
from flagyard.serve.compile.segments import Uncompilable, show, string_list


@dataclass(frozen=True, slots=True)
class CompileInput:
    document: Mapping[str, Any]
    kind: Literal["flag", "experiment", "holdout", "mutex"]
    user_inclusions: Mapping[str, Sequence[str]] = field(default_factory=dict)
    cohort_inclusions: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # Linked to the deployment being compiled, rather than served only as another flag's parent;
    # None: decided by the kind.
    deployed: bool | None = None


@dataclass(frozen=True, slots=True)
class CompileWarning:
    flag_key: str
    message: str


@dataclass(frozen=True, slots=True)
class FlagNode:
    """One input as the dependency graph sees it: identity, whether it is served, its edges.

    Built once per input version; the incremental snapshot keeps it for flags that did not
    change, so a write re-plans the graph without re-reading every document.
    """

    id: str
    key: str
    live: bool
    deleted: bool
    parents: tuple[tuple[str, tuple[str, ...]], ...] = ()
    broken: str | None = None  # why the document cannot compile, when it cannot


@dataclass(frozen=True, slots=True)
class ServedFlag:
    """A node that is served, with its parents resolved against the rest of the graph."""

    node: FlagNode
    parents: tuple[tuple[str, tuple[str, ...]], ...]  # (served parent key, allowed variants)
    unresolved: tuple[str, ...]  # why each other parent gates the flag closed


@dataclass(frozen=True, slots=True)
class GraphPlan:
    served: list[ServedFlag]  # parents before children
    warnings: list[CompileWarning]


def flag_node(item: CompileInput) -> FlagNode | CompileWarning:
    """The graph node of one input, or why the input cannot be one."""
    doc = item.document
    if not isinstance(doc, Mapping):
        return CompileWarning("", "a flag document is not an object; it is not served")
    raw_id, key = doc.get("id"), doc.get("key")
    if not isinstance(key, str) or not key:
        label = f"#{raw_id}" if raw_id is not None else ""
        return CompileWarning(label, "the flag has no key; it is not served")
    parents: tuple[tuple[str, tuple[str, ...]], ...] = ()
    broken = None
    try:
        parents = tuple(
            (pid, tuple(allowed))
            for pid, allowed in _parent_dependencies(doc.get("parentDependencies"))
        )
    except Uncompilable as exc:
        broken = str(exc)
    return FlagNode(
        id=str(raw_id), key=key, live=_is_live(item),
        deleted=doc.get("deleted") is True, parents=parents, broken=broken,
    )


def plan_graph(nodes: Sequence[FlagNode | CompileWarning]) -> GraphPlan:
    """Which nodes are served, in which order, and how each one's parents resolve.

    Cost is linear in the nodes and edges and needs no document: this is the part of a
    compile that a write cannot make local.
    """
    warnings: list[CompileWarning] = []
    by_id: dict[str, FlagNode] = {}
    entries: list[FlagNode] = []
    seen_keys: set[str] = set()
    seen_ids: set[str] = set()
    for node in nodes:
        if isinstance(node, CompileWarning):
            warnings.append(node)
            continue
        by_id.setdefault(node.id, node)
        if not node.live:
            continue
        if node.key in seen_keys or node.id in seen_ids:
            message = "another served flag has the same key or id; this one is not served"
            warnings.append(CompileWarning(node.key, message))
            continue
        seen_keys.add(node.key)
        seen_ids.add(node.id)
        entries.append(node)

    live = {entry.id: entry for entry in entries}
    edges = {entry.id: [pid for pid, _ in entry.parents] for entry in entries}
    cyclic: set[str] = set()
    if any(edges.values()):
        for cycle in cycles(edges):
            cyclic.update(cycle)
            keys = ", ".join(live[member].key for member in cycle)
            what = f"flags {keys} depend on each other" if len(cycle) > 1 else "it depends on itself"
            for member in cycle:
                message = f"{what} (a dependency cycle); the flag is not served"
                warnings.append(CompileWarning(live[member].key, message))
        acyclic = [entry.id for entry in entries if entry.id not in cyclic]
        order = parents_first(acyclic, edges)
    else:  # no edges at all: input order is already parents-first
        order = [entry.id for entry in entries]

    served: list[ServedFlag] = []
    for entry in (live[entry_id] for entry_id in order):
        if entry.parents:
            resolved, unresolved = _resolve_parents(entry, live, cyclic, by_id)
        else:
            resolved, unresolved = (), ()
        served.append(ServedFlag(entry, resolved, unresolved))
    return GraphPlan(served=served, warnings=warnings)


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
    entry: FlagNode,
    live: Mapping[str, FlagNode],
    cyclic: set[str],
    by_id: Mapping[str, FlagNode],
) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], tuple[str, ...]]:
    """(served parent key, allowed variants) pairs, and a reason for each parent not served."""
    resolved: list[tuple[str, tuple[str, ...]]] = []
    unresolved: list[str] = []
    for pid, allowed in entry.parents:
        if pid in live and pid not in cyclic:
            resolved.append((live[pid].key, allowed))
        elif pid in cyclic:
            unresolved.append(f"parent flag {pid} ({live[pid].key}) is on a dependency cycle")
        elif pid in by_id:
            parent = by_id[pid]
            state = "archived" if parent.deleted else "disabled"
            unresolved.append(f"parent flag {pid} ({parent.key}) is {state}")
        else:
            unresolved.append(f"parent flag {pid} is not served")
    return tuple(resolved), tuple(unresolved)
