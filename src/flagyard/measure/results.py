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
from flagyard.measure.analysis import Looks, Pair, Verdict, analyse, analyse_over_time, pairs_for
from flagyard.measure.cuped import pooled_thetas
from flagyard.measure.duration import HOUR_MS, DurationPlan, plan_duration, recent_daily_exposures
from flagyard.measure.model.analysis import (
    AnalysisSettings,
    analysis_document,
    analysis_from_stored,
    analysis_with_changes,
    cuped_window_ms,
)
from flagyard.measure.model.metrics import (
    Metric,
    Role,
    check_metric_list,
    filtered_key,
    metric_document,
    metric_fields,
    metric_from_fields,
    parse_kind,
    with_primary,
)
from flagyard.measure.ports import (
    AnalysisChange,
    EventStore,
    EventWriter,
    ResultsReaderFactory,
    Scope,
    SumsHistory,
)
from flagyard.measure.processing import rebuild_metric, rebuild_windows
from flagyard.measure.samples import metric_sample, metric_series
from flagyard.measure.statistics import sample_ratio
from flagyard.request_context import client_address

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
        events already stored, in the same writer as ingestion: the job touches every user of the
        project, so no ingestion of the project runs meanwhile (in any process)."""
        principal.require_write()
        flag = self._experiment(principal, flag_id)
        flag.ensure_editable()
        metrics = [metric_from_fields(item, f"metrics[{n}]") for n, item in enumerate(items)]
        check_metric_list(metrics)
        metrics = with_primary(metrics, roles_given=any(item.get("role") is not None for item in items))
        job = partial(_replace_metrics, project_id=flag.project_id, flag_id=flag_id, metrics=metrics,
                      actor=principal.name, now_ms=self._now_ms(), client=client_address.get())
        return self._writer.submit(job, (Scope(flag.project_id),)).result()

    # --- analysis settings ----------------------------------------------------------------

    def analysis(self, principal: Principal, flag_id: int) -> AnalysisSettings:
        self._experiment(principal, flag_id)
        with self._readers() as reader:
            return analysis_from_stored(reader.analysis(flag_id))

    def set_analysis(self, principal: Principal, flag_id: int, fields: Mapping[str, Any]) -> AnalysisSettings:
        """Change the settings named in `fields`; the others keep their values."""
        principal.require_write()
        flag = self._experiment(principal, flag_id)
        flag.ensure_editable()
        analysis_with_changes(AnalysisSettings(), fields)  # refuse bad input before queueing
        job = partial(_change_analysis, project_id=flag.project_id, flag_id=flag_id, fields=dict(fields), actor=principal.name,
                      now_ms=self._now_ms(), client=client_address.get())
        return self._writer.submit(job, (Scope(flag.project_id),)).result()

    def copy_design(self, principal: Principal, from_id: int, to_id: int) -> None:
        """Give experiment `to_id` (a new run) the metrics and analysis settings of `from_id`."""
        metrics = self.metrics(principal, from_id)
        if metrics:
            self.set_metrics(principal, to_id, [metric_fields(m) for m in metrics])
        self.set_analysis(principal, to_id, analysis_document(self.analysis(principal, from_id)))

    def analysis_changes(self, principal: Principal, flag_id: int, limit: int = 100) -> list[AnalysisChange]:
        """The record of changes to the metrics and settings, newest first."""
        self._experiment(principal, flag_id)
        if not 1 <= limit <= 1000:
            raise Invalid("limit must be from 1 to 1000", code="invalid_limit")
        with self._readers() as reader:
            return reader.analysis_changes(flag_id, limit)

    def _now_ms(self) -> int:
        return int(self._clock().timestamp() * 1000)

    # --- results --------------------------------------------------------------------------

    def results(self, principal: Principal, flag_id: int, query: MetricQuery,
                interval: str | None = None) -> dict[str, Any]:
        """One metric's results against control, analysed as the experiment's settings say, with
        the guardrails' verdicts; with `interval`, also the figures as they stood after each."""
        if interval is not None and interval not in INTERVALS:
            raise Invalid("interval must be one of day, hour", code="invalid_interval")
        flag = self._experiment(principal, flag_id)
        with self._readers() as reader:
            stored = reader.metrics(flag_id)
            metric = _choose_metric(stored, query)
            settings = analysis_from_stored(reader.analysis(flag_id))
            family = _family(stored, metric)
            # A fixed-horizon test read once needs the sums as they stand now (a few rows); the
            # sequential test's running figures, and results over time, every hour's look.
            history = reader.sums_history(flag_id, [m.aggregate_key for m, _ in family],
                                          history=settings.test_type == "sequential" or interval is not None)
            excluded = reader.excluded_users(flag_id)
        return results_document(flag, metric, family, history, settings, excluded, interval)

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
        control = metric_sample(totals.get(control_key) if control_key else None, metric.kind)
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


