"""The beta generation: /flags/list, /flags/new, /experiments/list, /experiments/new, /flags/{id},
/experiments/{id}, activate, deactivate and rollout-weights."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import assert_error, assert_ok, create_flag, snapshot, unique_key


def test_beta_create__answers_the_whole_object_equal_to_get(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    body = {"projectId": project_id, "key": unique_key(), "name": "Beta made", "description": "d"}
    # When
    response = api.post(f"/{kind}/new", json=body)
    # Then
    assert response.status_code == 200, response.text
    created = response.json()
    assert created == api.get(f"/api/1/{kind}/{created['id']}").json()
    assert (created["key"], created["name"], created["description"]) == (body["key"], "Beta made", "d")
    assert created["version"] == 1


def test_beta_create__key_already_used__is_409(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    key = unique_key()
    create_flag(api, project_id, "flags", key=key)
    # When
    response = api.post(f"/{kind}/new", json={"projectId": project_id, "key": key})
    # Then
    assert_error(response, 409, "key")


@pytest.mark.parametrize(("body", "named"), [({"key": "k"}, "projectId"), ({"projectId": "1"}, "key")])
def test_beta_create__missing_field__is_400_naming_it(
    api: httpx.Client, kind: str, body: dict[str, Any], named: str
) -> None:
    # When
    response = api.post(f"/{kind}/new", json=body)
    # Then
    assert_error(response, 400, named)


def test_beta_list__newest_first_same_objects_as_current(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    ids = [create_flag(api, project_id, kind) for _ in range(2)]
    # When
    beta = api.get(f"/{kind}/list").json()
    current = api.get(f"/api/1/{kind}").json()
    # Then
    assert set(beta) == {kind}
    assert [i["id"] for i in beta[kind]][:2] == list(reversed(ids))
    assert beta == current


def test_beta_list__limit_and_cursor__page_without_repeats(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    for _ in range(3):
        create_flag(api, project_id, kind)
    everything = [i["id"] for i in api.get(f"/{kind}/list").json()[kind]]
    # When
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        body = api.get(f"/{kind}/list", params=params).json()
        seen += [i["id"] for i in body[kind]]
        if "nextCursor" not in body:
            break
        params["cursor"] = body["nextCursor"]
    # Then
    assert seen == everything


def test_beta_list__archived__is_left_out(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    api.patch(f"/{kind}/{item_id}", json={"archive": True})
    # When
    listed = api.get(f"/{kind}/list").json()[kind]
    # Then
    assert item_id not in {i["id"] for i in listed}


def test_beta_get__same_as_current(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    # When
    response = api.get(f"/{kind}/{item_id}")
    # Then
    assert response.status_code == 200
    assert response.json() == api.get(f"/api/1/{kind}/{item_id}").json()


def test_beta_get__unknown__is_404(api: httpx.Client, kind: str) -> None:
    # When
    response = api.get(f"/{kind}/99999999")
    # Then
    assert_error(response, 404, "99999999")


def test_beta_edit__answers_the_updated_object(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    # When
    response = api.patch(f"/{kind}/{item_id}", json={"name": "beta edit", "rolloutPercentage": 20})
    # Then
    assert response.status_code == 200, response.text
    assert response.json() == api.get(f"/api/1/{kind}/{item_id}").json()
    assert (response.json()["name"], response.json()["rolloutPercentage"]) == ("beta edit", 20)


def test_beta_edit__percentage_150__is_400_and_changes_nothing(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    before = snapshot(api, kind, item_id)
    # When
    response = api.patch(f"/{kind}/{item_id}", json={"rolloutPercentage": 150})
    # Then
    assert_error(response, 400, "rolloutPercentage")
    assert snapshot(api, kind, item_id) == before


def test_activate__with_deployment__enables_and_answers_ok(
    api: httpx.Client, project_id: str, deployment: dict[str, str]
) -> None:
    # Given
    item_id = create_flag(api, project_id, "experiments", deployments=[deployment["id"]])
    # When
    response = api.post(f"/experiments/{item_id}/activate")
    # Then
    assert_ok(response)
    got = api.get(f"/experiments/{item_id}").json()
    assert (got["enabled"], got["state"]) == (True, "running")


def test_activate__without_deployment__is_400_and_changes_nothing(api: httpx.Client, project_id: str) -> None:
    # Given
    item_id = create_flag(api, project_id, "experiments")
    before = snapshot(api, "experiments", item_id)
    # When
    response = api.post(f"/experiments/{item_id}/activate")
    # Then
    assert_error(response, 400, "deployment")
    assert snapshot(api, "experiments", item_id) == before


def test_deactivate__running__disables_and_answers_ok(
    api: httpx.Client, project_id: str, deployment: dict[str, str]
) -> None:
    # Given
    item_id = create_flag(api, project_id, "experiments", deployments=[deployment["id"]])
    assert_ok(api.post(f"/experiments/{item_id}/activate"))
    # When
    response = api.post(f"/experiments/{item_id}/deactivate")
    # Then
    assert_ok(response)
    assert api.get(f"/experiments/{item_id}").json()["enabled"] is False


@pytest.mark.parametrize("action", ["activate", "deactivate"])
def test_activate_or_deactivate__unknown_or_archived__is_refused(
    api: httpx.Client, project_id: str, deployment: dict[str, str], action: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, "experiments", deployments=[deployment["id"]])
    api.patch(f"/experiments/{item_id}", json={"archive": True})
    before = snapshot(api, "experiments", item_id)
    # When
    unknown = api.post(f"/experiments/99999999/{action}")
    archived = api.post(f"/experiments/{item_id}/{action}")
    # Then
    assert_error(unknown, 404, "99999999")
    assert_error(archived, 400, "archived")
    assert snapshot(api, "experiments", item_id) == before


def test_rollout_weights__answers_ok_and_replaces_every_weight(api: httpx.Client, project_id: str) -> None:
    # Given
    item_id = create_flag(api, project_id, "experiments")
    # When
    response = api.post(f"/experiments/{item_id}/rollout-weights", json={"rolloutWeights": {"control": 1, "treatment": 4}})
    # Then
    assert_ok(response)
    got = api.get(f"/experiments/{item_id}").json()
    assert got["rolloutWeights"] == {"control": 1, "treatment": 4}
    assert [v["rolloutWeight"] for v in got["variants"]] == [1, 4]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"rolloutWeights": {"nope": 1}}, "rolloutWeights.nope"),
        ({"rolloutWeights": {"control": -1}}, "rolloutWeights"),
        ({"rolloutWeights": {"control": "1"}}, "rolloutWeights"),
        ({"rolloutWeights": [1, 2]}, "rolloutWeights"),
        ({}, "rolloutWeights"),
    ],
)
def test_rollout_weights__bad_body__is_400_naming_the_field_and_changes_nothing(
    api: httpx.Client, project_id: str, body: Any, named: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, "experiments")
    before = snapshot(api, "experiments", item_id)
    # When
    response = api.post(f"/experiments/{item_id}/rollout-weights", json=body)
    # Then
    assert_error(response, 400, named)
    assert snapshot(api, "experiments", item_id) == before
