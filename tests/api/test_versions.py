"""Version history: per item (both generations) and /api/1/versions across items."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.factories import (
    assert_error,
    assert_ok,
    create_flag,
    first_variant,
    segment_for,
    unique_key,
)

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _writes(api: httpx.Client, kind: str, item_id: str, deployment_id: str) -> list[Callable[[], httpx.Response]]:
    """One write of every kind that changes an item, in an order that is valid."""
    base = f"/api/1/{kind}/{item_id}"
    variant = first_variant(kind)
    writes: list[Callable[[], httpx.Response]] = [
        lambda: api.patch(base, json={"name": "renamed", "description": "d"}),
        lambda: api.patch(base, json={"targetSegments": [segment_for(kind)]}),
        lambda: api.post(f"{base}/deployments", json={"deployments": [deployment_id]}),
        lambda: api.patch(base, json={"enabled": True}),
        lambda: api.post(f"{base}/variants", json={"key": "extra", "payload": {"a": 1}}),
        lambda: api.patch(f"{base}/variants/extra", json={"key": "extra2", "rolloutWeight": 4}),
        lambda: api.post(f"{base}/variants/{variant}/users", json={"inclusions": ["u1", "u2", "u3"]}),
        lambda: api.delete(f"{base}/variants/{variant}/users/1"),
        lambda: api.request("DELETE", f"{base}/variants/{variant}/bulk-delete-users", json={"users": ["u3"]}),
        lambda: api.delete(f"{base}/variants/{variant}/users"),
        lambda: api.post(f"{base}/variants/{variant}/cohorts", json={"inclusions": ["c1", "c2"]}),
        lambda: api.request("DELETE", f"{base}/variants/{variant}/bulk-delete-cohorts", json={"users": ["c1"]}),
        lambda: api.delete(f"{base}/variants/extra2"),
        lambda: api.patch(base, json={"enabled": False}),
        lambda: api.delete(f"{base}/deployments/{deployment_id}"),
        lambda: api.patch(base, json={"archive": True}),
        lambda: api.patch(base, json={"archive": False}),
    ]
    if kind == "experiments":
        writes += [
            lambda: api.post(f"/experiments/{item_id}/rollout-weights", json={"rolloutWeights": {"control": 3}}),
            lambda: api.post(f"{base}/deployments", json={"deployments": [deployment_id]}),
            lambda: api.post(f"/experiments/{item_id}/activate"),
            lambda: api.post(f"/experiments/{item_id}/deactivate"),
            lambda: api.patch(base, json={"decision": "rollback", "decisionReason": "r"}),
        ]
    return writes


def test_versions__after_every_kind_of_write__are_1_to_n_newest_first_matching_each_get(
    api: httpx.Client, project_id: str, deployment: dict[str, str], kind: str, prefix: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    seen = [api.get(f"/api/1/{kind}/{item_id}").json()]
    # When
    for write in _writes(api, kind, item_id, deployment["id"]):
        response = write()
        assert response.status_code == 200, response.text
        seen.append(api.get(f"/api/1/{kind}/{item_id}").json())
    versions = api.get(f"{prefix}/{kind}/{item_id}/versions").json()
    # Then
    n = len(seen)
    assert [v["version"] for v in versions] == list(range(n, 0, -1))
    assert [v["flagConfig"] for v in reversed(versions)] == seen
    assert versions[0]["flagConfig"] == api.get(f"/api/1/{kind}/{item_id}").json()
    assert {v["createdBy"] for v in versions} == {"admin@example.com"}
    assert all(set(v) == {"version", "createdAt", "createdBy", "flagConfig"} for v in versions)
    assert all(TIMESTAMP.match(v["createdAt"]) for v in versions)
    assert [v["createdAt"] for v in versions] == sorted((v["createdAt"] for v in versions), reverse=True)


def test_version__one__is_what_get_showed_then(
    api: httpx.Client, editor_api: httpx.Client, project_id: str, kind: str, prefix: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    first = api.get(f"/api/1/{kind}/{item_id}").json()
    second = editor_api.patch(f"/api/1/{kind}/{item_id}", json={"name": "second"}).json()
    # When
    v1 = api.get(f"{prefix}/{kind}/{item_id}/versions/1")
    v2 = api.get(f"{prefix}/{kind}/{item_id}/versions/2")
    # Then
    assert v1.status_code == v2.status_code == 200
    assert v1.json()["flagConfig"] == first
    assert (v1.json()["version"], v1.json()["createdBy"]) == (1, "admin@example.com")
    assert v2.json()["flagConfig"] == second
    assert (v2.json()["version"], v2.json()["createdBy"]) == (2, "editor@example.com")


@pytest.mark.parametrize("version_id", ["3", "0", "abc", "-1"])
def test_version__unknown__is_404(api: httpx.Client, project_id: str, kind: str, version_id: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    api.patch(f"/api/1/{kind}/{item_id}", json={"name": "v2"})
    # When
    response = api.get(f"/api/1/{kind}/{item_id}/versions/{version_id}")
    # Then
    assert_error(response, 404, version_id)


def test_versions__unknown_item__is_404(api: httpx.Client, kind: str) -> None:
    # When
    response = api.get(f"/api/1/{kind}/99999999/versions")
    # Then
    assert_error(response, 404, "99999999")


def test_versions__refused_write__adds_no_version(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    # When
    api.patch(f"/api/1/{kind}/{item_id}", json={"rolloutPercentage": 150})
    api.patch(f"/api/1/{kind}/{item_id}", json={"enabled": True})
    api.post(f"/api/1/{kind}/{item_id}/variants", json={"key": "off"})
    # Then
    assert [v["version"] for v in api.get(f"/api/1/{kind}/{item_id}/versions").json()] == [1]


# --- /api/1/versions -------------------------------------------------------------------------


def _global(api: httpx.Client, **params: Any) -> dict[str, Any]:
    response = api.get("/api/1/versions", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _mine(versions: list[dict[str, Any]], item_id: str) -> list[int]:
    return [v["version"] for v in versions if v["flagConfig"]["id"] == item_id]


def test_global_versions__newest_first_across_kinds(api: httpx.Client, project_id: str) -> None:
    # Given
    flag_id = create_flag(api, project_id, "flags")
    experiment_id = create_flag(api, project_id, "experiments")
    api.patch(f"/api/1/flags/{flag_id}", json={"name": "later"})
    # When
    versions = _global(api, limit=3)["versions"]
    # Then
    assert [(v["flagConfig"]["id"], v["version"]) for v in versions] == [
        (flag_id, 2), (experiment_id, 1), (flag_id, 1)]
    assert all(set(v) >= {"version", "createdAt", "createdBy", "flagConfig"} for v in versions)


def test_global_versions__window_including_today__has_todays_changes(api: httpx.Client, project_id: str) -> None:
    # Given
    item_id = create_flag(api, project_id)
    today = datetime.now(UTC).date()
    # When
    by_date = _global(api, start=str(today - timedelta(days=1)), end=str(today + timedelta(days=1)))["versions"]
    by_time = _global(api, start=(datetime.now(UTC) - timedelta(hours=1)).isoformat())["versions"]
    # Then
    assert _mine(by_date, item_id) == [1]
    assert _mine(by_time, item_id) == [1]


def test_global_versions__window_in_the_past_or_future__excludes_todays_changes(
    api: httpx.Client, project_id: str
) -> None:
    # Given
    item_id = create_flag(api, project_id)
    today = datetime.now(UTC).date()
    # When
    past = _global(api, end=str(today - timedelta(days=1)))["versions"]
    future = _global(api, start=str(today + timedelta(days=1)))["versions"]
    # Then
    assert _mine(past, item_id) == []
    assert future == []


def test_global_versions__paged_by_2__visits_each_version_once(
    api: httpx.Client, other_project_api: httpx.Client, other_project_id: str
) -> None:
    # Given: a key that sees only the other project, so the whole history is short
    item_id = create_flag(other_project_api, other_project_id)
    for i in range(4):
        other_project_api.patch(f"/api/1/flags/{item_id}", json={"name": f"n{i}"})
    everything = [(v["flagConfig"]["id"], v["version"]) for v in _global(other_project_api)["versions"]]
    # When
    seen: list[tuple[str, int]] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        body = _global(other_project_api, **params)
        assert 1 <= len(body["versions"]) <= 2
        seen += [(v["flagConfig"]["id"], v["version"]) for v in body["versions"]]
        if "nextCursor" not in body:
            break
        assert body["nextCursor"] not in (None, 0, "0", "")
        params["cursor"] = body["nextCursor"]
    # Then
    assert seen == everything
    assert seen[:5] == [(item_id, n) for n in (5, 4, 3, 2, 1)]


@pytest.mark.parametrize(("param", "value"), [("start", "yesterday"), ("end", "2024-13-45"), ("limit", "0"),
                                              ("cursor", "nope")])
def test_global_versions__bad_query__is_400_naming_it(api: httpx.Client, param: str, value: str) -> None:
    # When
    response = api.get("/api/1/versions", params={param: value})
    # Then
    assert_error(response, 400, param)


def test_global_versions__scoped_key__sees_only_its_project(
    api: httpx.Client, other_project_api: httpx.Client, project_id: str, other_project_id: str
) -> None:
    # Given
    mine = create_flag(api, project_id, key=unique_key())
    theirs = create_flag(other_project_api, other_project_id)
    # When
    versions = other_project_api.get("/api/1/versions").json()["versions"]
    # Then
    ids = {v["flagConfig"]["id"] for v in versions}
    assert theirs in ids and mine not in ids
    assert {v["flagConfig"]["projectId"] for v in versions} == {other_project_id}


def test_versions__beta_activate__records_a_version_with_ok_text(
    api: httpx.Client, project_id: str, deployment: dict[str, str]
) -> None:
    # Given
    item_id = create_flag(api, project_id, "experiments", deployments=[deployment["id"]])
    # When
    assert_ok(api.post(f"/experiments/{item_id}/activate"))
    # Then
    latest = api.get(f"/experiments/{item_id}/versions").json()[0]
    assert latest["version"] == 2
    assert latest["flagConfig"]["enabled"] is True


def test_versions__concurrent_writes_to_one_item__run_1_to_n_without_gap_or_duplicate(
    api: httpx.Client, project_id: str, kind: str
) -> None:
    # Given
    from concurrent.futures import ThreadPoolExecutor

    item_id = create_flag(api, project_id, kind)
    variant = first_variant(kind)

    def write(i: int) -> int:
        with httpx.Client(base_url=str(api.base_url), headers=dict(api.headers), timeout=60) as client:
            if i % 2:
                return client.patch(f"/api/1/{kind}/{item_id}", json={"description": f"d{i}"}).status_code
            return client.post(f"/api/1/{kind}/{item_id}/variants/{variant}/users",
                               json={"inclusions": [f"u{i}"]}).status_code

    # When
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(write, range(24)))
    # Then
    assert statuses == [200] * 24
    versions = api.get(f"/api/1/{kind}/{item_id}/versions").json()
    assert [v["version"] for v in versions] == list(range(25, 0, -1))
    assert versions[0]["flagConfig"] == api.get(f"/api/1/{kind}/{item_id}").json()
    assert sorted(api.get(f"/api/1/{kind}/{item_id}/variants/{variant}/users").json()) == sorted(
        f"u{i}" for i in range(0, 24, 2))


def test_versions__created_at__is_the_items_last_modified_at_then(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    api.patch(f"/api/1/{kind}/{item_id}", json={"name": "second"})
    # When
    versions = api.get(f"/api/1/{kind}/{item_id}/versions").json()
    # Then
    assert all(v["createdAt"] == v["flagConfig"]["lastModifiedAt"] for v in versions)
    assert versions[-1]["createdAt"] == versions[-1]["flagConfig"]["createdAt"]
