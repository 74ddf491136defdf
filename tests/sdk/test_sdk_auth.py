"""SDK routes open only with a live deployment key; management keys evaluate nothing."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from tests.support.server import Server

SDK_ROUTES = [
    ("GET", "/sdk/v2/flags"),
    ("GET", "/sdk/v2/vardata"),
    ("POST", "/sdk/v2/vardata"),
    ("GET", "/v1/vardata"),
    ("POST", "/v1/vardata"),
    ("GET", "/sdk/stream/v1/flags"),
]


@pytest.mark.parametrize(("method", "path"), SDK_ROUTES)
@pytest.mark.parametrize("authorization", [None, "Api-Key server-nosuchkey", "Bearer {management}"])
def test_sdk_route__without_a_live_deployment_key__401(
    server: Server, admin_key: str, method: str, path: str, authorization: str | None
) -> None:
    # Given
    headers = {"Authorization": authorization.format(management=admin_key)} if authorization else {}
    # When
    response = httpx.request(method, server.base_url + path, headers=headers, json={})
    # Then
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"missing_key", "invalid_key", "wrong_key_type"}


def test_deployment_key__archived_deployment__stops_working(
    server: Server, manage: httpx.Client, sdk_project: str
) -> None:
    # Given a deployment whose key works
    deployment = server.create_deployment(sdk_project, "short-lived")
    headers = {"Authorization": f"Api-Key {deployment['key']}"}
    assert httpx.get(f"{server.base_url}/sdk/v2/flags", headers=headers).status_code == 200
    # When it is archived
    manage.patch(f"/api/1/deployments/{deployment['id']}", json={"archive": True}).raise_for_status()
    # Then
    assert httpx.get(f"{server.base_url}/sdk/v2/flags", headers=headers).status_code == 401


def test_deployment_key__on_a_management_route__401(server: Server, sdk_deployment: dict[str, str]) -> None:
    # When
    response = httpx.get(f"{server.base_url}/api/1/flags",
                         headers={"Authorization": f"Api-Key {sdk_deployment['key']}"})
    # Then
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "wrong_key_type"


def test_flags__if_none_match_with_current_etag__304(server: Server, sdk_deployment: dict[str, str]) -> None:
    # Given
    headers = {"Authorization": f"Api-Key {sdk_deployment['key']}"}
    first = httpx.get(f"{server.base_url}/sdk/v2/flags", headers=headers)
    # When
    again = httpx.get(f"{server.base_url}/sdk/v2/flags", headers={**headers, "If-None-Match": first.headers["etag"]})
    # Then
    assert first.status_code == 200 and again.status_code == 304


def test_vardata_get__user_header_in_either_base64_alphabet__same_answer(
    server: Server, sdk_deployment: dict[str, str]
) -> None:
    # Given one user encoded the Go way (standard, padded) and the JS way (url-safe, unpadded)
    raw = json.dumps({"user_id": "ü/ser?>>", "device_id": "d"}).encode()
    standard = base64.b64encode(raw).decode()
    urlsafe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    headers = {"Authorization": f"Api-Key {sdk_deployment['key']}"}
    # When
    answers = [httpx.get(f"{server.base_url}/sdk/v2/vardata", headers={**headers, "X-Amp-Exp-User": value})
               for value in (standard, urlsafe)]
    # Then
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()
