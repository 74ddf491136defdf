"""Cursor paging: stable while others create and archive, capped, never a cursor of 0."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import create_flag
from tests.support.server import Server

LIST_PATHS = {"flags": ("/api/1/flags", "/flags/list"), "experiments": ("/api/1/experiments", "/experiments/list")}


def _page(api: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("include_archived", [False, True])
def test_paging__while_others_create_and_archive__skips_and_repeats_nothing(
    api: httpx.Client, server: Server, kind: str, include_archived: bool
) -> None:
    # Given
    paging_project = server.create_project("paging")
    initial = [create_flag(api, paging_project, kind) for _ in range(10)]
    newest_first = list(reversed(initial))
    archived_unseen: set[str] = set()
    seen: list[str] = []
    params: dict[str, Any] = {"projectId": paging_project, "limit": 3}
    if include_archived:
        params["includeArchived"] = "true"
    # When
    while True:
        body = _page(api, f"/api/1/{kind}", **params)
        assert len(body[kind]) <= 3
        seen += [item["id"] for item in body[kind]]
        # Others write between our pages: new items, an archived item already seen, one not yet seen.
        create_flag(api, paging_project, kind)
        unseen = [i for i in newest_first if i not in seen and i not in archived_unseen]
        if unseen:
            api.patch(f"/api/1/{kind}/{unseen[-1]}", json={"archive": True})
            archived_unseen.add(unseen[-1])
        if seen:
            api.patch(f"/api/1/{kind}/{seen[0]}", json={"archive": True})
        if "nextCursor" not in body:
            break
        assert body["nextCursor"] not in (None, 0, "0", "")
        params["cursor"] = body["nextCursor"]
    # Then
    started_after = [i for i in seen if i not in initial]
    assert started_after == []
    assert len(seen) == len(set(seen))
    expected = newest_first if include_archived else [i for i in newest_first if i not in archived_unseen]
    assert seen == expected


def test_paging__exact_multiple_of_the_limit__ends_without_an_empty_page(
    api: httpx.Client, server: Server, kind: str
) -> None:
    # Given
    project = server.create_project("exact")
    ids = [create_flag(api, project, kind) for _ in range(4)]
    # When
    first = _page(api, f"/api/1/{kind}", projectId=project, limit=2)
    second = _page(api, f"/api/1/{kind}", projectId=project, limit=2, cursor=first["nextCursor"])
    # Then
    assert [i["id"] for i in first[kind]] == ids[:1:-1]
    assert [i["id"] for i in second[kind]] == ids[1::-1]
    assert "nextCursor" not in second


def test_paging__beta_list__pages_like_the_current_one(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    for _ in range(3):
        create_flag(api, project_id, kind)
    current_path, beta_path = LIST_PATHS[kind]
    # When
    current = _page(api, current_path, limit=2)
    beta = _page(api, beta_path, limit=2)
    beta_next = _page(api, beta_path, limit=2, cursor=beta["nextCursor"])
    current_next = _page(api, current_path, limit=2, cursor=current["nextCursor"])
    # Then
    assert beta == current
    assert beta_next == current_next


def test_paging__empty_result__has_no_cursor(api: httpx.Client, kind: str) -> None:
    # When
    body = _page(api, f"/api/1/{kind}", projectId="987654")
    # Then
    assert body == {kind: []}


def test_limit__above_1000__is_capped_at_1000(api: httpx.Client, project_id: str) -> None:
    # Given: more than 1000 versions exist
    item_id = create_flag(api, project_id)
    total = 0
    params: dict[str, Any] = {"limit": 1000}
    while True:
        body = _page(api, "/api/1/versions", **params)
        total += len(body["versions"])
        if "nextCursor" not in body:
            break
        params["cursor"] = body["nextCursor"]
    for i in range(max(0, 1001 - total)):
        assert api.post(f"/api/1/flags/{item_id}/variants/on/users", json={"inclusions": [f"u{i}"]}).status_code == 200
    # When
    capped = _page(api, "/api/1/versions", limit=5000)
    default = _page(api, "/api/1/versions")
    # Then
    assert len(capped["versions"]) == 1000
    assert "nextCursor" in capped
    assert capped == default
