"""Amplitude's own SDK (amplitude-experiment 1.13.0) against a live flagyard.

The SDK's local evaluation of /sdk/v2/flags and flagyard's remote evaluation at
/sdk/v2/vardata must agree for every user, on flags that use every targeting feature.
"""

from __future__ import annotations

import logging
import math
import random
from collections import Counter
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

from tests.sdk.conftest import create, enable, release
from tests.support.server import Server

USERS = 10_000
INCLUDED = [f"vip-{i}" for i in range(20)]


def cond(prop: str, op: str, *values: str) -> dict[str, object]:
    return {"type": "property", "prop": prop, "op": op, "values": list(values)}


@dataclass(frozen=True)
class Flags:
    parent: str
    experiment: str
    split: str
    operators: str


# Fixed salts make the bucket proportions below the same on every run (a new flag gets a random salt).
SALT = {key: f"{key}-salt" for key in ("sdk-parent", "sdk-experiment", "sdk-split", "sdk-operators")}


@pytest.fixture(scope="module")
def flags(manage: httpx.Client, sdk_project: str, sdk_deployment: dict[str, str]) -> Flags:
    deployments = [sdk_deployment["id"]]
    parent_id = create(manage, "flags", {
        "projectId": sdk_project, "key": "sdk-parent", "deployments": deployments,
        "bucketingSalt": SALT["sdk-parent"],
        "evaluationMode": "local", "bucketingKey": "device_id", "rolloutPercentage": 60,
    })
    experiment_id = create(manage, "experiments", {
        "projectId": sdk_project, "key": "sdk-experiment", "deployments": deployments,
        "bucketingSalt": SALT["sdk-experiment"],
        "evaluationMode": "local", "bucketingKey": "device_id", "rolloutPercentage": 70,
        "variants": [{"key": "control"}, {"key": "treatment", "payload": {"color": "blue"}},
                     {"key": "big", "payload": [1, 2, 3]}],
        "rolloutWeights": {"control": 1, "treatment": 2, "big": 3},
        "parentDependencies": {"flags": {parent_id: ["on"]}, "operator": "all"},
        "targetSegments": [
            {"name": "europe", "conditions": [cond("country", "is", "Germany", "France"),
                                              cond("platform", "is not", "iOS")],
             "percentage": 100, "rolloutWeights": {"control": 1}},
            {"name": "pro", "conditions": [cond("gp:plan", "contains", "pro")],
             "percentage": 50, "bucketingKey": "user_id",
             "rolloutWeights": {"treatment": 1, "big": 1}},
            {"name": "thirties", "conditions": [cond("gp:age", "greater or equal", "30"),
                                                cond("gp:age", "less", "40")],
             "percentage": 80, "rolloutWeights": {"control": 3, "big": 1}},
        ],
    })
    manage.post(f"/api/1/experiments/{experiment_id}/variants/treatment/users",
                json={"inclusions": INCLUDED}).raise_for_status()
    manage.post(f"/api/1/experiments/{experiment_id}/variants/big/cohorts",
                json={"inclusions": ["cohort-gold"]}).raise_for_status()
    split_id = create(manage, "experiments", {
        "projectId": sdk_project, "key": "sdk-split", "deployments": deployments,
        "bucketingSalt": SALT["sdk-split"],
        "evaluationMode": "local", "bucketingKey": "device_id", "rolloutPercentage": 40,
        "rolloutWeights": {"control": 1, "treatment": 3},
    })
    manage.post(f"/api/1/experiments/{split_id}/variants/control/users",
                json={"inclusions": INCLUDED}).raise_for_status()
    operators_id = create(manage, "flags", {
        "projectId": sdk_project, "key": "sdk-operators", "deployments": deployments,
        "bucketingSalt": SALT["sdk-operators"],
        "evaluationMode": "local", "bucketingKey": "user_id",
        "variants": [{"key": v} for v in ("a", "b", "c", "d", "e", "f", "g", "h", "i")],
        "targetSegments": [
            {"name": name, "conditions": [condition], "percentage": 100, "rolloutWeights": {variant: 1}}
            for name, condition, variant in (
                ("no city", cond("city", "is", "(none)"), "a"),
                ("not free", cond("gp:plan", "does not contain", "free"), "b"),
                ("low age", cond("gp:age", "less or equal", "25"), "c"),
                ("old", cond("gp:age", "greater", "60"), "d"),
                ("tags exact", cond("gp:tags", "set is", "x", "y"), "e"),
                ("tags has", cond("gp:tags", "set contains", "y"), "f"),
                ("tags lacks", cond("gp:tags", "set does not contain", "x"), "g"),
                ("mail", cond("gp:email", "glob match", "*@example.com"), "h"),
                ("new app", cond("version", "version greater or equal", "2.1.0"), "i"),
            )
        ],
    })
    for kind, flag_id in (("flags", parent_id), ("experiments", experiment_id),
                          ("experiments", split_id), ("flags", operators_id)):
        enable(manage, kind, flag_id)
    return Flags(parent_id, experiment_id, split_id, operators_id)


