"""What one accepted batch does to the stored data, inside the event writer's transaction.

1. Events whose (device, insert_id) is already stored, or repeated in the batch, are dropped.
2. Exposure and assignment events update each user's exposure row per experiment: the first
   variant seen sticks, a second variant excludes the user, and the exposure moment is the
   earliest exposure event's time.
3. A user who becomes exposed (or whose exposure moves earlier) gets the events already
   stored from that moment on added to their totals ("backfill"), so totals do not depend
   on whether the product events or the exposure arrived first.
4. The batch's raw events are stored, and each product event by an exposed user adds to
   that user's totals in every experiment whose exposure began at or before the event's time.

"After exposure" is therefore judged on the client timestamps (`time`), not on arrival order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from flagyard.domain.event_filters import matches
from flagyard.domain.events import Event
from flagyard.domain.exposures import SDK_EXPOSURE_EVENTS, ExperimentTrigger, sightings
from flagyard.domain.metrics import Metric, filtered_key, property_key
from flagyard.services.event_ports import (
    EventStore,
    ExperimentSetup,
    ExposureState,
    StatsKey,
    Totals,
    TotalsKey,
)

BACKFILL_PAGE = 2000
HOUR_MS = 3_600_000
HOUR_PREFIX = "@h"  # per-variant stats key of the users whose exposure began in that hour


@dataclass(frozen=True)
class Batch:
    project_id: int
    events: Sequence[Event]
    received_at: int


def store_batches(store: EventStore, batches: Sequence[Batch]) -> None:
    """Apply several requests' batches in one transaction (the event writer's group commit)."""
    by_project: dict[int, list[Batch]] = defaultdict(list)
    for batch in batches:
        by_project[batch.project_id].append(batch)
    for project_id in sorted(by_project):
        _store_project(store, project_id, by_project[project_id])


def _store_project(store: EventStore, project_id: int, batches: list[Batch]) -> None:
    fresh = _unseen(store, project_id, [e for b in batches for e in b.events])
    setups = {s.trigger.flag_key: s for s in store.experiments(project_id)}
    if setups and fresh:
        _track(store, project_id, fresh, setups)
    for batch in batches:
        kept = [e for e in batch.events if id(e) in fresh]
        if kept:
            store.add_events(project_id, kept, batch.received_at)


def _unseen(store: EventStore, project_id: int, events: list[Event]) -> dict[int, Event]:
    keys = {e.dedup_key for e in events if e.dedup_key}
    known = store.known_dedup_keys(project_id, keys) if keys else set()
    fresh: dict[int, Event] = {}
    for event in events:
        key = event.dedup_key
        if key is not None:
            if key in known:
                continue
            known.add(key)
        fresh[id(event)] = event
    return fresh


def _track(store: EventStore, project_id: int, fresh: dict[int, Event],
           setups: Mapping[str, ExperimentSetup]) -> None:
    totals: dict[TotalsKey, Totals] = {}
    events = sorted(fresh.values(), key=lambda e: e.time)
    triggers = {key: s.trigger for key, s in setups.items()}
    custom_types = {t.exposure_event.get("event_type") for t in triggers.values() if t.exposure_event}
    users = {e.user_key for e in events}
    states = {(s.flag_id, s.user_key): s for s in store.exposures_of(project_id, users)}
    prior = {key: (s.variant, s.exposed_at, s.excluded) for key, s in states.items()}
    before = {key: s.exposed_at for key, s in states.items()}
    added: dict[tuple[int, str], ExposureState] = {}
    for event in events:
        if event.event_type in SDK_EXPOSURE_EVENTS or event.event_type in custom_types:
            for seen in sightings(event, triggers):
                _apply_sighting(states, added, triggers[seen.flag_key], event, seen.variant, seen.exposure)
    moved = {key: s for key, s in states.items() if s.exposed_at != before.get(key, s.exposed_at)}
    changed = [s for key, s in states.items() if key not in added and (key in moved or s.changed)]
    opened = {**{k: s for k, s in added.items() if s.exposed_at is not None}, **moved}
    metrics = {s.trigger.flag_id: s.filtered_metrics for s in setups.values()}
    if opened:
        _backfill(store, project_id, opened, before, metrics, totals)
    store.save_exposures(project_id, added.values(), changed)
    by_user: dict[str, list[ExposureState]] = defaultdict(list)
    for state in states.values():
        if state.exposed_at is not None:
            by_user[state.user_key].append(state)
    for event in events:
        if event.event_type in SDK_EXPOSURE_EVENTS:
            continue
        for state in by_user.get(event.user_key, ()):
            if event.time >= state.exposed_at:  # type: ignore[operator]
                add_event(totals, state.flag_id, event, metrics.get(state.flag_id, ()))
    touched = set(added) | set(moved) | {k for k in states if states[k].changed} | {(f, u) for f, u, _ in totals}
    if touched:
        _update_variant_stats(store, states, prior, totals, touched)


def _update_variant_stats(store: EventStore, states: Mapping[tuple[int, str], ExposureState],
                          prior: Mapping[tuple[int, str], tuple[str, int | None, bool]],
                          deltas: Mapping[TotalsKey, Totals], touched: set[tuple[int, str]]) -> None:
    """Store the users' new totals and keep the per-variant sums in step: for each touched
    user, the old contribution out and the new one in (exposure, exclusion, every total)."""
    # A user whose exposure changed moves all of their totals between sums: read them first.
    moved = {pair for pair in touched if prior.get(pair, _NOT_SEEN) != _exposure(states[pair])}
    regrouped = {pair for pair in moved if pair in prior}
    old = store.totals_of({f for f, _ in regrouped}, {u for _, u in regrouped}) if regrouped else {}
    stored = store.add_totals(dict(deltas)) if deltas else {}
    stats: dict[StatsKey, list[float]] = defaultdict(lambda: [0.0] * 6)
    for (flag_id, user, key), new in stored.items():
        if (flag_id, user) in moved:
            continue
        state = states[(flag_id, user)]
        if state.exposed_at is None or state.excluded:
            continue
        # Exposure unchanged (the common case): only this total moves the sums. Counts are
        # at least 1, so a stored count equal to the delta's means the row is new.
        delta = deltas[(flag_id, user, key)]
        old_count = new.count - delta.count
        old_total = new.total - delta.total
        sums = stats[(flag_id, key, state.variant)]
        if old_count == 0:
            sums[0] += 1
        sums[2] += delta.count
        sums[3] += new.count * new.count - old_count * old_count
        sums[4] += delta.total
        sums[5] += new.total * new.total - old_total * old_total
    if moved:
        old_by_pair: dict[tuple[int, str], dict[str, Totals]] = defaultdict(dict)
        for (flag_id, user, key), value in old.items():
            old_by_pair[(flag_id, user)][key] = value
        new_by_pair = {pair: dict(old_by_pair.get(pair, {})) for pair in moved}
        for (flag_id, user, key), value in stored.items():
            if (flag_id, user) in moved:
                new_by_pair[(flag_id, user)][key] = value
        for pair in moved:
            if pair in prior:
                _contribute(stats, pair[0], prior[pair], old_by_pair.get(pair, {}), -1)
            _contribute(stats, pair[0], _exposure(states[pair]), new_by_pair[pair], 1)
    store.add_variant_stats(stats)


_NOT_SEEN = ("", None, False)


def _exposure(state: ExposureState) -> tuple[str, int | None, bool]:
    return (state.variant, state.exposed_at, state.excluded)


def _contribute(stats: dict[StatsKey, list[float]], flag_id: int, state: tuple[str, int | None, bool],
                totals: Mapping[str, Totals], sign: int) -> None:
    """Add (sign 1) or take out (sign -1) one user's part of the per-variant sums."""
    variant, exposed_at, excluded = state
    if excluded:
        stats[(flag_id, "", variant)][1] += sign
        return
    if exposed_at is None:
        return
    stats[(flag_id, "", variant)][0] += sign
    stats[(flag_id, f"{HOUR_PREFIX}{exposed_at // HOUR_MS}", variant)][0] += sign
    for key, value in totals.items():
        _contribute_totals(stats, flag_id, variant, key, value, sign)


