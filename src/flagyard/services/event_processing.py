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
    StoredTotals,
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
    deltas: dict[TotalsKey, Totals] = {}
    events = sorted(fresh.values(), key=lambda e: e.time)
    triggers = {key: s.trigger for key, s in setups.items()}
    custom_types = {t.exposure_event.get("event_type") for t in triggers.values() if t.exposure_event}
    users = {e.user_key for e in events}
    states = {(s.flag_id, s.user_key): s for s in store.exposures_of(project_id, users)}
    prior = {key: _exposure(s) for key, s in states.items()}
    added: dict[tuple[int, str], ExposureState] = {}
    for event in events:
        if event.event_type in SDK_EXPOSURE_EVENTS or event.event_type in custom_types:
            for seen in sightings(event, triggers):
                _apply_sighting(states, added, triggers[seen.flag_key], event, seen.variant, seen.exposure)
    moved = {key: s for key, s in states.items() if key in prior and s.exposed_at != prior[key][1]}
    opened = {**{k: s for k, s in added.items() if s.exposed_at is not None}, **moved}
    metrics = {s.trigger.flag_id: s.filtered_metrics for s in setups.values()}
    if opened:
        _backfill(store, project_id, opened, {k: v[1] for k, v in prior.items()}, metrics, deltas)
    by_user: dict[str, list[ExposureState]] = defaultdict(list)
    for state in states.values():
        if state.exposed_at is not None:
            by_user[state.user_key].append(state)
    for event in events:
        if event.event_type in SDK_EXPOSURE_EVENTS:
            continue
        for state in by_user.get(event.user_key, ()):
            if event.time >= state.exposed_at:  # type: ignore[operator]
                add_event(deltas, state.flag_id, event, metrics.get(state.flag_id, ()))
    store.add_variant_stats(_apply_totals(states, prior, deltas))
    grown = {(flag_id, user) for flag_id, user, _ in deltas}
    store.save_exposures(project_id, added.values(), [
        s for key, s in states.items()
        if key not in added and (s.changed or key in grown or s.exposed_at != prior[key][1])])


def _apply_totals(states: Mapping[tuple[int, str], ExposureState],
                  prior: Mapping[tuple[int, str], tuple[str, int | None, bool]],
                  deltas: Mapping[TotalsKey, Totals]) -> dict[StatsKey, list[float]]:
    """Add the batch's deltas to the users' totals; what that changes in the per-variant sums.

    A user whose exposure changed (new, moved, excluded) moves all of their totals between
    sums: their old part out, before the deltas, and their new part in, after. Otherwise only
    the keys the batch touched move the sums."""
    stats: dict[StatsKey, list[float]] = defaultdict(lambda: [0.0] * 6)
    regrouped = {pair for pair, state in states.items() if prior.get(pair, _NOT_SEEN) != _exposure(state)}
    for pair in regrouped:
        if pair in prior:
            _contribute(stats, pair[0], prior[pair], states[pair].totals, -1)
    for (flag_id, user, key), delta in deltas.items():
        state = states[(flag_id, user)]
        stored = state.totals.get(key)
        if stored is None:
            old_count, old_total = 0.0, 0.0
            stored = state.totals[key] = [delta.count, delta.total, delta.first_at]
        else:
            old_count, old_total = stored[0], stored[1]
            stored[0] += delta.count
            stored[1] += delta.total
            stored[2] = min(stored[2], delta.first_at)
        if (flag_id, user) in regrouped or state.exposed_at is None or state.excluded:
            continue
        sums = stats[(flag_id, key, state.variant)]
        if old_count == 0:
            sums[0] += 1
        sums[2] += delta.count
        sums[3] += stored[0] * stored[0] - old_count * old_count
        sums[4] += delta.total
        sums[5] += stored[1] * stored[1] - old_total * old_total
    for pair in regrouped:
        _contribute(stats, pair[0], _exposure(states[pair]), states[pair].totals, 1)
    return stats


_NOT_SEEN = ("", None, False)


def _exposure(state: ExposureState) -> tuple[str, int | None, bool]:
    return (state.variant, state.exposed_at, state.excluded)


def _contribute(stats: dict[StatsKey, list[float]], flag_id: int, state: tuple[str, int | None, bool],
                totals: Mapping[str, StoredTotals], sign: int) -> None:
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
                       value: StoredTotals, sign: int) -> None:
    count, total = value[0], value[1]
    sums = stats[(flag_id, key, variant)]
    sums[0] += sign
    sums[2] += sign * count
    sums[3] += sign * count * count
    sums[4] += sign * total
    sums[5] += sign * total * total


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
    key = metric.aggregate_key
    sums: dict[StatsKey, list[float]] = defaultdict(lambda: [0.0] * 6)
    after = ""
    while True:
        page = store.exposures_page(flag_id, after, BACKFILL_PAGE)
        if not page:
            break
        after = page[-1].user_key
        had = {s.user_key for s in page if s.totals.pop(key, None) is not None}
        exposed = {s.user_key: s for s in page if s.exposed_at is not None}
        if exposed:
            since = min(s.exposed_at for s in exposed.values())  # type: ignore[type-var]
            deltas: dict[TotalsKey, Totals] = {}
            for event in store.events_of(project_id, list(exposed), since):  # type: ignore[arg-type]
                state = exposed[event.user_key]
                if event.event_type in SDK_EXPOSURE_EVENTS or event.time < state.exposed_at:  # type: ignore[operator]
                    continue
                if metric.event_type == event.event_type:
                    add_event(deltas, flag_id, event, [metric])
            for (_, user, delta_key), value in deltas.items():
                if delta_key == key:
                    state = exposed[user]
                    state.totals[key] = [value.count, value.total, value.first_at]
                    if not state.excluded:
                        _contribute_totals(sums, flag_id, state.variant, key, state.totals[key], 1)
        store.save_exposures(project_id, [], [s for s in page if s.user_key in had or key in s.totals])
    store.replace_variant_stats(flag_id, key, sums)
