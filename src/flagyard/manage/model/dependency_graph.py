"""The dependency graph of a project's flags, read from their parentDependencies.

An edge goes from a parent to a child: the child is served only to users for whom the parent
serves one of the edge's variants, so parents are evaluated first. Holdouts and mutual
exclusion groups are parents like any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flagyard.manage.model.flags import Flag, Kind


@dataclass(frozen=True)
class Node:
    id: int
    kind: Kind
    key: str
    name: str
    enabled: bool
    deleted: bool
    variants: tuple[str, ...] = ()  # its variant keys, in order


@dataclass(frozen=True)
class Edge:
    parent: int
    child: int
    variants: tuple[str, ...]  # the parent's variants that let the child be served


@dataclass(frozen=True)
class DependencyGraph:
    nodes: dict[int, Node]
    edges: tuple[Edge, ...]

    def parents(self, node_id: int) -> list[Edge]:
        return [e for e in self.edges if e.child == node_id]

    def children(self, node_id: int) -> list[Edge]:
        return [e for e in self.edges if e.parent == node_id]

    def linked(self) -> DependencyGraph:
        """Only the flags that depend on another or that another depends on."""
        ids = {e.parent for e in self.edges} | {e.child for e in self.edges}
        return self._only(ids)

    def around(self, node_id: int) -> DependencyGraph:
        """The flag, every flag it depends on, directly or not, and every flag that depends
        on it, with the edges between them."""
        ids = {node_id} | self._reach(node_id, up=True) | self._reach(node_id, up=False)
        return self._only(ids)

    def ancestors(self, node_id: int) -> set[int]:
        return self._reach(node_id, up=True)

    def descendants(self, node_id: int) -> set[int]:
        return self._reach(node_id, up=False)

    def layers(self) -> list[list[int]]:
        """Nodes by depth: a node sits one layer after its deepest parent, so every edge points
        to a later layer. Within a layer, by key."""
        depth: dict[int, int] = {}
        parents: dict[int, list[int]] = {n: [] for n in self.nodes}
        for edge in self.edges:
            parents[edge.child].append(edge.parent)

        def depth_of(node: int, path: frozenset[int]) -> int:
            if node not in depth:
                # A cycle cannot be stored (the API refuses one); a drawing still ends if one were.
                above = [depth_of(p, path | {node}) for p in parents[node] if p not in path]
                depth[node] = 1 + max(above) if above else 0
            return depth[node]

        for node in self.nodes:
            depth_of(node, frozenset())
        ordered: list[list[int]] = [[] for _ in range(1 + max(depth.values(), default=-1))]
        for node in sorted(self.nodes, key=lambda n: (self.nodes[n].key, n)):
            ordered[depth[node]].append(node)
        return ordered

    def _reach(self, start: int, *, up: bool) -> set[int]:
        step: dict[int, list[int]] = {}
        for edge in self.edges:
            source, target = (edge.child, edge.parent) if up else (edge.parent, edge.child)
            step.setdefault(source, []).append(target)
        seen: set[int] = set()
        frontier = [start]
        while frontier:
            for target in step.get(frontier.pop(), ()):
                if target not in seen and target != start:
                    seen.add(target)
                    frontier.append(target)
        return seen

    def _only(self, ids: set[int]) -> DependencyGraph:
        return DependencyGraph(
            {i: n for i, n in self.nodes.items() if i in ids},
            tuple(e for e in self.edges if e.parent in ids and e.child in ids),
        )


def dependency_graph(entries: Iterable[tuple[Node, Mapping[str, Any] | None]]) -> DependencyGraph:
    """The graph of flags given with their parentDependencies; an edge to a parent not among
    them is left out."""
    listed = list(entries)
    nodes = {node.id: node for node, _ in listed}
    edges = tuple(
        Edge(int(parent), node.id, tuple(allowed))
        for node, deps in listed
        for parent, allowed in ((deps or {}).get("flags") or {}).items()
        if int(parent) in nodes
    )
    return DependencyGraph(nodes, edges)


def node_of(flag: Flag) -> Node:
    return Node(flag.id, flag.kind, flag.key, flag.name, flag.enabled, flag.deleted, tuple(flag.variant_keys))


def graph_of_flags(flags: Iterable[Flag]) -> DependencyGraph:
    return dependency_graph((node_of(flag), flag.parent_dependencies) for flag in flags)
