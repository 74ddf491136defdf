"""What the console shows of dependencies: a flag's prerequisites (the flags it depends on)
and dependents, the choices of a new prerequisite, and a project's whole graph, each in words
and drawn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flagyard.api.console.dependency_drawing import draw
from flagyard.api.console.services import ConsoleServices
from flagyard.manage.model.dependency_graph import DependencyGraph, Node
from flagyard.manage.model.flags import Flag, Kind
from flagyard.manage.users import SignedIn

NOUNS = {Kind.FLAG: "Flag", Kind.EXPERIMENT: "Experiment", Kind.HOLDOUT: "Holdout",
         Kind.MUTEX: "Mutual exclusion group"}
_PATHS = {Kind.FLAG: "flags", Kind.EXPERIMENT: "experiments", Kind.HOLDOUT: "groups/holdouts",
          Kind.MUTEX: "groups/mutexes"}
PREREQUISITE_KINDS = (Kind.FLAG, Kind.EXPERIMENT)  # groups are joined from the group's page


def node_url(node: Node) -> str:
    return f"/console/{_PATHS[node.kind]}/{node.id}"


@dataclass(frozen=True)
class Link:
    """One flag at the other end of a dependency, as a page lists it."""

    id: int
    key: str
    name: str
    noun: str
    url: str
    variants: tuple[str, ...]  # the parent's variants the child needs; () beyond the first step
    deleted: bool
    group: bool


def link(node: Node, variants: tuple[str, ...] = ()) -> Link:
    return Link(node.id, node.key, node.name, NOUNS[node.kind], node_url(node), variants, node.deleted,
                node.kind.is_group)


def _by_key(nodes: list[Node]) -> list[Link]:
    return [link(n) for n in sorted(nodes, key=lambda n: n.key)]


def flag_dependencies(services: ConsoleServices, current: SignedIn, flag: Flag) -> dict[str, Any]:
    """The flag page's Dependencies section."""
    whole = services.dependency_graph.graph(current.user.principal(), flag.project_id)
    graph = whole.around(flag.id)
    parents = [link(graph.nodes[e.parent], e.variants) for e in graph.parents(flag.id)]
    children = [link(graph.nodes[e.child], e.variants) for e in graph.children(flag.id)]
    direct = {p.id for p in parents} | {c.id for c in children}
    candidates = _candidates(whole, flag) if current.user.can_write and not flag.deleted else []
    return {
        "parents": sorted(parents, key=lambda p: p.key),
        "children": sorted(children, key=lambda c: c.key),
        "further_up": _by_key([graph.nodes[i] for i in graph.ancestors(flag.id) - direct]),
        "further_down": _by_key([graph.nodes[i] for i in graph.descendants(flag.id) - direct]),
        "drawing": draw(graph, flag.id, f"Dependencies of {flag.key}"),
        "candidates": candidates,
        "variants_of": {n.id: list(n.variants) for n in whole.nodes.values()},
    }


def _candidates(graph: DependencyGraph, flag: Flag) -> list[Node]:
    """The project's live flags and experiments this one could depend on, by key. Those that
    depend on it stay listed: choosing one is refused as a cycle, with the API's words."""
    return sorted((n for n in graph.nodes.values()
                   if n.kind in PREREQUISITE_KINDS and not n.deleted and n.id != flag.id),
                  key=lambda n: (n.key, n.id))


def project_dependencies(graph: DependencyGraph) -> list[dict[str, Any]]:
    """Every flag of the graph in evaluation order (parents first), with what it depends on
    and what depends on it."""
    rows = []
    for step, layer in enumerate(graph.layers(), start=1):
        for node_id in layer:
            node = graph.nodes[node_id]
            rows.append({
                "node": link(node),
                "step": step,
                "kind": node.kind.value,
                "enabled": node.enabled,
                "parents": sorted((link(graph.nodes[e.parent], e.variants) for e in graph.parents(node_id)),
                                  key=lambda p: p.key),
                "children": sorted((link(graph.nodes[e.child], e.variants) for e in graph.children(node_id)),
                                   key=lambda c: c.key),
            })
    return rows
