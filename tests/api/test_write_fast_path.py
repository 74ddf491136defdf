"""A flag or experiment PATCH answered before routing (api/management/write_fast_path.py) reads
exactly as one that routing answers: the same document, the same errors, the same metrics label.

A body labelled `application/json; charset=utf-8` is one the fast path leaves to routing, so
each case is sent both ways and the answers compared.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import create_flag
from tests.support.server import Server

ROUTED = {"Content-Type": "application/json; charset=utf-8"}
FAST = {"Content-Type": "application/json"}
BOOKKEEPING = ("version", "lastModifiedAt", "lastModifiedBy")


def _document(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return {k: v for k, v in response.json().items() if k not in BOOKKEEPING}


def test_edit__fast_and_routed__same_document(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    body = b'{"rolloutPercentage": 37, "description": "caf\\u00e9", "tags": ["a", "b"]}'
    # When
    fast = api.patch(f"/api/1/{kind}/{item_id}", content=body, headers=FAST)
    routed = api.patch(f"/api/1/{kind}/{item_id}", content=body, headers=ROUTED)
    # Then
    assert _document(fast) == _document(routed)
    assert routed.json()["version"] == fast.json()["version"] + 1
    assert fast.headers["content-type"] == routed.headers["content-type"]


@pytest.mark.parametrize("body", [
    b"{}",
    b'{"rolloutPercentage": 101}',
    b'{"rolloutPercentage": 10, "nope": 1}',
    b'{"name": "x",',
    b"[]",
    b'"x"',
    b"null",
    b'{"enabled": true, "deployments": []}',
    b"\xff\xfe",
])
def test_edit__bad_body__same_error_either_way(api: httpx.Client, project_id: str, kind: str,
                                                body: bytes) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    # When
    fast = api.patch(f"/api/1/{kind}/{item_id}", content=body, headers=FAST)
    routed = api.patch(f"/api/1/{kind}/{item_id}", content=body, headers=ROUTED)
    # Then
    assert fast.status_code == routed.status_code
    assert fast.status_code >= 400
    assert fast.json() == routed.json()


def test_edit__unknown_or_malformed_id__same_404(api: httpx.Client, kind: str) -> None:
    for raw in ("99999999", "abc", "0", "12345678901"):
        fast = api.patch(f"/api/1/{kind}/{raw}", content=b'{"name": "x"}', headers=FAST)
        routed = api.patch(f"/api/1/{kind}/{raw}", content=b'{"name": "x"}', headers=ROUTED)
        assert (fast.status_code, fast.json()) == (routed.status_code, routed.json())
        assert fast.status_code == 404


def test_edit__chunked_body__is_answered(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given a body sent without a declared length, which the fast path leaves to routing
    item_id = create_flag(api, project_id, kind)
    # When
    response = api.patch(f"/api/1/{kind}/{item_id}", content=iter([b'{"rolloutPercentage":', b" 12}"]),
                         headers=FAST)
    # Then
    assert response.status_code == 200, response.text
    assert response.json()["rolloutPercentage"] == 12


def test_edit__read_only_key__403(read_only_api: httpx.Client, api: httpx.Client,
                                                          project_id: str, kind: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    # When
    response = read_only_api.patch(f"/api/1/{kind}/{item_id}", content=b'{"name": "x"}', headers=FAST)
    # Then
    assert response.status_code == 403


def test_edit__metrics__labelled_by_the_route_template(api: httpx.Client, server: Server,
                                                       project_id: str) -> None:
    # Given
    item_id = create_flag(api, project_id, "flags")
    # When
    api.patch(f"/api/1/flags/{item_id}", content=b'{"rolloutPercentage": 5}', headers=FAST)
    text = httpx.get(f"{server.base_url}/metrics").text
    # Then
    assert 'flagyard_http_requests_total{method="PATCH",route="/api/1/flags/{id}",status="200"}' in text
