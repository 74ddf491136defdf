"""Scheduled changes applied for real: two server processes on one database apply each step
once, on time, as a version by the scheduler; a step missed while no server ran is applied at
start-up and marked late; a step the flag refuses when due fails and changes nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import create_linked
from tests.support.server import Server, fresh_database_url, running_server
from tests.support.waiting import wait_for

FAST = {"FLAGYARD_SCHEDULE_CHECK_SECONDS": "0.2", "FLAGYARD_RATE_LIMIT_PER_SECOND": "0"}


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def ahead(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def client(server: Server, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def finished(api: httpx.Client, kind: str, flag_id: str, schedule_id: str) -> Callable[[], dict[str, Any] | None]:
    def check() -> dict[str, Any] | None:
        schedule = api.get(f"/api/1/{kind}/{flag_id}/schedules/{schedule_id}").json()
        return schedule if schedule["state"] != "pending" else None
    return check


def by_scheduler(api: httpx.Client, kind: str, flag_id: str, schedule_id: str) -> list[dict[str, Any]]:
    versions = api.get(f"/api/1/{kind}/{flag_id}/versions").json()
    return sorted((v for v in versions if v["createdBy"] == f"scheduler (schedule {schedule_id})"),
                  key=lambda v: v["version"])


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    database_url = fresh_database_url(tmp_path_factory.mktemp("schedules"))
    with running_server(database_url, env=FAST) as first, running_server(database_url, env=FAST) as second:
        yield first, second


@pytest.fixture(scope="module")
def lab(two_servers: tuple[Server, Server]) -> Iterator[dict[str, Any]]:
    first, second = two_servers
    project = first.create_project("schedules")
    deployment = first.create_deployment(project, "schedules")
    key = first.create_key("ops@example.com")
    with client(first, key) as api, client(second, key) as other:
        yield {"project": project, "deployment": deployment, "api": api, "other": other}


def test_change__two_processes__applied_once_on_time_as_the_schedulers_version(lab: dict[str, Any]) -> None:
    # Given a flag, and a change scheduled two seconds ahead through the second process
    api = lab["api"]
    flag_id = create_linked(api, lab["project"], lab["deployment"]["id"], "flags")
    made = lab["other"].post(f"/api/1/flags/{flag_id}/schedules", json={
        "at": ahead(2).isoformat(), "patch": {"enabled": True, "rolloutPercentage": 40}})
    assert made.status_code == 200, made.text
    schedule_id = made.json()["id"]
    # When its time comes
    applied = wait_for(finished(api, "flags", flag_id, schedule_id))
    time.sleep(1)  # both processes have looked several times more by now
    # Then it was applied within a second of its time, as one version by the scheduler
    step = api.get(f"/api/1/flags/{flag_id}/schedules/{schedule_id}").json()["steps"][0]
    assert applied["state"] == "applied" and step["state"] == "applied" and step["late"] is False
    assert timedelta(0) <= moment(step["appliedAt"]) - moment(step["at"]) < timedelta(seconds=1)
    versions = by_scheduler(api, "flags", flag_id, schedule_id)
    assert [v["version"] for v in versions] == [step["version"]] == [2]
    # And the flag shows the patch, read through either process
    for reader in (api, lab["other"]):
        flag = reader.get(f"/api/1/flags/{flag_id}").json()
        assert flag["enabled"] is True and flag["rolloutPercentage"] == 40 and flag["version"] == 2
        assert flag["lastModifiedBy"] == f"scheduler (schedule {schedule_id})"
    assert versions[0]["flagConfig"] == api.get(f"/api/1/flags/{flag_id}").json()


def test_ramp__three_steps__three_versions_in_order(lab: dict[str, Any]) -> None:
    # Given an experiment and a ramp 5 → 25 → 60
    api = lab["api"]
    flag_id = create_linked(api, lab["project"], lab["deployment"]["id"], "experiments")
    made = api.post(f"/api/1/experiments/{flag_id}/schedules", json={"name": "ramp up", "ramp": [
        {"at": ahead(1.5).isoformat(), "rolloutPercentage": 5},
        {"at": ahead(2.5).isoformat(), "rolloutPercentage": 25},
        {"at": ahead(3.5).isoformat(), "rolloutPercentage": 60}]})
    assert made.status_code == 200, made.text
    schedule_id = made.json()["id"]
    # When
    schedule = wait_for(finished(api, "experiments", flag_id, schedule_id))
    time.sleep(1)
    # Then each step is one version, in order, each on time
    assert schedule["state"] == "applied"
    assert [step["version"] for step in schedule["steps"]] == [2, 3, 4]
    for step in schedule["steps"]:
        assert step["state"] == "applied" and not step["late"]
        assert timedelta(0) <= moment(step["appliedAt"]) - moment(step["at"]) < timedelta(seconds=1)
    versions = by_scheduler(api, "experiments", flag_id, schedule_id)
    assert [(v["version"], v["flagConfig"]["rolloutPercentage"]) for v in versions] == [(2, 5), (3, 25), (4, 60)]
    assert api.get(f"/api/1/experiments/{flag_id}").json()["rolloutPercentage"] == 60


def test_step_the_flag_refuses_when_due__failed_with_the_message_and_the_flag_unchanged(
    lab: dict[str, Any]
) -> None:
    # Given an experiment whose roll-out of "treatment" is scheduled
    api = lab["api"]
    flag_id = create_linked(api, lab["project"], lab["deployment"]["id"], "experiments")
    made = api.post(f"/api/1/experiments/{flag_id}/schedules", json={
        "at": ahead(2).isoformat(), "patch": {"rolledOutVariant": "treatment", "rolloutPercentage": 100}})
    assert made.status_code == 200, made.text
    schedule_id = made.json()["id"]
    # When the variant is deleted before the time comes
    assert api.delete(f"/api/1/experiments/{flag_id}/variants/treatment").status_code == 200
    before = api.get(f"/api/1/experiments/{flag_id}").json()
    schedule = wait_for(finished(api, "experiments", flag_id, schedule_id))
    time.sleep(1)
    # Then the step failed, saying why, and nothing of the patch was applied
    step = schedule["steps"][0]
    assert schedule["state"] == "failed" and step["state"] == "failed"
    assert step["error"] == "rolledOutVariant 'treatment' names no variant"
    assert step["version"] is None and step["appliedAt"] is None
    assert api.get(f"/api/1/experiments/{flag_id}").json() == before
    assert by_scheduler(api, "experiments", flag_id, schedule_id) == []
    # and a finished schedule cannot be cancelled
    assert api.delete(f"/api/1/experiments/{flag_id}/schedules/{schedule_id}").status_code == 409


def test_restart__a_step_due_while_no_server_ran__applied_at_start_up_and_marked_late(tmp_path: Path) -> None:
    # Given a change scheduled three seconds ahead on a server that then stops
    database_url = fresh_database_url(tmp_path)
    with running_server(database_url, env=FAST) as server:
        project = server.create_project("restart")
        deployment = server.create_deployment(project, "restart")
        key = server.create_key("ops@example.com")
        with client(server, key) as api:
            flag_id = create_linked(api, project, deployment["id"], "flags")
            made = api.post(f"/api/1/flags/{flag_id}/schedules", json={
                "at": ahead(3).isoformat(), "patch": {"rolloutPercentage": 75}})
            assert made.status_code == 200, made.text
    schedule_id = made.json()["id"]
    due = moment(made.json()["steps"][0]["at"])
    # When no server runs past its time (and past the 5 s that make a step late)
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 6)
    with running_server(database_url, env=FAST) as server, client(server, key) as api:
        schedule = wait_for(finished(api, "flags", flag_id, schedule_id))
        # Then the new server applied it at start-up, late
        step = schedule["steps"][0]
        assert step["state"] == "applied" and step["late"] is True and step["version"] == 2
        assert moment(step["appliedAt"]) - due > timedelta(seconds=5)
        assert api.get(f"/api/1/flags/{flag_id}").json()["rolloutPercentage"] == 75
        assert len(by_scheduler(api, "flags", flag_id, schedule_id)) == 1
