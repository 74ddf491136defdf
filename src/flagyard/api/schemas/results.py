"""Bodies of the experiment metrics API."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from flagyard.api.schemas.common import Body, JsonValue, ShortText


class MetricIn(Body):
    event_type: ShortText
    property: ShortText | None = None
    kind: ShortText | None = None  # conversion | mean | count; default mean with a property
    name: ShortText | None = None
    filters: list[dict[str, Any]] | None = Field(default=None, max_length=20)
    role: ShortText | None = None  # primary | secondary | guardrail
    direction: ShortText | None = None  # increase | decrease (which way is good)
    non_inferiority_margin: JsonValue = None  # guardrails only; checked by the metric model


class MetricsIn(Body):
    metrics: list[MetricIn] = Field(max_length=50)


class AnalysisIn(Body):
    """The analysis settings to change; settings not sent keep their values. Values are
    checked by the analysis model, which names the setting in its message."""

    test_type: JsonValue = None
    confidence_level: JsonValue = None
    multiple_testing: JsonValue = None
    cuped: JsonValue = None
    cuped_window_days: JsonValue = None
    sequential_effect: JsonValue = None
    allocation: JsonValue = None
    reallocation: JsonValue = None
