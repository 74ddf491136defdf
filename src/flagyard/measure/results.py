"""Experiment metrics and results: the use cases behind /api/1/experiments/{id}/metrics,
/results, /exposures and /duration. Access follows the experiment: a key that may read it may read its
results; setting metrics needs a key that may write."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from flagyard.clock import Clock, utc_now
from flagyard.errors import Invalid, NotFound
from flagyard.manage.model.access import Principal
from flagyard.manage.model.flags import Flag, Kind, visible_flag
from flagyard.manage.ports import UnitOfWorkFactory
from flagyard.measure.duration import HOUR_MS, DurationPlan, plan_duration, recent_daily_exposures
from flagyard.measure.model.metrics import (
    Metric,
    MetricKind,
    check_metric_list,
    filtered_key,
    metric_document,
    metric_from_fields,
    parse_kind,
)
from flagyard.measure.ports import (
    EventStore,
    EventWriter,
    ResultsReaderFactory,
    VariantTotals,
)
from flagyard.measure.processing import rebuild_metric
from flagyard.measure.statistics import Sample, compare, sample_ratio

INTERVALS = {"hour": 3_600_000, "day": 86_400_000}
SRM_WARNING = ("Sample ratio mismatch: the users per variant differ from the rollout weights "
               "more than chance explains (p < 0.001). Check assignment and exposure tracking "
               "before trusting these results.")


@dataclass(frozen=True)
class MetricQuery:
    event_type: str | None
    property: str | None
    kind: str | None
    metric_id: int | None


class ResultsService:
    def __init__(self, uow_factory: UnitOfWorkFactory, readers: ResultsReaderFactory,
                 writer: EventWriter, clock: Clock = utc_now) -> None:
        self._uow = uow_factory
        self._readers = readers
        self._writer = writer
        self._clock = clock

    def _experiment(self, principal: Principal, flag_id: int) -> Flag:
        with self._uow() as uow:
            return visible_flag(uow.flags.get(flag_id), principal, Kind.EXPERIMENT, flag_id)

    # --- metric definitions ---------------------------------------------------------------

    def metrics(self, principal: Principal, flag_id: int) -> list[Metric]:
        self._experiment(principal, flag_id)
        with self._readers() as reader:
            return reader.metrics(flag_id)

    def set_metrics(self, principal: Principal, flag_id: int,
                    items: Sequence[Mapping[str, Any]]) -> list[Metric]:
        """Replace the experiment's metrics. Metrics with filters are counted from the raw
        events already stored, in the same serialised writer as ingestion."""
        principal.require_write()
        flag = self._experiment(principal, flag_id)
        flag.ensure_editable()
        metrics = [metric_from_fields(item, f"metrics[{n}]") for n, item in enumerate(items)]
        check_metric_list(metrics)
        job = partial(_replace_metrics, project_id=flag.project_id, flag_id=flag_id, metrics=metrics)
        return self._writer.submit(job, (flag.project_id,)).result()

    # --- results --------------------------------------------------------------------------

    def results(self, principal: Principal, flag_id: int, query: MetricQuery) -> dict[str, Any]:
        flag = self._experiment(principal, flag_id)
        with self._readers() as reader:
            metric = _choose_metric(reader.metrics(flag_id), query)
            totals = {t.variant: t for t in reader.variant_totals(flag_id, metric.aggregate_key)}
            excluded = reader.excluded_users(flag_id)
        return results_document(flag, metric, totals, excluded)

    def duration(self, principal: Principal, flag_id: int, query: MetricQuery,
                 plan: DurationPlan) -> dict[str, Any]:
        """Users and days the experiment needs to detect `plan.mde` on one metric."""
        flag = self._experiment(principal, flag_id)  # a key that may not see it learns nothing more
        plan = plan.checked()
        with self._readers() as reader:
            metric = _choose_metric(reader.metrics(flag_id), query)
            totals = {t.variant: t for t in reader.variant_totals(flag_id, metric.aggregate_key)}
            rows = reader.exposure_series(flag_id, HOUR_MS)
        control_key = _control(flag)
        hourly: dict[int, int] = {}
        for start, _, n in rows:
            hourly[start] = hourly.get(start, 0) + n
        exposed = sum(hourly.values())
        now_ms = int(self._clock().timestamp() * 1000)
        daily = recent_daily_exposures(hourly.items(), now_ms)
        control = _sample(totals.get(control_key) if control_key else None, metric.kind)
        found = plan_duration(plan, metric.kind, control, len(flag.variant_keys), exposed, daily)
        estimate = found.estimate
        remaining = None
        if estimate is not None and daily:
            remaining = max(0, estimate.total_users - exposed) / daily
        return {
            "experimentId": str(flag.id),
            "metric": metric_document(metric),
            "control": control_key,
            "mde": plan.mde, "mdeType": "relative" if plan.relative else "absolute",
            "power": plan.power, "confidenceLevel": plan.confidence_level,
            "baseline": found.baseline, "standardDeviation": found.standard_deviation,
            "absoluteEffect": found.absolute_effect,
            "variants": len(flag.variant_keys),
            "usersPerVariant": estimate.users_per_variant if estimate else None,
            "totalUsers": estimate.total_users if estimate else None,
            "exposedUsers": exposed,
            "dailyExposures": daily,
            "days": estimate.days if estimate else None,
            "daysRemaining": remaining,
            "reason": found.reason,
        }

    def exposures(self, principal: Principal, flag_id: int, interval: str) -> dict[str, Any]:
        if interval not in INTERVALS:
            raise Invalid("interval must be one of day, hour", code="invalid_interval")
        flag = self._experiment(principal, flag_id)
        with self._readers() as reader:
            rows = reader.exposure_series(flag_id, INTERVALS[interval])
            excluded = reader.excluded_users(flag_id)
        keys = _variant_order(flag, {variant for _, variant, _ in rows})
        series: dict[int, dict[str, int]] = {}
        for start, variant, n in rows:
            series.setdefault(start, dict.fromkeys(keys, 0))[variant] = n
        running = dict.fromkeys(keys, 0)
        points = []
        for start in sorted(series):
            for key, n in series[start].items():
                running[key] += n
            points.append({"start": _iso(start), "exposures": series[start], "cumulative": dict(running)})
        return {"experimentId": str(flag.id), "interval": interval, "variants": keys,
                "series": points, "totals": running, "excludedUsers": excluded}


def _replace_metrics(store: EventStore, *, project_id: int, flag_id: int,
                     metrics: list[Metric]) -> list[Metric]:
    before = {m.id for m in store.metrics(flag_id)}
    saved = store.replace_metrics(flag_id, metrics)
    kept = {m.id for m in saved}
    # Totals of removed metrics with filters go with them (unfiltered totals are shared).
    store.drop_totals(flag_id, [filtered_key(i) for i in sorted(before - kept)])
    for metric in saved:
        if metric.filters and metric.id not in before:
            rebuild_metric(store, project_id, flag_id, metric)
    return saved


def _check_query(query: MetricQuery) -> None:
    for name, value in (("metric", query.event_type), ("property", query.property), ("kind", query.kind)):
        if value is not None and ("\x00" in value or len(value) > 1000):
            raise Invalid(f"{name} must be at most 1000 characters with no NUL", code="invalid_metric")


def _choose_metric(stored: list[Metric], query: MetricQuery) -> Metric:
    _check_query(query)
    if query.metric_id is not None:
        for metric in stored:
            if metric.id == query.metric_id:
                return metric
        raise NotFound(f"metric {query.metric_id} is not one of this experiment's metrics",
                       code="metric_not_found")
    if query.event_type is None:
        if not stored:
            raise Invalid("metric is required: name an event type, or set the experiment's metrics",
                          code="missing_metric")
        return stored[0]
    kind = parse_kind(query.kind, query.property, "kind")
    for metric in stored:  # a stored metric of that shape brings its name and filters
        if (metric.event_type, metric.property, metric.kind) == (query.event_type, query.property, kind):
            return metric
    return Metric(event_type=query.event_type, kind=kind, property=query.property)


def _variant_order(flag: Flag, seen: set[str]) -> list[str]:
    keys = list(flag.variant_keys)
    return keys + sorted(seen - set(keys))


def _control(flag: Flag) -> str | None:
    keys = flag.variant_keys
    if "control" in keys:
        return "control"
    return keys[0] if keys else None


def _sample(totals: VariantTotals | None, kind: MetricKind) -> Sample:
    if totals is None:
        return Sample(0, 0.0, 0.0)
    if kind is MetricKind.CONVERSION:
        return Sample(totals.users, float(totals.converters), float(totals.converters))
    if kind is MetricKind.COUNT:
        return Sample(totals.users, totals.count_sum, totals.count_squares)
    return Sample(totals.users, totals.total_sum, totals.total_squares)


def results_document(flag: Flag, metric: Metric, totals: Mapping[str, VariantTotals],
                     excluded: int) -> dict[str, Any]:
    control_key = _control(flag)
    keys = _variant_order(flag, set(totals))
    samples = {key: _sample(totals.get(key), metric.kind) for key in keys}
    control = samples.get(control_key) if control_key else None
    variants = []
    for key in keys:
        sample = samples[key]
        row: dict[str, Any] = {
            "key": key, "exposures": sample.n,
            "value": sample.mean if sample.n else None,
            "conversions": totals[key].converters if key in totals else 0,
            "total": sample.total,
            "difference": None, "relativeDifference": None, "ci95": None,
            "pValue": None, "chanceToBeatControl": None,
        }
        if key != control_key and control is not None:
            comparison = compare(control, sample)
            if comparison is not None:
                row.update(difference=comparison.difference,
                           relativeDifference=comparison.relative_difference,
                           ci95=list(comparison.ci95), pValue=comparison.p_value,
                           chanceToBeatControl=comparison.chance_to_beat_control)
        variants.append(row)
    srm = sample_ratio({k: s.n for k, s in samples.items()}, flag.rollout_weights)
    return {
        "experimentId": str(flag.id),
        "experimentKey": flag.key,
        "metric": metric_document(metric),
        "control": control_key,
        "excludedUsers": excluded,
        "srm": {
            "pValue": srm.p_value, "mismatch": srm.mismatch,
            "expectedShares": srm.expected_shares,
            "warning": SRM_WARNING if srm.mismatch else None,
        },
        "variants": variants,
        "state": flag.state,
        "decision": flag.decision,
        "decisionReason": flag.decision_reason,
    }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
