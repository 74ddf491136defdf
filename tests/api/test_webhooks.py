"""Webhooks end to end: real servers send to a real receiver, which verifies every delivery with
the `standardwebhooks` package; the outbox survives a SIGKILL; retries are logged; two
processes deliver each event once; bad input changes nothing."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from tests.support.server import Server, fresh_database_url, running_server, start_server
from tests.support.webhook_receiver import Receiver, webhook_receiver

SENDING = {"FLAGYARD_WEBHOOK_ALLOW_PRIVATE": "true", "FLAGYARD_WEBHOOK_CHECK_SECONDS": "0.1",
           "FLAGYARD_WEBHOOK_RETRY_DELAYS": "0.3,0.3,0.3", "FLAGYARD_RATE_LIMIT_PER_SECOND": "0",
           "FLAGYARD_RESULTS_WATCH_SECONDS": "0.3"}
T0 = 1_790_000_000_000


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as running:
        yield running


@pytest.fixture(scope="module")
def sending(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server that may send to the receiver on 127.0.0.1, with a key and a project."""
    database_url = fresh_database_url(tmp_path_factory.mktemp("webhooks"))
    with running_server(database_url, env=SENDING) as server:
        project = server.create_project("hooks")
        deployment = server.create_deployment(project, "hooks")
        key = server.create_key("hook-owner@example.com")
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
            yield {"server": server, "api": api, "project": project, "deployment": deployment,
                   "database_url": database_url, "key": key}


def create_hook(api: httpx.Client, project: str, url: str, **fields: Any) -> dict[str, Any]:
    body = {"projectId": project, "url": url, "events": ["flag.version.created"], **fields}
    created = api.post("/api/1/webhooks", json=body)
    assert created.status_code == 200, created.text
    return dict(created.json())


def new_flag(api: httpx.Client, project: str, deployment: dict[str, str], key: str | None = None) -> str:
    created = api.post("/api/1/flags", json={"projectId": project, "key": key or f"f-{uuid.uuid4().hex[:8]}",
                                             "deployments": [deployment["id"]]})
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


def verified(secret: str, received: Any) -> dict[str, Any]:
    """The delivery's JSON, once the standardwebhooks package accepts its signature."""
    return dict(Verifier(secret).verify(received.body, received.headers))


def test_flag_changes__each_version_delivered_signed_with_its_diff(sending: dict[str, Any], receiver: Receiver) -> None:
    api = sending["api"]
    key = f"signed-{uuid.uuid4().hex[:6]}"
    hook = create_hook(api, sending["project"], receiver.url,
                       events=["flag.version.created", "flag.enabled"], filters={"flagKeys": [key]})
    assert hook["secret"].startswith("whsec_") and "secret" not in api.get(f"/api/1/webhooks/{hook['id']}").json()
    before = len(receiver.requests)
    # When a flag is created, its rollout changed, then it is turned on
    flag_id = new_flag(api, sending["project"], sending["deployment"], key)
    assert api.patch(f"/api/1/flags/{flag_id}", json={"rolloutPercentage": 40}).status_code == 200
    assert api.patch(f"/api/1/flags/{flag_id}", json={"enabled": True}).status_code == 200
    mine = [r for r in receiver.wait_for(before + 4)[before:] if key.encode() in r.body]
    # Then four signed deliveries: three versions and one "enabled", each verified
    events = [verified(hook["secret"], r) for r in mine]
    assert sorted(e["type"] for e in events) == ["flag.enabled", *["flag.version.created"] * 3]
    versions = sorted((e for e in events if e["type"] == "flag.version.created"), key=lambda e: e["data"]["version"])
    assert [v["data"]["version"] for v in versions] == [1, 2, 3]
    assert versions[0]["data"]["previous"] is None
    assert {"path": "rolloutPercentage", "from": 0, "to": 40} in versions[1]["data"]["changes"]
    assert versions[1]["data"]["actor"] == "hook-owner@example.com"
    assert versions[2]["data"]["current"]["enabled"] is True
    assert all(r.headers["webhook-id"] == e["id"] for r, e in zip(mine, events, strict=True))


