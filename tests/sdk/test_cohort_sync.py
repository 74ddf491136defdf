"""Amplitude's SDK (amplitude-experiment 1.13.0) with cohort targeting against a live flagyard.

LocalEvaluationClient downloads the cohorts through `cohort_sync_config`; RemoteEvaluationClient
sends no cohort ids and flagyard finds them. Both must give every user the variant the cohort
lists say, and local evaluation must follow a membership change made through the API.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from amplitude_experiment import (
    LocalEvaluationClient,
    LocalEvaluationConfig,
    RemoteEvaluationClient,
    RemoteEvaluationConfig,
    User,
)
from amplitude_experiment.cohort.cohort_sync_config import CohortSyncConfig

from tests.sdk.conftest import create, enable, release
from tests.support.server import Server

USERS = 500
ORGS = [f"org-{i}" for i in range(20)]


@dataclass(frozen=True)
class Setup:
    deployment_key: str
    reader_key: str
    readers: str  # user cohort: targeted by a segment
    churned: str  # user cohort: excluded by a segment, included in a variant
    big_orgs: str  # group cohort of "org"
    members: dict[str, set[str]]


def in_segment(cohort_id: str, op: str = "set contains any") -> dict[str, object]:
    return {"type": "property", "prop": "cohort_ids", "op": op, "values": [cohort_id]}


@pytest.fixture(scope="module")
def setup(server: Server, manage: httpx.Client, sdk_project: str,
          sdk_deployment: dict[str, str]) -> Setup:
    members = {
        "readers": {f"user-{i}" for i in range(0, USERS, 3)},
        "churned": {f"user-{i}" for i in range(0, USERS, 5)},
        "big orgs": set(ORGS[:7]),
    }
    ids = {}
    for name, group_type in (("readers", "User"), ("churned", "User"), ("big orgs", "org")):
        response = manage.post("/api/1/cohorts", json={
            "projectId": sdk_project, "name": name, "groupType": group_type,
            "memberIds": sorted(members[name])})
        assert response.status_code == 200, response.text
        ids[name] = response.json()["id"]
    deployments = [sdk_deployment["id"]]
    newsletter = create(manage, "flags", {
        "projectId": sdk_project, "key": "newsletter", "deployments": deployments,
        "evaluationMode": "local", "bucketingKey": "user_id", "rolloutPercentage": 0,
        "targetSegments": [{"name": "readers still here", "percentage": 100, "rolloutWeights": {"on": 1},
                            "conditions": [in_segment(ids["readers"]),
                                           in_segment(ids["churned"], "set does not contain any")]}],
    })
    winback = create(manage, "experiments", {
        "projectId": sdk_project, "key": "winback", "deployments": deployments,
        "evaluationMode": "local", "bucketingKey": "user_id", "rolloutPercentage": 30,
    })
    manage.post(f"/api/1/experiments/{winback}/variants/treatment/cohorts",
                json={"inclusions": [ids["churned"]]}).raise_for_status()
    org_pricing = create(manage, "flags", {
        "projectId": sdk_project, "key": "org-pricing", "deployments": deployments,
        "evaluationMode": "local", "bucketingUnit": "org", "rolloutPercentage": 0,
    })
    manage.post(f"/api/1/flags/{org_pricing}/variants/on/cohorts",
                json={"inclusions": [ids["big orgs"]]}).raise_for_status()
    for kind, flag_id in (("flags", newsletter), ("experiments", winback), ("flags", org_pricing)):
        enable(manage, kind, flag_id)
    reader_key = server.create_key("cohort-sync", projects=(sdk_project,), read_only=True)
    return Setup(sdk_deployment["key"], reader_key, ids["readers"], ids["churned"], ids["big orgs"],
                 members)


@pytest.fixture(scope="module")
def local_client(server: Server, setup: Setup) -> Iterator[LocalEvaluationClient]:
    sync = CohortSyncConfig(setup.deployment_key, setup.reader_key, cohort_server_url=server.base_url)
    # The SDK raises intervals below a minute to one; a test cannot wait a minute, so the
    # poller's interval is set after construction. The polling itself is the SDK's own.
    sync.cohort_polling_interval_millis = 500
    config = LocalEvaluationConfig(server_url=server.base_url, cohort_sync_config=sync,
                                   logger=logging.getLogger("flagyard.tests.cohort_sync"))
    client = LocalEvaluationClient(setup.deployment_key, config)
    client.start()  # the server is up: start() downloads the three cohorts and returns
    yield client
    release(client)


@pytest.fixture(scope="module")
def remote_client(server: Server, setup: Setup) -> Iterator[RemoteEvaluationClient]:
    client = RemoteEvaluationClient(setup.deployment_key, RemoteEvaluationConfig(server_url=server.base_url))
    yield client
    release(client)


def make_user(i: int) -> User:
    # No cohort_ids: the local SDK adds them from its download, flagyard from its tables.
    return User(user_id=f"user-{i}", device_id=f"device-{i}", groups={"org": [ORGS[i % len(ORGS)]]})


def variants(client: LocalEvaluationClient | RemoteEvaluationClient, user: User) -> dict[str, str | None]:
    if isinstance(client, LocalEvaluationClient):
        found = client.evaluate_v2(user)
    else:
        found = client.fetch_v2(user)
    return {key: variant.key for key, variant in found.items()}


def test_local_and_remote__every_user__same_variants_as_the_cohort_lists_say(
    local_client: LocalEvaluationClient, remote_client: RemoteEvaluationClient, setup: Setup
) -> None:
    # Given 500 users sending no cohort ids
    differing = []
    for i in range(USERS):
        # When
        local = variants(local_client, make_user(i))
        remote = variants(remote_client, make_user(i))
        # Then both agree, and agree with the member lists
        user_id, org = f"user-{i}", ORGS[i % len(ORGS)]
        expected_newsletter = "on" if user_id in setup.members["readers"] - setup.members["churned"] else "off"
        expected_org = "on" if org in setup.members["big orgs"] else "off"
        if (local != remote or local["newsletter"] != expected_newsletter
                or local["org-pricing"] != expected_org
                or (user_id in setup.members["churned"] and local["winback"] != "treatment")):
            differing.append((user_id, local, remote))
    assert differing == []


def test_local__members_changed_through_the_api__local_evaluation_follows(
    local_client: LocalEvaluationClient, remote_client: RemoteEvaluationClient,
    manage: httpx.Client, setup: Setup
) -> None:
    # Given user-1 is not a reader and user-3 is one (a fresh User each time: the local
    # SDK writes the cohort ids it found into the User it is given)
    def newsletter(client: LocalEvaluationClient | RemoteEvaluationClient, i: int) -> str | None:
        return variants(client, make_user(i))["newsletter"]

    assert (newsletter(local_client, 1), newsletter(local_client, 3)) == ("off", "on")
    # When the cohort changes through the management API
    path = f"/api/1/cohorts/{setup.readers}/members"
    manage.post(path, json={"memberIds": ["user-1"]}).raise_for_status()
    manage.request("DELETE", path, json={"memberIds": ["user-3"]}).raise_for_status()
    # Then remote evaluation sees it at once, and local evaluation after its next poll
    assert (newsletter(remote_client, 1), newsletter(remote_client, 3)) == ("on", "off")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (newsletter(local_client, 1), newsletter(local_client, 3)) != ("on", "off"):
        time.sleep(0.1)
    assert (newsletter(local_client, 1), newsletter(local_client, 3)) == ("on", "off")
