"""A holdout and a mutex, served to Amplitude's own SDK (amplitude-experiment) by a live flagyard.

For 5,000 users the SDK's local evaluation, flagyard's remote evaluation and an independent
computation from the management objects (Amplitude's algorithm written out here with mmh3)
must agree user by user; held-out users never get a member experiment, and a user in one
mutex slot never gets the experiment of another.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import mmh3
import pytest
from amplitude_experiment import (
    LocalEvaluationClient,
    LocalEvaluationConfig,
    RemoteEvaluationClient,
    RemoteEvaluationConfig,
    User,
)

from tests.sdk.conftest import create, enable, release
from tests.support.server import Server

USERS = 5_000
DISTRIBUTION_END = 42949673  # bucket values h // 100 lie in [0, 42949673)
HELD, FREED, SLOT_2_VIP = "held-vip", "free-vip", "slot2-vip"
EXPERIMENTS = ("grp-exp-holdout", "grp-exp-both", "grp-exp-slot2")


@dataclass(frozen=True)
class Setup:
    holdout: dict[str, Any]
    mutex: dict[str, Any]
    experiments: dict[str, dict[str, Any]]  # by key


@pytest.fixture(scope="module")
def setup(manage: httpx.Client, sdk_project: str, sdk_deployment: dict[str, str]) -> Setup:
    ids = {}
    for key, pct in zip(EXPERIMENTS, (100, 80, 60), strict=True):
        ids[key] = create(manage, "experiments", {
            "projectId": sdk_project, "key": key, "deployments": [sdk_deployment["id"]],
            "evaluationMode": "local", "bucketingKey": "device_id", "rolloutPercentage": pct})
        enable(manage, "experiments", ids[key])
    holdout_id = create(manage, "holdouts", {
        "projectId": sdk_project, "name": "Q3", "holdoutPercentage": 20, "evaluationMode": "local",
        "experiments": [ids["grp-exp-holdout"], ids["grp-exp-both"]],
        "individualInclusion": [HELD], "individualExclusion": [FREED]})
    mutex_id = create(manage, "mutexes", {
        "projectId": sdk_project, "name": "Checkout", "evaluationMode": "local",
        "bucketingKey": "device_id",
        "slots": [{"percentage": 45, "experiments": [ids["grp-exp-both"]]},
                  {"percentage": 55, "individuals": [SLOT_2_VIP]}]})
    # The second slot's experiment joins from its own side: one membership, two ways to write it.
    response = manage.patch(f"/api/1/experiments/{ids['grp-exp-slot2']}",
                            json={"parentDependencies": {"flags": {mutex_id: ["slot-2"]}}})
    assert response.status_code == 200, response.text

    def read(path: str) -> dict[str, Any]:
        answer = manage.get(path)
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    return Setup(read(f"/api/1/holdouts/{holdout_id}"), read(f"/api/1/mutexes/{mutex_id}"),
                 {key: read(f"/api/1/experiments/{i}") for key, i in ids.items()})


def make_users() -> list[User]:
    users = []
    for i in range(USERS):
        # Every 50th user has no device id: nothing to bucket, so groups and experiments are off.
        device = None if i % 50 == 7 else f"device-{i}"
        user_id = (HELD, FREED, SLOT_2_VIP)[i] if i < 3 else f"user-{i}"
        users.append(User(user_id=user_id, device_id=device))
    return users


# --- Amplitude's algorithm, from the management objects --------------------------------------

def bucket(salt: str, value: str) -> int:
    return mmh3.hash(f"{salt}/{value}", 0, signed=False)  # type: ignore[no-any-return]


def ends(percentages: list[int]) -> list[int]:
    """Where each share of the distribution space ends (the rounding ADR 0100 records)."""
    total, result = 0, []
    for share in percentages:
        total += share
        result.append(-(-total * DISTRIBUTION_END // sum(percentages)))
    return result


def expected_holdout(holdout: dict[str, Any], user: User) -> str:
    ids = {user.user_id, user.device_id} - {None}
    if ids & set(holdout["individualInclusion"]):
        return "holdout"
    if ids & set(holdout["individualExclusion"]):
        return "on"
    if not user.device_id:  # amplitude_id buckets by device id in flagyard
        return "off"
    held_end = ends([holdout["holdoutPercentage"], 100 - holdout["holdoutPercentage"]])[0]
    return "holdout" if bucket(holdout["bucketingSalt"], user.device_id) // 100 < held_end else "on"


def expected_slot(mutex: dict[str, Any], user: User) -> str:
    ids = {user.user_id, user.device_id} - {None}
    for slot in mutex["slots"]:
        if ids & set(slot["individuals"]):
            return str(slot["variantKey"])
    if not user.device_id:
        return "off"
    value = bucket(mutex["bucketingSalt"], user.device_id) // 100
    for slot, end in zip(mutex["slots"], ends([s["percentage"] for s in mutex["slots"]]), strict=True):
        if value < end:
            return str(slot["variantKey"])
    return "unallocated"


def expected_experiment(experiment: dict[str, Any], parents: dict[str, str], user: User) -> str:
    for parent_id, allowed in (experiment["parentDependencies"] or {"flags": {}})["flags"].items():
        if parents[parent_id] not in allowed:
            return "off"
    if not user.device_id:
        return "off"
    h = bucket(experiment["bucketingSalt"], user.device_id)
    if h % 100 >= experiment["rolloutPercentage"]:
        return "off"
    weights = [experiment["rolloutWeights"][v["key"]] for v in experiment["variants"]]
    for variant, end in zip(experiment["variants"], ends(weights), strict=True):
        if h // 100 < end:
            return str(variant["key"])
    return "off"


def expected(setup: Setup, user: User) -> dict[str, str]:
    parents = {setup.holdout["id"]: expected_holdout(setup.holdout, user),
               setup.mutex["id"]: expected_slot(setup.mutex, user)}
    result = {setup.holdout["key"]: parents[setup.holdout["id"]],
              setup.mutex["key"]: parents[setup.mutex["id"]]}
    for key, experiment in setup.experiments.items():
        result[key] = expected_experiment(experiment, parents, user)
    return result


# --- the three answers ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def answers(server: Server, sdk_deployment: dict[str, str], setup: Setup
            ) -> Iterator[list[tuple[User, dict[str, str], dict[str, str], dict[str, str]]]]:
    quiet = logging.getLogger("flagyard.tests.sdk.groups")
    quiet.setLevel(logging.ERROR)
    local = LocalEvaluationClient(sdk_deployment["key"],
                                  LocalEvaluationConfig(server_url=server.base_url, logger=quiet))
    local.start()
    remote = RemoteEvaluationClient(sdk_deployment["key"], RemoteEvaluationConfig(
        server_url=server.base_url, connection_pool_max_size=4))
    users = make_users()
    try:
        with ThreadPoolExecutor(4) as pool:
            fetched = list(pool.map(remote.fetch_v2, users))
        evaluated = [local.evaluate_v2(user) for user in users]
    finally:
        release(local)
        release(remote)
    yield [(user, {k: v.key for k, v in here.items()}, {k: v.key for k, v in there.items()},
            expected(setup, user)) for user, here, there in zip(users, evaluated, fetched, strict=True)]


def test_local_remote_and_independent__5000_users__agree_user_by_user(answers, setup: Setup) -> None:  # type: ignore[no-untyped-def]
    # Given the three answers for every user (fixture)
    groups = (setup.holdout["key"], setup.mutex["key"])
    # When
    differing = [(user.user_id, local, remote, mine) for user, local, remote, mine in answers
                 if local != mine or {k: remote.get(k) for k in EXPERIMENTS} != {k: mine[k] for k in EXPERIMENTS}]
    # Then
    assert differing[:5] == []
    # Remote evaluation answers for the deployed experiments only, local for the groups too.
    assert all(set(remote) == set(EXPERIMENTS) for _, _, remote, _ in answers)
    assert all(set(local) == set(EXPERIMENTS) | set(groups) for _, local, _, _ in answers)


def test_every_path__is_reached_by_some_user(answers, setup: Setup) -> None:  # type: ignore[no-untyped-def]
    reached = Counter((key, variant) for _, local, _, _ in answers for key, variant in local.items())
    for pair in [(setup.holdout["key"], v) for v in ("holdout", "on", "off")] + [
        (setup.mutex["key"], v) for v in ("slot-1", "slot-2")
    ] + [(key, v) for key in EXPERIMENTS for v in ("control", "treatment", "off")]:
        assert reached[pair] > 0, pair
    assert 0.17 < reached[(setup.holdout["key"], "holdout")] / USERS < 0.23


def test_held_out_users__never_get_a_member_experiment(answers, setup: Setup) -> None:  # type: ignore[no-untyped-def]
    held = [local for _, local, _, _ in answers if local[setup.holdout["key"]] == "holdout"]
    assert held
    assert all(local["grp-exp-holdout"] == "off" and local["grp-exp-both"] == "off" for local in held)


def test_slot_users__never_get_the_other_slots_experiment(answers, setup: Setup) -> None:  # type: ignore[no-untyped-def]
    by_slot: dict[str, set[str]] = {"slot-1": set(), "slot-2": set()}
    for _, local, _, _ in answers:
        slot = local[setup.mutex["key"]]
        if slot in by_slot:
            by_slot[slot] |= {key for key in ("grp-exp-both", "grp-exp-slot2") if local[key] != "off"}
    assert by_slot == {"slot-1": {"grp-exp-both"}, "slot-2": {"grp-exp-slot2"}}


def test_individuals__win_over_bucketing(answers, setup: Setup) -> None:  # type: ignore[no-untyped-def]
    first = {user.user_id: local for user, local, _, _ in answers[:3]}
    assert first[HELD][setup.holdout["key"]] == "holdout"
    assert first[FREED][setup.holdout["key"]] == "on"
    assert first[SLOT_2_VIP][setup.mutex["key"]] == "slot-2"


def test_sdk_flags__groups_served_as_amplitude_shapes(server: Server, sdk_deployment: dict[str, str],
                                                     setup: Setup) -> None:
    # When
    served = httpx.get(f"{server.base_url}/sdk/v2/flags",
                       headers={"Authorization": f"Api-Key {sdk_deployment['key']}"}).json()
    by_key = {flag["key"]: flag for flag in served}
    # Then
    holdout, mutex = by_key[setup.holdout["key"]], by_key[setup.mutex["key"]]
    assert holdout["metadata"]["flagType"] == "holdout-group" and holdout["metadata"]["deployed"] is False
    assert mutex["metadata"]["flagType"] == "mutual-exclusion-group" and mutex["metadata"]["deployed"] is False
    assert sorted(holdout["variants"]["on"]["payload"]["flagIds"]) == sorted(setup.holdout["experiments"])
    both = by_key["grp-exp-both"]
    assert set(both["dependencies"]) == {setup.holdout["key"], setup.mutex["key"]}
    assert both["segments"][0]["metadata"] == {"segmentName": "flag-dependencies"}
    keys = list(by_key)
    assert keys.index(setup.holdout["key"]) < keys.index("grp-exp-both")
    assert keys.index(setup.mutex["key"]) < keys.index("grp-exp-both")
