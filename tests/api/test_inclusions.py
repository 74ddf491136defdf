"""User inclusions of a variant: list, add, remove by index, remove all, bulk delete."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import assert_error, assert_ok, create_flag, first_variant, snapshot


def _users_path(prefix: str, kind: str, item_id: str) -> str:
    return f"{prefix}/{kind}/{item_id}/variants/{first_variant(kind)}/users"


def _users(api: httpx.Client, kind: str, item_id: str) -> list[str]:
    response = api.get(_users_path("/api/1", kind, item_id))
    assert response.status_code == 200, response.text
    return response.json()


def test_list_users__new_variant__is_an_empty_array(api: httpx.Client, project_id: str, kind: str, prefix: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    # When
    response = api.get(_users_path(prefix, kind, item_id))
    # Then
    assert response.status_code == 200
    assert response.json() == []


def test_add_users__twice__keeps_order_and_ignores_duplicates(
    api: httpx.Client, project_id: str, kind: str, prefix: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    path = _users_path(prefix, kind, item_id)
    # When
    first = api.post(path, json={"inclusions": ["zed@example.com", "amy@example.com", "zed@example.com"]})
    second = api.post(path, json={"inclusions": ["bob", "amy@example.com", "42"]})
    # Then
    assert_ok(first)
    assert_ok(second)
    assert _users(api, kind, item_id) == ["zed@example.com", "amy@example.com", "bob", "42"]


def test_add_users__same_id_in_another_variant__is_kept_in_both(api: httpx.Client, project_id: str) -> None:
    # Given
    item_id = create_flag(api, project_id, "experiments")
    base = f"/api/1/experiments/{item_id}/variants"
    # When
    assert_ok(api.post(f"{base}/control/users", json={"inclusions": ["u"]}))
    assert_ok(api.post(f"{base}/treatment/users", json={"inclusions": ["u"]}))
    # Then
    assert api.get(f"{base}/control/users").json() == ["u"]
    assert api.get(f"{base}/treatment/users").json() == ["u"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"inclusions": "user-1"}, "inclusions"),
        ({"inclusions": {"user": 1}}, "inclusions"),
        ({"inclusions": [1, 2]}, "inclusions[0]"),
        ({"inclusions": [""]}, "inclusions[0]"),
        ({"inclusions": ["ok", None]}, "inclusions[1]"),
        ({}, "inclusions"),
        ({"users": ["a"]}, "inclusions"),
    ],
)
def test_add_users__bad_body__is_400_naming_the_field_and_changes_nothing(
    api: httpx.Client, project_id: str, kind: str, body: Any, named: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    api.post(_users_path("/api/1", kind, item_id), json={"inclusions": ["existing"]})
    before = snapshot(api, kind, item_id)
    # When
    response = api.post(_users_path("/api/1", kind, item_id), json=body)
    # Then
    assert_error(response, 400, named)
    assert snapshot(api, kind, item_id) == before


def test_add_users__unknown_variant__is_404(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    # When
    response = api.post(f"/api/1/{kind}/{item_id}/variants/nope/users", json={"inclusions": ["u"]})
    # Then
    assert_error(response, 404, "nope")


@pytest.mark.parametrize(("index", "left"), [("0", ["b", "c", "d"]), ("2", ["a", "b", "d"]), ("3", ["a", "b", "c"])])
def test_remove_user__by_index__removes_that_one(
    api: httpx.Client, project_id: str, kind: str, prefix: str, index: str, left: list[str]
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    api.post(_users_path("/api/1", kind, item_id), json={"inclusions": ["a", "b", "c", "d"]})
    # When
    response = api.delete(f"{_users_path(prefix, kind, item_id)}/{index}")
    # Then
    assert_ok(response)
    assert _users(api, kind, item_id) == left


def test_remove_user__twice_at_index_0__removes_the_first_two(api: httpx.Client, project_id: str) -> None:
    # Given
    item_id = create_flag(api, project_id)
    api.post(_users_path("/api/1", "flags", item_id), json={"inclusions": ["a", "b", "c"]})
    # When
    assert_ok(api.delete(f"{_users_path('/api/1', 'flags', item_id)}/0"))
    assert_ok(api.delete(f"{_users_path('/api/1', 'flags', item_id)}/0"))
    # Then
    assert _users(api, "flags", item_id) == ["c"]


def test_remove_user__index_past_the_end__is_404_and_changes_nothing(
    api: httpx.Client, project_id: str, kind: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    api.post(_users_path("/api/1", kind, item_id), json={"inclusions": ["a", "b"]})
    before = snapshot(api, kind, item_id)
    # When
    response = api.delete(f"{_users_path('/api/1', kind, item_id)}/2")
    # Then
    assert_error(response, 404, "2")
    assert snapshot(api, kind, item_id) == before


@pytest.mark.parametrize("index", ["-1", "one", "1.0"])
def test_remove_user__index_not_an_integer__is_400_naming_it(api: httpx.Client, project_id: str, index: str) -> None:
    # Given
    item_id = create_flag(api, project_id)
    api.post(_users_path("/api/1", "flags", item_id), json={"inclusions": ["a"]})
    before = snapshot(api, "flags", item_id)
    # When
    response = api.delete(f"{_users_path('/api/1', 'flags', item_id)}/{index}")
    # Then
    assert_error(response, 400, "userIndex")
    assert snapshot(api, "flags", item_id) == before


def test_remove_all_users__answers_ok_and_empties_the_list(
    api: httpx.Client, project_id: str, kind: str, prefix: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    api.post(_users_path("/api/1", kind, item_id), json={"inclusions": ["a", "b"]})
    # When
    response = api.delete(_users_path(prefix, kind, item_id))
    # Then
    assert_ok(response)
    assert _users(api, kind, item_id) == []


def test_remove_all_users__other_variant__is_untouched(api: httpx.Client, project_id: str) -> None:
    # Given
    item_id = create_flag(api, project_id, "experiments")
    base = f"/api/1/experiments/{item_id}/variants"
    api.post(f"{base}/control/users", json={"inclusions": ["a"]})
    api.post(f"{base}/treatment/users", json={"inclusions": ["b"]})
    # When
    assert_ok(api.delete(f"{base}/control/users"))
    # Then
    assert api.get(f"{base}/treatment/users").json() == ["b"]


def _bulk_path(prefix: str, kind: str, item_id: str) -> str:
    return f"{prefix}/{kind}/{item_id}/variants/{first_variant(kind)}/bulk-delete-users"


def test_bulk_delete_users__some_ids__removes_them_keeping_order(
    api: httpx.Client, project_id: str, kind: str, prefix: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    api.post(_users_path("/api/1", kind, item_id), json={"inclusions": ["a", "b", "c", "d", "e"]})
    # When
    response = api.request("DELETE", _bulk_path(prefix, kind, item_id), json={"users": ["d", "b", "not-there"]})
    # Then
    assert_ok(response)
    assert _users(api, kind, item_id) == ["a", "c", "e"]


def test_bulk_delete_users__exactly_100__is_accepted(api: httpx.Client, project_id: str) -> None:
    # Given
    item_id = create_flag(api, project_id)
    ids = [f"user-{i}" for i in range(150)]
    api.post(_users_path("/api/1", "flags", item_id), json={"inclusions": ids})
    # When
    response = api.request("DELETE", _bulk_path("/api/1", "flags", item_id), json={"users": ids[:100]})
    # Then
    assert_ok(response)
    assert _users(api, "flags", item_id) == ids[100:]


def test_bulk_delete_users__101_ids__is_400_and_changes_nothing(
    api: httpx.Client, project_id: str, kind: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    ids = [f"user-{i}" for i in range(101)]
    api.post(_users_path("/api/1", kind, item_id), json={"inclusions": ids})
    before = snapshot(api, kind, item_id)
    # When
    response = api.request("DELETE", _bulk_path("/api/1", kind, item_id), json={"users": ids})
    # Then
    assert_error(response, 400, "users", "100")
    assert snapshot(api, kind, item_id) == before


@pytest.mark.parametrize(("body", "named"), [({"users": "a"}, "users"), ({}, "users"), ({"inclusions": ["a"]}, "users")])
def test_bulk_delete_users__bad_body__is_400_naming_the_field(
    api: httpx.Client, project_id: str, body: Any, named: str
) -> None:
    # Given
    item_id = create_flag(api, project_id)
    api.post(_users_path("/api/1", "flags", item_id), json={"inclusions": ["a"]})
    before = snapshot(api, "flags", item_id)
    # When
    response = api.request("DELETE", _bulk_path("/api/1", "flags", item_id), json=body)
    # Then
    assert_error(response, 400, named)
    assert snapshot(api, "flags", item_id) == before


def test_bulk_delete_users__none_included__is_400_and_changes_nothing(api: httpx.Client, project_id: str) -> None:
    # Given
    item_id = create_flag(api, project_id)
    api.post(_users_path("/api/1", "flags", item_id), json={"inclusions": ["a"]})
    before = snapshot(api, "flags", item_id)
    # When
    response = api.request("DELETE", _bulk_path("/api/1", "flags", item_id), json={"users": ["zz"]})
    # Then
    assert_error(response, 400, "users")
    assert snapshot(api, "flags", item_id) == before


def test_add_users__100_000_in_batches_of_1000__read_back_in_order_in_one_request(
    api: httpx.Client, project_id: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, "experiments")
    path = f"/api/1/experiments/{item_id}/variants/treatment/users"
    ids = [f"user-{i:06d}@example.com" for i in range(100_000)]
    ids = ids[::2] + ids[1::2]  # an order that is not the sorted one
    # When
    for start in range(0, len(ids), 1000):
        assert_ok(api.post(path, json={"inclusions": ids[start : start + 1000]}))
    response = api.get(path)
    # Then
    assert response.status_code == 200
    assert response.json() == ids
    assert api.get(f"/api/1/experiments/{item_id}").json()["version"] == 101


def test_add_users__only_ids_already_included__no_new_version(api: httpx.Client, project_id: str) -> None:
    # Given a flag whose variant includes two users
    flag_id = create_flag(api, project_id)
    api.post(f"/api/1/flags/{flag_id}/variants/on/users", json={"inclusions": ["a", "b"]}).raise_for_status()
    before = api.get(f"/api/1/flags/{flag_id}/versions").json()
    # When the same users are added again
    response = api.post(f"/api/1/flags/{flag_id}/variants/on/users", json={"inclusions": ["b", "a"]})
    # Then the write succeeds but changes nothing, so it leaves no version
    assert response.status_code == 200 and response.text == "OK"
    assert api.get(f"/api/1/flags/{flag_id}/versions").json() == before
    assert api.get(f"/api/1/flags/{flag_id}/variants/on/users").json() == ["a", "b"]
