"""Authentication and authorization on every management route of both generations.

The routes are read from the running server's OpenAPI document, so a route added later is
checked too.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.factories import (
    assert_error,
    create_cohort,
    create_flag,
    create_holdout,
    create_mutex,
    snapshot,
    unique_key,
)
from tests.support.server import Server

MANAGEMENT = re.compile(r"^/(api/1/|flags/|experiments/|deployments/)")
WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}


@pytest.fixture(scope="module")
def routes(server: Server) -> list[tuple[str, str]]:
    spec = httpx.get(f"{server.base_url}/openapi.json").json()
    found = [
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        if MANAGEMENT.match(path)
        for method in operations
        if method.upper() in {"GET", *WRITE_METHODS}
    ]
    return sorted(found)


# A change far ahead: the server never applies it during the run.
SCHEDULE = {"at": "2099-01-01T00:00:00Z", "patch": {"rolloutPercentage": 5}}


@pytest.fixture(scope="module")
def targets(api: httpx.Client, project_id: str, deployment: dict[str, str]) -> dict[str, str]:
    """Real items in the main project for every path parameter."""
    flag = create_flag(api, project_id, "flags", deployments=[deployment["id"]])
    experiment = create_flag(api, project_id, "experiments", deployments=[deployment["id"]])
    for kind, item_id, variant in (("flags", flag, "on"), ("experiments", experiment, "control")):
        api.post(f"/api/1/{kind}/{item_id}/variants/{variant}/users", json={"inclusions": ["u1", "u2"]})
    schedules = {f"{kind}-schedule": api.post(f"/api/1/{kind}/{item_id}/schedules", json=SCHEDULE).json()["id"]
                 for kind, item_id in (("flags", flag), ("experiments", experiment))}
    guarded = api.post("/api/1/deployments", json={"projectId": project_id, "label": "auth-guarded",
                                                  "requireApproval": True}).json()["id"]
    held = create_flag(api, project_id, "flags", deployments=[guarded])
    change_request = api.patch(f"/api/1/flags/{held}", json={"name": "held"}).json()["changeRequestId"]
    return {"flags": flag, "experiments": experiment, "deployments": deployment["id"], "project": project_id,
            "holdouts": create_holdout(api, project_id), "mutexes": create_mutex(api, project_id),
            "cohorts": create_cohort(api, project_id), "change-requests": change_request, **schedules,
            "webhooks": api.post("/api/1/webhooks", json={"projectId": project_id, "url": "https://hooks.example.com/auth",
                                                          "events": ["flag.enabled"]}).json()["id"]}


def _kind(path: str) -> str:
    return next((kind for kind in ("cohorts", "webhooks", "change-requests", "flags", "experiments", "holdouts",
                                   "mutexes")
                 if f"/api/1/{kind}" in path or path.startswith(f"/{kind}")),
                "deployments")


def _fill(path: str, targets: dict[str, str]) -> str:
    kind = _kind(path)
    if path.startswith("/api/1/projects/"):
        kind = "project"
    values = {
        "slotIndex": "1",
        "id": targets[kind],
        "variantKey": "on" if kind == "flags" else "control",
        "userIndex": "0",
        "versionId": "1",
        "deploymentId": targets["deployments"],
        "scheduleId": targets.get(f"{kind}-schedule", "1"),
    }
    filled = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
    assert "{" not in filled, path
    if filled.endswith(("/results", "/duration")):
        filled += "?metric=purchase"  # results and estimates need a metric to answer 200
    return filled


# A valid body for each kind of write, so a refusal can only come from the key, never the input.
BODIES: list[tuple[str, str, Any]] = [
    ("PATCH", r"/(flags|experiments)/[^/]+$", {"name": "changed"}),
    ("POST", r"/variants$", {"key": "added"}),
    ("PATCH", r"/variants/[^/]+$", {"name": "changed"}),
    ("POST", r"/(users|cohorts)$", {"inclusions": ["added"]}),
    ("DELETE", r"/bulk-delete-(users|cohorts)$", {"users": ["u1"]}),
    ("POST", r"/rollout-weights$", {"rolloutWeights": {"control": 2}}),
    ("PATCH", r"/deployments/[^/]+$", {"label": "changed"}),
    ("PATCH", r"/(holdouts|mutexes)/[^/]+$", {"name": "changed"}),
    ("PATCH", r"/slots/[^/]+$", {"individuals": ["added"]}),
    ("POST", r"^/api/1/holdouts$", {"name": "H", "holdoutPercentage": 10}),
    ("POST", r"^/api/1/mutexes$", {"name": "M", "slots": [{"percentage": 100}]}),
    ("POST", r"^/api/1/cohorts$", {"name": "C"}),
    ("PATCH", r"/cohorts/[^/]+$", {"name": "changed"}),
    ("POST", r"/cohorts/[^/]+/members$", {"memberIds": ["added"]}),
    ("PUT", r"/cohorts/[^/]+/members$", {"memberIds": ["u1", "added"]}),
    ("DELETE", r"/cohorts/[^/]+/members$", {"memberIds": ["u1"]}),
    ("PUT", r"/metrics$", {"metrics": [{"eventType": "purchase"}]}),
    ("POST", r"/schedules$", {"at": "2099-01-01T00:00:00Z", "patch": {"rolloutPercentage": 5}}),
    ("PUT", r"/analysis$", {"testType": "ttest"}),
    ("POST", r"^/api/1/webhooks$", {"url": "https://hooks.example.com/new", "events": ["flag.enabled"]}),
    ("PATCH", r"/webhooks/[^/]+$", {"name": "changed"}),
    ("POST", r"/change-requests/[^/]+/comments$", {"body": "a comment"}),
    ("POST", r"/experiments/[^/]+/decision$", {"decision": "continue-running"}),
    ("POST", r"/experiments/[^/]+/runs$", {"key": "auth-next-run"}),
]


def _body(method: str, path: str, targets: dict[str, str]) -> Any:
    if method == "POST" and path.endswith("/deployments"):
        if path.startswith("/api/1/deployments"):
            return {"projectId": targets["project"], "label": unique_key("label")}
        return {"deployments": [targets["deployments"]]}
    if method == "POST" and re.search(r"^/api/1/(flags|experiments)$|/new$", path):
        return {"projectId": targets["project"], "key": unique_key()}
    for body_method, pattern, body in BODIES:
        if method == body_method and re.search(pattern, path):
            return {"projectId": targets["project"], **body} if "name" in body and method == "POST" else body
    return {} if method in WRITE_METHODS else None


def _call(client: httpx.Client, method: str, path: str, targets: dict[str, str]) -> httpx.Response:
    return client.request(method, path, json=_body(method, path, targets))


def _state(api: httpx.Client, targets: dict[str, str]) -> dict[str, Any]:
    return {
        "flag": snapshot(api, "flags", targets["flags"]),
        "experiment": snapshot(api, "experiments", targets["experiments"]),
        "deployments": api.get("/api/1/deployments").json(),
        "versions": api.get("/api/1/versions", params={"limit": 5}).json(),
        "holdout": api.get(f"/api/1/holdouts/{targets['holdouts']}").json(),
        "mutex": api.get(f"/api/1/mutexes/{targets['mutexes']}").json(),
        "cohort": api.get(f"/api/1/cohorts/{targets['cohorts']}").json(),
        "metrics": api.get(f"/api/1/experiments/{targets['experiments']}/metrics").json(),
        "analysis": api.get(f"/api/1/experiments/{targets['experiments']}/analysis").json(),
        "webhook": api.get(f"/api/1/webhooks/{targets['webhooks']}").json(),
        "webhooks": api.get("/api/1/webhooks").json(),
    }


def test_routes__enumerated_from_the_server__cover_both_generations(routes: list[tuple[str, str]]) -> None:
    # Then
    assert len(routes) >= 60
    for expected in [
        ("GET", "/api/1/flags"), ("POST", "/api/1/experiments"), ("PATCH", "/api/1/deployments/{id}"),
        ("GET", "/api/1/versions"), ("POST", "/flags/new"), ("GET", "/experiments/list"),
        ("POST", "/experiments/{id}/rollout-weights"), ("GET", "/deployments/list"),
        ("DELETE", "/flags/{id}/variants/{variantKey}/bulk-delete-users"),
    ]:
        assert expected in routes


def test_every_route__no_key__is_401(anonymous: httpx.Client, routes: list[tuple[str, str]], targets: dict[str, str]) -> None:
    # When
    answers = {(m, p): _call(anonymous, m, _fill(p, targets), targets) for m, p in routes}
    # Then
    wrong = {route: r.status_code for route, r in answers.items() if r.status_code != 401}
    assert wrong == {}
    for response in answers.values():
        assert_error(response, 401)


@pytest.mark.parametrize(
    "header",
    ["Bearer fy_not-a-real-key", "Bearer", "Basic YWRtaW46YWRtaW4=", "fy_no_scheme", "bearer x"],
)
def test_every_route__unknown_or_malformed_key__is_401(
    make_client, routes: list[tuple[str, str]], targets: dict[str, str], header: str  # type: ignore[no-untyped-def]
) -> None:
    # Given
    client = make_client(None)
    client.headers["Authorization"] = header
    # When
    wrong = {(m, p): r.status_code for m, p in routes
             if (r := _call(client, m, _fill(p, targets), targets)).status_code != 401}
    # Then
    assert wrong == {}


def test_every_route__deployment_key__is_401(
    make_client, routes: list[tuple[str, str]], targets: dict[str, str], deployment: dict[str, str]  # type: ignore[no-untyped-def]
) -> None:
    # Given
    sdk_style = make_client(None)
    sdk_style.headers["Authorization"] = f"Api-Key {deployment['key']}"
    as_bearer = make_client(deployment["key"])
    # When
    wrong = {(m, p, c): r.status_code for m, p in routes for c, client in (("api-key", sdk_style), ("bearer", as_bearer))
             if (r := _call(client, m, _fill(p, targets), targets)).status_code != 401}
    # Then
    assert wrong == {}


def test_every_route__revoked_key__is_401(
    server: Server, make_client, api: httpx.Client, routes: list[tuple[str, str]], targets: dict[str, str]  # type: ignore[no-untyped-def]
) -> None:
    # Given
    key = server.create_key("soon-revoked@example.com")
    client = make_client(key)
    assert client.get("/api/1/flags", params={"limit": 1}).status_code == 200
    server.cli("keys", "revoke", key)
    before = _state(api, targets)
    # When
    answers = {(m, p): _call(client, m, _fill(p, targets), targets) for m, p in routes}
    # Then
    assert {route: r.status_code for route, r in answers.items() if r.status_code != 401} == {}
    assert_error(answers[("GET", "/api/1/flags")], 401, "revoked")
    assert _state(api, targets) == before


def test_every_write_route__read_only_key__is_403_and_changes_nothing(
    api: httpx.Client, read_only_api: httpx.Client, routes: list[tuple[str, str]], targets: dict[str, str]
) -> None:
    # Given
    before = _state(api, targets)
    writes = [(m, p) for m, p in routes if m in WRITE_METHODS]
    # When
    answers = {(m, p): _call(read_only_api, m, _fill(p, targets), targets) for m, p in writes}
    # Then
    assert {route: r.status_code for route, r in answers.items() if r.status_code != 403} == {}
    for response in answers.values():
        assert_error(response, 403, "read-only")
    assert _state(api, targets) == before


def test_every_read_route__read_only_key__is_200(
    read_only_api: httpx.Client, routes: list[tuple[str, str]], targets: dict[str, str]
) -> None:
    # When
    wrong = {(m, p): r.text for m, p in routes if m == "GET"
             if (r := _call(read_only_api, m, _fill(p, targets), targets)).status_code != 200}
    # Then
    assert wrong == {}


def test_every_item_route__key_of_another_project__is_403_and_changes_nothing(
    api: httpx.Client, other_project_api: httpx.Client, routes: list[tuple[str, str]], targets: dict[str, str]
) -> None:
    # Given
    before = _state(api, targets)
    item_routes = [(m, p) for m, p in routes if "{id}" in p]
    # When
    answers = {(m, p): _call(other_project_api, m, _fill(p, targets), targets) for m, p in item_routes}
    # Then
    assert {route: r.status_code for route, r in answers.items() if r.status_code != 403} == {}
    assert _state(api, targets) == before


@pytest.mark.parametrize("path", ["/api/1/flags", "/api/1/experiments", "/flags/new", "/experiments/new"])
def test_create__key_of_another_project__is_403(
    api: httpx.Client, other_project_api: httpx.Client, project_id: str, path: str
) -> None:
    # Given
    key = unique_key()
    # When
    response = other_project_api.post(path, json={"projectId": project_id, "key": key})
    # Then
    assert_error(response, 403, project_id)
    assert api.get("/api/1/flags", params={"key": key}).json()["flags"] == []
    assert api.get("/api/1/experiments", params={"key": key}).json()["experiments"] == []


def test_create_deployment__key_of_another_project__is_403(
    api: httpx.Client, other_project_api: httpx.Client, project_id: str
) -> None:
    # Given
    before = api.get("/api/1/deployments").json()
    # When
    response = other_project_api.post("/api/1/deployments", json={"projectId": project_id, "label": unique_key()})
    # Then
    assert_error(response, 403, project_id)
    assert api.get("/api/1/deployments").json() == before


@pytest.mark.parametrize("kind", ["flags", "experiments"])
def test_list__key_of_another_project__sees_only_its_project_and_403_on_a_foreign_filter(
    api: httpx.Client, other_project_api: httpx.Client, project_id: str, other_project_id: str, kind: str
) -> None:
    # Given
    create_flag(api, project_id, kind)
    create_flag(other_project_api, other_project_id, kind)
    # When
    listed = other_project_api.get(f"/api/1/{kind}").json()[kind]
    foreign = other_project_api.get(f"/api/1/{kind}", params={"projectId": project_id})
    # Then
    assert listed and {i["projectId"] for i in listed} == {other_project_id}
    assert_error(foreign, 403, project_id)


def test_read_only_key__reads_flags__like_the_admin(
    api: httpx.Client, read_only_api: httpx.Client, targets: dict[str, str]
) -> None:
    # When
    response = read_only_api.get(f"/api/1/flags/{targets['flags']}")
    # Then
    assert response.status_code == 200
    assert response.json() == api.get(f"/api/1/flags/{targets['flags']}").json()


def test_health__needs_no_key(anonymous: httpx.Client) -> None:
    # When
    response = anonymous.get("/health")
    # Then
    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/api/1/flags", "/api/1/experiments"])
def test_lists__key_revoked_after_it_listed__every_list_request_is_401_revoked(
    server: Server, make_client, path: str  # type: ignore[no-untyped-def]
) -> None:
    # Given: a key this server has already answered lists to
    key = server.create_key(f"listed-then-revoked-{path.rsplit('/', 1)[1]}@example.com")
    client = make_client(key)
    assert client.get(path, params={"limit": 1}).status_code == 200
    assert client.get(path, params={"limit": 1, "key": "\x00"}).status_code == 200

    # When: another process revokes it
    server.cli("keys", "revoke", key)

    # Then: whatever the list asks, the answer is that the key is revoked
    for params in ({"limit": 1}, {"limit": 1}, {"key": "\x00"}, {"projectId": "999999"},
                   {"projectId": "not-an-id"}, {"cursor": "not-a-cursor"}):
        assert_error(client.get(path, params=params), 401, "revoked")


@pytest.mark.parametrize("kind", ["flags", "experiments"])
def test_edits__key_revoked_after_it_wrote__every_edit_is_401_revoked_and_changes_nothing(
    server: Server, make_client, api: httpx.Client, project_id: str, kind: str  # type: ignore[no-untyped-def]
) -> None:
    # Given: a key this server has already answered a plain edit to
    key = server.create_key(f"wrote-then-revoked-{kind}@example.com")
    client = make_client(key)
    item_id = create_flag(api, project_id, kind)
    json_body = {"Content-Type": "application/json"}
    assert client.patch(f"/api/1/{kind}/{item_id}", content=b'{"rolloutPercentage": 10}',
                        headers=json_body).status_code == 200
    before = api.get(f"/api/1/{kind}/{item_id}").json()

    # When: another process revokes it
    server.cli("keys", "revoke", key)

    # Then: a plain edit, an unknown flag and a bad body are all told the key is revoked
    for path, body in ((f"/api/1/{kind}/{item_id}", b'{"rolloutPercentage": 20}'),
                       (f"/api/1/{kind}/{item_id}", b'{"description": "x"}'),
                       (f"/api/1/{kind}/99999999", b'{"rolloutPercentage": 20}'),
                       (f"/api/1/{kind}/{item_id}", b'{"rolloutPercentage": 101}')):
        assert_error(client.patch(path, content=body, headers=json_body), 401, "revoked")
    assert api.get(f"/api/1/{kind}/{item_id}").json() == before
