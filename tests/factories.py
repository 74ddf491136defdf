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


def first_variant(kind: str) -> str:
    """The first default variant of a new flag (`on`) or experiment (`control`)."""
    return "on" if kind == "flags" else "control"


def segment_for(kind: str, **overrides: Any) -> dict[str, Any]:
    """A target segment whose weights name the kind's default variants."""
    weights = {"on": 1} if kind == "flags" else {"control": 1, "treatment": 1}
    return segment(rolloutWeights=weights, **overrides)


def create_linked(api: httpx.Client, project_id: str, deployment_id: str, kind: str = "flags",
                  **fields: Any) -> str:
    """A flag or experiment already assigned to a deployment, so it can be enabled."""
    return create_flag(api, project_id, kind, deployments=[deployment_id], **fields)


def assert_error(response: httpx.Response, status: int, *words: str, code: str | None = None) -> None:
    """The status, the error envelope and nothing else in it, and a message naming the field."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"], body
    assert body["error"]["code"].replace("_", "").isalnum(), body
    assert body["error"]["code"] == body["error"]["code"].lower(), body
    for word in words:
        assert word in body["error"]["message"], body
    if code is not None:
        assert body["error"]["code"] == code, body


def assert_ok(response: httpx.Response) -> None:
    """A sub-resource write: 200 with the literal text body OK."""
    assert response.status_code == 200, response.text
    assert response.text == "OK"


def snapshot(api: httpx.Client, kind: str, item_id: str) -> dict[str, Any]:
    """Everything a refused write must leave alone: the item, its variants' inclusions, its versions."""
    item = api.get(f"/api/1/{kind}/{item_id}")
    assert item.status_code == 200, item.text
    body = item.json()
    users = {}
    cohorts = {}
    for variant in body["variants"]:
        base = f"/api/1/{kind}/{item_id}/variants/{variant['key']}"
        users[variant["key"]] = api.get(f"{base}/users").json()
        cohorts[variant["key"]] = api.get(f"{base}/cohorts").json()
    versions = api.get(f"/api/1/{kind}/{item_id}/versions").json()
    return {"item": body, "users": users, "cohorts": cohorts, "versions": versions}


def create_holdout(api: httpx.Client, project_id: str, **fields: Any) -> str:
    """A holdout group (10 % unless told), its id."""
    body = {"projectId": project_id, "name": "Holdout", "holdoutPercentage": 10, **fields}
    response = api.post("/api/1/holdouts", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def create_mutex(api: httpx.Client, project_id: str, **fields: Any) -> str:
    """A mutual exclusion group (two 50 % slots unless told), its id."""
    body = {"projectId": project_id, "name": "Mutex",
            "slots": [{"percentage": 50}, {"percentage": 50}], **fields}
    response = api.post("/api/1/mutexes", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def create_experiment(api: httpx.Client, project_id: str, **fields: Any) -> str:
    return create_flag(api, project_id, "experiments", **fields)


def get_ok(api: httpx.Client, path: str) -> Any:
    """The JSON of a GET that must succeed."""
    response = api.get(path)
    assert response.status_code == 200, response.text
    return response.json()


def create_cohort(api: httpx.Client, project_id: str, **fields: Any) -> str:
    """A cohort of user ids (two members unless told), its id."""
    body = {"projectId": project_id, "name": "Cohort", "memberIds": ["u1", "u2"], **fields}
    response = api.post("/api/1/cohorts", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])