def _contribute_totals(stats: dict[StatsKey, list[float]], flag_id: int, variant: str, key: str,
                       value: Totals | None, sign: int) -> None:
    if value is None:
        return
    sums = stats[(flag_id, key, variant)]
    sums[0] += sign
    sums[2] += sign * value.count
    sums[3] += sign * value.count * value.count
    sums[4] += sign * value.total
    sums[5] += sign * value.total * value.total


def _apply_sighting(states: dict[tuple[int, str], ExposureState], added: dict[tuple[int, str], ExposureState],
                    trigger: ExperimentTrigger, event: Event, variant: str, exposure: bool) -> None:
    key = (trigger.flag_id, event.user_key)
    state = states.get(key)
    if state is None:
        if not variant:
            return  # a custom exposure event before anything said which variant the user has
        state = ExposureState(trigger.flag_id, event.user_key, variant, event.time if exposure else None)
        states[key] = added[key] = state
        return
    if variant and state.variant and variant != state.variant and not state.excluded:
        state.excluded = True
        state.changed = True
    if variant and not state.variant:
        state.variant = variant
        state.changed = True
    if exposure and state.variant and (state.exposed_at is None or event.time < state.exposed_at):
        state.exposed_at = event.time


def _backfill(store: EventStore, project_id: int, opened: Mapping[tuple[int, str], ExposureState],
              before: Mapping[tuple[int, str], int | None], metrics: Mapping[int, Sequence[Metric]],
              totals: dict[TotalsKey, Totals]) -> None:
    """Count stored events that fall in the window an exposure just opened."""
    windows: dict[str, list[tuple[int, int, int | None]]] = defaultdict(list)
    for key, state in opened.items():
        assert state.exposed_at is not None
        windows[state.user_key].append((state.flag_id, state.exposed_at, before.get(key)))
    since = min(start for spans in windows.values() for _, start, _ in spans)
    users = sorted(windows)
    for n in range(0, len(users), BACKFILL_PAGE):
        for event in store.events_of(project_id, users[n:n + BACKFILL_PAGE], since):
            if event.event_type in SDK_EXPOSURE_EVENTS:
                continue
            for flag_id, start, end in windows[event.user_key]:
                if event.time >= start and (end is None or event.time < end):
                    add_event(totals, flag_id, event, metrics.get(flag_id, ()))


