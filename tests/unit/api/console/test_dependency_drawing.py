"""The dependency graph drawn in SVG: one box per flag, one arrow per dependency, columns in
evaluation order, a text equivalent."""

from __future__ import annotations

import re

from flagyard.api.console.dependency_drawing import BOX_WIDTH, COLUMN_GAP, PAD, draw, ordered_layers
from flagyard.manage.model.dependency_graph import DependencyGraph, Node, dependency_graph
from flagyard.manage.model.flags import Kind


def sample() -> DependencyGraph:
    nodes = {i: Node(i, kind, key, "", False, False) for i, kind, key in [
        (1, Kind.FLAG, "base"), (2, Kind.HOLDOUT, "holdout-a"), (3, Kind.EXPERIMENT, "checkout"),
        (4, Kind.FLAG, "z-parent"), (5, Kind.FLAG, "a-child-of-z")]}
    parents = {3: {"1": ["on"], "2": ["on"]}, 5: {"4": ["on", "treatment-with-a-long-name"]}}
    return dependency_graph((node, {"flags": parents[i]} if i in parents else None) for i, node in nodes.items())


def test_draw__a_box_per_flag_an_arrow_per_dependency__in_columns__labelled() -> None:
    graph = sample()

    svg = str(draw(graph, current=3, title="Dependencies of checkout"))

    assert svg.count('<g class="node">') == 5 and svg.count('<g class="edge">') == 3
    assert 'aria-label="Dependencies of checkout: 5 flags and 3 dependencies' in svg
    assert "experiment checkout (this one)" in svg and 'stroke-width="3"' in svg
    # Parents in the first column, children in the second
    xs = {key: float(x) for x, key in re.findall(r'<text x="([\d.]+)" y="[\d.]+" class="node-key">([^<]+)<', svg)}
    assert xs["base"] == xs["holdout-a"] == xs["z-parent"] == PAD + 10
    assert xs["checkout"] == xs["a-child-of-z"] == PAD + BOX_WIDTH + COLUMN_GAP + 10
    # A long label is cut, its whole text kept in the arrow's title
    assert "needs on, treatment-with-a-long-name" in svg and ">on, treatment…<" in svg


def test_ordered_layers__children_follow_their_parents_rows() -> None:
    # z-parent sorts last in column one, so its child comes last in column two
    assert ordered_layers(sample()) == [[1, 2, 4], [3, 5]]


def test_draw__no_dependency__nothing() -> None:
    lone = dependency_graph([(Node(1, Kind.FLAG, "a", "", False, False), None)])

    assert str(draw(lone)) == ""
