"""GET /sdk/v1/cohort/{id} over HTTP, as Amplitude's SDKs call it: Basic auth of
(deployment key, management key), maxCohortSize, lastModified, and Connection: close."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.factories import assert_error
from tests.support.server import Server


def basic(api_key: str, secret_key: str) -> dict[str, str]:
    token = base64.b64encode(f"{api_key}:{secret_key}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture(scope="module")
def reader_key(server: Server, sdk_project: str) -> str:
    """What an app server holds for cohort sync: a read-only key limited to its project."""
    return server.create_key("cohort-sync", projects=(sdk_project,), read_only=True)


@pytest.fixture(scope="module")
def cohort(manage: httpx.Client, sdk_project: str) -> dict[str, Any]:
    response = manage.post("/api/1/cohorts", json={
        "projectId": sdk_project, "name": "downloads", "memberIds": ["ann", "bob", "émile"]})
    assert response.status_code == 200, response.text
    return manage.get(f"/api/1/cohorts/{response.json()['id']}").json()


def download(server: Server, cohort_id: str, headers: dict[str, str], **params: Any) -> httpx.Response:
    params.setdefault("maxCohortSize", 2147483647)
    return httpx.get(f"{server.base_url}/sdk/v1/cohort/{cohort_id}", params=params, headers=headers)


def test_download__valid_pair__200_with_every_field_the_sdks_read(
    server: Server, sdk_deployment: dict[str, str], reader_key: str, cohort: dict[str, Any]
) -> None:
    # When
    response = download(server, cohort["id"], basic(sdk_deployment["key"], reader_key))
    # Then
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert sorted(body.pop("memberIds")) == ["ann", "bob", "émile"]
    assert body == {"cohortId": cohort["id"], "groupType": "User", "groupTypeId": 0,
                    "lastComputed": cohort["lastModified"], "lastModified": cohort["lastModified"],
                    "size": 3}


def test_download__group_cohort__names_its_group_type(
    server: Server, manage: httpx.Client, sdk_project: str, sdk_deployment: dict[str, str], reader_key: str
) -> None:
    # Given
    made = manage.post("/api/1/cohorts", json={"projectId": sdk_project, "name": "orgs",
                                                "groupType": "org name", "memberIds": ["acme"]})
    # When
    body = download(server, made.json()["id"], basic(sdk_deployment["key"], reader_key)).json()
    # Then
    assert (body["groupType"], body["memberIds"], body["size"]) == ("org name", ["acme"], 1)
    assert isinstance(body["groupTypeId"], int) and body["groupTypeId"] > 0


def test_download__last_modified_current__204_closing_the_connection(
    server: Server, sdk_deployment: dict[str, str], reader_key: str, cohort: dict[str, Any]
) -> None:
    # When
    response = download(server, cohort["id"], basic(sdk_deployment["key"], reader_key),
                        lastModified=cohort["lastModified"])
    # Then
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["connection"] == "close"


def test_download__after_a_change__200_with_a_newer_last_modified(
    server: Server, manage: httpx.Client, sdk_project: str, sdk_deployment: dict[str, str], reader_key: str
) -> None:
    # Given a cohort downloaded once
    made = manage.post("/api/1/cohorts", json={"projectId": sdk_project, "name": "moving", "memberIds": ["a"]})
    cohort_id = made.json()["id"]
    first = download(server, cohort_id, basic(sdk_deployment["key"], reader_key)).json()
    # When its members change and the SDK asks with the old lastModified
    manage.post(f"/api/1/cohorts/{cohort_id}/members", json={"memberIds": ["b"]}).raise_for_status()
    response = download(server, cohort_id, basic(sdk_deployment["key"], reader_key),
                        lastModified=first["lastModified"])
    # Then
    assert response.status_code == 200
    assert sorted(response.json()["memberIds"]) == ["a", "b"]
    assert response.json()["lastModified"] > first["lastModified"]


def test_download__more_members_than_max__413_closing_the_connection(
    server: Server, sdk_deployment: dict[str, str], reader_key: str, cohort: dict[str, Any]
) -> None:
    response = download(server, cohort["id"], basic(sdk_deployment["key"], reader_key), maxCohortSize=2)
    assert_error(response, 413, "maxCohortSize")
    assert response.headers["connection"] == "close"
    assert download(server, cohort["id"], basic(sdk_deployment["key"], reader_key),
                    maxCohortSize=3).status_code == 200


@pytest.mark.parametrize(("params", "field"), [({"maxCohortSize": "many"}, "maxCohortSize"),
                                               ({"lastModified": "yesterday"}, "lastModified")])
def test_download__bad_query__400_naming_it(
    server: Server, sdk_deployment: dict[str, str], reader_key: str, cohort: dict[str, Any],
    params: dict[str, Any], field: str
) -> None:
    response = download(server, cohort["id"], basic(sdk_deployment["key"], reader_key), **params)
    assert_error(response, 400, field)
    assert response.headers["connection"] == "close"


def test_download__bad_credentials__401_closing_the_connection(
    server: Server, sdk_deployment: dict[str, str], reader_key: str, cohort: dict[str, Any],
    admin_key: str
) -> None:
    for headers in (
        {},
        {"Authorization": f"Api-Key {sdk_deployment['key']}"},
        {"Authorization": "Basic not-base64!"},
        basic(sdk_deployment["key"], ""),
        basic("server-nosuchkey", reader_key),
        basic(sdk_deployment["key"], "fy_wrong"),
        basic(admin_key, sdk_deployment["key"]),  # the pair swapped
    ):
        response = download(server, cohort["id"], headers)
        assert_error(response, 401)
        assert response.headers["connection"] == "close"


def test_download__revoked_management_key__401(
    server: Server, sdk_project: str, sdk_deployment: dict[str, str], cohort: dict[str, Any]
) -> None:
    # Given
    key = server.create_key("soon revoked", projects=(sdk_project,), read_only=True)
    assert download(server, cohort["id"], basic(sdk_deployment["key"], key)).status_code == 200
    # When
    server.cli("keys", "revoke", key)
    # Then
    assert_error(download(server, cohort["id"], basic(sdk_deployment["key"], key)), 401)


def test_download__management_key_of_another_project__403(
    server: Server, sdk_deployment: dict[str, str], cohort: dict[str, Any]
) -> None:
    elsewhere = server.create_project("cohort elsewhere")
    key = server.create_key("other project", projects=(elsewhere,), read_only=True)
    assert_error(download(server, cohort["id"], basic(sdk_deployment["key"], key)), 403, "project")


def test_download__unknown_archived_or_other_projects_cohort__404(
    server: Server, manage: httpx.Client, sdk_project: str, sdk_deployment: dict[str, str],
    reader_key: str, api: httpx.Client, project_id: str
) -> None:
    # Given an archived cohort of this project and a live one of another project
    archived = manage.post("/api/1/cohorts", json={"projectId": sdk_project, "name": "old"}).json()["id"]
    manage.patch(f"/api/1/cohorts/{archived}", json={"archive": True}).raise_for_status()
    foreign = api.post("/api/1/cohorts", json={"projectId": project_id, "name": "theirs"}).json()["id"]
    credentials = basic(sdk_deployment["key"], reader_key)
    # When / Then
    for cohort_id in ("nosuch12", "not-an-id", archived, foreign):
        response = download(server, cohort_id, credentials)
        assert_error(response, 404, "cohort")
        assert response.headers["connection"] == "close"
