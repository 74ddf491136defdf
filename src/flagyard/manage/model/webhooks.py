"""Webhooks: where a project's changes are sent, which events, in which format, and what each
event's payload says.

Deliveries are signed as Standard Webhooks (standardwebhooks.com): a secret `whsec_<base64 key>`,
headers `webhook-id`, `webhook-timestamp` (seconds) and `webhook-signature`
`v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`, so any of its libraries verifies them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from flagyard.errors import Invalid
from flagyard.manage.model.document import BOOKKEEPING

# Every event a webhook may ask for, with what it means.
EVENT_TYPES: dict[str, str] = {
    "flag.version.created": "a new version of a flag (any change)",
    "flag.enabled": "a flag was turned on",
    "flag.disabled": "a flag was turned off",
    "experiment.version.created": "a new version of an experiment (any change)",
    "experiment.enabled": "an experiment was turned on",
    "experiment.disabled": "an experiment was turned off",
    "experiment.started": "an experiment started running for the first time",
    "experiment.ended": "a running experiment stopped, was decided or archived",
    "experiment.decision": "a decision was recorded on an experiment",
    "experiment.srm_detected": "a running experiment's split no longer matches its weights (sample ratio mismatch)",
    "experiment.significant": "a treatment of a running experiment became significant on the primary metric",
    "change_request.opened": "a change to a flag on a deployment that requires approval is waiting for review",
    "change_request.approved": "a change request was approved",
    "change_request.rejected": "a change request was rejected",
    "change_request.applied": "an approved change request was applied (a new version, or a schedule made)",
    "webhook.test": "the test button (always sent to the webhook tested)",
}
FORMATS = ("standard", "slack")
MAX_URL_LENGTH = 2000
MAX_FILTER_KEYS = 500


@dataclass
class Webhook:
    project_id: int
    url: str
    events: list[str]
    secret: str
    format: str = "standard"
    name: str = ""
    flag_keys: list[str] = field(default_factory=list)  # empty: every flag of the project
    enabled: bool = True
    created_by: str = ""
    created_at: datetime | None = None
    id: int = 0

    def wants(self, event_type: str, flag_key: str | None) -> bool:
        if not self.enabled or event_type not in self.events:
            return False
        return not self.flag_keys or flag_key is None or flag_key in self.flag_keys


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header's value for one delivery."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def check_url(url: Any, where: str = "url") -> str:
    """An absolute http(s) URL with a host (where it points is checked when it is resolved)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise Invalid(f"{where} must be an http or https URL of at most {MAX_URL_LENGTH} characters",
                      code="invalid_webhook")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(f"{where} must be an http or https URL with a host", code="invalid_webhook")
    if parts.username or parts.password:
        raise Invalid(f"{where} must not carry credentials; the signature authenticates deliveries",
                      code="invalid_webhook")
    return url


def check_events(events: Any, where: str = "events") -> list[str]:
    if not isinstance(events, list) or not events:
        raise Invalid(f"{where} must list at least one event type", code="invalid_webhook")
    for n, event in enumerate(events):
        if event not in EVENT_TYPES:
            raise Invalid(f"{where}[{n}] '{event}' is not an event type; expected one of "
                          f"{', '.join(EVENT_TYPES)}", code="invalid_webhook")
    return list(dict.fromkeys(events))


def check_format(value: Any, where: str = "format") -> str:
    if value not in FORMATS:
        raise Invalid(f"{where} must be one of {', '.join(FORMATS)}", code="invalid_webhook")
    return str(value)


def check_flag_keys(value: Any, where: str = "filters.flagKeys") -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_FILTER_KEYS \
            or not all(isinstance(k, str) and 0 < len(k) <= 200 for k in value):
        raise Invalid(f"{where} must be a list of at most {MAX_FILTER_KEYS} flag keys", code="invalid_webhook")
    return list(dict.fromkeys(value))


def webhook_document(hook: Webhook) -> dict[str, Any]:
    """A webhook as the API shows it; the secret is shown once, when it is created."""
    return {
        "id": str(hook.id), "projectId": str(hook.project_id), "name": hook.name, "url": hook.url,
        "events": list(hook.events), "format": hook.format, "enabled": hook.enabled,
        "filters": {"flagKeys": list(hook.flag_keys)},
        "createdBy": hook.created_by,
        "createdAt": hook.created_at.isoformat().replace("+00:00", "Z") if hook.created_at else None,
    }


# --- what an event says ---------------------------------------------------------------------

