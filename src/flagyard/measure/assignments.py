"""Assignment (and, on request, exposure) events for remote evaluations served by flagyard.

Amplitude's servers track an assignment for every remote evaluation unless the client sends
`X-Amp-Exp-Track: no-track`, and an exposure only with `X-Amp-Exp-Exposure-Track: track`
(the SDK edge reads those headers into a `Tracking`). flagyard does the same for experiments, writing the events through ingestion without making
the evaluation wait. The insert_id repeats for the same user and result on the same day, so
repeated evaluations add one assignment per user, result and day, as Amplitude documents.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from flagyard.measure.ingestion import IngestionService
from flagyard.measure.model.events import Event
from flagyard.measure.model.exposures import ASSIGNMENT, EXPERIMENT_PREFIX, EXPOSURE
from flagyard.measure.model.tracking import Tracking

log = logging.getLogger("flagyard.events")
DAY_MS = 86_400_000
LIBRARY = "flagyard-remote-evaluation"


class AssignmentRecorder:
    def __init__(self, ingestion: IngestionService, clock_ms: Callable[[], int] | None = None) -> None:
        self._ingestion = ingestion
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))

    def record(self, project_id: int, user: Mapping[str, Any], results: Mapping[str, Mapping[str, Any]],
               tracking: Tracking) -> Future[None] | None:
        """Queue the events one evaluation calls for; None when it calls for none."""
        if not tracking.any:
            return None
        user_id, device_id = _id(user.get("user_id")), _id(user.get("device_id"))
        if user_id is None and device_id is None:
            return None
        assigned = {
            key: variant for key, variant in sorted(results.items())
            if variant.get("key") and variant.get("metadata", {}).get("flagType") == "experiment"
            and not variant.get("metadata", {}).get("default")
        }
        if not assigned:
            return None
        now = self._clock_ms()
        events = []
        if tracking.assignment:
            events.append(self._assignment(user_id, device_id, assigned, now))
        if tracking.exposure:
            events.extend(self._exposure(user_id, device_id, key, variant, now)
                          for key, variant in assigned.items())
        future = self._ingestion.store(project_id, events)
        future.add_done_callback(_log_failure)
        return future

    @staticmethod
    def _assignment(user_id: str | None, device_id: str | None,
                    assigned: Mapping[str, Mapping[str, Any]], now: int) -> Event:
        props: dict[str, Any] = {}
        for key, variant in assigned.items():
            props[f"{key}.variant"] = variant["key"]
            meta = variant.get("metadata", {})
            if "flagVersion" in meta and "segmentName" in meta:
                props[f"{key}.details"] = f"v{meta['flagVersion']} rule:{meta['segmentName']}"
        canonical = " ".join(f"{k} {v['key']}" for k, v in assigned.items())
        user_props = {"$set": {EXPERIMENT_PREFIX + k: v["key"] for k, v in assigned.items()}}
        return _event(ASSIGNMENT, user_id, device_id, now, canonical, props, user_props)

    @staticmethod
    def _exposure(user_id: str | None, device_id: str | None, key: str,
                  variant: Mapping[str, Any], now: int) -> Event:
        meta = variant.get("metadata", {})
        props: dict[str, Any] = {"[Experiment] Flag Key": key, "[Experiment] Variant": variant["key"],
                                 "metadata": dict(meta)}
        if meta.get("experimentKey"):
            props["[Experiment] Experiment Key"] = meta["experimentKey"]
        user_props = {"$set": {EXPERIMENT_PREFIX + key: variant["key"]}, "$unset": {}}
        return _event(EXPOSURE, user_id, device_id, now, f"{key} {variant['key']}", props, user_props)


def _event(event_type: str, user_id: str | None, device_id: str | None, now: int, canonical: str,
           props: dict[str, Any], user_props: dict[str, Any]) -> Event:
    digest = hashlib.sha256(f"{event_type} {user_id} {device_id} {canonical}".encode()).hexdigest()[:16]
    insert_id = f"{user_id} {device_id} {digest} {now // DAY_MS}"
    raw: dict[str, Any] = {"event_type": event_type, "time": now, "insert_id": insert_id,
                           "event_properties": props, "user_properties": user_props, "library": LIBRARY}
    if user_id is not None:
        raw["user_id"] = user_id
    if device_id is not None:
        raw["device_id"] = device_id
    return Event(event_type=event_type, user_id=user_id, device_id=device_id, time=now,
                 insert_id=insert_id, event_properties=props, user_properties=user_props, raw=raw)


def _id(value: Any) -> str | None:
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    return None


def _log_failure(future: Future[None]) -> None:
    if future.exception() is not None:
        log.error("assignment events were not stored: %s", future.exception())
