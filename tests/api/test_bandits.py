"""Multi-armed bandits end to end: two server processes on one database reallocate a bandit's
traffic once per interval, as a version by the system, toward the arm that converts best."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.server import Server, fresh_database_url, running_server

T0 = 1_790_000_000_000
EVERY = {"FLAGYARD_BANDIT_CHECK_SECONDS": "0.3", "FLAGYARD_RATE_LIMIT_PER_SECOND": "0"}


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    database_url = fresh_database_url(tmp_path_factory.mktemp("bandits"))
    with running_server(database_url, env=EVERY) as first, running_server(database_url, env=EVERY) as second:
        yield first, second


@pytest.fixture(scope="module")
def lab(two_servers: tuple[Server, Server]) -> Iterator[dict[str, Any]]:
    first, _ = two_servers
    project = first.create_project("bandits")
    deployment = first.create_deployment(project, "bandits")
    key = first.create_key("bandit-owner")
    with httpx.Client(base_url=first.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
        yield {"project": project, "deployment": deployment, "api": api, "server": first}


def new_experiment(lab: dict[str, Any], variants: tuple[str, ...] = ("control", "treatment")) -> str:
    api = lab["api"]
    created = api.post("/api/1/experiments", json={
        "projectId": lab["project"], "key": f"bandit-{uuid.uuid4().hex[:8]}",
        "deployments": [lab["deployment"]["id"]],
        "variants": [{"key": key} for key in variants]})
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


def send_arms(lab: dict[str, Any], flag_key: str, rates: dict[str, float], users: int) -> None:
    events = []
    for variant, rate in rates.items():
        for n in range(users):
            user = f"{flag_key}-{variant}-{n}"
            events.append({"event_type": "[Experiment] Exposure", "user_id": user, "time": T0,
                           "event_properties": {"[Experiment] Flag Key": flag_key, "[Experiment] Variant": variant}})
            if n < rate * users:
                events.append({"event_type": "purchase", "user_id": user, "time": T0 + 1000})
    url = f"{lab['server'].base_url}/batch"
    for n in range(0, len(events), 1000):
        sent = httpx.post(url, json={"api_key": lab["deployment"]["key"], "events": events[n:n + 1000]})
        assert sent.json()["code"] == 200, sent.text


def bandit_versions(api: httpx.Client, flag_id: str) -> list[dict[str, Any]]:
    versions = api.get(f"/api/1/experiments/{flag_id}/versions").json()
    return [v for v in versions if v["createdBy"] == "flagyard-bandit"]


def test_bandit__two_processes__one_reallocation_per_interval_toward_the_best_arm(lab: dict[str, Any]) -> None:
    # Given a running bandit experiment reallocated hourly on its primary metric
    api = lab["api"]
    flag_id = new_experiment(lab, ("control", "a", "b"))
    flag_key = api.get(f"/api/1/experiments/{flag_id}").json()["key"]
    assert api.put(f"/api/1/experiments/{flag_id}/metrics",
                   json={"metrics": [{"eventType": "purchase", "role": "primary"}]}).status_code == 200
    chosen = api.put(f"/api/1/experiments/{flag_id}/analysis", json={"allocation": "bandit", "reallocation": "hourly"})
    assert chosen.status_code == 200, chosen.text
    assert api.patch(f"/api/1/experiments/{flag_id}", json={"enabled": True}).status_code == 200
    # When too few users have been exposed, nothing moves
    send_arms(lab, flag_key, {"control": 0.1, "a": 0.1, "b": 0.3}, users=60)
    time.sleep(1.5)
    assert bandit_versions(api, flag_id) == []
    # When every arm has its 100 exposures and "b" converts three times as often
    send_arms(lab, f"{flag_key}", {"control": 0.1, "a": 0.1, "b": 0.3}, users=150)
    deadline = time.monotonic() + 20
    while not bandit_versions(api, flag_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.5)  # both processes have asked several times more by now
    # Then one version by the system, in this hour, moves most traffic to "b"
    versions = bandit_versions(api, flag_id)
    hours = {v["createdAt"][:13] for v in versions}
    assert len(versions) == len(hours) == 1, versions
    weights = api.get(f"/api/1/experiments/{flag_id}").json()["rolloutWeights"]
    assert weights == versions[0]["flagConfig"]["rolloutWeights"]
    assert sum(weights.values()) == 10_000 and weights["b"] > 0.9 * 10_000
    assert min(weights.values()) >= 100  # the floor: no arm starves


def test_bandit__bad_settings__400_naming_the_field_and_nothing_changes(lab: dict[str, Any]) -> None:
    api = lab["api"]
    flag_id = new_experiment(lab)
    # without a primary metric there is nothing to optimise
    refused = api.put(f"/api/1/experiments/{flag_id}/analysis", json={"allocation": "bandit"})
    assert refused.status_code == 400 and "primary metric" in refused.text and "allocation" in refused.text
    refused = api.put(f"/api/1/experiments/{flag_id}/analysis", json={"reallocation": "weekly"})
    assert refused.status_code == 400 and "reallocation" in refused.text
    assert api.get(f"/api/1/experiments/{flag_id}/analysis").json()["allocation"] == "fixed"
    # and a bandit's metrics cannot all be removed
    api.put(f"/api/1/experiments/{flag_id}/metrics", json={"metrics": [{"eventType": "purchase"}]})
    assert api.put(f"/api/1/experiments/{flag_id}/analysis", json={"allocation": "bandit"}).status_code == 200
    refused = api.put(f"/api/1/experiments/{flag_id}/metrics", json={"metrics": []})
    assert refused.status_code == 400 and "bandit" in refused.text
    assert len(api.get(f"/api/1/experiments/{flag_id}/metrics").json()["metrics"]) == 1


def test_bandit__not_running__left_alone(lab: dict[str, Any]) -> None:
    # Given a bandit with enough data that was never started
    api = lab["api"]
    flag_id = new_experiment(lab)
    flag_key = api.get(f"/api/1/experiments/{flag_id}").json()["key"]
    api.put(f"/api/1/experiments/{flag_id}/metrics", json={"metrics": [{"eventType": "purchase"}]})
    api.put(f"/api/1/experiments/{flag_id}/analysis", json={"allocation": "bandit", "reallocation": "hourly"})
    send_arms(lab, flag_key, {"control": 0.1, "treatment": 0.4}, users=120)
    time.sleep(1.5)
    # Then its weights are its own
    assert bandit_versions(api, flag_id) == []
