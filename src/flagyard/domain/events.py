"""Analytics events as Amplitude's HTTP V2 API defines them, and the rules one upload must meet.

Everything here is pure. `check_upload` turns a parsed request body into events or into an
`UploadRefused` that names what is wrong the way Amplitude's ingestion names it, so the
analytics SDKs drop exactly what they would drop against Amplitude and retry the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MIN_ID_LENGTH = 5
MAX_STRING_LENGTH = 1024
# Ids Amplitude treats as no id at all (the HTTP V2 page lists them).
INVALID_IDS = frozenset({
    "anonymous", "nil", "none", "null", "n/a", "na", "undefined", "unknown", "0", "-1",
    "<nil>", "<null>", "[]", "{}", "lmy47d", "00000000-0000-0000-0000-000000000000",
    "00000000000000000000000000000000",
})
OBJECT_FIELDS = ("event_properties", "user_properties", "groups", "group_properties")


@dataclass(frozen=True, slots=True)
class Event:
    event_type: str
    user_id: str | None
    device_id: str | None
    time: int  # ms since the epoch, as the client stamped it (upload time if absent)
    insert_id: str | None
    event_properties: Mapping[str, Any]
    user_properties: Mapping[str, Any]
    raw: Mapping[str, Any]  # the event as sent, ids shortened away removed, kept whole

    @property
    def user_key(self) -> str:
        """Whom the event is about: the user id when there is one, else the device id."""
        return self.user_id or self.device_id or ""

    @property
    def dedup_key(self) -> str | None:
        """Amplitude drops an event that repeats an insert_id on the same device."""
        if not self.insert_id:
            return None
        return f"{self.device_id or ''}\x1f{self.insert_id}"


@dataclass
class UploadRefused(Exception):
    """An upload Amplitude would refuse: the fault, and the indexes of the events at fault."""

    error: str
    missing_field: str | None = None
    invalid_fields: dict[str, list[int]] = field(default_factory=dict)
    missing_fields: dict[str, list[int]] = field(default_factory=dict)
    invalid_id_lengths: dict[str, list[int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Upload:
    api_key: str
    events: list[Event]


def check_upload(body: Any, *, now_ms: int) -> Upload:
    """The events of one request, all valid, or `UploadRefused` and none of them."""
    if not isinstance(body, dict):
        raise UploadRefused("Invalid JSON request body")
    api_key = body.get("api_key")
    if not isinstance(api_key, str) or not api_key:
        raise UploadRefused("Request missing required field", missing_field="api_key")
    raw_events = body.get("events")
    if not isinstance(raw_events, list) or not raw_events:
        raise UploadRefused("Request missing required field", missing_field="events")
    min_id_length = _min_id_length(body.get("options"))
    refused = UploadRefused("Invalid field values on some events")
    events = [_check_event(raw, index, min_id_length, now_ms, refused) for index, raw in enumerate(raw_events)]
    if refused.invalid_fields or refused.missing_fields or refused.invalid_id_lengths:
        if refused.missing_fields and not refused.invalid_fields:
            refused.error = "Request missing required field"
        raise refused
    return Upload(api_key=api_key, events=[e for e in events if e is not None])


def _min_id_length(options: Any) -> int:
    if isinstance(options, dict):
        value = options.get("min_id_length")
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
        if value is not None:
            # A request-level fault: the whole batch would fail the same way on every retry.
            raise UploadRefused("Invalid field values on some events", missing_field="options.min_id_length")
    return DEFAULT_MIN_ID_LENGTH


def _note(where: dict[str, list[int]], name: str, index: int) -> None:
    where.setdefault(name, []).append(index)


def _check_event(raw: Any, index: int, min_id_length: int, now_ms: int,
                 refused: UploadRefused) -> Event | None:
    if not isinstance(raw, dict):
        _note(refused.invalid_fields, "event", index)
        return None
    before = _count(refused)
    event_type = raw.get("event_type")
    if event_type is None or event_type == "":
        _note(refused.missing_fields, "event_type", index)
    elif not isinstance(event_type, str):
        _note(refused.invalid_fields, "event_type", index)
    ids: dict[str, str | None] = {}
    short: list[str] = []
    for name in ("user_id", "device_id"):
        value = raw.get(name)
        if value is None:
            ids[name] = None
        elif not isinstance(value, str | int) or isinstance(value, bool):
            _note(refused.invalid_fields, name, index)
            ids[name] = None
        else:
            text = str(value).strip()
            if text.lower() in INVALID_IDS:
                ids[name] = None
            elif len(text) < min_id_length:
                ids[name] = None
                short.append(name)
            else:
                ids[name] = text[:MAX_STRING_LENGTH]
    if ids["user_id"] is None and ids["device_id"] is None:
        if short:
            _note(refused.invalid_id_lengths, short[0], index)
        elif raw.get("user_id") is None and raw.get("device_id") is None:
            _note(refused.missing_fields, "user_id", index)
        else:
            _note(refused.invalid_fields, "user_id", index)
    time = raw.get("time")
    if time is None:
        time = now_ms
    elif not isinstance(time, int) or isinstance(time, bool) or time < 0 or time > 2**53:
        _note(refused.invalid_fields, "time", index)
    insert_id = raw.get("insert_id")
    if insert_id is not None and (not isinstance(insert_id, str | int) or isinstance(insert_id, bool)):
        _note(refused.invalid_fields, "insert_id", index)
    for name in OBJECT_FIELDS:
        value = raw.get(name)
        if value is not None and not isinstance(value, dict):
            _note(refused.invalid_fields, name, index)
    if _count(refused) != before:
        return None
    kept = dict(raw)
    for name, value in ids.items():
        if value is None:
            kept.pop(name, None)
        else:
            kept[name] = value
    kept["time"] = time
    return Event(
        event_type=str(event_type)[:MAX_STRING_LENGTH],
        user_id=ids["user_id"],
        device_id=ids["device_id"],
        time=int(time),
        insert_id=None if insert_id is None else str(insert_id)[:MAX_STRING_LENGTH],
        event_properties=raw.get("event_properties") or {},
        user_properties=raw.get("user_properties") or {},
        raw=kept,
    )


def _count(refused: UploadRefused) -> int:
    return sum(len(v) for d in (refused.invalid_fields, refused.missing_fields,
                                refused.invalid_id_lengths) for v in d.values())
