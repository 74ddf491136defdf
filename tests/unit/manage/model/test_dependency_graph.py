"""The dependency graph read from parentDependencies: edges, the part around a flag, layers
that put every parent before its children."""

from __future__ import annotations

from typing import Any

from flagyard.manage.model.dependency_graph import DependencyGraph, Node, dependency_graph
from flagyard.manage.model.flags import Kind


def graph(parents: dict[int, dict[int, list[str]]], extra: tuple[int, ...] = ()) -> DependencyGraph:
    """Flags 'f<id>' with the given parents; `extra` flags depend on nothing."""
    ids = set(parents) | {p for deps in parents.values() for p in deps} | set(extra)
    entries: list[tuple[Node, Any]] = [
        (Node(i, Kind.FLAG, f"f{i}", f"Flag {i}", False, False),
         {"flags": {str(p): v for p, v in parents.get(i, {}).items()}, "operator": "all"} if i in parents else None)
        for i in sorted(ids)
    ]
    return dependency_graph(entries)


def test_edges__parent_to_child_with_the_allowed_variants__unknown_parents_left_out() -> None:
    # Given flag 3 naming flag 99, which is not among the flags read
    entries = [(Node(1, Kind.FLAG, "a", "", True, False), None),
               (Node(2, Kind.EXPERIMENT, "b", "", False, False), {"flags": {"1": ["on", "x"]}}),
               (Node(3, Kind.FLAG, "c", "", False, False), {"flags": {"99": ["on"]}})]
    # When
    built = dependency_graph(entries)
    # Then
    assert [(e.parent, e.child, e.variants) for e in built.edges] == [(1, 2, ("on", "x"))]
    assert [e.child for e in built.children(1)] == [2] and [e.parent for e in built.parents(2)] == [1]


def test_around__ancestors_and_descendants_only() -> None:
    # 1 → 2 → 3, 4 → 3, 3 → 5; 6 → 7 apart; 8 alone
    g = graph({2: {1: ["on"]}, 3: {2: ["on"], 4: ["on"]}, 5: {3: ["on"]}, 7: {6: ["on"]}}, extra=(8,))

    around = g.around(2)

    assert set(around.nodes) == {1, 2, 3, 5}  # 4 is a parent of a child, not of 2: left out
    assert {(e.parent, e.child) for e in around.edges} == {(1, 2), (2, 3), (3, 5)}
    assert g.ancestors(3) == {1, 2, 4} and g.descendants(2) == {3, 5}
    assert set(g.linked().nodes) == {1, 2, 3, 4, 5, 6, 7}  # 8 takes part in nothing


def test_layers__each_flag_after_its_deepest_parent__by_key_within() -> None:
    # 1 → 2 → 3 and 1 → 3: 3 sits after 2, not beside it
    g = graph({2: {1: ["on"]}, 3: {1: ["on"], 2: ["on"]}, 5: {4: ["on"]}})

    assert g.layers() == [[1, 4], [2, 5], [3]]


def test_layers__a_cycle_in_stored_data__still_ends() -> None:
    g = graph({1: {2: ["on"]}, 2: {1: ["on"]}})

    assert sorted(i for layer in g.layers() for i in layer) == [1, 2]
