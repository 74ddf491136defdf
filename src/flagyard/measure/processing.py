"""What one accepted batch does to the stored data, inside the event writer's transaction.

1. Events whose (device, insert_id) is already stored, or repeated in the batch, are dropped.
2. Exposure and assignment events update each user's exposure row per experiment: the first
   variant seen sticks, a second variant excludes the user, and the exposure moment is the
   earliest exposure event's time.
3. A user who becomes exposed (or whose exposure moves earlier) gets the events already
   stored from that moment on added to their totals ("backfill"), so totals do not depend
   on whether the product events or the exposure arrived first.
4. The batch's raw events are stored, and each product event by an exposed user adds to
   that user's totals in every experiment whose exposure began at or before the event's time,
   or to the user's pre-exposure totals (CUPED's covariate) when it falls in the experiment's
   CUPED window before the exposure. An exposure that opens or moves recounts the window.
5. What all this changes in the per-variant sums is added to them, and to their history at
   the hour the batch arrived (sums.py).

"After exposure" is therefore judged on the client timestamps (`time`), not on arrival order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from flagyard.measure.model.event_filters import matches
from flagyard.measure.model.events import Event, json_text
from flagyard.measure.model.exposures import SDK_EXPOSURE_EVENTS, ExperimentTrigger, sightings
from flagyard.measure.model.metrics import Metric, filtered_key, property_key
from flagyard.measure.model.sums import (
    ALL_EXPOSED,
    COUNT_SQUARES,
    COUNT_SUM,
    CROSS_COUNT,
    CROSS_TOTAL,
    CROSS_USERS,
    EXCLUDED,
    PRE_COUNT_SQUARES,
    PRE_COUNT_SUM,
    PRE_TOTAL_SQUARES,
    PRE_TOTAL_SUM,
    PRE_USERS,
    TOTAL_SQUARES,
    TOTAL_SUM,
    USERS,
    Sums,
    add_user,
    hour_key,
    hour_of,
    no_sums,
)
from flagyard.measure.ports import (
    EventStore,
    ExperimentSetup,
    ExposureState,
    MergeableJob,
    Scope,
    StoredTotals,
    SumsKey,
    Totals,
)

BACKFILL_PAGE = 2000


@dataclass(frozen=True)
class Batch:
    project_id: int
    events: Sequence[Event]
    received_at: int
    # Each event as stored (JSON text), when the request's thread already wrote them: the
    # event writer's thread is ingestion's bottleneck, so work that needs no lock is done before.
    bodies: Sequence[str] | None = None

    def scope(self) -> Scope:
        """What storing the batch touches: its users (their exposures, totals and events), and
        the keys its duplicates are found under: an event's device, which its dedup key
        contains, or without a device the dedup key itself. Two copies of one event therefore
        share a key, and are never checked by two transactions at once."""
        keys = {e.user_key for e in self.events}
        keys.update(e.device_id or e.dedup_key for e in self.events if e.dedup_key)
        return Scope(self.project_id, frozenset(keys))


@dataclass(frozen=True)
class StoreBatches:
    """The event writer's job for accepted batches (a `MergeableJob`): the batches of requests
    queued together are stored by one call, so a group's statements carry all of its events."""

    batches: tuple[Batch, ...]

    def __call__(self, store: EventStore) -> None:
        store_batches(store, self.batches)

    def merged(self, others: Sequence[MergeableJob]) -> StoreBatches:
        return StoreBatches(self.batches + tuple(b for o in others for b in cast(StoreBatches, o).batches))


def store_batches(store: EventStore, batches: Sequence[Batch]) -> None:
    """Apply several requests' batches in one transaction (the event writer's group commit)."""
    by_project: dict[int, list[Batch]] = defaultdict(list)
    for batch in batches:
        by_project[batch.project_id].append(batch)
    for project_id in sorted(by_project):
        _store_project(store, project_id, by_project[project_id])


def _store_project(store: EventStore, project_id: int, batches: list[Batch]) -> None:
    fresh = _unseen(store, project_id, [e for b in batches for e in b.events])
    if not fresh:
        return
    setups = {s.trigger.flag_key: s for s in store.experiments(project_id)}
    tracking = _Tracking.read(store, project_id, fresh, setups) if setups else None
    rows = [(e, body, batch.received_at) for batch in batches for e, body in zip(batch.events, _bodies(batch), strict=True)
            if id(e) in fresh]
    # The batch is counted while the database stores its raw events (the counting needs no store).
    stats = store.add_events(project_id, rows, meanwhile=tracking.count if tracking else dict)
    if tracking is not None:
        # The sums' history is kept by processing time: the batches stored together count
        # in the hour the last of them arrived.
        tracking.write(store, stats, hour_of(max(b.received_at for b in batches)))


