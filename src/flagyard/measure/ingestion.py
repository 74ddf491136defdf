"""Event ingestion in Amplitude's HTTP V2 format: check, authenticate, throttle, hand over.

`accept` does everything that can refuse an upload before anything is stored; the events
then go to the event writer, whose future completes once they are committed. The route
answers only after that, so an acknowledged event is never lost.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import orjson

from flagyard.manage.ports import UnitOfWorkFactory
from flagyard.measure.model.events import Event, UploadRefused, check_upload, json_text
from flagyard.measure.ports import EventWriter
from flagyard.measure.processing import Batch, StoreBatches

KEY_CACHE_SECONDS = 5.0


class PayloadTooLarge(Exception):
    """Over the request's size or event-count limit."""


class UnknownApiKey(Exception):
    def __init__(self, api_key: str) -> None:
        super().__init__(api_key)
        self.api_key = api_key


@dataclass
class Throttled(Exception):
    """Over the key's events-per-second rate; every event of the upload is throttled."""

    rate: float
    event_count: int
    users: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Accepted:
    committed: Future[None]
    events: int


class EventRate:
    """Token buckets of events per second, one per key; a bucket holds one second's worth."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, amount: int) -> bool:
        if self.rate <= 0:
            return True
        with self._lock:
            now = self._clock()
            tokens, updated = self._buckets.get(key, (self.rate, now))
            tokens = min(self.rate, tokens + (now - updated) * self.rate)
            # An upload larger than a whole second's allowance passes on a full bucket.
            if tokens >= min(amount, self.rate):
                self._buckets[key] = (tokens - amount, now)
                return True
            self._buckets[key] = (tokens, now)
            return False


class IngestionService:
    def __init__(self, uow_factory: UnitOfWorkFactory, writer: EventWriter, *,
                 events_per_second: float, clock_ms: Callable[[], int] | None = None) -> None:
        self._uow = uow_factory
        self._writer = writer
        self._rate = EventRate(events_per_second)
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._projects: dict[str, tuple[int | None, float]] = {}

    def accept(self, payload: bytes, *, max_events: int | None) -> Accepted:
        """Raises UploadRefused, PayloadTooLarge, UnknownApiKey or Throttled; stores nothing then."""
        if not payload.strip():
            raise UploadRefused("Missing request body")
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError:
            try:  # what orjson refuses that the stdlib reads (deep nesting, lone surrogates)
                body = json.loads(payload)
            except (ValueError, RecursionError):
                raise UploadRefused("Invalid JSON request body") from None
        now = self._clock_ms()
        upload = check_upload(body, now_ms=now)
        if max_events is not None and len(upload.events) >= max_events:
            raise PayloadTooLarge()
        project_id = self.project_for(upload.api_key)
        if project_id is None:
            raise UnknownApiKey(upload.api_key)
        if not self._rate.take(upload.api_key, len(upload.events)):
            raise Throttled(
                self._rate.rate, len(upload.events),
                users=sorted({e.user_id for e in upload.events if e.user_id}),
                devices=sorted({e.device_id for e in upload.events if e.device_id}),
            )
        return Accepted(self.store(project_id, upload.events, now), len(upload.events))

    def store(self, project_id: int, events: Sequence[Event], received_at: int | None = None) -> Future[None]:
        batch = Batch(project_id, events, self._clock_ms() if received_at is None else received_at,
                      [json_text(e.raw) for e in events])
        return self._writer.submit(StoreBatches((batch,)), (batch.scope(),))

    def project_for(self, api_key: str) -> int | None:
        """The project a deployment key names (None for an unknown or archived key)."""
        cached = self._projects.get(api_key)
        now = time.monotonic()
        if cached is not None and now - cached[1] < KEY_CACHE_SECONDS:
            return cached[0]
        with self._uow() as uow:
            deployment = uow.deployments.get_by_key(api_key)
        project_id = None if deployment is None or deployment.deleted else deployment.project_id
        if len(self._projects) > 10_000:
            self._projects.clear()
        self._projects[api_key] = (project_id, now)
        return project_id
