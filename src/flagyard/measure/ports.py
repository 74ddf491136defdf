"""Ports for event data: the store of raw events, exposures and per-user totals, and the
writer that runs every change to them (and commits many requests at once), each job declaring
what of a project it touches so that jobs of different users may run at once."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

import numpy as np

from flagyard.measure.model.events import Event
from flagyard.measure.model.exposures import ExperimentTrigger
from flagyard.measure.model.metrics import Metric
from flagyard.measure.model.sums import RESULT_SUMS, Sums, SumsKey

T = TypeVar("T")


# [count, property total, first time (ms), pre-exposure count, pre-exposure total] of one
# aggregate key; the last two only for users with events in the CUPED window (sums.py).
StoredTotals = list[float]


@dataclass(slots=True)
class ExposureState:
    """One user in one experiment: the variant first seen, when exposure began (ms; None
    until an exposure counts), whether a second variant was seen (then excluded), and the
    user's totals since exposure by aggregate key."""

    flag_id: int
    user_key: str
    variant: str
    exposed_at: int | None
    excluded: bool = False
    totals: dict[str, StoredTotals] = field(default_factory=dict)


@dataclass(slots=True)
class Totals:
    """What a batch adds to a user's events of one kind: how many, the property's sum, the first."""

    count: int = 0
    total: float = 0.0
    first_at: int = 0



@dataclass(frozen=True)
class AnalysisChange:
    """One change to an experiment's metrics or analysis settings, as recorded."""

    flag_id: int
    changed_at: int  # ms
    actor: str
    subject: str  # "metrics" or "analysis"
    before: Any
    after: Any
    id: int = 0
    client: str | None = None  # the caller's address, for the audit log


@dataclass(frozen=True)
class ExperimentSetup:
    """What ingestion needs to know of one experiment."""

    trigger: ExperimentTrigger
    filtered_metrics: tuple[Metric, ...]
    cuped_window_ms: int  # how long before a user's exposure their events are CUPED's covariate


@dataclass(frozen=True)
class VariantTotals:
    """Sums over the exposed (not excluded) users of one variant, for one aggregate key."""

    variant: str
    users: int
    converters: int = 0  # users with at least one event
    count_sum: float = 0.0
    count_squares: float = 0.0
    total_sum: float = 0.0
    total_squares: float = 0.0
    # CUPED's: the same over each user's events in the window before exposure, and cross products
    pre_users: int = 0
    pre_count_sum: float = 0.0
    pre_count_squares: float = 0.0
    pre_total_sum: float = 0.0
    pre_total_squares: float = 0.0
    cross_users: int = 0
    cross_count: float = 0.0
    cross_total: float = 0.0


@dataclass(frozen=True)
class Scope:
    """What of one project's event data a writer job reads and changes.

    `keys`: the user keys whose exposures, totals and raw events it reads or writes, and the
    keys it checks duplicates under (an event's device, or its dedup key when it has no device);
    jobs whose keys differ may run at once. None: the whole project (every user of its
    experiments, their metric definitions and settings); such a job runs alone in the project."""

    project_id: int
    keys: frozenset[str] | None = None