def _bodies(batch: Batch) -> Sequence[str]:
    return batch.bodies if batch.bodies is not None else [json_text(e.raw) for e in batch.events]


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


Exposure = tuple[str, int | None, bool]  # (variant, exposed_at, excluded) of one user in one experiment
Pair = tuple[int, str]  # (flag id, user key)
Deltas = dict[Pair, dict[str, Totals]]  # what a batch adds to each user's totals, by aggregate key
PRE_COUNT, PRE_TOTAL = 3, 4  # a user's pre-exposure count and total in their StoredTotals


@dataclass
class _Tracking:
    """What a batch's fresh events do to exposures and totals: read from the store, counted
    (pure, while the raw events are stored), then written."""

    project_id: int
    events: list[Event]  # by time
    metrics: Mapping[int, Sequence[Metric]]  # each experiment's metrics with filters
    states: dict[Pair, ExposureState]  # the exposure of every user of the batch, as it ends up
    added: dict[Pair, ExposureState]  # first stored by this batch
    prior: dict[Pair, Exposure]  # the stored exposure of each user whose exposure changes here
    deltas: Deltas  # the backfill's additions to the totals of users whose exposure opened here
    windows: Mapping[int, int]  # each experiment's CUPED window (ms)
    opened: set[Pair]  # users whose exposure opened or moved here: their window is recounted
    pre: Deltas  # the recounted windows' totals
    touched: set[Pair] = field(default_factory=set)  # users whose totals the batch's events add to

    @classmethod
    def read(cls, store: EventStore, project_id: int, fresh: dict[int, Event],
             setups: Mapping[str, ExperimentSetup]) -> _Tracking:
        events = sorted(fresh.values(), key=lambda e: e.time)
        triggers = {key: s.trigger for key, s in setups.items()}
        custom_types = {t.exposure_event.get("event_type") for t in triggers.values() if t.exposure_event}
        states = {(s.flag_id, s.user_key): s for s in store.exposures_of(project_id, {e.user_key for e in events})}
        prior: dict[Pair, Exposure] = {}
        added: dict[Pair, ExposureState] = {}
        for event in events:
            if event.event_type in SDK_EXPOSURE_EVENTS or event.event_type in custom_types:
                for seen in sightings(event, triggers):
                    _apply_sighting(states, added, prior, triggers[seen.flag_key], event, seen.variant, seen.exposure)
        moved = {pair: states[pair] for pair, old in prior.items() if states[pair].exposed_at != old[1]}
        opened = {**{pair: s for pair, s in added.items() if s.exposed_at is not None}, **moved}
        metrics = {s.trigger.flag_id: s.filtered_metrics for s in setups.values()}
        windows = {s.trigger.flag_id: s.cuped_window_ms for s in setups.values()}
        deltas: Deltas = {}
        pre: Deltas = {}
        if opened:
            _backfill(store, project_id, opened, {pair: old[1] for pair, old in prior.items()}, metrics,
                      windows, deltas, pre)
        return cls(project_id, events, metrics, states, added, prior, deltas, windows, set(opened), pre)

    def count(self) -> dict[SumsKey, Sums]:
        """Add the backfill and the batch's product events to the users' totals; what that
        changes in the per-variant sums.

        A user whose exposure changed here (new, moved, excluded) moves all of their totals
        between sums: their old part out before anything is added, their new part in after.
        For every other user each added event moves the sums of its keys."""
        states, prior, added = self.states, self.prior, self.added
        stats: dict[SumsKey, Sums] = defaultdict(no_sums)
        for pair, old in prior.items():
            _contribute(stats, pair[0], old, states[pair].totals, -1)
        for pair, changes in self.deltas.items():  # only users whose exposure opened here
            totals = states[pair].totals
            for key, delta in changes.items():
                stored = totals.get(key)
                if stored is None:
                    totals[key] = [delta.count, delta.total, delta.first_at]
                else:
                    stored[2] = delta.first_at if not stored[0] else min(stored[2], delta.first_at)
                    stored[0] += delta.count
                    stored[1] += delta.total
        for pair in self.opened:  # their part is out of the sums: the window can be redone
            _recount_window(states[pair].totals, self.pre.get(pair, {}))
        by_user: dict[str, list[ExposureState]] = defaultdict(list)
        for state in states.values():
            if state.exposed_at is not None:
                by_user[state.user_key].append(state)
        touched = self.touched
        for event in self.events:
            if event.event_type in SDK_EXPOSURE_EVENTS:
                continue
            exposed = by_user.get(event.user_key)
            if not exposed:
                continue
            time = event.time
            values = None
            for state in exposed:
                before = time < state.exposed_at  # type: ignore[operator]
                if before and time < state.exposed_at - self.windows.get(state.flag_id, 0):  # type: ignore[operator]
                    continue
                if values is None:
                    values = _values(event)
                pair = (state.flag_id, state.user_key)
                touched.add(pair)
                counted = not state.excluded and pair not in prior and pair not in added
                filtered = self.metrics.get(state.flag_id)
                (_count_before if before else _count)(
                    stats if counted else None, state,
                    values + _filtered_values(event, filtered) if filtered else values, time)
        for pair in prior.keys() | added.keys():
            state = states[pair]
            _contribute(stats, pair[0], (state.variant, state.exposed_at, state.excluded), state.totals, 1)
        return stats

    def write(self, store: EventStore, stats: dict[SumsKey, Sums], hour: int) -> None:
        changed = self.prior.keys() | self.deltas.keys() | self.touched
        store.save_exposures(self.project_id, self.added.values(),
                             [self.states[pair] for pair in changed if pair not in self.added])
        # The sums last: their rows are shared by every user, so a writer in another process
        # that adds to the same rows waits from here to this transaction's commit only.
        store.add_variant_stats(stats, hour)