def test_refused_change__sends_nothing(sending: dict[str, Any], receiver: Receiver) -> None:
    api = sending["api"]
    key = f"refused-{uuid.uuid4().hex[:6]}"
    create_hook(api, sending["project"], receiver.url, filters={"flagKeys": [key]})
    flag_id = new_flag(api, sending["project"], sending["deployment"], key)
    receiver.wait_for(len(receiver.requests) + 1)
    before = len(receiver.requests)
    assert api.patch(f"/api/1/flags/{flag_id}", json={"rolloutPercentage": 150}).status_code == 400
    time.sleep(1.0)
    assert [r for r in receiver.requests[before:] if key.encode() in r.body] == []


def test_receiver_fails_three_times__retried__four_attempts_in_the_log(sending: dict[str, Any]) -> None:
    api = sending["api"]
    with webhook_receiver() as flaky:
        flaky.answers = [500, 500, 500]
        hook = create_hook(api, sending["project"], flaky.url, events=["webhook.test"])
        queued = api.post(f"/api/1/webhooks/{hook['id']}/test")
        assert queued.status_code == 202
        requests = flaky.wait_for(4)
        assert [r.status for r in requests] == [500, 500, 500, 200]
        assert len({r.headers["webhook-id"] for r in requests}) == 1  # the same message, again
        assert verified(hook["secret"], requests[-1])["type"] == "webhook.test"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            (delivery,) = api.get(f"/api/1/webhooks/{hook['id']}/deliveries").json()["deliveries"]
            if delivery["state"] == "delivered":
                break
            time.sleep(0.1)
        assert delivery["state"] == "delivered" and delivery["attempts"] == 4
        assert [a["status"] for a in delivery["log"]] == [500, 500, 500, 200]
        assert all(a["durationMs"] >= 0 for a in delivery["log"])


def test_redirect__not_followed_and_logged_as_a_failed_attempt(sending: dict[str, Any]) -> None:
    api = sending["api"]
    with webhook_receiver() as redirecting, webhook_receiver() as elsewhere:
        redirecting.redirect_to = elsewhere.url
        hook = create_hook(api, sending["project"], redirecting.url, events=["webhook.test"])
        api.post(f"/api/1/webhooks/{hook['id']}/test")
        assert [r.status for r in redirecting.wait_for(2)][:2] == [302, 302]
        assert elsewhere.requests == []


def test_change_request__opened_approved_applied__each_announced(sending: dict[str, Any],
                                                                 receiver: Receiver) -> None:
    api, server = sending["api"], sending["server"]
    guarded = server.create_deployment(sending["project"], f"guarded-{uuid.uuid4().hex[:6]}", require_approval=True)
    key = f"reviewed-{uuid.uuid4().hex[:6]}"
    flag_id = new_flag(api, sending["project"], guarded, key)
    hook = create_hook(api, sending["project"], receiver.url, filters={"flagKeys": [key]}, events=[
        "change_request.opened", "change_request.approved", "change_request.applied", "flag.version.created"])
    before = len(receiver.requests)
    # When a change is held, approved by a second key and applied
    held = api.patch(f"/api/1/flags/{flag_id}", json={"rolloutPercentage": 25})
    assert held.status_code == 202, held.text
    request_id = held.json()["changeRequestId"]
    with httpx.Client(base_url=server.base_url, timeout=30,
                      headers={"Authorization": f"Bearer {server.create_key('reviewer@example.com')}"}) as reviewer:
        assert reviewer.post(f"/api/1/change-requests/{request_id}/approve").status_code == 200
    assert api.post(f"/api/1/change-requests/{request_id}/apply").status_code == 200
    mine = [r for r in receiver.wait_for(before + 4)[before:] if key.encode() in r.body]
    # Then each step is one signed event, and the applied version is announced as any other
    events = [verified(hook["secret"], r) for r in mine]
    assert [e["type"] for e in events if e["type"].startswith("change_request.")] == [
        "change_request.opened", "change_request.approved", "change_request.applied"]
    opened = events[0]["data"]
    assert opened["changeRequest"]["id"] == request_id and opened["actor"] == "hook-owner@example.com"
    assert opened["changes"] == [{"path": "rolloutPercentage", "from": 0, "to": 25}]
    assert [e["data"]["actor"] for e in events[1:3]] == ["reviewer@example.com", "hook-owner@example.com"]
    (version,) = [e for e in events if e["type"] == "flag.version.created"]
    assert version["data"]["version"] == 2


