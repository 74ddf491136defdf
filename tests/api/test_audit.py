"""The audit log: one change of every kind, and sign-ins, each found in /api/1/audit with who,
what, before/after and the client's address; filters, paging, JSON lines, and keys' scope."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.console.conftest import create_user
from tests.console.support import sign_in, signed_in_client
from tests.support.server import Server, fresh_database_url, running_server

T0 = 1_790_000_000_000


@pytest.fixture(scope="module")
def house(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server of its own, so the log holds this module's records only."""
    database_url = fresh_database_url(tmp_path_factory.mktemp("audit"))
    with running_server(database_url, env={"FLAGYARD_RATE_LIMIT_PER_SECOND": "0"}) as server:
        project = server.create_project("audited")
        other = server.create_project("elsewhere")
        key = server.create_key("auditor@example.com")
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
            yield {"server": server, "api": api, "project": project, "other": other}


def records(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    answer = api.get("/api/1/audit", params={"limit": 1000, **params})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["records"])


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 202), response.text
    # Some of Amplitude's routes answer a plain "OK"
    return dict(response.json()) if response.headers["content-type"].startswith("application/json") else {}


def test_every_kind_of_change__each_recorded_with_who_what_and_the_changed_fields(house: dict[str, Any]) -> None:
    server: Server = house["server"]
    api: httpx.Client = house["api"]
    project = house["project"]
    # Given one change of every kind
    deployment = ok(api.post("/api/1/deployments", json={"projectId": project, "label": "audited-prod"}))["id"]
    ok(api.patch(f"/api/1/deployments/{deployment}", json={"label": "audited-production"}))
    flag = ok(api.post("/api/1/flags", json={"projectId": project, "key": "audited-flag",
                                              "deployments": [deployment]}))["id"]
    ok(api.patch(f"/api/1/flags/{flag}", json={"rolloutPercentage": 30}))
    experiment = ok(api.post("/api/1/experiments", json={"projectId": project, "key": "audited-exp",
                                                          "deployments": [deployment]}))["id"]
    ok(api.put(f"/api/1/experiments/{experiment}/metrics", json={"metrics": [{"eventType": "purchase"}]}))
    ok(api.put(f"/api/1/experiments/{experiment}/analysis", json={"testType": "ttest"}))
    ok(api.patch(f"/api/1/flags/{flag}", json={"archive": True}))
    holdout = ok(api.post("/api/1/holdouts", json={"projectId": project, "name": "h", "key": "audited-holdout",
                                                   "holdoutPercentage": 5}))["id"]
    cohort = ok(api.post("/api/1/cohorts", json={"projectId": project, "name": "vips", "memberIds": ["u1"]}))["id"]
    ok(api.post(f"/api/1/cohorts/{cohort}/members", json={"memberIds": ["u2", "u3"]}))
    hook = ok(api.post("/api/1/webhooks", json={"projectId": project, "url": "https://hooks.example.com/audit",
                                                "events": ["flag.enabled"]}))
    ok(api.patch(f"/api/1/webhooks/{hook['id']}", json={"enabled": False}))
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    schedule = ok(api.post(f"/api/1/experiments/{experiment}/schedules",
                           json={"at": later, "patch": {"rolloutPercentage": 50}}))["id"]
    ok(api.delete(f"/api/1/experiments/{experiment}/schedules/{schedule}"))
    ok(api.delete(f"/api/1/webhooks/{hook['id']}"))
    key = server.create_key("short-lived@example.com")
    server.cli("keys", "revoke", key)
    person = create_user(server, "editor", f"audited-{uuid.uuid4().hex[:6]}@example.com")
    server.cli("users", "set-role", person.email, "viewer")
    client, _ = signed_in_client(server.base_url, person.email, person.password)
    client.close()
    with httpx.Client(base_url=server.base_url) as stranger:
        assert sign_in(stranger, person.email, "nope nope nope").status_code != 303  # refused

    # When the log is read
    log = records(api)
    actions = [r["action"] for r in log]

    # Then every kind is there, newest first
    for action in ("deployment.created", "deployment.updated", "flag.created", "flag.updated", "flag.archived",
                   "experiment.created", "experiment.metrics_changed", "experiment.analysis_changed",
                   "holdout.created", "cohort.created", "cohort.members_added", "webhook.created",
                   "webhook.updated", "webhook.deleted", "schedule.created", "schedule.cancelled",
                   "key.created", "key.revoked", "user.created", "user.role_changed", "user.signed_in",
                   "user.sign_in_failed", "project.created"):
        assert action in actions, action
    assert [r["id"] for r in log] == sorted((r["id"] for r in log), key=int, reverse=True)
    by_action = {r["action"]: r for r in reversed(log)}  # the latest of each
    updated = by_action["flag.updated"]
    assert updated["actor"] == "auditor@example.com" and updated["subjectId"] == str(flag)
    assert (updated["before"], updated["after"]) == ({"rolloutPercentage": 0}, {"rolloutPercentage": 30})
    assert updated["client"] == "127.0.0.1" and updated["projectId"] == project
    assert by_action["experiment.analysis_changed"]["after"] == {"testType": "ttest"}
    assert by_action["webhook.updated"]["after"] == {"enabled": False}
    assert "secret" not in json.dumps(by_action["webhook.created"])
    assert by_action["user.role_changed"]["before"] == {"role": "editor"}
    assert by_action["user.role_changed"]["actor"] == "cli"
    assert by_action["user.signed_in"]["actor"] == person.email
    assert by_action["user.sign_in_failed"]["after"] == {"reason": "wrong credentials"}
    assert by_action["deployment.updated"]["after"] == {"label": "audited-production"}
    _ = holdout


def test_filters_paging_and_export(house: dict[str, Any]) -> None:
    api: httpx.Client = house["api"]
    ok(api.post("/api/1/flags", json={"projectId": house["project"], "key": f"paged-{uuid.uuid4().hex[:6]}"}))
    everything = records(api)
    # by actor and by action prefix
    assert {r["actor"] for r in records(api, actor="auditor@example.com")} == {"auditor@example.com"}
    assert {r["action"].split(".")[0] for r in records(api, action="flag.")} == {"flag"}
    # by time: nothing after tomorrow, everything since yesterday
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    assert records(api, start=tomorrow) == []
    assert len(records(api, start=yesterday)) == len(everything)
    # pages of two, through the cursor, are the whole log in order
    paged: list[dict[str, Any]] = []
    cursor = None
    while True:
        answer = api.get("/api/1/audit", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        paged += answer["records"]
        cursor = answer.get("nextCursor")
        if not cursor:
            break
    assert [r["id"] for r in paged] == [r["id"] for r in everything]
    # JSON lines: the same records
    exported = api.get("/api/1/audit/export")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert [r["id"] for r in lines] == [r["id"] for r in everything]
    # bad input names the field
    bad = api.get("/api/1/audit", params={"start": "yesterday"})
    assert bad.status_code == 400 and "start" in bad.text


def test_a_key_for_one_project__sees_its_records_only_and_cannot_export(house: dict[str, Any]) -> None:
    server: Server = house["server"]
    api: httpx.Client = house["api"]
    ok(api.post("/api/1/flags", json={"projectId": house["other"], "key": f"elsewhere-{uuid.uuid4().hex[:6]}"}))
    limited = server.create_key("limited@example.com", projects=(house["project"],))
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {limited}"}) as scoped:
        seen = records(scoped)
        assert seen and {r["projectId"] for r in seen} == {house["project"]}
        assert scoped.get("/api/1/audit/export").status_code == 403
