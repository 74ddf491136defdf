"""Remote evaluation asked the same thing again: the same answer while the flags stay, the new
answer after a change, and every request still tracked and counted.

Browser and mobile SDKs send `GET /sdk/v2/vardata` with the user base64 in `X-Amp-Exp-User`;
server SDKs `POST` the user. flagyard reuses an answer for an identical request to the same
flags (serve/answer_cache.py); these tests hold what must not change because of it.
"""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import httpx
import pytest

from tests.sdk.conftest import create, enable
from tests.support.server import Server


def encoded(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def fetch(server: Server, key: str, user: dict[str, Any], method: str = "GET",
          **headers: str) -> dict[str, Any]:
    auth = {"Authorization": f"Api-Key {key}", **headers}
    if method == "GET":
        response = httpx.get(f"{server.base_url}/sdk/v2/vardata?v=0",
                             headers={**auth, "X-Amp-Exp-User": encoded(user)})
    else:
        response = httpx.post(f"{server.base_url}/sdk/v2/vardata?v=0", json=user, headers=auth)
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture(scope="module")
def deployment(server: Server, sdk_project: str) -> dict[str, str]:
    return server.create_deployment(sdk_project, "vardata-repeats", type_="client")


@pytest.fixture(scope="module")
def rollout_flag(manage: httpx.Client, sdk_project: str, deployment: dict[str, str]) -> str:
    flag_id = create(manage, "flags", {"projectId": sdk_project, "key": "repeat-rollout",
                                       "deployments": [deployment["id"]], "bucketingKey": "device_id"})
    enable(manage, "flags", flag_id)
    return flag_id


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_same_request_again__same_answer_until_a_write__then_the_new_one(
    server: Server, manage: httpx.Client, deployment: dict[str, str], rollout_flag: str, method: str
) -> None:
    user = {"device_id": f"repeat-{method}", "user_properties": {"plan": "pro"}}
    for percentage, expected in ((100, "on"), (0, "off"), (100, "on")):
        # When the flag changes
        manage.patch(f"/api/1/flags/{rollout_flag}", json={"rolloutPercentage": percentage}).raise_for_status()
        # Then the very next identical request, and the one after it, answer the change
        first = fetch(server, deployment["key"], user, method)
        assert first["repeat-rollout"]["key"] == expected
        assert fetch(server, deployment["key"], user, method) == first


def test_same_user_other_flag_keys__answers_only_those(
    server: Server, manage: httpx.Client, sdk_project: str, deployment: dict[str, str], rollout_flag: str
) -> None:
    other = create(manage, "flags", {"projectId": sdk_project, "key": "repeat-other",
                                     "deployments": [deployment["id"]]})
    enable(manage, "flags", other)
    user = {"device_id": "keys-user"}
    everything = fetch(server, deployment["key"], user)
    only = fetch(server, deployment["key"], user, **{"X-Amp-Exp-Flag-Keys": encoded(["repeat-other"])})
    assert {"repeat-rollout", "repeat-other"} <= set(everything)
    assert set(only) == {"repeat-other"}
    assert set(fetch(server, deployment["key"], user)) == set(everything)


def test_untracked_then_tracked__the_repeated_request_is_assigned(
    server: Server, manage: httpx.Client, sdk_project: str, deployment: dict[str, str], rollout_flag: str
) -> None:
    # Given a remote experiment beside a flag, and a write to the flag since (a build that
    # keeps the experiment as it was compiled)
    experiment = create(manage, "experiments", {
        "projectId": sdk_project, "key": "repeat-experiment", "deployments": [deployment["id"]],
        "evaluationMode": "remote", "bucketingKey": "user_id", "rolloutPercentage": 100})
    enable(manage, "experiments", experiment)
    fetch(server, deployment["key"], {"user_id": "first-after-the-experiment"}, **{"X-Amp-Exp-Track": "no-track"})
    manage.patch(f"/api/1/flags/{rollout_flag}", json={"rolloutPercentage": 50}).raise_for_status()
    users = [{"user_id": f"repeat-visitor-{n}", "device_id": f"repeat-device-{n}"} for n in range(6)]
    # When each user is fetched untracked, then with the very same user header tracked
    variants = {}
    for user in users:
        untracked = fetch(server, deployment["key"], user, **{"X-Amp-Exp-Track": "no-track"})
        tracked = fetch(server, deployment["key"], user)
        assert tracked == untracked
        variants[user["user_id"]] = tracked["repeat-experiment"]["key"]
    # Then every user is assigned, in the variant served
    expected = {k: sum(1 for v in variants.values() if v == k) for k in ("control", "treatment")}
    deadline = time.monotonic() + 20
    while True:
        totals = manage.get(f"/api/1/experiments/{experiment}/exposures").json()["totals"]
        if totals == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert totals == expected


def test_same_request_again__counted_each_time(
    server: Server, deployment: dict[str, str], rollout_flag: str
) -> None:
    def evaluations() -> float:
        text = httpx.get(f"{server.base_url}/metrics").text
        deployment_id = deployment["id"]
        found = re.search(rf'^flagyard_flag_evaluations_total\{{deployment="{deployment_id}"\}} (\S+)$',
                          text, re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    user = {"device_id": "counted-user"}
    answered = len(fetch(server, deployment["key"], user))
    before = evaluations()
    for _ in range(3):
        fetch(server, deployment["key"], user)
    assert evaluations() - before == 3 * answered


def test_cohort_member_added__the_same_request_sees_it(
    server: Server, manage: httpx.Client, sdk_project: str
) -> None:
    # Given a flag targeting a cohort, in a deployment of its own
    deployment = server.create_deployment(sdk_project, "vardata-repeats-cohort", type_="client")
    cohort = manage.post("/api/1/cohorts", json={"projectId": sdk_project, "name": "repeat vips",
                                                 "memberIds": ["ann"]}).json()["id"]
    flag_id = create(manage, "flags", {
        "projectId": sdk_project, "key": "repeat-cohort", "deployments": [deployment["id"]],
        "variants": [{"key": "vip"}],
        "targetSegments": [{"name": "vips", "percentage": 100, "rolloutWeights": {"vip": 1},
                            "conditions": [{"type": "property", "prop": "cohort_ids",
                                            "op": "set contains any", "values": [cohort]}]}],
    })
    enable(manage, "flags", flag_id)
    user = {"user_id": "dora"}
    assert fetch(server, deployment["key"], user)["repeat-cohort"]["key"] == "off"
    # When dora joins the cohort (the flags do not change)
    manage.post(f"/api/1/cohorts/{cohort}/members", json={"memberIds": ["dora"]}).raise_for_status()
    # Then the identical request finds her in it
    assert fetch(server, deployment["key"], user)["repeat-cohort"]["key"] == "vip"
