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
from dataclasses import dataclass, field, replace
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


class Role(StrEnum):
    """What a metric decides: the primary (exactly one) decides the experiment; secondaries
    inform it; guardrails must show no harm, judged apart from the others."""

    PRIMARY = "primary"
    SECONDARY = "secondary"
    GUARDRAIL = "guardrail"


class Direction(StrEnum):
    """Which way the metric moving is good."""

    INCREASE = "increase"
    DECREASE = "decrease"


@dataclass(frozen=True)
class Metric:
    event_type: str
    kind: MetricKind
    property: str | None = None
    filters: list[dict[str, Any]] = field(default_factory=list)
    name: str = ""
    id: int = 0
    role: Role = Role.SECONDARY
    direction: Direction = Direction.INCREASE
    # For a guardrail: the relative worsening still acceptable (0.01 = 1 % of control's value).
    non_inferiority_margin: float | None = None

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
    role = _choice(Role, fields.get("role"), Role.SECONDARY, f"{where}.role")
    direction = _choice(Direction, fields.get("direction"), Direction.INCREASE, f"{where}.direction")
    margin = _margin(fields.get("non_inferiority_margin"), role, f"{where}.nonInferiorityMargin")
    return Metric(event_type=event_type, kind=kind, property=prop, filters=filters, name=name,
                  role=role, direction=direction, non_inferiority_margin=margin)


def _choice(choices: type[StrEnum], raw: Any, default: Any, where: str) -> Any:
    if raw is None:
        return default
    try:
        return choices(raw)
    except ValueError:
        raise Invalid(f"{where} must be one of {', '.join(choices)}", code="invalid_metric") from None


def _margin(raw: Any, role: Role, where: str) -> float | None:
    if role is not Role.GUARDRAIL:
        if raw is not None:
            raise Invalid(f"{where} is for guardrail metrics only", code="invalid_metric")
        return None
    if raw is None:
        raise Invalid(f"{where} is required for a guardrail: the relative worsening still "
                      "acceptable (0.01 = 1 %)", code="invalid_metric")
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw < 1:
        raise Invalid(f"{where} must be a number from 0 up to (not including) 1", code="invalid_metric")
    return float(raw)


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


def with_primary(metrics: list[Metric], roles_given: bool) -> list[Metric]:
    """The list with exactly one primary metric, or `Invalid`.

    A list sent without any role (as before metrics had roles) makes its first metric the
    primary; a list that names roles must name exactly one primary."""
    if not metrics:
        return metrics
    primaries = [n for n, m in enumerate(metrics) if m.role is Role.PRIMARY]
    if not roles_given:
        return [replace(metrics[0], role=Role.PRIMARY), *metrics[1:]]
    if len(primaries) != 1:
        found = "none" if not primaries else ", ".join(f"metrics[{n}]" for n in primaries)
        raise Invalid(f"metrics: exactly one metric must have role primary (found {found})",
                      code="invalid_metric")
    return metrics


def check_metric_list(metrics: list[Metric]) -> None:
    if len(metrics) > MAX_METRICS:
        raise Invalid(f"metrics: at most {MAX_METRICS} per experiment", code="too_many_metrics")
    seen: set[tuple[Any, ...]] = set()
    for n, metric in enumerate(metrics):
        identity = (metric.event_type, metric.property, metric.kind, repr(metric.filters))
        if identity in seen:
            raise Invalid(f"metrics[{n}] repeats an earlier metric", code="duplicate_metric")
        seen.add(identity)


def metric_fields(metric: Metric) -> dict[str, Any]:
    """The metric as `metric_from_fields` takes it (to copy it to another experiment)."""
    return {"event_type": metric.event_type, "kind": metric.kind.value, "property": metric.property,
            "filters": metric.filters, "name": metric.name, "role": metric.role.value,
            "direction": metric.direction.value, "non_inferiority_margin": metric.non_inferiority_margin}


def metric_document(metric: Metric) -> dict[str, Any]:
    return {
        "id": metric.id,
        "name": metric.label,
        "eventType": metric.event_type,
        "property": metric.property,
        "kind": metric.kind.value,
        "filters": metric.filters,
        "role": metric.role.value,
        "direction": metric.direction.value,
        "nonInferiorityMargin": metric.non_inferiority_margin,
    }
