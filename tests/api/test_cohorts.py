"""Cohort inclusions of a variant: list, add, bulk delete."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import assert_error, assert_ok, create_flag, first_variant, snapshot


def _path(prefix: str, kind: str, item_id: str, tail: str = "cohorts") -> str:
    return f"{prefix}/{kind}/{item_id}/variants/{first_variant(kind)}/{tail}"


def _cohorts(api: httpx.Client, kind: str, item_id: str) -> list[str]:
    response = api.get(_path("/api/1", kind, item_id))
    assert response.status_code == 200, response.text
    return response.json()


def test_list_cohorts__new_variant__is_an_empty_array(
    api: httpx.Client, project_id: str, kind: str, prefix: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    # When
    response = api.get(_path(prefix, kind, item_id))
    # Then
    assert response.status_code == 200
    assert response.json() == []


def test_add_cohorts__free_form_ids__are_listed_in_order_without_duplicates(
    api: httpx.Client, project_id: str, kind: str, prefix: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    # When
    first = api.post(_path(prefix, kind, item_id), json={"inclusions": ["cohort-id-2", "cohort-id-1"]})
    second = api.post(_path(prefix, kind, item_id), json={"inclusions": ["cohort-id-1", "abc123"]})
    # Then
    assert_ok(first)
    assert_ok(second)
    assert _cohorts(api, kind, item_id) == ["cohort-id-2", "cohort-id-1", "abc123"]


def test_add_cohorts__does_not_touch_users(api: httpx.Client, project_id: str) -> None:
    # Given
    item_id = create_flag(api, project_id)
    # When
    assert_ok(api.post(_path("/api/1", "flags", item_id), json={"inclusions": ["c1"]}))
    # Then
    assert api.get(_path("/api/1", "flags", item_id, "users")).json() == []


@pytest.mark.parametrize(
    ("body", "named"),
    [({"inclusions": "c1"}, "inclusions"), ({"inclusions": [7]}, "inclusions[0]"), ({}, "inclusions")],
)
def test_add_cohorts__bad_body__is_400_naming_the_field_and_changes_nothing(
    api: httpx.Client, project_id: str, kind: str, body: Any, named: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    before = snapshot(api, kind, item_id)
    # When
    response = api.post(_path("/api/1", kind, item_id), json=body)
    # Then
    assert_error(response, 400, named)
    assert snapshot(api, kind, item_id) == before


def test_bulk_delete_cohorts__some_ids__removes_them(api: httpx.Client, project_id: str, kind: str, prefix: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    api.post(_path("/api/1", kind, item_id), json={"inclusions": ["c1", "c2", "c3"]})
    # When
    response = api.request("DELETE", _path(prefix, kind, item_id, "bulk-delete-cohorts"), json={"users": ["c1", "c3"]})
    # Then
    assert_ok(response)
    assert _cohorts(api, kind, item_id) == ["c2"]


def test_bulk_delete_cohorts__101_ids__is_400_and_changes_nothing(api: httpx.Client, project_id: str) -> None:
    # Given
    item_id = create_flag(api, project_id)
    ids = [f"cohort-{i}" for i in range(101)]
    api.post(_path("/api/1", "flags", item_id), json={"inclusions": ids})
    before = snapshot(api, "flags", item_id)
    # When
    response = api.request("DELETE", _path("/api/1", "flags", item_id, "bulk-delete-cohorts"), json={"users": ids})
    # Then
    assert_error(response, 400, "users", "100")
    assert snapshot(api, "flags", item_id) == before


def test_bulk_delete_cohorts__none_included__is_400_and_changes_nothing(api: httpx.Client, project_id: str) -> None:
    # Given
    item_id = create_flag(api, project_id)
    api.post(_path("/api/1", "flags", item_id), json={"inclusions": ["c1"]})
    before = snapshot(api, "flags", item_id)
    # When
    response = api.request("DELETE", _path("/api/1", "flags", item_id, "bulk-delete-cohorts"), json={"users": ["c9"]})
    # Then
    assert_error(response, 400)
    assert snapshot(api, "flags", item_id) == before


def test_bulk_delete_cohorts__unknown_variant__is_404(api: httpx.Client, project_id: str) -> None:
    # Given
    item_id = create_flag(api, project_id)
    # When
    response = api.request("DELETE", f"/api/1/flags/{item_id}/variants/nope/bulk-delete-cohorts", json={"users": ["c"]})
    # Then
    assert_error(response, 404, "nope")
