"""Bodies of /api/1/change-requests. The comment's rules are the model's, which names the field."""

from __future__ import annotations

from flagyard.api.schemas.common import Body, JsonValue


class ReviewIn(Body):
    comment: JsonValue = None  # said with the approval or the rejection, kept with the request


class CommentIn(Body):
    body: JsonValue = None
