"""Cohorts: named sets of user ids (or of group names, for a group type) that targeting uses.

A cohort's public id is a short random string, like Amplitude's, because flags refer to
cohorts by id in `set contains any` conditions on `cohort_ids` and in cohort inclusions.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flagyard.errors import Invalid
from flagyard.manage.model.document import iso

USER_GROUP_TYPE = "User"  # what Amplitude's SDKs call user cohorts, capital U
MAX_NAME_LENGTH = 1000
MAX_GROUP_TYPE_LENGTH = 200
MAX_MEMBER_ID_LENGTH = 1000
MAX_BATCH = 10_000  # member ids per request
ID_LENGTH = 8
_ID_ALPHABET = string.ascii_lowercase + string.digits


@dataclass
class Cohort:
    project_id: int
    public_id: str  # the id flags and SDKs use
    name: str
    description: str
    group_type: str
    created_at: datetime
    created_by: str
    last_modified_at: datetime
    last_modified_by: str
    size: int = 0
    archived: bool = False
    id: int = 0  # the row id: the order of lists and the paging cursor

    @property
    def last_modified(self) -> int:
        """Milliseconds since the epoch: the version the cohort download compares."""
        return epoch_ms(self.last_modified_at)

    def touch(self, who: str, now: datetime) -> None:
        """Record a change. The stamp always moves forward, by a millisecond at least, so an
        SDK holding the previous `lastModified` is never told "unchanged" after a change."""
        floor = self.last_modified_at + timedelta(milliseconds=1)
        self.last_modified_at = max(now, floor)
        self.last_modified_by = who


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def is_cohort_id(raw: str) -> bool:
    """Could this be a cohort id? Anything else names no cohort, and is not sent to a query."""
    return 0 < len(raw) <= 32 and raw.isascii() and raw.isalnum()


def new_cohort_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))


def check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise Invalid("name must not be empty", code="invalid_field")
    if len(name) > MAX_NAME_LENGTH:
        raise Invalid(f"name must be at most {MAX_NAME_LENGTH} characters", code="invalid_field")
    return name


def check_group_type(group_type: str) -> str:
    if not group_type.strip() or group_type != group_type.strip():
        raise Invalid("groupType must be a non-empty name without surrounding spaces",
                      code="invalid_field")
    if len(group_type) > MAX_GROUP_TYPE_LENGTH:
        raise Invalid(f"groupType must be at most {MAX_GROUP_TYPE_LENGTH} characters",
                      code="invalid_field")
    return group_type


def new_cohort(project_id: int, name: str, description: str, group_type: str,
               who: str, now: datetime) -> Cohort:
    return Cohort(
        project_id=project_id,
        public_id=new_cohort_id(),
        name=check_name(name),
        description=description,
        group_type=check_group_type(group_type),
        created_at=now,
        created_by=who,
        last_modified_at=now,
        last_modified_by=who,
    )


def cohort_document(cohort: Cohort) -> dict[str, Any]:
    return {
        "id": cohort.public_id,
        "projectId": str(cohort.project_id),
        "name": cohort.name,
        "description": cohort.description,
        "groupType": cohort.group_type,
        "size": cohort.size,
        "lastModified": cohort.last_modified,
        "lastModifiedAt": iso(cohort.last_modified_at),
        "lastModifiedBy": cohort.last_modified_by,
        "createdAt": iso(cohort.created_at),
        "createdBy": cohort.created_by,
        "archived": cohort.archived,
    }
