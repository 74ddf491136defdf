"""`GET /sdk/v2/flags` as a client sees it on a raw socket, whichever way the server answers it:
on the connection as soon as the headers are parsed (keep-alive HTTP/1.1), or through the app's
routes (a closing connection, a request queued behind another). Same bytes, same
order, same request ids, metrics and log lines."""

from __future__ import annotations

import json
import socket
import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlparse

import httpx

from tests.sdk.conftest import create, enable
from tests.support.observed import logging_server, requests_counted
from tests.support.raw_http import exchange, read_answers
from tests.support.server import Server

CONFIG = "/sdk/v2/flags?v=0&eval_mode=remote"


def _get(path: str, key: str, *extra: str, scheme: str = "Api-Key") -> str:
    lines = [f"GET {path} HTTP/1.1", "Host: flagyard", f"Authorization: {scheme} {key}", *extra]
    return "\r\n".join(lines) + "\r\n\r\n"


def _served_flag(manage: httpx.Client, project: str, deployment: dict[str, str], key: str) -> None:
    flag_id = create(manage, "flags", {"projectId": project, "key": key, "deployments": [deployment["id"]],
                                       # a payload long enough to be worth compressing
                                       "variants": [{"key": "on", "payload": {"text": "x" * 1500}}]})
    enable(manage, "flags", flag_id)


def test_config__keep_alive_or_closing__same_answer(
    server: Server, sdk_deployment: dict[str, str], manage: httpx.Client, sdk_project: str
) -> None:
    # Given
    _served_flag(manage, sdk_project, sdk_deployment, "wire-same")
    key = sdk_deployment["key"]

    # When: a keep-alive request (after one that brings the snapshot up to date with the new
    # flag), then one that closes the connection, and the same two asking for gzip
    exchange(server, [_get(CONFIG, key)])
    kept, = exchange(server, [_get(CONFIG, key, "X-Request-Id: kept-1")])
    closing, = exchange(server, [_get(CONFIG, key, "Connection: close", "X-Request-Id: closing-1")])
    kept_gzip, = exchange(server, [_get(CONFIG, key, "Accept-Encoding: gzip")])
    closing_gzip, = exchange(server, [_get(CONFIG, key, "Accept-Encoding: gzip", "Connection: close")])

    # Then
    assert kept.status == closing.status == 200
    assert kept.body == closing.body
    assert "wire-same" in {flag["key"] for flag in json.loads(kept.body)}
    for name in ("etag", "content-type", "content-length", "cache-control", "vary"):
        assert kept.headers[name] == closing.headers[name], name
    assert kept.headers["x-request-id"] == "kept-1"
    assert closing.headers["x-request-id"] == "closing-1"
    assert kept_gzip.headers["content-encoding"] == closing_gzip.headers["content-encoding"] == "gzip"
    assert kept_gzip.body == closing_gzip.body
    assert kept_gzip.headers["etag"] == closing_gzip.headers["etag"] != kept.headers["etag"]
    assert "date" in kept.headers


def test_config__pipelined_behind_a_slower_request__answered_in_order(
    server: Server, sdk_deployment: dict[str, str], manage: httpx.Client, sdk_project: str,
    admin_key: str,
) -> None:
    # Given
    _served_flag(manage, sdk_project, sdk_deployment, "wire-pipelined")
    key = sdk_deployment["key"]
    etag = httpx.get(server.base_url + CONFIG, headers={"Authorization": f"Api-Key {key}",
                                                        "Accept-Encoding": "identity"}).headers["etag"]

    # When: a management list first, then three config requests, all in one write
    answers = exchange(server, [
        _get(f"/api/1/flags?projectId={sdk_project}&limit=1", admin_key, scheme="Bearer"),
        _get(CONFIG, key),
        _get(CONFIG, key, f"If-None-Match: {etag}"),
        _get(CONFIG, key),
    ])

    # Then: each answer is the one its request asked for, in the order they were sent
    assert [a.status for a in answers] == [200, 200, 304, 200]
    assert "flags" in json.loads(answers[0].body)
    assert answers[1].body == answers[3].body
    assert answers[2].body == b""
    assert answers[1].headers["etag"] == answers[2].headers["etag"] == etag


def test_config__many_requests_on_one_connection__each_answered(
    server: Server, sdk_deployment: dict[str, str], manage: httpx.Client, sdk_project: str
) -> None:
    # Given
    _served_flag(manage, sdk_project, sdk_deployment, "wire-many")
    key = sdk_deployment["key"]
    url = urlparse(server.base_url)

    # When: one request after another on the same connection, each read before the next is sent
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        answers = []
        for n in range(50):
            sock.sendall(_get(CONFIG, key, f"X-Request-Id: many-{n}").encode())
            answers += read_answers(sock, 1)

    # Then
    assert {a.status for a in answers} == {200}
    assert len({a.body for a in answers}) == 1
    assert [a.headers["x-request-id"] for a in answers] == [f"many-{n}" for n in range(50)]


def test_config__wrong_or_missing_key__route_says_which(server: Server, sdk_deployment: dict[str, str]) -> None:
    # When
    unknown, bearer, missing = (
        exchange(server, [_get(CONFIG, "server-not-a-key")])[0],
        exchange(server, [_get(CONFIG, sdk_deployment["key"], scheme="Bearer")])[0],
        exchange(server, ["GET " + CONFIG + " HTTP/1.1\r\nHost: flagyard\r\n\r\n"])[0],
    )

    # Then
    assert (unknown.status, json.loads(unknown.body)["error"]["code"]) == (401, "invalid_key")
    assert (bearer.status, json.loads(bearer.body)["error"]["code"]) == (401, "wrong_key_type")
    assert (missing.status, json.loads(missing.body)["error"]["code"]) == (401, "missing_key")


def test_config__browser_origin__cors_headers(server: Server, sdk_deployment: dict[str, str]) -> None:
    # When
    answer, = exchange(server, [_get(CONFIG, sdk_deployment["key"], "Origin: https://app.example")])

    # Then
    assert answer.status == 200
    assert answer.headers["access-control-allow-origin"] in ("*", "https://app.example")


def test_config__answers__counted_in_metrics(server: Server, sdk_deployment: dict[str, str]) -> None:
    # Given
    before = requests_counted(server, "GET", "/sdk/v2/flags")

    # When
    exchange(server, [_get(CONFIG, sdk_deployment["key"])] * 7)

    # Then
    assert requests_counted(server, "GET", "/sdk/v2/flags") - before >= 7


def test_config__access_log_on__one_line_per_answer(tmp_path: Path) -> None:
    # Given
    with logging_server(tmp_path) as logged:
        # When
        exchange(logged.server, [_get(CONFIG, logged.deployment_key, f"X-Request-Id: logged-{n}")
                                 for n in range(3)])

        # Then
        entries = logged.entries('"logged-', 3)
    assert [(entry["request_id"], entry["path"], entry["status"]) for entry in entries] == [
        (f"logged-{n}", "/sdk/v2/flags", 200) for n in range(3)]


def test_config__asked_again_a_second_later__date_moves_on(server: Server, sdk_deployment: dict[str, str]) -> None:
    # Given
    key = sdk_deployment["key"]
    first, = exchange(server, [_get(CONFIG, key)])

    # When: the same request once the server's clock has moved to the next second
    time.sleep(1.2)
    later, = exchange(server, [_get(CONFIG, key)])

    # Then: the same flags, with the date of their own answer
    assert later.body == first.body
    assert parsedate_to_datetime(later.headers["date"]) > parsedate_to_datetime(first.headers["date"])
