"""Evaluation order: every flag after the flags it depends on.

Depth-first from the requested keys (all keys, in mapping order, when none are
given), emitting dependencies before dependents and each flag once. Unknown keys
are skipped; a dependency cycle met on the way raises CycleError.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .errors import CycleError
from .model import Flag


def sort_flags(flags: Mapping[str, Flag], flag_keys: Iterable[str] | None = None) -> list[Flag]:
    pending = dict(flags)
    ordered: list[Flag] = []
    path: list[str] = []

    def visit(key: str) -> None:
        flag = pending.get(key)
        if flag is None:
            return
        if flag.dependencies:
            path.append(flag.key)
            for parent in flag.dependencies:
                if parent in path:
                    raise CycleError([*path, parent])
                visit(parent)
            path.pop()
        # A flag leaves `pending` only once its parents are placed.
        pending.pop(key, None)
        ordered.append(flag)

    for key in list(flags) if flag_keys is None else flag_keys:
        visit(key)
    return ordered