def add_event(totals: dict[TotalsKey, Totals], flag_id: int, event: Event,
              filtered: Iterable[Metric]) -> None:
    """Add one event to a user's totals: its type, each numeric property, each filtered metric."""
    user, time = event.user_key, event.time
    _add(totals, (flag_id, user, event.event_type), time, 0.0)
    for name, value in event.event_properties.items():
        if type(value) is int or type(value) is float:  # not bool, which is an int too
            _add(totals, (flag_id, user, property_key(event.event_type, name)), time, float(value))
    for metric in filtered:
        if metric.event_type != event.event_type:
            continue
        if not matches(metric.filters, event.event_properties, event.user_properties):
            continue
        value = 0.0
        if metric.property is not None:
            raw = event.event_properties.get(metric.property)
            if not isinstance(raw, int | float) or isinstance(raw, bool):
                continue
            value = float(raw)
        _add(totals, (flag_id, user, filtered_key(metric.id)), time, value)


def _add(totals: dict[TotalsKey, Totals], key: TotalsKey, time: int, value: float) -> None:
    found = totals.get(key)
    if found is None:
        totals[key] = Totals(1, value, time)
        return
    found.count += 1
    found.total += value
    if time < found.first_at:
        found.first_at = time


def rebuild_metric(store: EventStore, project_id: int, flag_id: int, metric: Metric) -> None:
    """Totals of a filtered metric from the raw events, for a metric added after the fact."""
    store.drop_totals(flag_id, [metric.aggregate_key])
    after = ""
    while True:
        page = store.exposures_page(flag_id, after, BACKFILL_PAGE)
        if not page:
            break
        after = page[-1].user_key
        exposed = {s.user_key: s for s in page if s.exposed_at is not None}
        if not exposed:
            continue
        since = min(s.exposed_at for s in exposed.values())  # type: ignore[type-var]
        totals: dict[TotalsKey, Totals] = {}
        for event in store.events_of(project_id, list(exposed), since):  # type: ignore[arg-type]
            state = exposed[event.user_key]
            if event.event_type in SDK_EXPOSURE_EVENTS or event.time < state.exposed_at:  # type: ignore[operator]
                continue
            if metric.event_type == event.event_type:
                scratch: dict[TotalsKey, Totals] = {}
                add_event(scratch, flag_id, event, [metric])
                for key, value in scratch.items():
                    if key[2] == metric.aggregate_key:
                        _merge(totals, key, value)
        if totals:
            store.add_totals(totals)
    store.recompute_variant_stats(flag_id, metric.aggregate_key)


def _merge(totals: dict[TotalsKey, Totals], key: TotalsKey, value: Totals) -> None:
    found = totals.get(key)
    if found is None:
        totals[key] = value
    else:
        found.count += value.count
        found.total += value.total
        found.first_at = min(found.first_at, value.first_at)
