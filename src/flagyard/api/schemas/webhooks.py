"""Bodies of /api/1/webhooks. Values are checked by the webhook model, which names the field."""

from __future__ import annotations

from flagyard.api.schemas.common import Body, Id, JsonValue


class WebhookCreateIn(Body):
    project_id: Id
    url: JsonValue = None
    events: JsonValue = None
    filters: JsonValue = None  # {"flagKeys": [...]}: only these flags' events
    format: JsonValue = None  # standard (default) or slack
    name: JsonValue = None
    enabled: JsonValue = None


class WebhookPatchIn(Body):
    url: JsonValue = None
    events: JsonValue = None
    filters: JsonValue = None
    format: JsonValue = None
    name: JsonValue = None
    enabled: JsonValue = None
