"""`/sdk/v2/vardata` as a client sees it on a raw socket, whichever way the server answers it:
on the connection once the request is parsed (keep-alive HTTP/1.1), or through the app's routes
(a closing connection, a request queued behind another, anything the route must
refuse). Same answers, same order, same request ids, metrics and log lines."""

from __future__ import annotations

import base64
import json
import socket
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.sdk.conftest import create, enable
from tests.support.observed import logging_server, requests_counted
from tests.support.raw_http import exchange, read_answers
from tests.support.server import Server

VARDATA = "/sdk/v2/vardata?v=0"


def _post(key: str, body: str, *extra: str) -> str:
    lines = ["POST " + VARDATA + " HTTP/1.1", "Host: flagyard", f"Authorization: Api-Key {key}",
             "Content-Type: application/json", f"Content-Length: {len(body.encode())}", *extra]
    return "\r\n".join(lines) + "\r\n\r\n" + body


def _get(key: str, user: dict[str, object] | None, *extra: str) -> str:
    lines = ["GET " + VARDATA + " HTTP/1.1", "Host: flagyard", f"Authorization: Api-Key {key}", *extra]
    if user is not None:
        encoded = base64.urlsafe_b64encode(json.dumps(user).encode()).decode().rstrip("=")
        lines.append(f"X-Amp-Exp-User: {encoded}")
    return "\r\n".join(lines) + "\r\n\r\n"


@pytest.fixture(scope="module")
def split_flag(manage: httpx.Client, sdk_project: str, sdk_deployment: dict[str, str]) -> str:
    """A flag whose variant depends on the user: pros get `treatment`, the rest a 50/50 split."""
    flag_id = create(manage, "flags", {
        "projectId": sdk_project, "key": "wire-split", "deployments": [sdk_deployment["id"]],
        "bucketingKey": "device_id", "rolloutPercentage": 100,
        "variants": [{"key": "control"}, {"key": "treatment", "payload": {"n": 1}}],
        "targetSegments": [{"name": "pros", "conditions": [
            {"type": "property", "prop": "gp:plan", "op": "is", "values": ["pro"]}],
            "percentage": 100, "rolloutWeights": {"treatment": 1}}],
    })
    enable(manage, "flags", flag_id)
    # Until a request brings the snapshot up to date with the new flag, the route answers.
    httpx.post(manage.base_url.join(VARDATA), json={"device_id": "warm"},
               headers={"Authorization": f"Api-Key {sdk_deployment['key']}"})
    return "wire-split"


def _user(n: int, plan: str = "free") -> str:
    return json.dumps({"user_id": f"wire-{n}", "device_id": f"d-{n}", "user_properties": {"plan": plan}})


def test_vardata__keep_alive_or_closing__same_answer(
    server: Server, sdk_deployment: dict[str, str], split_flag: str
) -> None:
    key = sdk_deployment["key"]
    for n, plan in enumerate(["pro", "free", "free", "free"]):
        # When: the same user asked for on a kept-alive connection and on a closing one
        kept, = exchange(server, [_post(key, _user(n, plan), "X-Request-Id: kept")])
        closing, = exchange(server, [_post(key, _user(n, plan), "Connection: close", "X-Request-Id: closing")])
        kept_get, = exchange(server, [_get(key, json.loads(_user(n, plan)))])
        closing_get, = exchange(server, [_get(key, json.loads(_user(n, plan)), "Connection: close")])

        # Then
        assert kept.status == closing.status == kept_get.status == closing_get.status == 200
        assert kept.body == closing.body == kept_get.body == closing_get.body
        for name in ("content-type", "content-length", "vary"):
            assert kept.headers[name] == closing.headers[name] == kept_get.headers[name], name
        assert (kept.headers["x-request-id"], closing.headers["x-request-id"]) == ("kept", "closing")
        assert "date" in kept.headers
        if plan == "pro":
            assert json.loads(kept.body)[split_flag]["key"] == "treatment"


def test_vardata__pipelined_behind_a_slower_request__answered_in_order(
    server: Server, sdk_deployment: dict[str, str], split_flag: str, sdk_project: str, admin_key: str
) -> None:
    key = sdk_deployment["key"]
    alone = [json.loads(exchange(server, [_post(key, _user(100 + n, "pro"))])[0].body) for n in range(2)]

    # When: a management list first, then a POST, a GET and a POST, all in one write
    answers = exchange(server, [
        f"GET /api/1/flags?projectId={sdk_project}&limit=1 HTTP/1.1\r\nHost: flagyard\r\n"
        f"Authorization: Bearer {admin_key}\r\n\r\n",
        _post(key, _user(100, "pro"), "X-Request-Id: p-1"),
        _get(key, json.loads(_user(101, "pro")), "X-Request-Id: p-2"),
        _post(key, _user(100, "pro"), "X-Request-Id: p-3"),
    ])

    # Then: each answer is its own request's, in the order they were sent
    assert [a.status for a in answers] == [200, 200, 200, 200]
    assert "flags" in json.loads(answers[0].body)
    assert [json.loads(a.body) for a in answers[1:]] == [alone[0], alone[1], alone[0]]
    assert [a.headers["x-request-id"] for a in answers[1:]] == ["p-1", "p-2", "p-3"]