def _replace_metrics(store: EventStore, *, project_id: int, flag_id: int, metrics: list[Metric],
                     actor: str, now_ms: int, client: str | None) -> list[Metric]:
    previous = store.metrics(flag_id)
    before = {m.id for m in previous}
    settings = analysis_from_stored(store.analysis(flag_id))
    if not metrics and settings.allocation == "bandit":
        raise Invalid("metrics: a bandit needs a primary metric; set allocation fixed first to remove them all",
                      code="invalid_metric")
    saved = store.replace_metrics(flag_id, metrics)
    store.record_change(AnalysisChange(flag_id, now_ms, actor, "metrics",
                                       [metric_document(m) for m in previous],
                                       [metric_document(m) for m in saved], client=client))
    kept = {m.id for m in saved}
    # Totals of removed metrics with filters go with them (unfiltered totals are shared).
    store.drop_totals(flag_id, [filtered_key(i) for i in sorted(before - kept)])
    window = cuped_window_ms(settings)
    for metric in saved:
        if metric.filters and metric.id not in before:
            rebuild_metric(store, project_id, flag_id, metric, now_ms, window)
    return saved


def _change_analysis(store: EventStore, *, project_id: int, flag_id: int, fields: dict[str, Any],
                     actor: str, now_ms: int, client: str | None) -> AnalysisSettings:
    current = analysis_from_stored(store.analysis(flag_id))
    changed = analysis_with_changes(current, fields)
    if changed.allocation == "bandit" and not any(m.role is Role.PRIMARY for m in store.metrics(flag_id)):
        raise Invalid("allocation bandit needs a primary metric to optimise: set the experiment's metrics first",
                      code="invalid_analysis")
    if changed != current:
        store.save_analysis(flag_id, analysis_document(changed))
        store.record_change(AnalysisChange(flag_id, now_ms, actor, "analysis",
                                           analysis_document(current), analysis_document(changed), client=client))
    if changed.cuped_window_days != current.cuped_window_days:
        filtered = [m for m in store.metrics(flag_id) if m.filters]
        rebuild_windows(store, project_id, flag_id, cuped_window_ms(changed), filtered, now_ms)
    return changed


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


def _family(stored: Sequence[Metric], metric: Metric) -> list[tuple[Metric, bool]]:
    """Every stored metric with whether it is in the corrected family (guardrails are judged
    apart), and first the metric asked for when it is not stored: one more comparison read."""
    family = [(m, m.role is not Role.GUARDRAIL) for m in stored]
    if all(m.id != metric.id or metric.id == 0 for m in stored) or metric.id == 0:
        family.insert(0, (metric, True))
    return family


def results_document(flag: Flag, metric: Metric, family: Sequence[tuple[Metric, bool]], history: SumsHistory,
                     settings: AnalysisSettings, excluded: int, interval: str | None = None) -> dict[str, Any]:
    control_key = _control(flag) or ""
    timeline = [hour * HOUR_MS for hour in history.hours]
    now = len(timeline) - 1
    keys = _variant_order(flag, {v for v in history.variants() if history.at("", v)[now, 0] > 0})
    treatments = [key for key in keys if key != control_key]
    series = {(position, variant): metric_series(history.at(m.aggregate_key, variant), history.at("", variant), m.kind)
              for position, (m, _) in enumerate(family) for variant in keys}
    looks = {(position, variant): Looks(series[(position, control_key)], series[(position, variant)])
             for position, _ in enumerate(family) for variant in treatments} if control_key in keys else {}
    thetas = None
    if settings.cuped:  # θ pooled over every variant, at every look
        thetas = [pooled_thetas(series[(position, v)] for v in keys) for position, _ in enumerate(family)]
    pairs = pairs_for(family, control_key, treatments, looks, thetas) if looks else []
    analysis = analyse(settings, control_key, pairs)
    shown = next(n for n, (m, _) in enumerate(family) if m is metric)
    verdicts = {v.variant: v for v in analysis.verdicts if v.metric is metric}
    variants = []
    for key in keys:
        sample = series[(shown, key)].at(now)
        row: dict[str, Any] = {
            "key": key, "exposures": sample.n,
            "value": sample.mean if sample.n else None,
            "conversions": int(history.at(metric.aggregate_key, key)[now, 0]),
            "total": sample.total,
        }
        row.update(_verdict_fields(verdicts.get(key)))
        variants.append(row)
    srm = sample_ratio({k: series[(shown, k)].at(now).n for k in keys}, flag.rollout_weights)
    guardrails = _guardrails(analysis.verdicts)
    document: dict[str, Any] = {
        "experimentId": str(flag.id),
        "experimentKey": flag.key,
        "metric": metric_document(metric),
        "control": control_key,
        "analysis": {**analysis_document(settings), "familySize": analysis.family_size},
        "excludedUsers": excluded,
        "srm": {
            "pValue": srm.p_value, "mismatch": srm.mismatch,
            "expectedShares": srm.expected_shares,
            "warning": SRM_WARNING if srm.mismatch else None,
        },
        "variants": variants,
        "guardrails": guardrails,
        "harm": any(v["harm"] for g in guardrails for v in g["variants"]),
        "state": flag.state,
        "decision": flag.decision,
        "decisionReason": flag.decision_reason,
    }
    if interval is not None:
        document["interval"] = interval
        document["series"] = _over_time(settings, control_key, pairs, metric, timeline, INTERVALS[interval])
    return document


