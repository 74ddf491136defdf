"""Selecting a value from the evaluation target by a path of keys.

The target is `{"context": ..., "result": {flag_key: EvaluationResult}}`. A step
into anything that is not a mapping (or a result) yields None, as does a path
that is empty or contains an empty key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .result import RESULT_FIELDS, EvaluationResult

Selector = Callable[[Any], Any]


def _step(current: Any, key: str) -> Any:
    """One step into a value that is not a plain dict."""
    if isinstance(current, EvaluationResult):
        return getattr(current, key) if key in RESULT_FIELDS else None
    if isinstance(current, dict):
        return current.get(key)
    # Other mapping-like objects (anything with get and __getitem__) are readable too.
    if hasattr(current, "get") and hasattr(current, "__getitem__"):
        try:
            return current.get(key)
        except (AttributeError, KeyError, TypeError):
            return None
    return None


def _select_none(target: Any) -> None:
    return None


def _walk(current: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if type(current) is dict:
            current = current.get(key)
        elif current is None:
            return None
        else:
            current = _step(current, key)
    return current


def compile_selector(path: Sequence[str] | None) -> Selector:
    """A function returning the value at `path` in a target, or None."""
    if not path or not all(path):
        return _select_none
    keys = tuple(path)
    # Paths are short (typically 3 or 4 keys) and almost always run through plain dicts,
    # so the common lengths get unrolled code; any other step takes the general walk.
    if len(keys) == 3:
        k0, k1, k2 = keys

        def select3(target: Any) -> Any:
            a = target.get(k0) if type(target) is dict else _walk(target, (k0,))
            b = a.get(k1) if type(a) is dict else _walk(a, (k1,))
            return b.get(k2) if type(b) is dict else _walk(b, (k2,))

        return select3
    if len(keys) == 4:
        k0, k1, k2, k3 = keys

        def select4(target: Any) -> Any:
            a = target.get(k0) if type(target) is dict else _walk(target, (k0,))
            b = a.get(k1) if type(a) is dict else _walk(a, (k1,))
            c = b.get(k2) if type(b) is dict else _walk(b, (k2,))
            return c.get(k3) if type(c) is dict else _walk(c, (k3,))

        return select4

    def select(target: Any) -> Any:
        return _walk(target, keys)

    return select


def select(target: Any, path: Sequence[str] | None) -> Any:
    """The value at `path` in `target`, or None."""
    return compile_selector(path)(target)
