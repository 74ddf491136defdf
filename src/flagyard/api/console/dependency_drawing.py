"""The dependency graph drawn as inline SVG on the server: parents on the left, each flag one
column after its deepest parent, arrows from parent to child labelled with the variants the
child needs. A picture only; the page says the same in a list beside it."""

from __future__ import annotations

from html import escape

from markupsafe import Markup

from flagyard.manage.model.dependency_graph import DependencyGraph, Node
from flagyard.manage.model.flags import Kind

BOX_WIDTH, BOX_HEIGHT = 196, 46
COLUMN_GAP, ROW_GAP, PAD = 76, 18, 8
KEY_CHARS = 24  # a longer key is cut, with an ellipsis; its full text is in the box's title
# Stroke per kind; dark enough against white for a 3:1 contrast.
KIND_COLOURS = {Kind.FLAG: "#1d4ed8", Kind.EXPERIMENT: "#7e22ce", Kind.HOLDOUT: "#334155",
                Kind.MUTEX: "#b45309"}
KIND_WORDS = {Kind.FLAG: "flag", Kind.EXPERIMENT: "experiment", Kind.HOLDOUT: "holdout",
              Kind.MUTEX: "mutex"}


def ordered_layers(graph: DependencyGraph) -> list[list[int]]:
    """The graph's layers, each after the first ordered by where its parents sit, so arrows
    cross less."""
    layers = graph.layers()
    row: dict[int, float] = {}
    parents: dict[int, list[int]] = {}
    for edge in graph.edges:
        parents.setdefault(edge.child, []).append(edge.parent)
    for index, layer in enumerate(layers):
        if index:
            centres = {}
            for node in layer:
                placed = [row[p] for p in parents.get(node, ()) if p in row]
                centres[node] = sum(placed) / len(placed) if placed else float(len(layer))
            layer.sort(key=centres.__getitem__)
        row.update({node: float(position) for position, node in enumerate(layer)})
    return layers


def draw(graph: DependencyGraph, current: int | None = None, title: str = "Dependency graph") -> Markup:
    if not graph.edges:
        return Markup("")
    layers = ordered_layers(graph)
    rows = max(len(layer) for layer in layers)
    width = 2 * PAD + len(layers) * BOX_WIDTH + (len(layers) - 1) * COLUMN_GAP
    height = 2 * PAD + rows * BOX_HEIGHT + (rows - 1) * ROW_GAP
    at: dict[int, tuple[float, float]] = {}
    for column, layer in enumerate(layers):
        # Each column centred on the tallest one.
        top = PAD + (rows - len(layer)) * (BOX_HEIGHT + ROW_GAP) / 2
        for position, node in enumerate(layer):
            at[node] = (PAD + column * (BOX_WIDTH + COLUMN_GAP), top + position * (BOX_HEIGHT + ROW_GAP))
    arrows = [_arrow(at[e.parent], at[e.child], e.variants) for e in graph.edges]
    boxes = [_box(graph.nodes[node], at[node], node == current) for node in at]
    summary = (f"{title}: {len(graph.nodes)} flags and {len(graph.edges)} dependencies, "
               "drawn with parents on the left; the list beside it says the same in words")
    return Markup(
        f'<svg class="dependency-graph" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{escape(summary)}">'
        '<defs><marker id="dependency-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#475569"/>'
        "</marker></defs>" + "".join(arrows) + "".join(boxes) + "</svg>"
    )


def _arrow(start: tuple[float, float], end: tuple[float, float], variants: tuple[str, ...]) -> str:
    x1, y1 = start[0] + BOX_WIDTH, start[1] + BOX_HEIGHT / 2
    x2, y2 = end[0] - 2, end[1] + BOX_HEIGHT / 2
    bend = max((x2 - x1) / 2, 20)
    words = ", ".join(variants) or "no variant"
    label = words if len(words) <= 14 else words[:13] + "…"
    return (
        f'<g class="edge"><title>needs {escape(words)}</title>'
        f'<path d="M {x1:.1f} {y1:.1f} C {x1 + bend:.1f} {y1:.1f}, {x2 - bend:.1f} {y2:.1f}, {x2:.1f} {y2:.1f}" '
        'fill="none" stroke="#475569" stroke-width="1.5" marker-end="url(#dependency-arrow)"/>'
        f'<text x="{(x1 + x2) / 2:.1f}" y="{(y1 + y2) / 2 - 5:.1f}" text-anchor="middle" '
        f'class="edge-label">{escape(label)}</text></g>'
    )


def _box(node: Node, at: tuple[float, float], current: bool) -> str:
    x, y = at
    colour = KIND_COLOURS[node.kind]
    key = node.key if len(node.key) <= KEY_CHARS else node.key[:KEY_CHARS - 1] + "…"
    state = "archived" if node.deleted else ("on" if node.enabled else "off")
    if node.kind.is_group:
        state = "archived" if node.deleted else "group"
    fill = "#eff6ff" if current else "#fff"
    stroke = 3 if current else 1.5
    mark = " (this one)" if current else ""
    return (
        f'<g class="node"><title>{escape(KIND_WORDS[node.kind])} {escape(node.key)}{mark}</title>'
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" rx="6" fill="{fill}" '
        f'stroke="{colour}" stroke-width="{stroke}"/>'
        f'<text x="{x + 10:.1f}" y="{y + 19:.1f}" class="node-key">{escape(key)}</text>'
        f'<text x="{x + 10:.1f}" y="{y + 36:.1f}" class="node-kind" fill="{colour}">'
        f"{escape(KIND_WORDS[node.kind])} · {state}{mark}</text></g>"
    )
