"""Variants of a flag or experiment, under both generations: list, get, create, edit, remove."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import (
    assert_error,
    assert_ok,
    create_flag,
    first_variant,
    segment_for,
    snapshot,
)


def test_list_variants__new_item__is_a_bare_array_of_defaults(
    api: httpx.Client, project_id: str, kind: str, prefix: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    # When
    response = api.get(f"{prefix}/{kind}/{item_id}/variants")
    # Then
    assert response.status_code == 200
    keys = ["on"] if kind == "flags" else ["control", "treatment"]
    assert response.json() == [
        {"key": k, "name": "", "description": "", "payload": None, "rolloutWeight": 1} for k in keys
    ]


def test_get_variant__known_key__is_the_variant(api: httpx.Client, project_id: str, kind: str, prefix: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    # When
    response = api.get(f"{prefix}/{kind}/{item_id}/variants/{first_variant(kind)}")
    # Then
    assert response.status_code == 200
    assert response.json()["key"] == first_variant(kind)


def test_get_variant__unknown_key__is_404(api: httpx.Client, project_id: str, kind: str, prefix: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    # When
    response = api.get(f"{prefix}/{kind}/{item_id}/variants/nope")
    # Then
    assert_error(response, 404, "nope")


def test_create_variant__full_body__answers_ok_and_reads_back(
    api: httpx.Client, project_id: str, kind: str, prefix: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    body = {"key": "new-variant-key", "description": "optional description", "name": "optional name",
            "payload": {"variant-payload": "example payload"}, "rolloutWeight": 0}
    # When
    response = api.post(f"{prefix}/{kind}/{item_id}/variants", json=body)
    # Then
    assert_ok(response)
    assert api.get(f"/api/1/{kind}/{item_id}/variants/new-variant-key").json() == body
    item = api.get(f"/api/1/{kind}/{item_id}").json()
    assert item["variants"][-1] == body
    assert item["rolloutWeights"]["new-variant-key"] == 0


def test_create_variant__key_only__gets_default_weight_1(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    # When
    assert_ok(api.post(f"/api/1/{kind}/{item_id}/variants", json={"key": "extra"}))
    # Then
    assert api.get(f"/api/1/{kind}/{item_id}/variants/extra").json() == {
        "key": "extra", "name": "", "description": "", "payload": None, "rolloutWeight": 1}


@pytest.mark.parametrize("payload", ["a string", 42, [1, 2], {"nested": {"deep": [True, None]}}, True])
def test_create_variant__any_json_payload__reads_back_as_written(
    api: httpx.Client, project_id: str, payload: Any
) -> None:
    # Given
    item_id = create_flag(api, project_id)
    # When
    assert_ok(api.post(f"/api/1/flags/{item_id}/variants", json={"key": "p", "payload": payload}))
    # Then
    assert api.get(f"/api/1/flags/{item_id}/variants/p").json()["payload"] == payload


VARIANT_ERRORS: list[tuple[Any, int, str]] = [
    ({"key": "off"}, 400, "key"),
    ({"key": "has space"}, 400, "key"),
    ({"key": "dot.ted"}, 400, "key"),
    ({"key": ""}, 400, "key"),
    ({"key": "x" * 201}, 400, "key"),
    ({}, 400, "key"),
    ({"key": 5}, 400, "key"),
    ({"key": "ok", "rolloutWeight": -1}, 400, "rolloutWeight"),
    ({"key": "ok", "rolloutWeight": "1"}, 400, "rolloutWeight"),
    ({"key": "ok", "extra": 1}, 400, "extra"),
]


@pytest.mark.parametrize(("body", "status", "named"), VARIANT_ERRORS, ids=[repr(b)[:40] for b, _, _ in VARIANT_ERRORS])
def test_create_variant__bad_body__is_refused_naming_the_field_and_changes_nothing(
    api: httpx.Client, project_id: str, kind: str, body: Any, status: int, named: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    before = snapshot(api, kind, item_id)
    # When
    response = api.post(f"/api/1/{kind}/{item_id}/variants", json=body)
    # Then
    assert_error(response, status, named)
    assert snapshot(api, kind, item_id) == before


def test_create_variant__existing_key__is_refused_and_changes_nothing(
    api: httpx.Client, project_id: str, kind: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    before = snapshot(api, kind, item_id)
    # When
    response = api.post(f"/api/1/{kind}/{item_id}/variants", json={"key": first_variant(kind)})
    # Then
    assert_error(response, 409, first_variant(kind))
    assert snapshot(api, kind, item_id) == before


def test_create_variant__unknown_item__is_404(api: httpx.Client, kind: str, prefix: str) -> None:
    # When
    response = api.post(f"{prefix}/{kind}/99999999/variants", json={"key": "x"})
    # Then
    assert_error(response, 404, "99999999")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"name": "Nice name"}, {"name": "Nice name"}),
        ({"description": "why"}, {"description": "why"}),
        ({"payload": {"color": "blue"}}, {"payload": {"color": "blue"}}),
        ({"payload": None}, {"payload": None}),
        ({"rolloutWeight": 10}, {"rolloutWeight": 10}),
    ],
)
def test_edit_variant__one_field__answers_ok_and_changes_only_it(
    api: httpx.Client, project_id: str, kind: str, prefix: str, changes: dict[str, Any], expected: dict[str, Any]
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind, variants=[{"key": "a", "name": "A", "description": "d",
                                                            "payload": {"old": 1}}])
    before = api.get(f"/api/1/{kind}/{item_id}/variants/a").json()
    # When
    response = api.patch(f"{prefix}/{kind}/{item_id}/variants/a", json=changes)
    # Then
    assert_ok(response)
    assert api.get(f"/api/1/{kind}/{item_id}/variants/a").json() == {**before, **expected}


def test_edit_variant__payload__replaces_the_whole_payload(api: httpx.Client, project_id: str) -> None:
    # Given
    item_id = create_flag(api, project_id, variants=[{"key": "a", "payload": {"x": 1, "y": 2}}])
    # When
    assert_ok(api.patch(f"/api/1/flags/{item_id}/variants/a", json={"payload": {"z": 3}}))
    # Then
    assert api.get(f"/api/1/flags/{item_id}/variants/a").json()["payload"] == {"z": 3}


def test_edit_variant__rename__keeps_inclusions_position_and_renames_weights(
    api: httpx.Client, project_id: str, kind: str, prefix: str
) -> None:
    # Given
    old = first_variant(kind)
    item_id = create_flag(api, project_id, kind, targetSegments=[segment_for(kind)])
    base = f"/api/1/{kind}/{item_id}/variants"
    assert_ok(api.post(f"{base}/{old}/users", json={"inclusions": ["u1", "u2"]}))
    assert_ok(api.post(f"{base}/{old}/cohorts", json={"inclusions": ["c1"]}))
    keys_before = [v["key"] for v in api.get(f"/api/1/{kind}/{item_id}").json()["variants"]]
    # When
    response = api.patch(f"{prefix}/{kind}/{item_id}/variants/{old}", json={"key": "renamed"})
    # Then
    assert_ok(response)
    item = api.get(f"/api/1/{kind}/{item_id}").json()
    assert [v["key"] for v in item["variants"]] == ["renamed" if k == old else k for k in keys_before]
    assert "renamed" in item["rolloutWeights"] and old not in item["rolloutWeights"]
    assert "renamed" in item["targetSegments"][0]["rolloutWeights"]
    assert old not in item["targetSegments"][0]["rolloutWeights"]
    assert api.get(f"{base}/renamed/users").json() == ["u1", "u2"]
    assert api.get(f"{base}/renamed/cohorts").json() == ["c1"]
    assert_error(api.get(f"{base}/{old}"), 404)


def test_edit_variant__rename_of_rolled_out_variant__follows_the_rename(
    api: httpx.Client, project_id: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, "experiments")
    api.patch(f"/api/1/experiments/{item_id}", json={"rolledOutVariant": "treatment"})
    # When
    assert_ok(api.patch(f"/api/1/experiments/{item_id}/variants/treatment", json={"key": "winner"}))
    # Then
    assert api.get(f"/api/1/experiments/{item_id}").json()["rolledOutVariant"] == "winner"


@pytest.mark.parametrize(
    ("changes", "status", "named"),
    [
        ({"key": "off"}, 400, "key"),
        ({"key": "bad key"}, 400, "key"),
        ({"key": "treatment"}, 409, "treatment"),
        ({"rolloutWeight": -3}, 400, "rolloutWeight"),
        ({"rolloutWeight": 1.5}, 400, "rolloutWeight"),
        ({"name": 3}, 400, "name"),
        ({"colour": "red"}, 400, "colour"),
    ],
)
def test_edit_variant__bad_change__is_refused_naming_the_field_and_changes_nothing(
    api: httpx.Client, project_id: str, changes: dict[str, Any], status: int, named: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, "experiments")
    before = snapshot(api, "experiments", item_id)
    # When
    response = api.patch(f"/api/1/experiments/{item_id}/variants/control", json=changes)
    # Then
    assert_error(response, status, named)
    assert snapshot(api, "experiments", item_id) == before


def test_edit_variant__unknown_variant__is_404(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    # When
    response = api.patch(f"/api/1/{kind}/{item_id}/variants/nope", json={"name": "x"})
    # Then
    assert_error(response, 404, "nope")


def test_remove_variant__known__answers_ok_and_drops_it_everywhere(
    api: httpx.Client, project_id: str, prefix: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, "experiments", targetSegments=[segment_for("experiments")])
    assert_ok(api.post(f"/api/1/experiments/{item_id}/variants/treatment/users", json={"inclusions": ["u"]}))
    # When
    response = api.delete(f"{prefix}/experiments/{item_id}/variants/treatment")
    # Then
    assert_ok(response)
    item = api.get(f"/api/1/experiments/{item_id}").json()
    assert [v["key"] for v in item["variants"]] == ["control"]
    assert item["rolloutWeights"] == {"control": 1}
    assert item["targetSegments"][0]["rolloutWeights"] == {"control": 1}
    assert_error(api.get(f"/api/1/experiments/{item_id}/variants/treatment/users"), 404)


def test_remove_variant__then_recreate_same_key__starts_without_inclusions(
    api: httpx.Client, project_id: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, "experiments")
    base = f"/api/1/experiments/{item_id}/variants"
    assert_ok(api.post(f"{base}/treatment/users", json={"inclusions": ["u"]}))
    assert_ok(api.delete(f"{base}/treatment"))
    # When
    assert_ok(api.post(base, json={"key": "treatment"}))
    # Then
    assert api.get(f"{base}/treatment/users").json() == []


def test_remove_variant__unknown__is_404_and_changes_nothing(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    before = snapshot(api, kind, item_id)
    # When
    response = api.delete(f"/api/1/{kind}/{item_id}/variants/nope")
    # Then
    assert_error(response, 404, "nope")
    assert snapshot(api, kind, item_id) == before
