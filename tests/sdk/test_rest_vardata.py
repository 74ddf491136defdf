"""The REST evaluation API, /v1/vardata: query or body, default variants left out."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.sdk.conftest import create, enable
from tests.support.server import Server


@pytest.fixture(scope="module")
def rest_flag(manage: httpx.Client, sdk_project: str, sdk_deployment: dict[str, str]) -> str:
    flag_id = create(manage, "flags", {
        "projectId": sdk_project, "key": "rest-flag", "deployments": [sdk_deployment["id"]],
        "variants": [{"key": "blue", "payload": {"hex": "#00f"}}],
        "targetSegments": [{"name": "pro", "percentage": 100, "rolloutWeights": {"blue": 1},
                            "conditions": [{"type": "property", "prop": "gp:plan", "op": "is", "values": ["pro"]}]}],
    })
    manage.post(f"/api/1/flags/{flag_id}/variants/blue/users", json={"inclusions": ["vip"]}).raise_for_status()
    enable(manage, "flags", flag_id)
    return flag_id


def ask(server: Server, deployment: dict[str, str], method: str, **kwargs: object) -> httpx.Response:
    return httpx.request(method, f"{server.base_url}/v1/vardata",
                         headers={"Authorization": f"Api-Key {deployment['key']}"}, **kwargs)  # type: ignore[arg-type]


def test_v1_vardata__included_user_in_query__gets_variant_with_payload(
    server: Server, sdk_deployment: dict[str, str], rest_flag: str
) -> None:
    # When
    answer = ask(server, sdk_deployment, "GET", params={"user_id": "vip", "flag_keys": "rest-flag"})
    # Then
    assert answer.status_code == 200
    assert answer.json()["rest-flag"] == {"key": "blue", "value": "blue", "payload": {"hex": "#00f"}}


def test_v1_vardata__context_matches_a_segment__gets_variant(
    server: Server, sdk_deployment: dict[str, str], rest_flag: str
) -> None:
    # When
    context = json.dumps({"user_properties": {"plan": "pro"}})
    answer = ask(server, sdk_deployment, "GET", params={"device_id": "d-9", "context": context})
    # Then
    assert answer.json()["rest-flag"]["key"] == "blue"


def test_v1_vardata__user_with_no_variant__flag_left_out(
    server: Server, sdk_deployment: dict[str, str], rest_flag: str
) -> None:
    # When: POST form, nobody special
    answer = ask(server, sdk_deployment, "POST", json={"user_id": "nobody", "flag_keys": ["rest-flag"]})
    # Then: the default variant is not reported on v1
    assert answer.status_code == 200
    assert "rest-flag" not in answer.json()


def test_v1_vardata__context_not_json__400(server: Server, sdk_deployment: dict[str, str]) -> None:
    # When
    answer = ask(server, sdk_deployment, "GET", params={"user_id": "u", "context": "{nope"})
    # Then
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == "context is not valid JSON"