def _verdict_fields(verdict: Verdict | None) -> dict[str, Any]:
    """A treatment's figures in the results document; control's are all null."""
    if verdict is None:
        return dict.fromkeys(("difference", "relativeDifference", "ci", "ciLevel", "stdError", "pValue",
                              "adjustedPValue", "significant", "better", "harm", "chanceToBeatControl",
                              "mixingVariance", "cupedTheta", "varianceReduction", "thresholdsMet", "threshold"))
    unmet = verdict.unmet
    return {
        "difference": verdict.difference, "relativeDifference": verdict.relative_difference,
        "ci": list(verdict.interval) if verdict.interval else None, "ciLevel": verdict.interval_level,
        "stdError": verdict.std_error, "pValue": verdict.p_value, "adjustedPValue": verdict.adjusted_p_value,
        "significant": verdict.significant, "better": verdict.better, "harm": verdict.harm,
        "chanceToBeatControl": verdict.chance_to_beat_control, "mixingVariance": verdict.tau_squared,
        "cupedTheta": verdict.theta, "varianceReduction": verdict.variance_reduction,
        "thresholdsMet": unmet is None,
        "threshold": None if unmet is None else {
            "variant": unmet.variant, "quantity": unmet.quantity, "observed": unmet.observed,
            "required": unmet.required, "reason": unmet.reason},
    }


def _guardrails(verdicts: Sequence[Verdict]) -> list[dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for verdict in verdicts:
        if verdict.metric.role is not Role.GUARDRAIL:
            continue
        entry = found.setdefault(id(verdict.metric), {"metric": metric_document(verdict.metric), "variants": []})
        entry["variants"].append({
            "key": verdict.variant, "harm": verdict.harm, "difference": verdict.difference,
            "ci": list(verdict.interval) if verdict.interval else None,
            "thresholdsMet": verdict.unmet is None,
        })
    return list(found.values())


def _over_time(settings: AnalysisSettings, control_key: str, pairs: Sequence[Pair], metric: Metric,
               timeline: list[int], bucket_ms: int) -> list[dict[str, Any]]:
    """The shown metric's figures at the end of each interval, as they stood then."""
    ends: dict[int, int] = {}  # interval start -> the last moment in it
    for index, start in enumerate(timeline):
        ends[start - start % bucket_ms] = index
    points = sorted(ends.items())
    analyses = analyse_over_time(settings, control_key, pairs, [index for _, index in points])
    series = []
    for (start, index), analysis in zip(points, analyses, strict=True):
        rows = []
        for verdict in analysis.verdicts:
            if verdict.metric is not metric:
                continue
            control, treatment = next(p.looks[index] for p in pairs if p.metric is metric and p.variant == verdict.variant)
            rows.append({"key": verdict.variant, "exposures": treatment.n, "controlExposures": control.n,
                         "difference": verdict.difference, "ci": list(verdict.interval) if verdict.interval else None,
                         "pValue": verdict.p_value, "adjustedPValue": verdict.adjusted_p_value,
                         "significant": verdict.significant, "thresholdsMet": verdict.unmet is None})
        series.append({"start": _iso(start), "variants": rows})
    return series


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
