"""Experiment metrics: an event type, optionally a numeric property and filters, and a kind.

- conversion: the share of exposed users who did the event after their exposure;
- mean: the mean per exposed user of the property's sum (users without the event count as 0);
- count: the mean number of such events per exposed user.

Each metric reads one per-user aggregate, named by `aggregate_key`: the event type (how many
times), the event type and a property (how many times, and the property's sum), or — for a
metric with filters — the metric itself, since only events that pass its filters count.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from flagyard.errors import Invalid
from flagyard.measure.model.event_filters import check_filters

MAX_METRICS = 50
SEPARATOR = "\x1f"  # between an event type and a property name in an aggregate key


class MetricKind(StrEnum):
    CONVERSION = "conversion"
    MEAN = "mean"
    COUNT = "count"


@dataclass(frozen=True)
class Metric:
    event_type: str
    kind: MetricKind
    property: str | None = None
    filters: list[dict[str, Any]] = field(default_factory=list)
    name: str = ""
    id: int = 0

    # `property` is a field name here, so the decorator is spelled out.
    @builtins.property
    def aggregate_key(self) -> str:
        if self.filters:
            return filtered_key(self.id)
        return property_key(self.event_type, self.property)

    @builtins.property
    def label(self) -> str:
        return self.name or (f"{self.event_type}.{self.property}" if self.property else self.event_type)


def property_key(event_type: str, property_name: str | None) -> str:
    return event_type if property_name is None else f"{event_type}{SEPARATOR}{property_name}"


def filtered_key(metric_id: int) -> str:
    return f"#{metric_id}"


def metric_from_fields(fields: Mapping[str, Any], where: str) -> Metric:
    """A metric from what a client sent (snake_case names), or `Invalid` naming the field."""
    event_type = fields.get("event_type")
    if not isinstance(event_type, str) or not event_type.strip():
        raise Invalid(f"{where}.eventType must be an event type", code="invalid_metric")
    prop = fields.get("property")
    if prop is not None and (not isinstance(prop, str) or not prop):
        raise Invalid(f"{where}.property must be a property name", code="invalid_metric")
    kind = parse_kind(fields.get("kind"), prop, f"{where}.kind")
    name = fields.get("name") or ""
    if not isinstance(name, str) or len(name) > 200:
        raise Invalid(f"{where}.name must be a string of at most 200 characters", code="invalid_metric")
    filters = check_filters(fields.get("filters"), f"{where}.filters")
    return Metric(event_type=event_type, kind=kind, property=prop, filters=filters, name=name)


def parse_kind(raw: Any, property_name: str | None, field_name: str) -> MetricKind:
    if raw is None:
        return MetricKind.MEAN if property_name else MetricKind.CONVERSION
    try:
        kind = MetricKind(raw)
    except ValueError:
        raise Invalid(f"{field_name} must be one of conversion, mean, count", code="invalid_metric") from None
    if kind is MetricKind.MEAN and not property_name:
        raise Invalid(f"{field_name} mean needs a property to average", code="invalid_metric")
    return kind


def check_metric_list(metrics: list[Metric]) -> None:
    if len(metrics) > MAX_METRICS:
        raise Invalid(f"metrics: at most {MAX_METRICS} per experiment", code="too_many_metrics")
    seen: set[tuple[Any, ...]] = set()
    for n, metric in enumerate(metrics):
        identity = (metric.event_type, metric.property, metric.kind, repr(metric.filters))
        if identity in seen:
            raise Invalid(f"metrics[{n}] repeats an earlier metric", code="duplicate_metric")
        seen.add(identity)


def metric_document(metric: Metric) -> dict[str, Any]:
    return {
        "id": metric.id,
        "name": metric.label,
        "eventType": metric.event_type,
        "property": metric.property,
        "kind": metric.kind.value,
        "filters": metric.filters,
    }
