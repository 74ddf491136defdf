"""Flag dependency graph: cycles and parents-first ordering."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from flagyard.serve.compile.graph import cycles, parents_first


def test_cycles__two_flags_depending_on_each_other__found_as_one_group() -> None:
    # Given
    edges = {"a": ["b"], "b": ["a"], "c": ["a"]}

    # When
    found = cycles(edges)

    # Then
    assert found == [["a", "b"]]


def test_cycles__self_dependency__found_alone() -> None:
    # Given / When / Then
    assert cycles({"a": ["a"], "b": []}) == [["a"]]


def test_cycles__parent_not_a_node__ignored() -> None:
    # Given / When / Then
    assert cycles({"a": ["missing"], "b": ["a"]}) == []


def test_cycles__long_chain__does_not_hit_recursion_limit() -> None:
    # Given
    edges = {str(i): [str(i + 1)] for i in range(5000)}
    edges["5000"] = ["0"]

    # When
    found = cycles(edges)

    # Then
    assert len(found) == 1
    assert len(found[0]) == 5001


def test_parents_first__child_listed_first__parent_moves_before_child() -> None:
    # Given
    edges = {"child": ["parent"], "parent": [], "other": []}

    # When
    order = parents_first(["child", "other", "parent"], edges)

    # Then
    assert order == ["parent", "child", "other"]


@given(
    st.lists(st.lists(st.integers(0, 9), max_size=3), min_size=1, max_size=10).map(
        lambda parents: {str(i): [str(p) for p in ps] for i, ps in enumerate(parents)}
    )
)
def test_parents_first__random_graph_without_cycles__every_parent_precedes_child(
    edges: dict[str, list[str]],
) -> None:
    # Given
    cyclic = {node for group in cycles(edges) for node in group}
    acyclic = [node for node in edges if node not in cyclic]
    # Parents that lead into a cycle stay out of the order too, as the compiler does.

    # When
    order = parents_first(acyclic, edges)

    # Then
    assert sorted(order) == sorted(acyclic)
    position = {node: i for i, node in enumerate(order)}
    for node in order:
        for parent in edges[node]:
            if parent in position:
                assert position[parent] < position[node]
