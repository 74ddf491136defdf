"""An experiment from planning to a decision, and its new runs, through the API; what SDKs are
served at each step is checked with the evaluation route an SDK calls."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import assert_error, create_experiment, segment

USER = {"user_id": "lifecycle-user"}


@pytest.fixture
def experiment(api: httpx.Client, project_id: str, deployment: dict[str, str]) -> str:
    return create_experiment(api, project_id, deployments=[deployment["id"]], rolloutPercentage=100, bucketingKey="user_id",
                             rolloutWeights={"control": 1, "treatment": 1})


def served(server_url: str, deployment: dict[str, str], key: str) -> str | None:
    """The variant the remote-evaluation route gives a user for `key` (None: nothing)."""
    answer = httpx.post(f"{server_url}/sdk/v2/vardata", json={"user_id": USER["user_id"]},
                        headers={"Authorization": f"Api-Key {deployment['key']}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    variant = answer.json().get(key)
    return None if variant is None else variant.get("key")


def doc(api: httpx.Client, experiment: str) -> dict[str, Any]:
    return dict(api.get(f"/api/1/experiments/{experiment}").json())


def test_start_stop__state_dates_and_versions(api: httpx.Client, experiment: str) -> None:
    assert doc(api, experiment)["state"] == "planning"
    started = api.post(f"/api/1/experiments/{experiment}/start")
    assert started.status_code == 200, started.text
    body = started.json()
    assert body["state"] == "running" and body["enabled"] is True and body["startDate"]
    assert_error(api.post(f"/api/1/experiments/{experiment}/start"), 409, "already running")
    stopped = api.post(f"/api/1/experiments/{experiment}/stop").json()
    assert stopped["state"] == "stopped" and stopped["endDate"] and stopped["startDate"] == body["startDate"]
    assert_error(api.post(f"/api/1/experiments/{experiment}/stop"), 409, "not running")
    assert doc(api, experiment)["version"] == 3


def test_rollout__the_winner_served_to_everyone_as_one_version(server: Any, api: httpx.Client, experiment: str,
                                                               deployment: dict[str, str]) -> None:
    api.post(f"/api/1/experiments/{experiment}/start").raise_for_status()
    key = doc(api, experiment)["key"]
    # When treatment is rolled out
    answer = api.post(f"/api/1/experiments/{experiment}/decision",
                      json={"decision": "rollout", "variant": "treatment", "reason": "won on purchases"})
    assert answer.status_code == 200, answer.text
    decided = answer.json()
    # Then the decision is recorded, the weights serve treatment alone, and SDKs get it
    assert decided["state"] == "decision-made" and decided["decision"] == "rollout"
    assert decided["rolledOutVariant"] == "treatment" and decided["decisionReason"] == "won on purchases"
    assert {v["key"]: v["rolloutWeight"] for v in decided["variants"]} == {"control": 0, "treatment": 1}
    assert decided["rolloutPercentage"] == 100 and decided["enabled"] is True and decided["endDate"]
    assert served(server.base_url, deployment, key) == "treatment"
    assert decided["version"] == 3


def test_rollout__segments_serve_the_winner_to_all_they_target(api: httpx.Client, project_id: str,
                                                                deployment: dict[str, str]) -> None:
    experiment = create_experiment(api, project_id, deployments=[deployment["id"]], targetSegments=[
        segment(percentage=30, rolloutWeights={"control": 1, "treatment": 1})])
    decided = api.post(f"/api/1/experiments/{experiment}/decision",
                       json={"decision": "rollout", "variant": "control"}).json()
    (only,) = decided["targetSegments"]
    assert only["percentage"] == 100 and only["rolloutWeights"] == {"control": 1, "treatment": 0}
    assert decided["rolloutPercentage"] == 0  # users outside the segments were never in it


def test_rollback__stops_serving(server: Any, api: httpx.Client, experiment: str,
                                 deployment: dict[str, str]) -> None:
    api.post(f"/api/1/experiments/{experiment}/start").raise_for_status()
    key = doc(api, experiment)["key"]
    assert served(server.base_url, deployment, key) in ("control", "treatment")
    decided = api.post(f"/api/1/experiments/{experiment}/decision", json={"decision": "rollback"}).json()
    assert decided["decision"] == "rollback" and decided["enabled"] is False
    assert served(server.base_url, deployment, key) is None


def test_continue_running__keeps_serving_as_it_was(api: httpx.Client, experiment: str) -> None:
    before = api.post(f"/api/1/experiments/{experiment}/start").json()
    decided = api.post(f"/api/1/experiments/{experiment}/decision", json={"decision": "continue-running"}).json()
    assert decided["decision"] == "continue-running" and decided["enabled"] is True
    assert decided["variants"] == before["variants"] and decided["endDate"] is None


def test_decision__bad_input_names_the_field_and_changes_nothing(api: httpx.Client, experiment: str) -> None:
    before = doc(api, experiment)
    path = f"/api/1/experiments/{experiment}/decision"
    assert_error(api.post(path, json={"decision": "rollout", "variant": "nope"}), 400, "variant", "nope")
    assert_error(api.post(path, json={"decision": "rollout"}), 400, "variant")
    assert_error(api.post(path, json={"decision": "rollback", "variant": "control"}), 400, "variant")
    assert_error(api.post(path, json={"decision": "ship-it"}), 400, "decision")
    assert doc(api, experiment) == before


def test_new_run__repeats_the_design_in_planning__both_runs_listed(api: httpx.Client, experiment: str) -> None:
    metrics = [{"eventType": "purchase", "role": "primary"}, {"eventType": "signup"}]
    assert api.put(f"/api/1/experiments/{experiment}/metrics", json={"metrics": metrics}).status_code == 200
    assert api.put(f"/api/1/experiments/{experiment}/analysis", json={"cuped": True}).status_code == 200
    api.post(f"/api/1/experiments/{experiment}/start").raise_for_status()
    api.post(f"/api/1/experiments/{experiment}/decision", json={"decision": "rollback"}).raise_for_status()
    old = doc(api, experiment)
    key = f"{old['key']}-run-2"
    # When a new run is made with a new salt
    answer = api.post(f"/api/1/experiments/{experiment}/runs", json={"key": key, "newBucketingSalt": True})
    assert answer.status_code == 200, answer.text
    run = answer.json()
    # Then it repeats the design, in planning, without the decision
    assert run["key"] == key and run["state"] == "planning" and run["decision"] is None
    assert run["startDate"] is None and run["endDate"] is None
    assert run["bucketingSalt"] != old["bucketingSalt"]
    assert [v["key"] for v in run["variants"]] == [v["key"] for v in old["variants"]]
    assert run["deployments"] == old["deployments"] and run["version"] == 1
    copied = api.get(f"/api/1/experiments/{run['id']}/metrics").json()["metrics"]
    assert [(m["eventType"], m["role"]) for m in copied] == [("purchase", "primary"), ("signup", "secondary")]
    assert api.get(f"/api/1/experiments/{run['id']}/analysis").json()["cuped"] is True
    # And the old run keeps its decision; both list the same runs, oldest first
    assert doc(api, experiment)["decision"] == "rollback"
    for either in (experiment, run["id"]):
        listed = api.get(f"/api/1/experiments/{either}/runs").json()["runs"]
        assert [r["id"] for r in listed] == [experiment, run["id"]]
    # A second new run of the old one is refused: runs form one line
    assert_error(api.post(f"/api/1/experiments/{experiment}/runs", json={"key": f"{key}-b"}), 409, "next run")


def test_new_run__key_taken_or_same__refused(api: httpx.Client, project_id: str, experiment: str) -> None:
    other = create_experiment(api, project_id)
    taken = api.get(f"/api/1/experiments/{other}").json()["key"]
    assert_error(api.post(f"/api/1/experiments/{experiment}/runs", json={"key": taken}), 409)
    assert_error(api.post(f"/api/1/experiments/{experiment}/runs", json={"key": doc(api, experiment)["key"]}),
                 400, "key")
    assert_error(api.post(f"/api/1/experiments/{experiment}/runs", json={"key": "bad key!"}), 400, "key")
    assert [r["id"] for r in api.get(f"/api/1/experiments/{experiment}/runs").json()["runs"]] == [experiment]


def test_lifecycle_routes__flags_are_not_experiments(api: httpx.Client, project_id: str) -> None:
    flag = api.post("/api/1/flags", json={"projectId": project_id, "key": "lifecycle-flag"}).json()["id"]
    assert_error(api.post(f"/api/1/experiments/{flag}/start"), 404)
