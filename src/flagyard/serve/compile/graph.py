"""Flag dependency graph for the evaluation compiler: cycles and parents-first order.

Nodes are flag ids; `edges[child]` lists the ids of its parents. Ids that are not nodes
(parents that are not served) are ignored. Both walks are iterative, so long chains of
dependencies cannot exhaust the interpreter's recursion limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def cycles(edges: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Groups of nodes that depend on each other (Tarjan's strongly connected components).

    Each group lists its nodes in the order of `edges`; a node that depends on itself is a
    group of one. Nodes on no cycle appear in no group.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            parents = [parent for parent in edges[node] if parent in edges]
            if position < len(parents):
                work.append((node, position + 1))
                parent = parents[position]
                if parent not in index:
                    work.append((parent, 0))
                elif parent in on_stack:
                    low[node] = min(low[node], index[parent])
                continue
            if work:  # the node that led here resumes with this node's low-link
                caller = work[-1][0]
                low[caller] = min(low[caller], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in parents:
                    members = set(component)
                    found.append([candidate for candidate in edges if candidate in members])
    return found


def parents_first(order: Sequence[str], edges: Mapping[str, Sequence[str]]) -> list[str]:
    """`order`, except that each node's parents (among `order`) come before it.

    The graph restricted to `order` must be acyclic (drop the `cycles` first).
    """
    wanted = set(order)
    placed: set[str] = set()
    result: list[str] = []
    for start in order:
        if start in placed:
            continue
        placed.add(start)
        stack = [(start, iter(edges.get(start, ())))]
        while stack:
            node, pending = stack[-1]
            for parent in pending:
                if parent in wanted and parent not in placed:
                    placed.add(parent)
                    stack.append((parent, iter(edges.get(parent, ()))))
                    break
            else:
                stack.pop()
                result.append(node)
    return result