def _count(stats: dict[SumsKey, Sums] | None, state: ExposureState,
           values: Iterable[tuple[str, float]], time: int) -> None:
    """Add one event's values to a user's totals and, when the user counts (`stats` given), the
    change to the per-variant sums."""
    totals = state.totals
    for key, value in values:
        stored = totals.get(key)
        if stored is None:
            stored = totals[key] = [1, value, time]
            old_count, old_total = 0.0, 0.0
        else:
            old_count, old_total = stored[0], stored[1]
            stored[0] = old_count + 1
            stored[1] = old_total + value
            if time < stored[2] or not old_count:
                stored[2] = time
        if stats is not None:
            sums = stats[(state.flag_id, key, state.variant)]
            if old_count == 0:
                sums[USERS] += 1
            sums[COUNT_SUM] += 1
            sums[COUNT_SQUARES] += 2 * old_count + 1  # (n + 1)² - n²
            sums[TOTAL_SUM] += value
            new_total = old_total + value
            sums[TOTAL_SQUARES] += new_total * new_total - old_total * old_total
            if len(stored) > PRE_COUNT and stored[PRE_COUNT]:  # the cross products move too
                if old_count == 0:
                    sums[CROSS_USERS] += 1
                sums[CROSS_COUNT] += stored[PRE_COUNT]
                sums[CROSS_TOTAL] += value * stored[PRE_TOTAL]


def _count_before(stats: dict[SumsKey, Sums] | None, state: ExposureState,
                  values: Iterable[tuple[str, float]], time: int) -> None:
    """`_count` for an event in the CUPED window before the user's exposure: it adds to the
    user's pre-exposure totals, and the change to the covariate's sums and cross products."""
    totals = state.totals
    for key, value in values:
        stored = totals.get(key)
        if stored is None:
            stored = totals[key] = [0, 0.0, 0, 0, 0.0]
        elif len(stored) <= PRE_COUNT:
            stored.extend((0, 0.0))
        old_count, old_total = stored[PRE_COUNT], stored[PRE_TOTAL]
        stored[PRE_COUNT] = old_count + 1
        stored[PRE_TOTAL] = old_total + value
        if stats is not None:
            sums = stats[(state.flag_id, key, state.variant)]
            if old_count == 0:
                sums[PRE_USERS] += 1
                if stored[0]:
                    sums[CROSS_USERS] += 1
            sums[PRE_COUNT_SUM] += 1
            sums[PRE_COUNT_SQUARES] += 2 * old_count + 1
            sums[PRE_TOTAL_SUM] += value
            new_total = old_total + value
            sums[PRE_TOTAL_SQUARES] += new_total * new_total - old_total * old_total
            sums[CROSS_COUNT] += stored[0]
            sums[CROSS_TOTAL] += stored[1] * value


