"""Bodies of an experiment's lifecycle routes (api/management/lifecycle.py)."""

from __future__ import annotations

from typing import Literal

from flagyard.api.schemas.common import Body, Bool, Key, LongText, ShortText


class DecisionIn(Body):
    decision: Literal["rollout", "rollback", "continue-running"]
    variant: Key | None = None  # the variant a rollout serves
    reason: LongText | None = None


class NewRunIn(Body):
    key: Key
    name: ShortText | None = None
    new_bucketing_salt: Bool = False  # shuffle users anew rather than keep their buckets
