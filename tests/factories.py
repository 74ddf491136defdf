"""Builders for API payloads, with unique keys so tests never collide on one server."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


def unique_key(prefix: str = "flag") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_flag(api: httpx.Client, project_id: str, kind: str = "flags", **fields: Any) -> str:
    """Create a flag or experiment through /api/1 and return its id."""
    body = {"projectId": project_id, "key": unique_key(kind[:-1]), **fields}
    response = api.post(f"/api/1/{kind}", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def segment(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "US users",
        "conditions": [{"type": "property", "prop": "country", "op": "is", "values": ["United States"]}],
        "percentage": 100,
        "rolloutWeights": {"on": 1},
    }
    base.update(overrides)
    return base