def _recount_window(totals: dict[str, StoredTotals], window: Mapping[str, Totals]) -> None:
    """Replace a user's pre-exposure totals by `window`'s (a user not counted in the sums)."""
    for key in list(totals):
        stored = totals[key]
        if len(stored) > PRE_COUNT:
            if stored[0]:
                del stored[PRE_COUNT:]
            else:
                del totals[key]  # it held pre-exposure events only
    for key, found in window.items():
        stored = totals.setdefault(key, [0, 0.0, 0])
        stored.extend((found.count, found.total))


def _contribute(stats: dict[SumsKey, Sums], flag_id: int, exposure: Exposure,
                totals: Mapping[str, StoredTotals], sign: int) -> None:
    """Add (sign 1) or take out (sign -1) one user's part of the per-variant sums."""
    variant, exposed_at, excluded = exposure
    if excluded:
        stats[(flag_id, ALL_EXPOSED, variant)][EXCLUDED] += sign
        return
    if exposed_at is None:
        return
    stats[(flag_id, ALL_EXPOSED, variant)][USERS] += sign
    stats[(flag_id, hour_key(exposed_at), variant)][USERS] += sign
    for key, value in totals.items():
        add_user(stats[(flag_id, key, variant)], value, sign)


def _apply_sighting(states: dict[Pair, ExposureState], added: dict[Pair, ExposureState],
                    prior: dict[Pair, Exposure], trigger: ExperimentTrigger, event: Event, variant: str,
                    exposure: bool) -> None:
    pair = (trigger.flag_id, event.user_key)
    state = states.get(pair)
    if state is None:
        if not variant:
            return  # a custom exposure event before anything said which variant the user has
        state = ExposureState(trigger.flag_id, event.user_key, variant, event.time if exposure else None)
        states[pair] = added[pair] = state
        return
    excludes = bool(variant and state.variant and variant != state.variant and not state.excluded)
    names = bool(variant and not state.variant)
    opens = exposure and bool(state.variant or names) and (state.exposed_at is None or event.time < state.exposed_at)
    if not (excludes or names or opens):
        return
    if pair not in prior and pair not in added:
        prior[pair] = (state.variant, state.exposed_at, state.excluded)
    if excludes:
        state.excluded = True
    if names:
        state.variant = variant
    if opens:
        state.exposed_at = event.time


def _backfill(store: EventStore, project_id: int, opened: Mapping[Pair, ExposureState],
              before: Mapping[Pair, int | None], metrics: Mapping[int, Sequence[Metric]],
              cuped_windows: Mapping[int, int], deltas: Deltas, pre: Deltas) -> None:
    """Count stored events that fall in the span an exposure just opened (into `deltas`), and
    recount the CUPED window before it (into `pre`)."""
    spans: dict[str, list[tuple[int, int, int | None, int]]] = defaultdict(list)
    for key, state in opened.items():
        assert state.exposed_at is not None
        window_start = state.exposed_at - cuped_windows.get(state.flag_id, 0)
        spans[state.user_key].append((state.flag_id, state.exposed_at, before.get(key), window_start))
    since = min(window_start for user_spans in spans.values() for *_, window_start in user_spans)
    users = sorted(spans)
    for n in range(0, len(users), BACKFILL_PAGE):
        for event in store.events_of(project_id, users[n:n + BACKFILL_PAGE], since):
            if event.event_type in SDK_EXPOSURE_EVENTS:
                continue
            time = event.time
            for flag_id, start, end, window_start in spans[event.user_key]:
                if time >= start:
                    if end is None or time < end:
                        add_event(deltas.setdefault((flag_id, event.user_key), {}), event, metrics.get(flag_id, ()))
                elif time >= window_start:
                    add_event(pre.setdefault((flag_id, event.user_key), {}), event, metrics.get(flag_id, ()))


def add_event(totals: dict[str, Totals], event: Event, filtered: Iterable[Metric]) -> None:
    """Add one event to a user's totals: its type, each numeric property, each filtered metric."""
    for key, value in _values(event) + _filtered_values(event, filtered):
        _add(totals, key, event.time, value)


def _values(event: Event) -> list[tuple[str, float]]:
    """The aggregate keys one event adds to, and the value it adds: its type (0), each numeric
    property (the property's value)."""
    event_type = event.event_type
    values = [(event_type, 0.0)]
    for name, value in event.event_properties.items():
        if type(value) is int or type(value) is float:  # not bool, which is an int too
            values.append((property_key(event_type, name), float(value)))
    return values


