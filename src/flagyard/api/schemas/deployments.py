"""Bodies for deployments."""

from __future__ import annotations

from typing import Literal

from flagyard.api.schemas.common import Body, Bool, Id, ShortText


class DeploymentCreateIn(Body):
    project_id: Id
    label: ShortText
    type: Literal["server", "client"] = "server"
    require_approval: Bool = False  # changes to its flags become change requests


class DeploymentPatchIn(Body):
    label: ShortText = None  # type: ignore[assignment]
    archive: Bool = None  # type: ignore[assignment]
    require_approval: Bool = None  # type: ignore[assignment]
