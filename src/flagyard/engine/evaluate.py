"""Evaluating flags for one evaluation context. Pure: no I/O, clock or logging."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .flagset import FlagSet
from .model import Flag
from .plan import SegmentPlan
from .result import EvaluationResult
from .topo import sort_flags

_new_result = tuple.__new__


def _evaluate_plan(plan: tuple[SegmentPlan, ...], target: dict[str, Any]) -> EvaluationResult | None:
    for groups, picker, outcomes, fallback in plan:
        if groups is not None:
            # OR over groups, AND within a group (the loops are inlined: this is the hot path).
            for group in groups:
                for matcher in group:
                    if not matcher(target):
                        break
                else:
                    break
            else:
                continue
        outcome = fallback
        if picker is not None:
            variant_key = picker(target)
            if variant_key is not None:
                outcome = outcomes.get(variant_key)
        if outcome is None:
            # The segment names no usable variant: fall through to the next one.
            continue
        key, value, payload, metadata = outcome
        return _new_result(EvaluationResult, (key, value, payload, metadata.copy()))
    return None


def evaluate_flag(flag: Flag, target: dict[str, Any]) -> EvaluationResult | None:
    """Result of one flag for a target `{"context": ..., "result": {...}}`, or None
    when no segment yields a variant."""
    return _evaluate_plan(flag.plan, target)


def _ordered(
    flags: Sequence[Flag] | Mapping[str, Flag], flag_keys: Iterable[str] | None
) -> Sequence[Flag]:
    if isinstance(flags, FlagSet):
        return flags.ordered(flag_keys)
    if isinstance(flags, Mapping):
        return sort_flags(flags, flag_keys)
    return sort_flags({flag.key: flag for flag in flags}, flag_keys)


def evaluate(
    context: dict[str, Any],
    flags: Sequence[Flag] | Mapping[str, Flag],
    flag_keys: Iterable[str] | None = None,
) -> dict[str, EvaluationResult]:
    """Evaluate `flag_keys` (all flags when None) and their dependencies for `context`.

    Flags run dependencies first; each result is visible to later flags through
    selectors such as `["result", "<flag key>", "key"]`. Flags for which no segment
    yields a variant are absent from the returned mapping.
    """
    results: dict[str, EvaluationResult] = {}
    target = {"context": context, "result": results}
    for flag in _ordered(flags, flag_keys):
        result = _evaluate_plan(flag.plan, target)
        if result is not None:
            results[flag.key] = result
    return results
