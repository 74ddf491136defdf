"""How an experiment's results are analysed: the test, the confidence level, the correction for
many comparisons, CUPED, and the effect the sequential test is tuned for.

The defaults are Amplitude's: a sequential test at 95 % with Bonferroni, CUPED off. Settings are
stored beside the experiment's metrics, and each change is recorded (who, when, before, after).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, cast

from flagyard.errors import Invalid
from flagyard.measure.multiple_testing import CORRECTIONS, Correction

TestType = Literal["sequential", "ttest"]
TEST_TYPES: tuple[TestType, ...] = ("sequential", "ttest")
Allocation = Literal["fixed", "bandit"]
ALLOCATIONS: tuple[Allocation, ...] = ("fixed", "bandit")
Reallocation = Literal["hourly", "daily"]
REALLOCATIONS: dict[Reallocation, int] = {"hourly": 3_600_000, "daily": 86_400_000}  # interval, ms
MAX_CUPED_WINDOW_DAYS = 90


@dataclass(frozen=True)
class AnalysisSettings:
    test_type: TestType = "sequential"
    confidence_level: float = 0.95
    multiple_testing: Correction = "bonferroni"
    cuped: bool = False
    cuped_window_days: int = 7
    # The relative effect the sequential test's mixture is tuned for (sequential.mixing_variance):
    # τ = this × the control's mean when the minimum samples are first met.
    sequential_effect: float = 0.05
    # A multi-armed bandit moves traffic to the arm likeliest best on the primary metric
    # (measure/bandit.py), once per reallocation interval.
    allocation: Allocation = "fixed"
    reallocation: Reallocation = "daily"

    @property
    def alpha(self) -> float:
        return 1 - self.confidence_level


# API name → attribute, in the order documents show them.
_FIELDS = {
    "testType": "test_type",
    "confidenceLevel": "confidence_level",
    "multipleTesting": "multiple_testing",
    "cuped": "cuped",
    "cupedWindowDays": "cuped_window_days",
    "sequentialEffect": "sequential_effect",
    "allocation": "allocation",
    "reallocation": "reallocation",
}


def cuped_window_ms(settings: AnalysisSettings) -> int:
    return settings.cuped_window_days * 86_400_000


def analysis_document(settings: AnalysisSettings) -> dict[str, Any]:
    values = asdict(settings)
    return {name: values[attribute] for name, attribute in _FIELDS.items()}


def analysis_from_stored(stored: Mapping[str, Any] | None) -> AnalysisSettings:
    """Settings from their stored document; fields it lacks (older rows) take the defaults."""
    if not stored:
        return AnalysisSettings()
    known = {attribute: stored[name] for name, attribute in _FIELDS.items() if name in stored}
    return replace(AnalysisSettings(), **known)


def analysis_with_changes(current: AnalysisSettings, fields: Mapping[str, Any]) -> AnalysisSettings:
    """`current` with the fields a client sent, or `Invalid` naming the first bad one.

    Fields not sent keep their values, so a PUT of one setting changes that setting only."""
    unknown = sorted(set(fields) - set(_FIELDS))
    if unknown:
        raise Invalid(f"{unknown[0]} is not an analysis setting; expected one of {', '.join(_FIELDS)}",
                      code="invalid_analysis")
    changes: dict[str, Any] = {}
    for name, value in fields.items():
        changes[_FIELDS[name]] = _CHECKS[name](name, value)
    return replace(current, **changes)


def _one_of(choices: tuple[str, ...]) -> Any:
    def check(name: str, value: Any) -> str:
        if value not in choices:
            raise Invalid(f"{name} must be one of {', '.join(choices)}", code="invalid_analysis")
        return cast(str, value)
    return check


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _confidence_level(name: str, value: Any) -> float:
    if not _number(value) or not 0.5 < value < 0.999:
        raise Invalid(f"{name} must be a number between 0.5 and 0.999 (exclusive)", code="invalid_analysis")
    return float(value)


def _cuped(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"{name} must be true or false", code="invalid_analysis")
    return value


def _window_days(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_CUPED_WINDOW_DAYS:
        raise Invalid(f"{name} must be a whole number of days from 1 to {MAX_CUPED_WINDOW_DAYS}",
                      code="invalid_analysis")
    return value


def _effect(name: str, value: Any) -> float:
    if not _number(value) or not 0 < value <= 10:
        raise Invalid(f"{name} must be a relative effect above 0 and at most 10 (0.05 = 5 %)",
                      code="invalid_analysis")
    return float(value)


_CHECKS = {
    "testType": _one_of(TEST_TYPES),
    "confidenceLevel": _confidence_level,
    "multipleTesting": _one_of(CORRECTIONS),
    "cuped": _cuped,
    "cupedWindowDays": _window_days,
    "sequentialEffect": _effect,
    "allocation": _one_of(ALLOCATIONS),
    "reallocation": _one_of(tuple(REALLOCATIONS)),
}