class EventStore(Protocol):
    """Used only inside the event writer's transaction."""

    def experiments(self, project_id: int) -> list[ExperimentSetup]: ...
    def known_dedup_keys(self, project_id: int, keys: Collection[str]) -> set[str]: ...
    def add_events(self, project_id: int, events: Sequence[tuple[Event, str, int]],
                   meanwhile: Callable[[], T]) -> T:
        """Store events, each with its JSON text and arrival time (ms); run `meanwhile` (work
        that makes no store call) while the database takes them, and return its result."""
        ...
    def exposures_of(self, project_id: int, user_keys: Collection[str]) -> list[ExposureState]: ...
    def exposures_page(self, flag_id: int, after_user: str, limit: int) -> list[ExposureState]: ...
    def save_exposures(self, project_id: int, added: Iterable[ExposureState],
                       changed: Iterable[ExposureState]) -> None: ...
    def events_of(self, project_id: int, user_keys: Collection[str], since: int) -> list[Event]: ...
    def metrics(self, flag_id: int) -> list[Metric]: ...
    def replace_metrics(self, flag_id: int, metrics: Sequence[Metric]) -> list[Metric]: ...
    def drop_totals(self, flag_id: int, aggregate_keys: Collection[str]) -> None:
        """Remove metrics' own keys (`#<metric id>`) from every user's totals, the sums and
        their history."""
        ...
    def add_variant_stats(self, deltas: dict[SumsKey, Sums], hour: int) -> None:
        """Add changes to the sums, and to their history at `hour` (hours since the epoch)."""
        ...
    def replace_variant_stats(self, flag_id: int, aggregate_key: str,
                              sums: dict[SumsKey, Sums], hour: int) -> None:
        """Set one key's sums; its history becomes that one change at `hour` (the key is new:
        its past is what it is now)."""
        ...
    def analysis(self, flag_id: int) -> dict[str, Any] | None: ...
    def save_analysis(self, flag_id: int, settings: dict[str, Any]) -> None: ...
    def record_change(self, change: AnalysisChange) -> None: ...
    def claim_reallocation(self, flag_id: int, interval: int) -> bool:
        """True for the first caller to claim this bandit's reallocation interval (or a later
        one than any claimed before); False for everyone else."""
        ...


@runtime_checkable
class MergeableJob(Protocol):
    """A job that returns nothing and whose instances (of one class) queued one after another the
    writer may replace by one, `first.merged(rest)`: fewer, larger statements in a transaction."""

    def __call__(self, store: EventStore) -> None: ...
    def merged(self, others: Sequence[MergeableJob]) -> MergeableJob: ...


class EventWriter(Protocol):
    """Runs jobs against an `EventStore`, one transaction per group of jobs, in order.

    `scopes` say what the job touches; the writer keeps jobs of overlapping scopes (in any
    process) from running at once. The future completes once the job's transaction is
    committed (durably)."""

    def submit(self, job: Callable[[EventStore], T], scopes: Sequence[Scope] = ()) -> Future[T]: ...


@dataclass(frozen=True)
class SumsHistory:
    """Per-variant sums as they stood at each look: the end of every hour (since the epoch) in
    which any of the keys read changed; or one look, now, when read without history."""

    hours: list[int]
    # (aggregate key, variant) → an array of len(hours) rows × the RESULT_SUMS (sums.py), each
    # row cumulative; under key "" the first column is every exposed user
    cumulative: dict[tuple[str, str], np.ndarray]

    def at(self, key: str, variant: str) -> np.ndarray:
        found = self.cumulative.get((key, variant))
        return found if found is not None else np.zeros((len(self.hours), len(RESULT_SUMS)))

    def variants(self) -> set[str]:
        return {variant for key, variant in self.cumulative if key == ""}


class ResultsReader(Protocol):
    def metrics(self, flag_id: int) -> list[Metric]: ...
    def analysis(self, flag_id: int) -> dict[str, Any] | None: ...
    def analysis_changes(self, flag_id: int, limit: int) -> list[AnalysisChange]: ...
    def experiments_with_metrics(self) -> list[int]: ...
    def analysed_experiments(self) -> list[tuple[int, dict[str, Any]]]:
        """(flag id, stored settings) of every experiment whose analysis was ever set."""
        ...
    def variant_totals(self, flag_id: int, aggregate_key: str) -> list[VariantTotals]: ...
    def sums_history(self, flag_id: int, aggregate_keys: Sequence[str], *, history: bool) -> SumsHistory:
        """The keys' sums (and the exposed users under "") at every hourly look, or, without
        `history`, only as they stand now (a few rows)."""
        ...
    def excluded_users(self, flag_id: int) -> int: ...
    def exposure_series(self, flag_id: int, bucket_ms: int) -> list[tuple[int, str, int]]: ...


ResultsReaderFactory = Callable[[], "ResultsReaderSession"]


class ResultsReaderSession(Protocol):
    def __enter__(self) -> ResultsReader: ...
    def __exit__(self, *exc: object) -> None: ...
