"""Analytics events as Amplitude's HTTP V2 API defines them, and the rules one upload must meet.

Everything here is pure. `check_upload` turns a parsed request body into events or into an
`UploadRefused` that names what is wrong the way Amplitude's ingestion names it, so the
analytics SDKs drop exactly what they would drop against Amplitude and retry the rest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

DEFAULT_MIN_ID_LENGTH = 5
MAX_STRING_LENGTH = 1024
# Ids Amplitude treats as no id at all (the HTTP V2 page lists them).
INVALID_IDS = frozenset({
    "anonymous", "nil", "none", "null", "n/a", "na", "undefined", "unknown", "0", "-1",
    "<nil>", "<null>", "[]", "{}", "lmy47d", "00000000-0000-0000-0000-000000000000",
    "00000000000000000000000000000000",
})
OBJECT_FIELDS = ("event_properties", "user_properties", "groups", "group_properties")


@dataclass(slots=True)  # not frozen: a frozen dataclass costs a setattr call per field
class Event:
    event_type: str
    user_id: str | None
    device_id: str | None
    time: int  # ms since the epoch, as the client stamped it (upload time if absent)
    insert_id: str | None
    event_properties: Mapping[str, Any]
    user_properties: Mapping[str, Any]
    raw: Mapping[str, Any]  # the event as sent, ids shortened away removed, kept whole

    # Derived once: the hot path reads them several times per event.
    user_key: str = field(init=False)
    dedup_key: str | None = field(init=False)

    def __post_init__(self) -> None:
        # Whom the event is about: the user id when there is one, else the device id.
        self.user_key = self.user_id or self.device_id or ""
        # Amplitude drops an event that repeats an insert_id on the same device.
        self.dedup_key = f"{self.device_id or ''}\x1f{self.insert_id}" if self.insert_id else None


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


def _check_id(value: Any, min_id_length: int) -> tuple[str | None, str]:
    """(the id, "") if usable; (None, why) otherwise: "absent", "invalid" or "short"."""
    if value is None:
        return None, "absent"
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None, "invalid"
    text = str(value).strip()
    if text.lower() in INVALID_IDS:
        return None, "absent"
    if len(text) < min_id_length:
        return None, "short"
    return text[:MAX_STRING_LENGTH], ""


def _check_event(raw: Any, index: int, min_id_length: int, now_ms: int,
                 refused: UploadRefused) -> Event | None:
    return _plain_event(raw, min_id_length) or _checked_event(raw, index, min_id_length, now_ms, refused)


def _plain_id(value: Any, min_id_length: int) -> bool:
    """True for an id the full check would keep exactly as sent."""
    return (type(value) is str and min_id_length <= len(value) <= MAX_STRING_LENGTH
            and value.lower() not in INVALID_IDS and not value[0].isspace() and not value[-1].isspace())


def _plain_event(raw: Any, min_id_length: int) -> Event | None:
    """The event as sent when it needs no repair (almost every event an SDK sends), else
    None and the full check decides. Same result as `_checked_event`, a few times faster."""
    if type(raw) is not dict:
        return None
    get = raw.get
    event_type, user_id, device_id, time, insert_id = (
        get("event_type"), get("user_id"), get("device_id"), get("time"), get("insert_id"))
    if not (type(event_type) is str and 0 < len(event_type) <= MAX_STRING_LENGTH
            and type(time) is int and 0 <= time <= 2**53
            and (insert_id is None or (type(insert_id) is str and len(insert_id) <= MAX_STRING_LENGTH))):
        return None
    if user_id is None:
        if not _plain_id(device_id, min_id_length):
            return None
    elif not _plain_id(user_id, min_id_length) or not (device_id is None or _plain_id(device_id, min_id_length)):
        return None
    event_properties, user_properties = get("event_properties"), get("user_properties")
    if not ((event_properties is None or type(event_properties) is dict)
            and (user_properties is None or type(user_properties) is dict)
            and (get("groups") is None or type(get("groups")) is dict)
            and (get("group_properties") is None or type(get("group_properties")) is dict)):
        return None
    return Event(event_type, user_id, device_id, time, insert_id, event_properties or {},
                 user_properties or {}, raw)


def _checked_event(raw: Any, index: int, min_id_length: int, now_ms: int,
                   refused: UploadRefused) -> Event | None:
    if not isinstance(raw, dict):
        _note(refused.invalid_fields, "event", index)
        return None
    faults: list[tuple[dict[str, list[int]], str]] = []
    event_type = raw.get("event_type")
    if event_type is None or event_type == "":
        faults.append((refused.missing_fields, "event_type"))
    elif not isinstance(event_type, str):
        faults.append((refused.invalid_fields, "event_type"))
    user_id, user_why = _check_id(raw.get("user_id"), min_id_length)
    device_id, device_why = _check_id(raw.get("device_id"), min_id_length)
    for name, why in (("user_id", user_why), ("device_id", device_why)):
        if why == "invalid":
            faults.append((refused.invalid_fields, name))
    if user_id is None and device_id is None and not faults:
        if "short" in (user_why, device_why):
            faults.append((refused.invalid_id_lengths, "user_id" if user_why == "short" else "device_id"))
        elif raw.get("user_id") is None and raw.get("device_id") is None:
            faults.append((refused.missing_fields, "user_id"))
        else:
            faults.append((refused.invalid_fields, "user_id"))
    time = raw.get("time")
    if time is None:
        time = now_ms
    elif not isinstance(time, int) or isinstance(time, bool) or not 0 <= time <= 2**53:
        faults.append((refused.invalid_fields, "time"))
    insert_id = raw.get("insert_id")
    if insert_id is not None and (isinstance(insert_id, bool) or not isinstance(insert_id, str | int)):
        faults.append((refused.invalid_fields, "insert_id"))
    for name in OBJECT_FIELDS:
        value = raw.get(name)
        if value is not None and not isinstance(value, dict):
            faults.append((refused.invalid_fields, name))
    if faults:
        for where, name in faults:
            _note(where, name, index)
        return None
    kept = raw
    if raw.get("user_id") != user_id or raw.get("device_id") != device_id or "time" not in raw:
        # Store what was accepted: ids trimmed or dropped, the upload time filled in.
        kept = {k: v for k, v in raw.items() if k not in ("user_id", "device_id")}
        if user_id is not None:
            kept["user_id"] = user_id
        if device_id is not None:
            kept["device_id"] = device_id
        kept["time"] = time
    assert isinstance(event_type, str)
    return Event(
        event_type=event_type if len(event_type) <= MAX_STRING_LENGTH else event_type[:MAX_STRING_LENGTH],
        user_id=user_id,
        device_id=device_id,
        time=time,
        insert_id=None if insert_id is None else str(insert_id)[:MAX_STRING_LENGTH],
        event_properties=raw.get("event_properties") or {},
        user_properties=raw.get("user_properties") or {},
        raw=kept,
    )


def json_text(value: Any) -> str:
    """The compact JSON text of a value (how events and totals are stored)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # an integer beyond 64 bits, which the stdlib writes as is
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
