"""Versions: an immutable record of a flag's document after each change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flagyard.manage.model.document import iso


@dataclass(frozen=True)
class Version:
    flag_id: int
    project_id: int
    version: int
    created_at: datetime
    created_by: str
    flag_config: dict[str, Any]
    id: int = 0
    approved_by: str | None = None  # a version applied from a change request: who approved it
    change_request_id: int | None = None


def version_document(version: Version) -> dict[str, Any]:
    document = {
        "version": version.version,
        "createdAt": iso(version.created_at),
        "createdBy": version.created_by,
        "flagConfig": version.flag_config,
    }
    if version.change_request_id is not None:
        document["approvedBy"] = version.approved_by
        document["changeRequestId"] = str(version.change_request_id)
    return document


def version_record(version: Version) -> dict[str, Any]:
    """An item of the project-wide history (/api/1/versions), which also says whose version
    it is, as Amplitude's list shows it."""
    return {"id": str(version.id), "flagId": str(version.flag_id), **version_document(version)}