def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The readable diff of two documents: each changed field by its path, from → to. Lists
    are compared whole (a variant list is one change); bookkeeping fields are left out."""
    found: list[dict[str, Any]] = []
    _diff(before or {}, after, "", found)
    return found


def _diff(before: Mapping[str, Any], after: Mapping[str, Any], prefix: str, found: list[dict[str, Any]]) -> None:
    for key in list(after) + [k for k in before if k not in after]:
        if not prefix and key in BOOKKEEPING:
            continue
        old, new = before.get(key), after.get(key)
        path = f"{prefix}{key}"
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            _diff(old, new, f"{path}.", found)
        elif old != new:
            found.append({"path": path, "from": old, "to": new})


def version_events(kind: str, before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[str]:
    """The event types one new version of a flag or experiment raises."""
    events = [f"{kind}.version.created"]
    was_on = bool(before and before.get("enabled"))
    if bool(after.get("enabled")) != was_on and before is not None:
        events.append(f"{kind}.{'enabled' if after.get('enabled') else 'disabled'}")
    if kind == "experiment":
        old_state = before.get("state") if before else None
        new_state = after.get("state")
        if new_state == "running" and old_state == "planning":
            events.append("experiment.started")
        if old_state == "running" and new_state in ("stopped", "decision-made", "archived"):
            events.append("experiment.ended")
        if after.get("decision") and (not before or before.get("decision") != after.get("decision")):
            events.append("experiment.decision")
    return events


def slack_text(event_type: str, data: Mapping[str, Any]) -> str:
    """A readable line or two for a Slack incoming webhook."""
    if event_type == "webhook.test":
        return "flagyard: a test delivery. This webhook works."
    subject = f"{data.get('kind', 'flag')} `{data.get('flagKey')}`"
    head = f"*{EVENT_TYPES.get(event_type, event_type).capitalize()}*: {subject}"
    if data.get("version"):
        head += f", version {data['version']}"
    if data.get("actor"):
        head += f", by {data['actor']}"
    lines = [f"• {c['path']}: {_short(c['from'])} → {_short(c['to'])}" for c in data.get("changes", [])[:10]]
    more = len(data.get("changes", [])) - 10
    if more > 0:
        lines.append(f"• and {more} more")
    return "\n".join([head, *lines])


def _short(value: Any) -> str:
    text = "—" if value is None else str(value)
    return text if len(text) <= 80 else text[:77] + "…"


def envelope(event_type: str, message_id: str, timestamp: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON a standard-format delivery carries."""
    return {"type": event_type, "id": message_id, "timestamp": timestamp, "data": dict(data)}


def flag_event_data(kind: str, before: Mapping[str, Any] | None, after: Mapping[str, Any],
                    actor: str) -> dict[str, Any]:
    return {
        "kind": kind, "projectId": after.get("projectId"), "flagId": after.get("id"),
        "flagKey": after.get("key"), "version": after.get("version"), "actor": actor,
        "previous": before, "current": dict(after), "changes": changes(before, after),
    }


def wanted(hooks: Sequence[Webhook], event_type: str, flag_key: str | None) -> list[Webhook]:
    return [hook for hook in hooks if hook.wants(event_type, flag_key)]


# --- deliveries -----------------------------------------------------------------------------

@dataclass
class Delivery:
    """One event for one webhook, written in the transaction of the change that raised it (the
    outbox) and sent until the receiver answers 2xx or the retries run out."""

    webhook_id: int
    message_id: str  # the `webhook-id` header: the same on every attempt, so receivers dedupe
    event_type: str
    body: str  # exactly what is sent (and signed)
    created_at: int  # ms
    next_attempt_at: int  # ms
    attempts: int = 0
    state: str = "pending"  # pending, delivered, failed
    last_status: int | None = None
    id: int = 0


@dataclass(frozen=True)
class Attempt:
    delivery_id: int
    at: int  # ms
    status: int | None  # the receiver's HTTP status; None when no answer came
    duration_ms: float
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def new_message_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def after_attempt(delivery: Delivery, attempt: Attempt, retry_delays: Sequence[float]) -> None:
    """Move a delivery on after an attempt: delivered, retried after the next delay, or failed
    once every delay was waited out."""
    delivery.attempts += 1
    delivery.last_status = attempt.status
    if attempt.succeeded:
        delivery.state = "delivered"
    elif delivery.attempts > len(retry_delays):
        delivery.state = "failed"
    else:
        delivery.next_attempt_at = attempt.at + int(retry_delays[delivery.attempts - 1] * 1000)


def delivery_document(delivery: Delivery, attempts: Sequence[Attempt]) -> dict[str, Any]:
    return {
        "id": str(delivery.id), "messageId": delivery.message_id, "eventType": delivery.event_type,
        "state": delivery.state, "attempts": delivery.attempts, "lastStatus": delivery.last_status,
        "createdAt": iso_ms(delivery.created_at),
        "nextAttemptAt": iso_ms(delivery.next_attempt_at) if delivery.state == "pending" else None,
        "log": [{"at": iso_ms(a.at), "status": a.status, "durationMs": round(a.duration_ms, 1), "error": a.error}
                for a in attempts],
    }


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