def _filtered_values(event: Event, filtered: Iterable[Metric]) -> list[tuple[str, float]]:
    """The keys of the metrics with filters the event matches, and the value each adds."""
    values = []
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
        values.append((filtered_key(metric.id), value))
    return values


def _add(totals: dict[str, Totals], key: str, time: int, value: float) -> None:
    found = totals.get(key)
    if found is None:
        totals[key] = Totals(1, value, time)
        return
    found.count += 1
    found.total += value
    if time < found.first_at:
        found.first_at = time


def rebuild_metric(store: EventStore, project_id: int, flag_id: int, metric: Metric,
                   now_ms: int, window_ms: int) -> None:
    """Totals of a filtered metric from the raw events, for a metric added after the fact, with
    its CUPED window of `window_ms`. Its sums' history starts at `now_ms`, all at once: the
    metric did not exist before."""
    key = metric.aggregate_key
    sums: dict[SumsKey, Sums] = defaultdict(no_sums)
    for page, exposed in _exposure_pages(store, flag_id):
        had = {s.user_key for s in page if s.totals.pop(key, None) is not None}
        after: dict[str, dict[str, Totals]] = defaultdict(dict)
        before: dict[str, dict[str, Totals]] = defaultdict(dict)
        for event, state in _events_in_windows(store, project_id, exposed, window_ms):
            if metric.event_type == event.event_type:
                add_event((after if event.time >= state.exposed_at else before)[event.user_key],  # type: ignore[operator]
                          event, [metric])
        for user in after.keys() | before.keys():
            state = exposed[user]
            found = after[user].get(key)
            stored = state.totals[key] = [found.count, found.total, found.first_at] if found else [0, 0.0, 0]
            _recount_window({key: stored}, before[user])
            if not stored[0] and len(stored) <= PRE_COUNT:
                del state.totals[key]  # no event either side of the exposure
            elif not state.excluded:
                add_user(sums[(flag_id, key, state.variant)], stored)
        store.save_exposures(project_id, [], [s for s in page if s.user_key in had or key in s.totals])
    store.replace_variant_stats(flag_id, key, sums, hour_of(now_ms))


def rebuild_windows(store: EventStore, project_id: int, flag_id: int, window_ms: int,
                    filtered: Sequence[Metric], now_ms: int) -> None:
    """Recount every exposed user's CUPED window (`window_ms` before their exposure) from the
    raw events, when the window changes. The change to the sums is added at `now_ms`'s hour: the
    metrics' own history is untouched, the covariate's jumps there."""
    deltas: dict[SumsKey, Sums] = defaultdict(no_sums)
    for _, exposed in _exposure_pages(store, flag_id):
        windows: dict[str, dict[str, Totals]] = defaultdict(dict)
        for event, state in _events_in_windows(store, project_id, exposed, window_ms):
            if event.time < state.exposed_at:  # type: ignore[operator]
                add_event(windows[event.user_key], event, filtered)
        for user, state in exposed.items():
            exposure = (state.variant, state.exposed_at, state.excluded)
            _contribute(deltas, flag_id, exposure, state.totals, -1)
            _recount_window(state.totals, windows.get(user, {}))
            _contribute(deltas, flag_id, exposure, state.totals, 1)
        store.save_exposures(project_id, [], list(exposed.values()))
    store.add_variant_stats(deltas, hour_of(now_ms))


def _exposure_pages(store: EventStore, flag_id: int) -> Iterator[tuple[list[ExposureState], dict[str, ExposureState]]]:
    """The experiment's exposure rows a page at a time, with the exposed ones by user."""
    after = ""
    while page := store.exposures_page(flag_id, after, BACKFILL_PAGE):
        after = page[-1].user_key
        yield page, {s.user_key: s for s in page if s.exposed_at is not None}


def _events_in_windows(store: EventStore, project_id: int, exposed: Mapping[str, ExposureState],
                       window_ms: int) -> Iterator[tuple[Event, ExposureState]]:
    """The stored product events of exposed users from `window_ms` before their exposure on."""
    if not exposed:
        return
    since = min(s.exposed_at for s in exposed.values()) - window_ms  # type: ignore[type-var,operator]
    for event in store.events_of(project_id, list(exposed), since):
        state = exposed[event.user_key]
        if event.event_type not in SDK_EXPOSURE_EVENTS and event.time >= state.exposed_at - window_ms:  # type: ignore[operator]
            yield event, state
