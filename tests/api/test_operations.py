"""Health, readiness, metrics, request ids, request logs and the per-key rate limit."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.support.server import Server, fresh_database_url, run_cli, running_server


def _ready(base_url: str) -> httpx.Response:
    """/ready once it says ready (a process just started may still be building its snapshots)."""
    deadline = time.monotonic() + 30
    while (answer := httpx.get(f"{base_url}/ready", timeout=10)).status_code != 200 and time.monotonic() < deadline:
        assert answer.json()["reason"] == "building the deployments' snapshots", answer.json()
        time.sleep(0.05)
    return answer


def test_health_and_ready__running_server__answer_without_a_key(server: Server) -> None:
    # When
    health = httpx.get(f"{server.base_url}/health")
    ready = _ready(server.base_url)
    # Then
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


@pytest.mark.skipif(not os.environ.get("FLAGYARD_TEST_DATABASE_URL"),
                    reason="PostgreSQL: a table lock holds a starting process's build")
def test_ready__snapshots_still_building__503_naming_it_then_ready(tmp_path: Path) -> None:
    # Given a database with a deployment, whose version rows another session holds locked
    url = fresh_database_url(tmp_path)
    run_cli(url, "db", "upgrade")
    project = run_cli(url, "projects", "create", "--name", "building").stdout.strip()
    key = json.loads(run_cli(url, "deployments", "create", "--project", project, "--label", "prod").stdout)["key"]
    engine = sa.create_engine(url)
    try:
        with engine.connect() as locker:
            locker.exec_driver_sql("LOCK TABLE versions IN ACCESS EXCLUSIVE MODE")
            with running_server(url) as server:
                # When a process starts and is asked while its build waits for the lock
                held = httpx.get(f"{server.base_url}/ready", timeout=10)
                # Then it is not ready, and says why
                assert held.status_code == 503
                assert held.json() == {"status": "unavailable", "reason": "building the deployments' snapshots"}
                # and once the build can read, it is ready, with the snapshot built
                locker.rollback()
                assert _ready(server.base_url).status_code == 200
                flags = httpx.get(f"{server.base_url}/sdk/v2/flags", headers={"Authorization": f"Api-Key {key}"})
                assert flags.status_code == 200 and flags.json() == []
    finally:
        engine.dispose()


def test_request_id__given_by_client__is_echoed(api: httpx.Client) -> None:
    # When
    response = api.get("/api/1/flags", headers={"X-Request-Id": "trace-123"})
    # Then
    assert response.headers["x-request-id"] == "trace-123"
    assert len(api.get("/api/1/flags").headers["x-request-id"]) == 32


def test_metrics__after_requests__counts_them_by_route_template(
    api: httpx.Client, server: Server, project_id: str
) -> None:
    # Given
    flag_id = api.post("/api/1/flags", json={"projectId": project_id, "key": f"metrics-{time.time_ns()}"}).json()["id"]
    api.get(f"/api/1/flags/{flag_id}")
    # When
    text = httpx.get(f"{server.base_url}/metrics").text
    # Then
    assert 'flagyard_http_requests_total{method="GET",route="/api/1/flags/{id}",status="200"}' in text
    assert "flagyard_http_request_duration_seconds_bucket" in text


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, Path]]:
    tmp = tmp_path_factory.mktemp("limited")
    url = fresh_database_url(tmp)
    key = run_cli(url, "keys", "create", "--name", "limited-user").stdout.strip()
    log = tmp / "server.log"
    with running_server(url, env={"FLAGYARD_RATE_LIMIT_PER_SECOND": "5"}, log_path=log) as server:
        yield server, key, log


def test_rate_limit__burst_over_the_limit__429_with_retry_after_then_recovers(
    limited: tuple[Server, str, Path],
) -> None:
    # Given a key limited to 5 requests per second
    server, key, _ = limited
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}) as api:
        # When
        statuses = [api.get("/api/1/flags") for _ in range(12)]
        # Then
        refused = [r for r in statuses if r.status_code == 429]
        assert refused, [r.status_code for r in statuses]
        assert int(refused[0].headers["retry-after"]) >= 1
        assert refused[0].json()["error"]["code"] == "rate_limited"
        time.sleep(int(refused[0].headers["retry-after"]))
        assert api.get("/api/1/flags").status_code == 200


def test_rate_limit__lists_and_other_routes__take_from_one_bucket_per_key(
    limited: tuple[Server, str, Path],
) -> None:
    # Given a key limited to 5 requests per second
    server, key, _ = limited
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}) as api:
        for spend, then in (("/api/1/flags?limit=5", "/api/1/deployments"),
                            ("/api/1/deployments", "/api/1/experiments")):
            time.sleep(1.2)  # a full bucket
            # When one route spends the second's requests
            spent = [api.get(spend).status_code for _ in range(5)]
            # Then the next request, on another route, is refused
            assert (spent, api.get(then).status_code) == ([200] * 5, 429)


def test_request_log__management_request__one_json_line_with_key_id_never_the_key(
    limited: tuple[Server, str, Path],
) -> None:
    # Given
    server, key, log = limited
    time.sleep(1.2)  # a fresh token bucket
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}) as api:
        request_ids = {path: api.get(path).headers["x-request-id"] for path in ("/api/1/deployments", "/api/1/flags")}
    # When
    time.sleep(0.2)
    text = log.read_text()
    # Then
    entries = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    for path, request_id in request_ids.items():
        mine = [e for e in entries if e["request_id"] == request_id]
        assert mine and mine[0]["path"] == path and mine[0]["status"] == 200
        assert mine[0]["key_name"] == "limited-user"
    assert key not in text


def test_request_log__turned_off__no_request_lines_but_ids_and_metrics_stay(
    tmp_path: Path,
) -> None:
    # Given a server started with FLAGYARD_ACCESS_LOG=false
    url = fresh_database_url(tmp_path)
    key = run_cli(url, "keys", "create", "--name", "quiet").stdout.strip()
    log = tmp_path / "server.log"
    with running_server(url, env={"FLAGYARD_ACCESS_LOG": "false"}, log_path=log) as server:
        # When
        answer = httpx.get(f"{server.base_url}/api/1/deployments", headers={"Authorization": f"Bearer {key}"})
        metrics = httpx.get(f"{server.base_url}/metrics").text
        time.sleep(0.2)
    # Then
    assert answer.status_code == 200 and len(answer.headers["x-request-id"]) == 32
    assert 'route="/api/1/deployments",status="200"' in metrics
    assert answer.headers["x-request-id"] not in log.read_text()
    assert not [line for line in log.read_text().splitlines() if line.startswith('{"request_id"')]
