"""Deployments of one flag or experiment: list, add, remove."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import assert_error, assert_ok, create_flag, create_linked, snapshot
from tests.support.server import Server


def test_list_deployments__linked_item__is_a_bare_array_of_deployment_objects(
    api: httpx.Client, project_id: str, deployment: dict[str, str], kind: str, prefix: str
) -> None:
    # Given
    item_id = create_linked(api, project_id, deployment["id"], kind)
    # When
    response = api.get(f"{prefix}/{kind}/{item_id}/deployments")
    # Then
    assert response.status_code == 200
    listed = response.json()
    assert len(listed) == 1
    assert {"id", "projectId", "label", "key", "deleted"} <= set(listed[0])
    assert listed[0]["id"] == deployment["id"]
    assert listed[0]["key"] == deployment["key"]
    assert listed[0]["projectId"] == project_id
    assert listed[0]["label"] == "production"
    assert listed[0]["deleted"] is False


def test_list_deployments__new_item__is_empty(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    # When
    response = api.get(f"/api/1/{kind}/{item_id}/deployments")
    # Then
    assert response.json() == []


def test_add_deployments__two__answers_ok_and_lists_both_once(
    server: Server, api: httpx.Client, project_id: str, deployment: dict[str, str], kind: str, prefix: str
) -> None:
    # Given
    item_id = create_linked(api, project_id, deployment["id"], kind)
    second = api.post("/api/1/deployments", json={"projectId": project_id, "label": f"staging-{item_id}"}).json()
    # When
    response = api.post(f"{prefix}/{kind}/{item_id}/deployments",
                        json={"deployments": [deployment["id"], second["id"]]})
    # Then
    assert_ok(response)
    assert [d["id"] for d in api.get(f"/api/1/{kind}/{item_id}/deployments").json()] == [deployment["id"], second["id"]]
    assert api.get(f"/api/1/{kind}/{item_id}").json()["deployments"] == [deployment["id"], second["id"]]


def test_add_deployments__numeric_ids__are_accepted(
    api: httpx.Client, project_id: str, deployment: dict[str, str]
) -> None:
    # Given
    item_id = create_flag(api, project_id)
    # When
    response = api.post(f"/api/1/flags/{item_id}/deployments", json={"deployments": [int(deployment["id"])]})
    # Then
    assert_ok(response)
    assert api.get(f"/api/1/flags/{item_id}").json()["deployments"] == [deployment["id"]]


@pytest.mark.parametrize(
    ("body", "status", "named"),
    [
        ({"deployments": ["99999999"]}, 404, "deployments[0]"),
        ({"deployments": "1"}, 400, "deployments"),
        ({"deployments": []}, 400, "deployments"),
        ({"deployments": ["abc"]}, 400, "deployments[0]"),
        ({}, 400, "deployments"),
    ],
)
def test_add_deployments__bad_body__is_refused_naming_the_field_and_changes_nothing(
    api: httpx.Client, project_id: str, kind: str, body: Any, status: int, named: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    before = snapshot(api, kind, item_id)
    # When
    response = api.post(f"/api/1/{kind}/{item_id}/deployments", json=body)
    # Then
    assert_error(response, status, named)
    assert snapshot(api, kind, item_id) == before


def test_add_deployments__deployment_of_another_project__is_404_and_changes_nothing(
    api: httpx.Client, project_id: str, other_deployment: dict[str, str]
) -> None:
    # Given
    item_id = create_flag(api, project_id)
    before = snapshot(api, "flags", item_id)
    # When
    response = api.post(f"/api/1/flags/{item_id}/deployments", json={"deployments": [other_deployment["id"]]})
    # Then
    assert_error(response, 404, "deployments[0]")
    assert snapshot(api, "flags", item_id) == before


def test_add_deployments__archived_deployment__is_400_and_changes_nothing(
    api: httpx.Client, project_id: str
) -> None:
    # Given
    item_id = create_flag(api, project_id)
    archived = api.post("/api/1/deployments", json={"projectId": project_id, "label": f"old-{item_id}"}).json()
    assert_ok(api.patch(f"/api/1/deployments/{archived['id']}", json={"archive": True}))
    before = snapshot(api, "flags", item_id)
    # When
    response = api.post(f"/api/1/flags/{item_id}/deployments", json={"deployments": [archived["id"]]})
    # Then
    assert_error(response, 400, "deployments[0]")
    assert snapshot(api, "flags", item_id) == before


def test_remove_deployment__linked__answers_ok_and_unlinks(
    api: httpx.Client, project_id: str, deployment: dict[str, str], kind: str, prefix: str
) -> None:
    # Given
    item_id = create_linked(api, project_id, deployment["id"], kind)
    # When
    response = api.delete(f"{prefix}/{kind}/{item_id}/deployments/{deployment['id']}")
    # Then
    assert_ok(response)
    assert api.get(f"/api/1/{kind}/{item_id}/deployments").json() == []
    assert api.get(f"/api/1/{kind}/{item_id}").json()["deployments"] == []


def test_remove_deployment__not_linked__is_404_and_changes_nothing(
    api: httpx.Client, project_id: str, deployment: dict[str, str], kind: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    before = snapshot(api, kind, item_id)
    # When
    response = api.delete(f"/api/1/{kind}/{item_id}/deployments/{deployment['id']}")
    # Then
    assert_error(response, 404, deployment["id"])
    assert snapshot(api, kind, item_id) == before


def test_remove_deployment__last_one_of_an_enabled_item__is_400_and_changes_nothing(
    api: httpx.Client, project_id: str, deployment: dict[str, str], kind: str
) -> None:
    # Given
    item_id = create_linked(api, project_id, deployment["id"], kind)
    api.patch(f"/api/1/{kind}/{item_id}", json={"enabled": True})
    before = snapshot(api, kind, item_id)
    # When
    response = api.delete(f"/api/1/{kind}/{item_id}/deployments/{deployment['id']}")
    # Then
    assert_error(response, 400, "deployment")
    assert snapshot(api, kind, item_id) == before


def test_add_deployment__then_enable__is_accepted(
    api: httpx.Client, project_id: str, deployment: dict[str, str], kind: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    assert_ok(api.post(f"/api/1/{kind}/{item_id}/deployments", json={"deployments": [deployment["id"]]}))
    # When
    response = api.patch(f"/api/1/{kind}/{item_id}", json={"enabled": True})
    # Then
    assert response.status_code == 200, response.text
    assert response.json()["enabled"] is True