def test_slack_format__a_readable_text(sending: dict[str, Any], receiver: Receiver) -> None:
    api = sending["api"]
    key = f"slack-{uuid.uuid4().hex[:6]}"
    create_hook(api, sending["project"], receiver.url, format="slack", filters={"flagKeys": [key]})
    before = len(receiver.requests)
    new_flag(api, sending["project"], sending["deployment"], key)
    (posted,) = [r for r in receiver.wait_for(before + 1)[before:] if key.encode() in r.body]
    text = json.loads(posted.body)["text"]
    assert f"flag `{key}`" in text and "version 1" in text and "hook-owner@example.com" in text


def test_outbox__server_killed_after_the_commit__delivered_by_the_next(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    # Given a server that sends nothing (its delivery job is off), alone on its database
    database_url = fresh_database_url(tmp_path_factory.mktemp("outbox"))
    quiet = start_server(database_url, env={**SENDING, "FLAGYARD_WEBHOOK_CHECK_SECONDS": "0"})
    project = quiet.create_project("outbox")
    key = quiet.create_key("outbox@example.com")
    with webhook_receiver() as target, \
            httpx.Client(base_url=quiet.base_url, headers={"Authorization": f"Bearer {key}"}) as api:
        hook = create_hook(api, project, target.url, events=["webhook.test"])
        # When a delivery is committed and the server is killed at once
        assert api.post(f"/api/1/webhooks/{hook['id']}/test").status_code == 202
        os.kill(quiet.process.pid, signal.SIGKILL)
        quiet.process.wait()
        assert target.requests == []
        # Then the next server on the database sends it
        with running_server(database_url, env=SENDING):
            (arrived,) = target.wait_for(1)
        assert verified(hook["secret"], arrived)["type"] == "webhook.test"


def test_two_processes__each_event_delivered_once(sending: dict[str, Any]) -> None:
    second = start_server(sending["database_url"], env=SENDING)
    try:
        with webhook_receiver() as target:
            api = sending["api"]
            key = f"once-{uuid.uuid4().hex[:6]}"
            create_hook(api, sending["project"], target.url, filters={"flagKeys": [key]})
            flag_id = new_flag(api, sending["project"], sending["deployment"], key)
            for percentage in range(1, 20):
                assert api.patch(f"/api/1/flags/{flag_id}", json={"rolloutPercentage": percentage}).status_code == 200
            received = target.wait_for(20)
            time.sleep(1.0)  # both processes look several times more
            ids = [r.headers["webhook-id"] for r in target.requests]
            assert len(ids) == 20 and len(set(ids)) == 20
    finally:
        second.process.terminate()
        second.process.wait(timeout=15)
    _ = received


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "ftp://example.com/hook"}, "url"),
    ({"url": "https://user:pw@example.com/hook"}, "url"),
    ({"url": "http://127.0.0.1:9/hook"}, "FLAGYARD_WEBHOOK_ALLOW_PRIVATE"),  # private, not allowed here
    ({"url": "http://169.254.169.254/latest"}, "FLAGYARD_WEBHOOK_ALLOW_PRIVATE"),
    ({"events": ["flag.exploded"]}, "events[0]"),
    ({"events": []}, "events"),
    ({"format": "teams"}, "format"),
    ({"filters": {"tags": ["x"]}}, "filters.tags"),
    ({"color": "red"}, "color"),
])
def test_create__bad_input__400_naming_the_field_and_nothing_stored(
        api: httpx.Client, project_id: str, body: dict[str, Any], field: str) -> None:
    # the shared server does not allow private targets
    before = api.get("/api/1/webhooks", params={"projectId": project_id}).json()["webhooks"]
    request = {"projectId": project_id, "url": "https://hooks.example.com/flagyard", "events": ["flag.enabled"], **body}
    response = api.post("/api/1/webhooks", json=request)
    assert response.status_code == 400, response.text
    assert field in response.text
    assert api.get("/api/1/webhooks", params={"projectId": project_id}).json()["webhooks"] == before


