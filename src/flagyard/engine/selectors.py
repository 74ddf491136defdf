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


def compile_selector(path: Sequence[str] | None) -> Selector:
    """A function returning the value at `path` in a target, or None."""
    if not path or not all(path):
        return _select_none
    keys = tuple(path)

    def select(target: Any) -> Any:
        current = target
        for key in keys:
            if type(current) is dict:
                current = current.get(key)
            elif current is None:
                return None
            else:
                current = _step(current, key)
        return current

    return select


def select(target: Any, path: Sequence[str] | None) -> Any:
    """The value at `path` in `target`, or None."""
    return compile_selector(path)(target)
