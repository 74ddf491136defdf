"""Deployments: where flags are served. Each has a key the SDKs authenticate with."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flagyard.errors import Invalid

DEPLOYMENT_TYPES = ("server", "client")
MAX_LABEL_LENGTH = 200
_KEY_ALPHABET = string.ascii_letters + string.digits


@dataclass
class Deployment:
    project_id: int
    label: str
    key: str
    type: str
    created_at: datetime
    id: int = 0
    deleted: bool = False
    # Changes to the flags it serves wait for someone else's approval (change requests).
    require_approval: bool = False


def check_label(label: str) -> str:
    label = label.strip()
    if not label:
        raise Invalid("label must not be empty", code="invalid_label")
    if len(label) > MAX_LABEL_LENGTH:
        raise Invalid(f"label must be at most {MAX_LABEL_LENGTH} characters", code="invalid_label")
    return label


def new_deployment(project_id: int, label: str, type_: str, now: datetime,
                   require_approval: bool = False) -> Deployment:
    if type_ not in DEPLOYMENT_TYPES:
        raise Invalid("type must be one of server, client", code="invalid_value")
    secret = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(32))
    return Deployment(
        project_id=project_id,
        label=check_label(label),
        key=f"{type_}-{secret}",
        type=type_,
        created_at=now,
        require_approval=require_approval,
    )


def deployment_document(deployment: Deployment) -> dict[str, Any]:
    return {
        "id": str(deployment.id),
        "projectId": str(deployment.project_id),
        "label": deployment.label,
        "key": deployment.key,
        "type": deployment.type,
        "deleted": deployment.deleted,
        "requireApproval": deployment.require_approval,
    }


def rotated_key(deployment: Deployment) -> str:
    """A fresh SDK key of the same type; the old one stops working when it is saved."""
    secret = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(32))
    return f"{deployment.type}-{secret}"
