"""Bodies of the experiment metrics API."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from flagyard.api.schemas.common import Body, ShortText


class MetricIn(Body):
    event_type: ShortText
    property: ShortText | None = None
    kind: ShortText | None = None  # conversion | mean | count; default mean with a property
    name: ShortText | None = None
    filters: list[dict[str, Any]] | None = Field(default=None, max_length=20)


class MetricsIn(Body):
    metrics: list[MetricIn] = Field(max_length=50)
