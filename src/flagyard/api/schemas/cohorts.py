"""Bodies and answers of /api/1/cohorts."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from flagyard.api.schemas.common import Body, Bool, Id, LongText, ShortText, unicode_text
from flagyard.manage.model.cohorts import MAX_BATCH, MAX_GROUP_TYPE_LENGTH, MAX_MEMBER_ID_LENGTH


def _member_id(value: str) -> str:
    unicode_text(value)
    # A byte limit, not only characters: PostgreSQL refuses index entries past ~2.7 kB.
    if len(value.encode()) > MAX_MEMBER_ID_LENGTH:
        raise ValueError(f"is longer than {MAX_MEMBER_ID_LENGTH} bytes as UTF-8")
    return value


MemberId = Annotated[str, Field(strict=True, min_length=1, max_length=MAX_MEMBER_ID_LENGTH),
                     AfterValidator(_member_id)]


def _batch(ids: list[str]) -> list[str]:
    if len(ids) > MAX_BATCH:
        raise ValueError(f"holds {len(ids)} ids; send at most {MAX_BATCH} per request")
    return ids


MemberIds = Annotated[list[MemberId], AfterValidator(_batch)]
GroupType = Annotated[str, Field(strict=True, min_length=1, max_length=MAX_GROUP_TYPE_LENGTH),
                      AfterValidator(unicode_text)]


class CohortCreateIn(Body):
    project_id: Id
    name: ShortText
    description: LongText = ""
    group_type: GroupType = "User"
    member_ids: MemberIds = []


class CohortPatchIn(Body):
    name: ShortText = None  # type: ignore[assignment]
    description: LongText = None  # type: ignore[assignment]
    archive: Bool = None  # type: ignore[assignment]


class MembersIn(Body):
    member_ids: MemberIds


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CohortOut(_Out):
    id: str
    projectId: str
    name: str
    description: str
    groupType: str = Field(description='"User" for user cohorts, else the group type')
    size: int = Field(description="Number of members")
    lastModified: int = Field(description="Last change, milliseconds since the epoch; the "
                                          "version /sdk/v1/cohort compares")
    lastModifiedAt: str
    lastModifiedBy: str
    createdAt: str
    createdBy: str
    archived: bool


class MemberFileOut(_Out):
    mode: str = Field(description="add, remove or replace")
    ids: int = Field(description="Ids in the file (blank lines skipped; repeats counted)")
    changed: int = Field(description="Members added (add, replace) or removed (remove)")
    size: int = Field(description="Members afterwards")


class CohortListOut(_Out):
    cohorts: list[CohortOut]
    nextCursor: int | None = Field(default=None, description="Absent on the last page")
