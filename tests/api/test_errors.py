"""Bad input on any route: one error envelope, the right status, and nothing changed."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.factories import (
    assert_error,
    create_flag,
    create_holdout,
    create_mutex,
    snapshot,
    unique_key,
)
from tests.support.server import Server

MANAGEMENT = re.compile(r"^/(api/1/|flags/|experiments/|deployments/)")


@pytest.fixture(scope="module")
def body_routes(server: Server) -> list[tuple[str, str]]:
    """Every management route that reads a JSON body, from the server's OpenAPI document."""
    spec = httpx.get(f"{server.base_url}/openapi.json").json()
    return sorted(
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        if MANAGEMENT.match(path)
        for method, operation in operations.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    )


@pytest.fixture(scope="module")
def optional_body_routes(server: Server) -> set[tuple[str, str]]:
    """The JSON-body routes whose body may be left out (an approval's comment, say)."""
    spec = httpx.get(f"{server.base_url}/openapi.json").json()
    return {(method.upper(), path) for path, operations in spec["paths"].items() if MANAGEMENT.match(path)
            for method, operation in operations.items()
            if "requestBody" in operation and not operation["requestBody"].get("required", False)}


@pytest.fixture(scope="module")
def item(api: httpx.Client, project_id: str) -> dict[str, str]:
    return {"flags": create_flag(api, project_id, "flags"), "experiments": create_flag(api, project_id, "experiments"),
            "holdouts": create_holdout(api, project_id), "mutexes": create_mutex(api, project_id)}


def _fill(path: str, item: dict[str, str], deployment_id: str) -> str:
    kind = next((kind for kind in ("flags", "experiments", "holdouts", "mutexes") if f"/{kind}" in path),
                "deployments")
    values = {"id": item.get(kind, deployment_id), "variantKey": "on" if kind == "flags" else "control",
              "userIndex": "0", "versionId": "1", "deploymentId": deployment_id, "slotIndex": "1"}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def _state(api: httpx.Client, item: dict[str, str]) -> dict[str, Any]:
    return {
        "flag": snapshot(api, "flags", item["flags"]),
        "experiment": snapshot(api, "experiments", item["experiments"]),
        "deployments": api.get("/api/1/deployments").json(),
        "flags": api.get("/api/1/flags", params={"limit": 3}).json(),
        "experiments": api.get("/api/1/experiments", params={"limit": 3}).json(),
        "holdout": api.get(f"/api/1/holdouts/{item['holdouts']}").json(),
        "mutex": api.get(f"/api/1/mutexes/{item['mutexes']}").json(),
    }


def test_body_routes__enumerated__include_every_kind_of_write(body_routes: list[tuple[str, str]]) -> None:
    # Then
    assert len(body_routes) >= 30
    assert ("POST", "/api/1/flags") in body_routes
    assert ("DELETE", "/experiments/{id}/variants/{variantKey}/bulk-delete-cohorts") in body_routes


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b'{"key": ', ("JSON",)),
        (b"not json at all", ("JSON",)),
        (b"[1, 2]", ("object",)),
        (b'"a string"', ("object",)),
        (b"", ("body",)),
    ],
    ids=["truncated", "text", "array", "string", "empty"],
)
def test_every_body_route__body_not_a_json_object__is_400_and_changes_nothing(
    api: httpx.Client, body_routes: list[tuple[str, str]], optional_body_routes: set[tuple[str, str]],
    item: dict[str, str], deployment: dict[str, str], raw: bytes, words: tuple[str, ...],
) -> None:
    # Given (an empty body is no body, which a route whose body is optional accepts)
    if not raw:
        body_routes = [route for route in body_routes if route not in optional_body_routes]
    before = _state(api, item)
    # When
    answers = {
        (m, p): api.request(m, _fill(p, item, deployment["id"]), content=raw,
                            headers={"Content-Type": "application/json"})
        for m, p in body_routes
    }
    # Then
    assert {route: r.status_code for route, r in answers.items() if r.status_code != 400} == {}
    for response in answers.values():
        assert_error(response, 400, *words)
    assert _state(api, item) == before