def test_keys__read_only_cannot_write__other_projects_cannot_see(
        api: httpx.Client, read_only_api: httpx.Client, other_project_api: httpx.Client, project_id: str,
        server: Server) -> None:
    created = api.post("/api/1/webhooks", json={"projectId": project_id, "url": "https://hooks.example.com/a",
                                                "events": ["flag.enabled"]})
    assert created.status_code == 200, created.text
    hook_id = created.json()["id"]
    assert read_only_api.post("/api/1/webhooks", json={"projectId": project_id, "url": "https://hooks.example.com/b",
                                                       "events": ["flag.enabled"]}).status_code == 403
    assert read_only_api.delete(f"/api/1/webhooks/{hook_id}").status_code == 403
    assert other_project_api.get(f"/api/1/webhooks/{hook_id}").status_code == 403
    assert api.patch(f"/api/1/webhooks/{hook_id}", json={"enabled": False}).json()["enabled"] is False
    assert api.delete(f"/api/1/webhooks/{hook_id}").status_code == 200
    assert api.get(f"/api/1/webhooks/{hook_id}").status_code == 404


def running_experiment(sending: dict[str, Any], key: str) -> str:
    api = sending["api"]
    created = api.post("/api/1/experiments", json={"projectId": sending["project"], "key": key,
                                                  "deployments": [sending["deployment"]["id"]]})
    assert created.status_code == 200, created.text
    flag_id = str(created.json()["id"])
    assert api.put(f"/api/1/experiments/{flag_id}/metrics",
                   json={"metrics": [{"eventType": "purchase", "role": "primary"}]}).status_code == 200
    assert api.patch(f"/api/1/experiments/{flag_id}", json={"enabled": True}).status_code == 200
    return flag_id


def send_users(sending: dict[str, Any], flag_key: str, users: dict[str, int], buying: dict[str, float]) -> None:
    events = []
    for variant, count in users.items():
        for n in range(count):
            user = f"{flag_key}-{variant}-{n}"
            events.append({"event_type": "[Experiment] Exposure", "user_id": user, "time": T0,
                           "event_properties": {"[Experiment] Flag Key": flag_key, "[Experiment] Variant": variant}})
            if n < buying[variant] * count:
                events.append({"event_type": "purchase", "user_id": user, "time": T0 + 1000})
    server: Server = sending["server"]
    for n in range(0, len(events), 1000):
        sent = httpx.post(f"{server.base_url}/batch",
                          json={"api_key": sending["deployment"]["key"], "events": events[n:n + 1000]})
        assert sent.json()["code"] == 200, sent.text


def test_results_watch__srm_and_significance__each_announced_once(sending: dict[str, Any]) -> None:
    api = sending["api"]
    with webhook_receiver() as target:
        key = f"watched-{uuid.uuid4().hex[:6]}"
        hook = create_hook(api, sending["project"], target.url, filters={"flagKeys": [key]},
                           events=["experiment.srm_detected", "experiment.significant"])
        flag_id = running_experiment(sending, key)
        api.put(f"/api/1/experiments/{flag_id}/analysis", json={"testType": "ttest"})
        # When twice as many users land in control as the 50/50 weights allow, and treatment
        # converts far better
        send_users(sending, key, {"control": 400, "treatment": 200}, {"control": 0.2, "treatment": 0.5})
        target.wait_for(2)
        time.sleep(1.5)  # the watch has looked several times more
        # Then each fact is announced once, signed, with what the results say
        events = {verified(hook["secret"], r)["type"]: verified(hook["secret"], r) for r in target.requests}
        assert len(target.requests) == 2 and set(events) == {"experiment.srm_detected", "experiment.significant"}
        srm = events["experiment.srm_detected"]["data"]
        assert srm["flagKey"] == key and srm["exposures"] == {"control": 400, "treatment": 200} and srm["pValue"] < 0.001
        (winner,) = events["experiment.significant"]["data"]["variants"]
        assert winner["key"] == "treatment" and winner["better"] is True and winner["adjustedPValue"] < 0.05