def test_vardata__body_in_pieces__answered_once_whole(
    server: Server, sdk_deployment: dict[str, str], split_flag: str
) -> None:
    key = sdk_deployment["key"]
    request = _post(key, _user(200, "pro"))
    head, _, body = request.partition("\r\n\r\n")
    url = urlparse(server.base_url)

    # When: the headers, then the body a few bytes at a time, then the same request again
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall((head + "\r\n\r\n").encode())
        for at in range(0, len(body), 7):
            time.sleep(0.01)
            sock.sendall(body[at:at + 7].encode())
        first, = read_answers(sock, 1)
        sock.sendall(request.encode())
        second, = read_answers(sock, 1)

    # Then
    assert first.status == second.status == 200
    assert json.loads(first.body)[split_flag]["key"] == "treatment"
    assert first.body == second.body


def test_vardata__refused_requests__the_route_says_why_and_the_connection_goes_on(
    server: Server, sdk_deployment: dict[str, str], split_flag: str
) -> None:
    key = sdk_deployment["key"]
    url = urlparse(server.base_url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        answers = []
        # When: one bad request after another on one connection, each followed by a good one
        for bad in (_post(key, "{not json"), _post(key, "[1, 2]"), _post("server-not-a-key", _user(1)),
                    _post(key, _user(1), "X-Amp-Exp-Flag-Keys: %%%"),
                    _get(key, None, "X-Amp-Exp-User: not-base64!")):
            sock.sendall(bad.encode())
            answers += read_answers(sock, 1)
            sock.sendall(_post(key, _user(1)).encode())
            answers += read_answers(sock, 1)

    # Then
    refused = [(a.status, json.loads(a.body)["error"]["code"]) for a in answers[::2]]
    assert refused == [(400, "invalid_json"), (400, "invalid_user"), (401, "invalid_key"),
                       (400, "invalid_header"), (400, "invalid_header")]
    assert {a.status for a in answers[1::2]} == {200}
    assert len({a.body for a in answers[1::2]}) == 1


def test_vardata__body_over_the_limit__413(server: Server, sdk_deployment: dict[str, str]) -> None:
    # When: a body larger than the server takes, declared up front
    big = json.dumps({"user_id": "big", "user_properties": {"blob": "x" * 2_000_000}})
    answer, = exchange(server, [_post(sdk_deployment["key"], big)])

    # Then
    assert answer.status == 413


def test_vardata__browser_origin__cors_headers(server: Server, sdk_deployment: dict[str, str],
                                                split_flag: str) -> None:
    # When
    answer, = exchange(server, [_post(sdk_deployment["key"], _user(3), "Origin: https://app.example")])

    # Then
    assert answer.status == 200
    assert answer.headers["access-control-allow-origin"] in ("*", "https://app.example")


def test_vardata__answers__counted_in_metrics(server: Server, sdk_deployment: dict[str, str],
                                              split_flag: str) -> None:
    # Given
    before = requests_counted(server, "POST", "/sdk/v2/vardata"), requests_counted(server, "GET", "/sdk/v2/vardata")

    # When
    key = sdk_deployment["key"]
    exchange(server, [_post(key, _user(n)) for n in range(5)] + [_get(key, {"device_id": "m"})] * 3)

    # Then
    assert requests_counted(server, "POST", "/sdk/v2/vardata") - before[0] >= 5
    assert requests_counted(server, "GET", "/sdk/v2/vardata") - before[1] >= 3


def test_vardata__access_log_on__one_line_per_answer(tmp_path: Path) -> None:
    # Given: its snapshot current
    with logging_server(tmp_path) as logged:
        exchange(logged.server, [_post(logged.deployment_key, _user(0))])

        # When
        exchange(logged.server, [_post(logged.deployment_key, _user(n), f"X-Request-Id: logged-{n}")
                                 for n in range(3)])

        # Then
        entries = logged.entries('"logged-', 3)
    assert [(entry["request_id"], entry["method"], entry["path"], entry["status"]) for entry in entries] == [
        (f"logged-{n}", "POST", "/sdk/v2/vardata", 200) for n in range(3)]
