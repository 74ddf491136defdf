"""Answers of the project file routes (export and import), for the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectFile(_Out):
    """The project file (docs/export-format.md); the entries are described there."""

    formatVersion: Literal[1] = 1
    deployments: list[dict[str, Any]] = []
    flags: list[dict[str, Any]] = []
    experiments: list[dict[str, Any]] = []


class ChangeOut(_Out):
    action: Literal["create", "update", "archive", "unarchive"]
    kind: Literal["flag", "experiment", "deployment"]
    key: str
    fields: list[str]


class ImportResultOut(_Out):
    dryRun: bool
    applied: bool
    changes: list[ChangeOut]
    unchanged: int
    plan: list[str]
