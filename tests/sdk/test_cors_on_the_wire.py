"""A browser's config and remote evaluation requests (with `Origin`) answered on the connection
carry exactly the CORS headers the route's CORS layer gives: for an origin the server allows,
one it does not, and under the default policy that allows every origin."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.raw_http import Answer, exchange
from tests.support.server import Server, fresh_database_url, run_cli, running_server

ALLOWED = "https://app.example"
ELSEWHERE = "https://elsewhere.example"
# Differ by way of answering, not by what was asked.
OWN_HEADERS = {"date", "x-request-id", "connection"}


def _requests(key: str, origin: str, *extra: str) -> list[str]:
    common = ["Host: flagyard", f"Authorization: Api-Key {key}", f"Origin: {origin}", *extra]
    user = json.dumps({"user_id": "cors-1", "device_id": "cors-d1"})
    encoded = base64.urlsafe_b64encode(user.encode()).decode().rstrip("=")
    return [
        "\r\n".join(["GET /sdk/v2/flags?v=0&eval_mode=remote HTTP/1.1", *common]) + "\r\n\r\n",
        "\r\n".join(["GET /sdk/v2/flags?v=0&eval_mode=remote HTTP/1.1", "Accept-Encoding: gzip", *common]) + "\r\n\r\n",
        "\r\n".join(["POST /sdk/v2/vardata HTTP/1.1", "Content-Type: application/json",
                     f"Content-Length: {len(user)}", *common]) + "\r\n\r\n" + user,
        "\r\n".join(["GET /sdk/v2/vardata HTTP/1.1", f"X-Amp-Exp-User: {encoded}", *common]) + "\r\n\r\n",
    ]


def _comparable(answer: Answer) -> tuple[int, dict[str, str], bytes]:
    return answer.status, {k: v for k, v in answer.headers.items() if k not in OWN_HEADERS}, answer.body


def _both_ways(server: Server, key: str, origin: str) -> list[tuple[Answer, Answer]]:
    pairs = []
    for request in _requests(key, origin):
        exchange(server, [request])  # brings the snapshot up to date, so the next can be early
        kept, = exchange(server, [request])
        head, _, body = request.partition("\r\n\r\n")
        closing, = exchange(server, [head + "\r\nConnection: close\r\n\r\n" + body])
        pairs.append((kept, closing))
    return pairs


@pytest.fixture(scope="module")
def listed_origins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """A server of its own that lets one origin read SDK answers, with one flag served."""
    tmp: Path = tmp_path_factory.mktemp("cors-on-the-wire")
    url = fresh_database_url(tmp)
    run_cli(url, "db", "upgrade")
    project = run_cli(url, "projects", "create", "--name", "cors").stdout.strip()
    deployment = json.loads(run_cli(url, "deployments", "create", "--project", project,
                                    "--label", "production").stdout)
    admin = run_cli(url, "keys", "create", "--name", "cors").stdout.strip()
    with running_server(url, env={"FLAGYARD_CORS_ORIGINS": f"{ALLOWED}, http://localhost:3000"}) as server:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {admin}"}) as api:
            created = api.post("/api/1/flags", json={
                "projectId": project, "key": "cors-flag", "deployments": [deployment["id"]],
                "variants": [{"key": "on", "payload": {"text": "y" * 1500}}]})
            assert created.status_code == 200, created.text
            assert api.patch(f"/api/1/flags/{created.json()['id']}", json={"enabled": True}).status_code == 200
        yield server, deployment["key"]


@pytest.mark.parametrize("origin", [ALLOWED, ELSEWHERE])
def test_listed_origins__early_or_routed__same_cors_headers(
    listed_origins: tuple[Server, str], origin: str
) -> None:
    server, key = listed_origins

    # When
    pairs = _both_ways(server, key, origin)

    # Then
    for kept, closing in pairs:
        assert _comparable(kept) == _comparable(closing)
        assert kept.status == 200 and len(kept.body) > 100
        assert "Origin" in kept.headers["vary"]
        assert kept.headers["access-control-expose-headers"] == "ETag, Retry-After, X-Request-Id"
        if origin == ALLOWED:
            assert kept.headers["access-control-allow-origin"] == ALLOWED
        else:
            assert "access-control-allow-origin" not in kept.headers


def test_every_origin_allowed__early_or_routed__same_cors_headers(
    server: Server, sdk_deployment: dict[str, str]
) -> None:
    # When: the default policy
    pairs = _both_ways(server, sdk_deployment["key"], ELSEWHERE)

    # Then
    for kept, closing in pairs:
        assert _comparable(kept) == _comparable(closing)
        assert kept.headers["access-control-allow-origin"] == "*"