def make_users(count: int, seed: int = 7) -> list[User]:
    rng = random.Random(seed)
    users = []
    for i in range(count):
        properties: dict[str, object] = {
            "plan": rng.choice(["free", "pro", "pro-plus", "team"]),
            "age": rng.randint(15, 75),
            "tags": rng.sample(["x", "y", "z"], rng.randint(0, 3)),
        }
        if rng.random() < 0.3:
            properties["email"] = f"u{i}@{rng.choice(['example.com', 'other.org'])}"
        users.append(User(
            user_id=INCLUDED[i] if i < len(INCLUDED) else f"user-{i}",
            device_id=f"device-{i}" if rng.random() < 0.95 else None,
            country=rng.choice(["Germany", "France", "United States", "Japan"]),
            platform=rng.choice(["iOS", "Android", "Web"]),
            city=rng.choice([None, "Berlin", "Paris"]),
            version=rng.choice(["1.9.0", "2.0.5", "2.1.0", "3.0.0"]),
            user_properties=properties,
            # A list, not a set: the remote client serialises the user as JSON.
            cohort_ids=["cohort-gold"] if rng.random() < 0.05 else None,  # type: ignore[arg-type]
        ))
    return users


@pytest.fixture(scope="module")
def local_client(server: Server, sdk_deployment: dict[str, str], flags: Flags) -> Iterator[LocalEvaluationClient]:
    # Cohorts come with each user here, not from a cohort sync: silence the SDK's warning.
    quiet = logging.getLogger("flagyard.tests.sdk")
    quiet.setLevel(logging.ERROR)
    config = LocalEvaluationConfig(server_url=server.base_url, logger=quiet)
    client = LocalEvaluationClient(sdk_deployment["key"], config)
    client.start()
    yield client
    release(client)


@pytest.fixture(scope="module")
def remote_client(server: Server, sdk_deployment: dict[str, str], flags: Flags) -> Iterator[RemoteEvaluationClient]:
    client = RemoteEvaluationClient(sdk_deployment["key"], RemoteEvaluationConfig(server_url=server.base_url))
    yield client
    release(client)


def shown(variants: dict[str, object]) -> dict[str, tuple[object, object, object]]:
    return {k: (v.key, v.value, v.payload) for k, v in variants.items()}  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def evaluations(local_client: LocalEvaluationClient, remote_client: RemoteEvaluationClient
                ) -> list[tuple[User, dict[str, tuple[object, object, object]], dict[str, tuple[object, object, object]]]]:
    users = make_users(USERS)
    return [(user, shown(local_client.evaluate_v2(user)), shown(remote_client.fetch_v2(user)))
            for user in users]


def test_sdk_local_and_flagyard_remote__10000_users__same_variant_for_every_user(evaluations) -> None:  # type: ignore[no-untyped-def]
    # Given 10,000 users evaluated both ways (fixture)
    # When
    differing = [(u.user_id, local, remote) for u, local, remote in evaluations if local != remote]
    # Then
    assert differing == []
    keys = {"sdk-parent", "sdk-experiment", "sdk-split", "sdk-operators"}
    assert all(set(local) == keys for _, local, _ in evaluations)


def test_every_variant__is_reached_by_some_user(evaluations) -> None:  # type: ignore[no-untyped-def]
    # Given / When
    reached = Counter((flag, variant[0]) for _, local, _ in evaluations for flag, variant in local.items())
    # Then: each rule produced users, so the parity above covered every path
    for flag, variant in [("sdk-experiment", v) for v in ("control", "treatment", "big", "off")] + [
        ("sdk-operators", v) for v in "abcdefghi"
    ] + [("sdk-parent", "on"), ("sdk-parent", "off")]:
        assert reached[(flag, variant)] > 0, (flag, variant)


def test_included_users__get_their_variant(evaluations) -> None:  # type: ignore[no-untyped-def]
    # Given the first 20 users are included in sdk-split's control
    included = [local for user, local, _ in evaluations if user.user_id in INCLUDED]
    # Then
    assert len(included) == len(INCLUDED)
    assert all(local["sdk-split"][0] == "control" for local in included)


def test_cohort_members__get_the_cohort_variant_when_the_parent_allows(evaluations) -> None:  # type: ignore[no-untyped-def]
    # Given users in cohort-gold whose parent flag gave "on" and who are not individually included
    members = [local for user, local, _ in evaluations
               if user.cohort_ids and user.user_id not in INCLUDED and local["sdk-parent"][0] == "on"]
    # Then
    assert members
    assert all(local["sdk-experiment"][0] == "big" for local in members)


def test_parent_dependency__child_is_off_whenever_parent_is_off(evaluations) -> None:  # type: ignore[no-untyped-def]
    # Given / When
    parent_off = [local for _, local, _ in evaluations if local["sdk-parent"][0] != "on"]
    # Then
    assert parent_off
    assert all(local["sdk-experiment"][0] == "off" for local in parent_off)


def test_segment_users__follow_the_segment(evaluations) -> None:  # type: ignore[no-untyped-def]
    # Given European non-iOS users whose parent is on (segment "europe": 100 % control)
    europeans = [local for user, local, _ in evaluations
                 if user.country in ("Germany", "France") and user.platform != "iOS"
                 and local["sdk-parent"][0] == "on" and user.user_id not in INCLUDED
                 and not user.cohort_ids]
    # Then
    assert europeans
    assert all(local["sdk-experiment"][0] == "control" for local in europeans)


def within_three_sigma(observed: int, trials: int, p: float) -> bool:
    sigma = math.sqrt(trials * p * (1 - p))
    return abs(observed - trials * p) <= 3 * sigma


def test_split__matches_rollout_percentage_and_weights(evaluations) -> None:  # type: ignore[no-untyped-def]
    # Given sdk-split: 40 % of users with a device id, weights control 1 : treatment 3
    bucketed = [local["sdk-split"][0] for user, local, _ in evaluations
                if user.device_id and user.user_id not in INCLUDED]
    counts = Counter(bucketed)
    allocated = counts["control"] + counts["treatment"]
    # Then
    assert within_three_sigma(allocated, len(bucketed), 0.40), counts
    assert within_three_sigma(counts["treatment"], allocated, 0.75), counts
