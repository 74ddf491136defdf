"""Counting evaluations in memory and flushing them per flag (serve/usage.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import pytest

from flagyard.serve.usage import UsageCount, UsageCounter

# 2026-12-06 23:59:58 UTC and, two seconds on, the next day.
BEFORE_MIDNIGHT = datetime(2026, 12, 6, 23, 59, 58, tzinfo=UTC).timestamp()


class Recorder:
    """A writer that keeps what it is given (or refuses it, like a database that is away)."""

    def __init__(self) -> None:
        self.written: list[UsageCount] = []
        self.refusing = False

    def __call__(self, counts: Sequence[UsageCount]) -> None:
        if self.refusing:
            raise ConnectionError("database away")
        self.written.extend(counts)


def by_key(counts: list[UsageCount]) -> dict[tuple[int, str, date], tuple[int, datetime]]:
    return {(c.deployment_id, c.flag_key, c.day): (c.evaluations, c.last_evaluated_at) for c in counts}


@pytest.fixture
def clock() -> list[float]:
    return [BEFORE_MIDNIGHT]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def counter(recorder: Recorder, clock: list[float]) -> UsageCounter:
    return UsageCounter(recorder, now=lambda: clock[0])


def test_flush__spreads_whole_deployment_evaluations_over_each_flag(counter: UsageCounter,
                                                                    recorder: Recorder) -> None:
    # Given three requests evaluating every deployed flag and one naming a flag
    deployed = ("a", "b")
    for _ in range(3):
        counter.count_all(1, 10, deployed)
    counter.count_each(1, 10, ["b"])
    # When
    written = counter.flush()
    # Then
    day = date(2026, 12, 6)
    moment = datetime.fromtimestamp(BEFORE_MIDNIGHT, UTC)
    assert written == 2
    assert by_key(recorder.written) == {(10, "a", day): (3, moment), (10, "b", day): (4, moment)}


def test_flush__keeps_deployments_and_days_apart(counter: UsageCounter, recorder: Recorder,
                                                 clock: list[float]) -> None:
    # Given the same flags through two deployments, and again after midnight
    counter.count_each(1, 10, ["a"])
    counter.count_each(1, 11, ["a"])
    counter.flush()
    clock[0] += 2
    counter.count_each(1, 10, ["a"])
    counter.flush()
    # Then
    assert sorted((c.deployment_id, c.day.isoformat(), c.evaluations) for c in recorder.written) == [
        (10, "2026-12-06", 1), (10, "2026-12-07", 1), (11, "2026-12-06", 1)]


def test_flush__with_nothing_counted_writes_nothing(counter: UsageCounter, recorder: Recorder) -> None:
    assert counter.flush() == 0
    assert recorder.written == []


def test_flush__a_refused_write_keeps_the_counts_for_the_next(counter: UsageCounter,
                                                              recorder: Recorder) -> None:
    # Given counts the database refuses once
    counter.count_all(1, 10, ("a", "b"))
    recorder.refusing = True
    with pytest.raises(ConnectionError):
        counter.flush()
    # When more come and the database is back
    counter.count_each(1, 10, ["a"])
    recorder.refusing = False
    counter.flush()
    # Then nothing was lost or counted twice
    assert {c.flag_key: c.evaluations for c in recorder.written} == {"a": 2, "b": 1}
    assert counter.flush() == 0
