"""Multi-armed bandits: which experiments are due a new traffic split, and what it is.

An experiment with `allocation: bandit` is reallocated once per `reallocation` interval (an hour
or a day, aligned to the epoch, UTC) while it runs, once every arm has its minimum exposures:
Thompson sampling on the primary metric (bandit.py) gives the new rolloutWeights. Every process
asks; the first to claim the interval in the database (in the event writer's transaction, so
one claim per experiment and interval however many processes ask) gets the reallocation to
write. Holdouts and mutual exclusion decide who reaches the experiment before the weights split
those who do, so they hold as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from flagyard.clock import Clock, utc_now
from flagyard.manage.ports import UnitOfWorkFactory
from flagyard.measure.bandit import chance_to_be_best, next_weights, ready
from flagyard.measure.model.analysis import REALLOCATIONS, analysis_from_stored
from flagyard.measure.model.metrics import Role
from flagyard.measure.ports import EventStore, EventWriter, ResultsReaderFactory, Scope
from flagyard.measure.samples import metric_sample


@dataclass(frozen=True)
class Reallocation:
    flag_id: int
    weights: dict[str, int]
    chances: dict[str, float]  # each arm's chance to be best, which the weights follow
    interval: int  # which interval (since the epoch) this is the reallocation of


class BanditAllocator:
    def __init__(self, uow_factory: UnitOfWorkFactory, readers: ResultsReaderFactory,
                 writer: EventWriter, clock: Clock = utc_now) -> None:
        self._uow = uow_factory
        self._readers = readers
        self._writer = writer
        self._clock = clock

    def due(self) -> list[Reallocation]:
        """The reallocations this process has claimed and must now write."""
        now_ms = int(self._clock().timestamp() * 1000)
        with self._readers() as reader:
            bandits = [(flag_id, analysis_from_stored(stored)) for flag_id, stored in reader.analysed_experiments()]
        claimed = []
        for flag_id, settings in bandits:
            if settings.allocation != "bandit":
                continue
            with self._uow() as uow:
                flag = uow.flags.get(flag_id)
            if flag is None or flag.state != "running":
                continue
            with self._readers() as reader:
                primary = next((m for m in reader.metrics(flag_id) if m.role is Role.PRIMARY), None)
                if primary is None:
                    continue
                totals = {t.variant: t for t in reader.variant_totals(flag_id, primary.aggregate_key)}
            arms = {key: metric_sample(totals.get(key), primary.kind) for key in flag.variant_keys}
            if len(arms) < 2 or ready(arms) is not None:
                continue
            interval = now_ms // REALLOCATIONS[settings.reallocation]
            chances = chance_to_be_best(arms, primary.kind, primary.direction, seed=flag_id * 1_000_003 + interval)
            claim = partial(_claim, flag_id=flag_id, interval=interval)
            # The claim is one row of its own: it touches no user's data, so ingestion goes on.
            if self._writer.submit(claim, (Scope(flag.project_id, frozenset()),)).result():
                claimed.append(Reallocation(flag_id, next_weights(chances), chances, interval))
        return claimed


def _claim(store: EventStore, *, flag_id: int, interval: int) -> bool:
    return store.claim_reallocation(flag_id, interval)
