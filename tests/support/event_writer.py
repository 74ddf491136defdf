"""Holding the event writer busy, so what tests submit meanwhile queues and runs as one group."""

from __future__ import annotations

import threading

from flagyard.measure.ports import EventStore
from flagyard.store.measure.event_writer import GroupCommitWriter


def held(writer: GroupCommitWriter) -> threading.Event:
    """Occupy the writer until the returned event is set, so what is submitted meanwhile
    waits in the queue and runs as one group."""
    release, started = threading.Event(), threading.Event()

    def wait(store: EventStore) -> None:
        started.set()
        release.wait(10)

    writer.submit(wait)
    assert started.wait(10)
    return release
