"""Projects group flags, experiments and deployments; keys can be limited to some of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flagyard.errors import Invalid


@dataclass
class Project:
    name: str
    created_at: datetime
    id: int = 0


def new_project(name: str, now: datetime) -> Project:
    name = name.strip()
    if not name:
        raise Invalid("name must not be empty", code="invalid_name")
    if len(name) > 200:
        raise Invalid("name must be at most 200 characters", code="invalid_name")
    return Project(name=name, created_at=now)
