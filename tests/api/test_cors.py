"""Cross-origin access: SDK routes open to browsers, management routes closed unless configured.
A server with these settings changed also checks the OFREP rate limit."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.server import Server, fresh_database_url, running_server

# (method, path, headers the clients ask for) — the browser SDK, the OFREP web provider.
SDK_PREFLIGHTS = [
    ("GET", "/sdk/v2/flags", "authorization,x-amp-exp-library"),
    ("GET", "/sdk/v2/vardata?v=0", "authorization,x-amp-exp-user,x-amp-exp-flag-keys,x-amp-exp-track"),
    ("POST", "/sdk/v2/vardata", "authorization,content-type,x-amp-exp-flag-keys"),
    ("GET", "/v1/vardata?user_id=u", "authorization"),
    ("POST", "/v1/vardata", "authorization,content-type"),
    ("GET", "/sdk/stream/v1/flags", "authorization,x-amp-exp-library"),
    ("POST", "/ofrep/v1/evaluate/flags", "content-type,if-none-match,authorization"),
    ("POST", "/ofrep/v1/evaluate/flags/some-flag", "content-type,x-api-key"),
]
PAGE = "https://app.example"
CONSOLE = "https://console.example"


def preflight(base_url: str, path: str, method: str, headers: str, origin: str = PAGE) -> httpx.Response:
    return httpx.options(f"{base_url}{path}", headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers})


@pytest.mark.parametrize(("method", "path", "asked"), SDK_PREFLIGHTS)
def test_sdk_route__browser_preflight__allowed_for_any_origin(
    server: Server, method: str, path: str, asked: str
) -> None:
    # When a browser on another origin asks before calling an SDK route
    answer = preflight(server.base_url, path, method, asked)
    # Then every method and header it asked for is allowed
    assert answer.status_code in (200, 204)
    assert answer.headers["access-control-allow-origin"] == "*"
    assert method in answer.headers["access-control-allow-methods"]
    allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert set(asked.split(",")) <= allowed


def test_sdk_route__cross_origin_answer__origin_allowed_and_etag_exposed(
    server: Server, deployment: dict[str, str]
) -> None:
    answer = httpx.get(f"{server.base_url}/sdk/v2/flags", headers={
        "Origin": PAGE, "Authorization": f"Api-Key {deployment['key']}"})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "ETag" in answer.headers["access-control-expose-headers"]


def test_sdk_route__error_answer__still_readable_cross_origin(server: Server) -> None:
    answer = httpx.get(f"{server.base_url}/sdk/v2/flags", headers={"Origin": PAGE})
    assert answer.status_code == 401
    assert answer.headers["access-control-allow-origin"] == "*"


def test_management_route__preflight_by_default__refused_not_401(server: Server) -> None:
    # When a page asks to call the Management API (no origin configured)
    answer = preflight(server.base_url, "/api/1/flags", "GET", "authorization")
    # Then the preflight is refused by CORS, before authentication, and allows nothing
    assert answer.status_code == 400
    assert "access-control-allow-origin" not in answer.headers


def test_management_route__cross_origin_call_by_default__no_allow_origin(
    server: Server, admin_key: str
) -> None:
    answer = httpx.get(f"{server.base_url}/api/1/flags", headers={
        "Origin": PAGE, "Authorization": f"Bearer {admin_key}"})
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers


@pytest.mark.parametrize("origin", [None, PAGE])
def test_any_route__with_or_without_origin__vary_names_origin_once(
    server: Server, deployment: dict[str, str], api: httpx.Client, origin: str | None
) -> None:
    # Given an SDK client, a script and a browser page, with and without an Origin header
    extra = {"Origin": origin} if origin else {}
    sdk = {"Authorization": f"Api-Key {deployment['key']}", **extra}
    # When
    flags = httpx.get(f"{server.base_url}/sdk/v2/flags", headers=sdk)
    unchanged = httpx.get(f"{server.base_url}/sdk/v2/flags", headers={**sdk, "If-None-Match": flags.headers["etag"]})
    refused = httpx.get(f"{server.base_url}/sdk/v2/flags", headers={"Authorization": "Api-Key nope", **extra})
    listed = api.get("/api/1/flags", headers=extra)
    # Then each answer has one Vary header that names Origin after what the route itself varies on
    assert [flags.status_code, unchanged.status_code, refused.status_code, listed.status_code] == [200, 304, 401, 200]
    assert flags.headers.get_list("vary") == ["Accept-Encoding, Origin"]
    assert unchanged.headers.get_list("vary") == ["Accept-Encoding, Origin"]
    assert refused.headers.get_list("vary") == ["Origin"]
    assert listed.headers.get_list("vary") == ["Origin"]
    # and only a page's request is answered with the SDK routes' open policy
    assert flags.headers.get("access-control-allow-origin") == ("*" if origin else None)
    assert "x-request-id" in listed.headers


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    url = fresh_database_url(Path(tmp_path_factory.mktemp("cors")))
    with running_server(url, env={"FLAGYARD_CORS_ORIGINS": f"{PAGE}, http://localhost:3000",
                                  "FLAGYARD_MANAGEMENT_CORS_ORIGINS": CONSOLE,
                                  "FLAGYARD_OFREP_RATE_LIMIT_PER_SECOND": "2"}) as running:
        yield running


def test_configured_origins__sdk_route__listed_origin_only(configured: Server) -> None:
    allowed = preflight(configured.base_url, "/sdk/v2/flags", "GET", "authorization", PAGE)
    other = preflight(configured.base_url, "/sdk/v2/flags", "GET", "authorization", "https://evil.example")
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == PAGE
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers


def test_configured_origins__management_route__console_preflight_and_call_allowed(
    configured: Server
) -> None:
    # Given a key, and the console's origin configured for the Management API
    key = configured.create_key("console")
    # When the console preflights and then calls
    asked = preflight(configured.base_url, "/api/1/flags", "PATCH", "authorization,content-type", CONSOLE)
    called = httpx.get(f"{configured.base_url}/api/1/flags", headers={
        "Origin": CONSOLE, "Authorization": f"Bearer {key}"})
    # Then both are allowed for that origin, and the preflight needed no key
    assert asked.status_code == 200 and asked.headers["access-control-allow-origin"] == CONSOLE
    assert called.status_code == 200 and called.headers["access-control-allow-origin"] == CONSOLE
    # And a page on the SDK origin list still may not call management routes
    assert preflight(configured.base_url, "/api/1/flags", "GET", "authorization", PAGE).status_code == 400


def test_configured_limit__ofrep_over_the_limit__429_with_whole_seconds(configured: Server) -> None:
    # Given a server limiting OFREP to 2 requests per second per deployment key
    key = configured.create_deployment(configured.create_project("limited"), "d")["key"]

    def ask(_: int) -> httpx.Response:
        return httpx.post(f"{configured.base_url}/ofrep/v1/evaluate/flags",
                          headers={"X-API-Key": key}, json={"context": {"targetingKey": "u"}})

    # When 8 requests come at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(ask, range(8)))
    # Then some pass and the rest get 429 with a whole-second Retry-After
    statuses = sorted(answer.status_code for answer in answers)
    assert 200 in statuses and 429 in statuses, statuses
    for refused in (answer for answer in answers if answer.status_code == 429):
        assert refused.headers["retry-after"].isdigit() and int(refused.headers["retry-after"]) >= 1
        assert refused.json()["errorCode"] == "GENERAL"
