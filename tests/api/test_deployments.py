"""/api/1/deployments (list, get, create, edit) and the beta /deployments/list."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import assert_error, assert_ok, create_linked, unique_key

DEPLOYMENT_FIELDS = {"id", "projectId", "label", "key", "deleted"}


def _create(api: httpx.Client, project_id: str, **fields: Any) -> str:
    response = api.post("/api/1/deployments", json={"projectId": project_id, "label": unique_key("env"), **fields})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _all(api: httpx.Client, path: str = "/api/1/deployments") -> list[dict[str, Any]]:
    response = api.get(path)
    assert response.status_code == 200, response.text
    return response.json()["deployments"]


def test_create__server_deployment__answers_only_the_id(api: httpx.Client, project_id: str) -> None:
    # Given
    label = unique_key("env")
    # When
    response = api.post("/api/1/deployments", json={"projectId": project_id, "label": label, "type": "server"})
    # Then
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"id"}
    got = api.get(f"/api/1/deployments/{response.json()['id']}").json()
    assert set(got) >= DEPLOYMENT_FIELDS
    assert (got["projectId"], got["label"], got["deleted"]) == (project_id, label, False)
    assert got["key"].startswith("server-")


def test_create__client_type__gets_a_client_key(api: httpx.Client, project_id: str) -> None:
    # When
    deployment_id = _create(api, project_id, type="client")
    # Then
    assert api.get(f"/api/1/deployments/{deployment_id}").json()["key"].startswith("client-")


def test_create__no_type__defaults_to_server(api: httpx.Client, project_id: str) -> None:
    # When
    deployment_id = _create(api, project_id)
    # Then
    assert api.get(f"/api/1/deployments/{deployment_id}").json()["key"].startswith("server-")


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        ({"label": "x"}, 400, "projectId"),
        ({"projectId": "{project}"}, 400, "label"),
        ({"projectId": "{project}", "label": ""}, 400, "label"),
        ({"projectId": "{project}", "label": "x", "type": "mobile"}, 400, "type"),
        ({"projectId": "{project}", "label": 5}, 400, "label"),
        ({"projectId": "{project}", "label": "x", "extra": 1}, 400, "extra"),
        ({"projectId": "987654", "label": "x"}, 404, "project"),
    ],
)
def test_create__bad_body__is_refused_naming_the_field_and_creates_nothing(
    api: httpx.Client, project_id: str, body: dict[str, Any], status: int, named: str
) -> None:
    # Given
    body = {k: (project_id if v == "{project}" else v) for k, v in body.items()}
    before = _all(api)
    # When
    response = api.post("/api/1/deployments", json=body)
    # Then
    assert_error(response, status, named)
    assert _all(api) == before


def test_create__label_already_used_in_the_project__is_409(api: httpx.Client, project_id: str) -> None:
    # Given
    label = unique_key("env")
    _create(api, project_id, label=label)
    before = _all(api)
    # When
    response = api.post("/api/1/deployments", json={"projectId": project_id, "label": label})
    # Then
    assert_error(response, 409, "label")
    assert _all(api) == before


def test_list__newest_first_with_every_field(api: httpx.Client, project_id: str) -> None:
    # Given
    ids = [_create(api, project_id) for _ in range(3)]
    # When
    listed = _all(api)
    # Then
    assert [d["id"] for d in listed][:3] == list(reversed(ids))
    assert all(set(d) >= DEPLOYMENT_FIELDS for d in listed)


def test_list__limit_and_cursor__page_through_without_repeats(api: httpx.Client, project_id: str) -> None:
    # Given
    for _ in range(3):
        _create(api, project_id)
    everything = [d["id"] for d in _all(api)]
    # When
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = api.get("/api/1/deployments", params=params).json()
        seen += [d["id"] for d in body["deployments"]]
        cursor = body.get("nextCursor")
        if cursor is None:
            break
    # Then
    assert seen == everything


def test_beta_list__same_deployments_as_current(api: httpx.Client, project_id: str) -> None:
    # Given
    _create(api, project_id)
    # When
    beta = _all(api, "/deployments/list")
    # Then
    assert beta == _all(api)


def test_beta_list__limit__pages(api: httpx.Client, project_id: str) -> None:
    # Given
    _create(api, project_id)
    _create(api, project_id)
    # When
    body = api.get("/deployments/list", params={"limit": 1}).json()
    # Then
    assert len(body["deployments"]) == 1
    assert body["nextCursor"]


def test_get__unknown_id__is_404(api: httpx.Client) -> None:
    # When
    response = api.get("/api/1/deployments/99999999")
    # Then
    assert_error(response, 404, "99999999")


def test_edit__label__answers_ok_and_persists(api: httpx.Client, project_id: str) -> None:
    # Given
    deployment_id = _create(api, project_id)
    new_label = unique_key("renamed")
    # When
    response = api.patch(f"/api/1/deployments/{deployment_id}", json={"label": new_label})
    # Then
    assert_ok(response)
    assert api.get(f"/api/1/deployments/{deployment_id}").json()["label"] == new_label


@pytest.mark.parametrize(
    ("body", "named"),
    [({"label": ""}, "label"), ({"label": 3}, "label"), ({"archive": "yes"}, "archive"), ({"key": "k"}, "key"),
     ({}, "field")],
)
def test_edit__bad_body__is_400_naming_the_field_and_changes_nothing(
    api: httpx.Client, project_id: str, body: dict[str, Any], named: str
) -> None:
    # Given
    deployment_id = _create(api, project_id)
    before = api.get(f"/api/1/deployments/{deployment_id}").json()
    # When
    response = api.patch(f"/api/1/deployments/{deployment_id}", json=body)
    # Then
    assert_error(response, 400, named)
    assert api.get(f"/api/1/deployments/{deployment_id}").json() == before


def test_edit__unknown_id__is_404(api: httpx.Client) -> None:
    # When
    response = api.patch("/api/1/deployments/99999999", json={"label": "x"})
    # Then
    assert_error(response, 404, "99999999")


def test_archive__unused__marks_it_deleted(api: httpx.Client, project_id: str) -> None:
    # Given
    deployment_id = _create(api, project_id)
    # When
    response = api.patch(f"/api/1/deployments/{deployment_id}", json={"archive": True})
    # Then
    assert_ok(response)
    assert api.get(f"/api/1/deployments/{deployment_id}").json()["deleted"] is True


def test_archive__then_unarchive__is_usable_again(api: httpx.Client, project_id: str) -> None:
    # Given
    deployment_id = _create(api, project_id)
    assert_ok(api.patch(f"/api/1/deployments/{deployment_id}", json={"archive": True}))
    # When
    response = api.patch(f"/api/1/deployments/{deployment_id}", json={"archive": False})
    # Then
    assert_ok(response)
    assert api.get(f"/api/1/deployments/{deployment_id}").json()["deleted"] is False


def test_archive__used_by_an_unarchived_item__is_400_and_changes_nothing(
    api: httpx.Client, project_id: str, kind: str
) -> None:
    # Given
    deployment_id = _create(api, project_id)
    create_linked(api, project_id, deployment_id, kind)
    before = api.get(f"/api/1/deployments/{deployment_id}").json()
    # When
    response = api.patch(f"/api/1/deployments/{deployment_id}", json={"archive": True})
    # Then
    assert_error(response, 400, "unarchived")
    assert api.get(f"/api/1/deployments/{deployment_id}").json() == before


def test_archive__used_only_by_archived_items__is_accepted(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    deployment_id = _create(api, project_id)
    item_id = create_linked(api, project_id, deployment_id, kind)
    assert api.patch(f"/api/1/{kind}/{item_id}", json={"archive": True}).status_code == 200
    # When
    response = api.patch(f"/api/1/deployments/{deployment_id}", json={"archive": True})
    # Then
    assert_ok(response)


def test_list__scoped_key__sees_only_its_projects_deployments(
    other_project_api: httpx.Client, other_project_id: str, other_deployment: dict[str, str], deployment: dict[str, str]
) -> None:
    # When
    listed = _all(other_project_api)
    # Then
    ids = {d["id"] for d in listed}
    assert other_deployment["id"] in ids and deployment["id"] not in ids
    assert {d["projectId"] for d in listed} == {other_project_id}