def test_every_body_route__unknown_field__is_400_naming_it_and_changes_nothing(
    api: httpx.Client, body_routes: list[tuple[str, str]], item: dict[str, str], deployment: dict[str, str]
) -> None:
    # Given
    before = _state(api, item)
    # When
    answers = {(m, p): api.request(m, _fill(p, item, deployment["id"]), json={"surpriseField": 1})
               for m, p in body_routes}
    # Then
    assert {route: r.status_code for route, r in answers.items() if r.status_code != 400} == {}
    for response in answers.values():
        assert_error(response, 400)
    assert _state(api, item) == before


def test_create__json_sent_as_form_content_type__is_read_as_json(api: httpx.Client, project_id: str) -> None:
    # Given
    key = unique_key()
    raw = f'{{"projectId": "{project_id}", "key": "{key}"}}'.encode()
    # When
    response = api.post("/api/1/flags", content=raw, headers={"Content-Type": "application/x-www-form-urlencoded"})
    # Then
    assert response.status_code == 200, response.text
    assert api.get("/api/1/flags", params={"key": key}).json()["flags"][0]["key"] == key


def test_create__body_over_the_limit__is_413_and_creates_nothing(api: httpx.Client, project_id: str) -> None:
    # Given
    key = unique_key()
    body = {"projectId": project_id, "key": key, "description": "x" * 2_000_000}
    # When
    response = api.post("/api/1/flags", json=body)
    # Then
    assert_error(response, 413, "body")
    assert api.get("/api/1/flags", params={"key": key}).json()["flags"] == []


def test_add_users__streamed_body_over_the_limit__is_413_and_changes_nothing(
    api: httpx.Client, item: dict[str, str]
) -> None:
    # Given
    before = snapshot(api, "flags", item["flags"])
    chunk = b'"user-0000000000",' * 1000

    def stream():  # no Content-Length: the server must count as it reads
        yield b'{"inclusions": ['
        for _ in range(100):
            yield chunk
        yield b'"last"]}'

    # When
    response = api.post(f"/api/1/flags/{item['flags']}/variants/on/users", content=stream(),
                        headers={"Content-Type": "application/json"})
    # Then
    assert_error(response, 413, "body")
    assert snapshot(api, "flags", item["flags"]) == before


def test_unknown_management_route__is_404_with_the_error_envelope(api: httpx.Client) -> None:
    # When
    response = api.get("/api/1/nothing-here")
    # Then
    assert_error(response, 404)


@pytest.mark.parametrize(("method", "path"), [("PUT", "/api/1/flags/{id}"), ("DELETE", "/api/1/flags/{id}"),
                                              ("POST", "/api/1/versions")])
def test_wrong_method__is_405_with_the_error_envelope(
    api: httpx.Client, item: dict[str, str], method: str, path: str
) -> None:
    # Given
    before = snapshot(api, "flags", item["flags"])
    # When
    response = api.request(method, path.format(id=item["flags"]), json={"name": "x"})
    # Then
    assert_error(response, 405)
    assert snapshot(api, "flags", item["flags"]) == before


@pytest.mark.parametrize(("param", "value"), [("limit", "ten"), ("limit", "-5"), ("limit", "0"), ("cursor", "abc"),
                                              ("cursor", "0"), ("cursor", "-3")])
@pytest.mark.parametrize("path", ["/api/1/flags", "/api/1/experiments", "/flags/list", "/experiments/list",
                                  "/api/1/deployments", "/deployments/list", "/api/1/versions"])
def test_list__bad_limit_or_cursor__is_400_naming_it(api: httpx.Client, path: str, param: str, value: str) -> None:
    # When
    response = api.get(path, params={param: value})
    # Then
    assert_error(response, 400, param)
