"""A flag's usage as GET /api/1/flags/{id}/usage reports it, counted from the remote
evaluations of Amplitude's Python SDK against two server processes sharing one database, and
written once more when a server stops."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from amplitude_experiment import RemoteEvaluationClient, RemoteEvaluationConfig, User

from tests.factories import assert_error
from tests.sdk.conftest import create, enable, release
from tests.support.server import Server, fresh_database_url, running_server
from tests.support.waiting import wait_for

FAST = {"FLAGYARD_USAGE_FLUSH_SECONDS": "0.2", "FLAGYARD_RATE_LIMIT_PER_SECOND": "0"}


def fetch(server: Server, deployment_key: str, times: int) -> None:
    client = RemoteEvaluationClient(deployment_key, RemoteEvaluationConfig(server_url=server.base_url))
    try:
        for i in range(times):
            assert client.fetch_v2(User(user_id=f"usage-user-{i}", device_id=f"d{i}"))
    finally:
        release(client)


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return fresh_database_url(tmp_path_factory.mktemp("usage"))


@pytest.fixture(scope="module")
def two_servers(database_url: str) -> Iterator[tuple[Server, Server]]:
    with running_server(database_url, env=FAST) as first, running_server(database_url, env=FAST) as second:
        yield first, second


@pytest.fixture(scope="module")
def api(two_servers: tuple[Server, Server]) -> Iterator[httpx.Client]:
    server = two_servers[0]
    key = server.create_key("usage-admin")
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def setup(two_servers: tuple[Server, Server], api: httpx.Client) -> dict[str, str]:
    server = two_servers[0]
    project = server.create_project("usage")
    deployment = server.create_deployment(project, "usage-prod")
    used = create(api, "flags", {"projectId": project, "key": "usage-used", "deployments": [deployment["id"]],
                                 "rolloutPercentage": 100})
    enable(api, "flags", used)
    unused = create(api, "flags", {"projectId": project, "key": "usage-unlinked"})
    return {"project": project, "deployment": deployment["id"], "deployment_key": deployment["key"],
            "used": used, "unused": unused}


def usage(api: httpx.Client, flag_id: str, **params: Any) -> dict[str, Any]:
    response = api.get(f"/api/1/flags/{flag_id}/usage", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_usage__sums_the_remote_evaluations_of_every_process(
        two_servers: tuple[Server, Server], api: httpx.Client, setup: dict[str, str]) -> None:
    # Given / When three fetches through one process and two through the other
    first, second = two_servers
    before = datetime.now(UTC)
    fetch(first, setup["deployment_key"], 3)
    fetch(second, setup["deployment_key"], 2)
    # Then both processes' counts arrive within a few flushes
    found = wait_for(lambda: (u := usage(api, setup["used"]))["evaluations"] == 5 and u)
    today = datetime.now(UTC).date().isoformat()
    [through] = found["deployments"]
    assert through["deploymentId"] == setup["deployment"] and through["label"] == "usage-prod"
    assert through["evaluations"] == 5
    assert len(through["daily"]) == 30 and through["daily"][-1] == {"date": today, "evaluations": 5}
    assert datetime.fromisoformat(found["lastEvaluatedAt"]) >= before.replace(microsecond=0)
    assert found["notEvaluatedForDays"] == 0
    # And the flag is on at 100 % with one variant: everyone gets it, changed today
    assert (found["servedToEveryone"], found["unchangedForDays"]) == ("on", 0)


def test_usage__a_flag_never_evaluated(api: httpx.Client, setup: dict[str, str]) -> None:
    found = usage(api, setup["unused"], days=7)
    assert (found["evaluations"], found["lastEvaluatedAt"], found["deployments"]) == (0, None, [])
    assert (found["days"], found["servedToEveryone"]) == (7, None)


def test_usage__bad_days_or_an_unknown_flag_are_refused(api: httpx.Client, setup: dict[str, str]) -> None:
    for days in ("0", "366", "many"):
        assert_error(api.get(f"/api/1/flags/{setup['used']}/usage", params={"days": days}), 400, "days")
    assert_error(api.get("/api/1/flags/999999/usage"), 404, "999999", code="flag_not_found")
    # A flag's id on the experiments' route names no experiment
    assert_error(api.get(f"/api/1/experiments/{setup['used']}/usage"), 404, code="experiment_not_found")


def test_usage__counts_not_yet_written_are_written_when_a_server_stops(
        database_url: str, api: httpx.Client, setup: dict[str, str]) -> None:
    # Given a third process that would only write when stopping
    before = usage(api, setup["used"])["evaluations"]
    with running_server(database_url, env={"FLAGYARD_USAGE_FLUSH_SECONDS": "0"}) as third:
        fetch(third, setup["deployment_key"], 4)
        time.sleep(0.5)
        assert usage(api, setup["used"])["evaluations"] == before
    # When it has stopped, then its four evaluations are there
    assert usage(api, setup["used"])["evaluations"] == before + 4


def test_usage__nothing_is_counted_when_counting_is_off(
        database_url: str, api: httpx.Client, setup: dict[str, str]) -> None:
    # Given a process with FLAGYARD_USAGE_COUNTING=false
    before = usage(api, setup["used"])["evaluations"]
    off = {"FLAGYARD_USAGE_COUNTING": "false", "FLAGYARD_USAGE_FLUSH_SECONDS": "0.2"}
    with running_server(database_url, env=off) as quiet:
        # When it answers evaluations (and stops)
        fetch(quiet, setup["deployment_key"], 3)
    # Then none of them is counted
    assert usage(api, setup["used"])["evaluations"] == before
