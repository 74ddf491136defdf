"""Every object the Management API returns, key for key, against the seeds' examples.

The sets below are the fields Amplitude's examples and live answers show (seeds 002 and 003,
real-api-behaviour.md §3.5) plus the few flagyard adds; a missing or unexpected key fails.
"""

from __future__ import annotations

import httpx

from tests.factories import create_flag, create_holdout, create_mutex, segment_for, unique_key
from tests.factories import get_ok as get

FLAG = {
    "id", "projectId", "deployments", "key", "name", "description", "enabled", "evaluationMode",
    "bucketingKey", "bucketingSalt", "bucketingUnit", "variants", "rolledOutVariant",
    "rolloutPercentage", "rolloutWeights", "targetSegments", "parentDependencies",
    "stickyBucketing", "state", "startDate", "endDate", "experimentType", "deleted", "tags",
    "createdBy", "lastModifiedBy", "createdAt", "lastModifiedAt", "decision", "decisionReason",
    "exposureEvent", "deliveryMethod", "testInstrumentation", "version",
}
VARIANT = {"key", "name", "description", "payload", "rolloutWeight"}
SEGMENT = {"name", "conditions", "percentage", "bucketingKey", "rolloutWeights"}
CONDITION = {"type", "prop", "op", "values"}
DEPENDENCIES = {"flags", "operator"}
# Amplitude's six keys, and flagyard's approval setting (docs/approvals.md).
DEPLOYMENT = {"id", "projectId", "label", "key", "type", "deleted", "requireApproval"}
VERSION = {"version", "createdAt", "createdBy", "flagConfig"}  # per item (seed 002)
VERSION_RECORD = {"id", "flagId", *VERSION}  # /api/1/versions (seed 003)
HOLDOUT = {
    "id", "projectId", "name", "key", "description", "holdoutPercentage", "evaluationMode",
    "bucketingKey", "bucketingSalt", "variantName", "experiments", "individualInclusion",
    "individualExclusion", "parentDependencies", "deleted", "createdBy", "lastModifiedBy",
    "createdAt", "lastModifiedAt", "version",
}
MUTEX = {
    "id", "projectId", "name", "key", "description", "evaluationMode", "bucketingKey",
    "bucketingSalt", "slots", "deleted", "createdBy", "lastModifiedBy", "createdAt",
    "lastModifiedAt", "version",
}
SLOT = {"name", "index", "variantKey", "percentage", "experiments", "holdouts", "individuals", "cohorts"}


def test_flag_and_experiment__every_key_of_the_seed_examples(
    api: httpx.Client, project_id: str, deployment: dict[str, str]
) -> None:
    # Given
    parent = create_flag(api, project_id, "flags")
    for kind in ("flags", "experiments"):
        item = create_flag(api, project_id, kind, deployments=[deployment["id"]],
                           targetSegments=[segment_for(kind)],
                           parentDependencies={"flags": {parent: ["on"]}})
        # When
        body = get(api, f"/api/1/{kind}/{item}")
        # Then
        assert set(body) == FLAG, set(body) ^ FLAG
        assert all(set(v) == VARIANT for v in body["variants"])
        assert [set(s) for s in body["targetSegments"]] == [SEGMENT]
        assert all(set(c) == CONDITION for c in body["targetSegments"][0]["conditions"])
        assert set(body["parentDependencies"]) == DEPENDENCIES
        assert body["testInstrumentation"] is (False if kind == "experiments" else None)
        listed = get(api, f"/api/1/{kind}?key={body['key']}")
        assert set(listed) == {kind} and listed[kind] == [body]


def test_segment_without_its_own_bucketing_key__shows_the_flags(api: httpx.Client, project_id: str) -> None:
    # Given a segment sent without bucketingKey, on a flag bucketed by user_id
    item = create_flag(api, project_id, "flags", bucketingKey="user_id", targetSegments=[segment_for("flags")])
    own = segment_for("flags", bucketingKey="device_id")
    other = create_flag(api, project_id, "flags", bucketingKey="user_id", targetSegments=[own])
    # Then
    assert get(api, f"/api/1/flags/{item}")["targetSegments"][0]["bucketingKey"] == "user_id"
    assert get(api, f"/api/1/flags/{other}")["targetSegments"][0]["bucketingKey"] == "device_id"


def test_variant_deployment_and_sub_resource_lists__every_key(
    api: httpx.Client, project_id: str, deployment: dict[str, str]
) -> None:
    item = create_flag(api, project_id, "flags", deployments=[deployment["id"]])
    assert set(get(api, f"/api/1/flags/{item}/variants/on")) == VARIANT
    assert [set(v) for v in get(api, f"/api/1/flags/{item}/variants")] == [VARIANT]
    assert set(get(api, f"/api/1/deployments/{deployment['id']}")) == DEPLOYMENT
    assert [set(d) for d in get(api, f"/api/1/flags/{item}/deployments")] == [DEPLOYMENT]
    listed = get(api, "/api/1/deployments")
    assert set(listed) <= {"deployments", "nextCursor"}
    assert all(set(d) == DEPLOYMENT for d in listed["deployments"])


def test_versions__per_item_and_global__every_key(api: httpx.Client, project_id: str) -> None:
    # Given
    item = create_flag(api, project_id, "experiments", key=unique_key("shape"))
    api.patch(f"/api/1/experiments/{item}", json={"name": "Renamed"}).raise_for_status()
    # When
    own = get(api, f"/api/1/experiments/{item}/versions")
    one = get(api, f"/api/1/experiments/{item}/versions/1")
    everything = get(api, "/api/1/versions?limit=2")
    # Then
    assert [set(v) for v in own] == [VERSION, VERSION]
    assert set(one) == VERSION and set(one["flagConfig"]) == FLAG
    assert set(everything) == {"versions", "nextCursor"}
    assert [set(v) for v in everything["versions"]] == [VERSION_RECORD, VERSION_RECORD]
    newest, older = everything["versions"]
    assert (newest["flagId"], newest["version"], older["flagId"], older["version"]) == (item, 2, item, 1)
    assert int(newest["id"]) > int(older["id"])
    assert {k: v for k, v in newest.items() if k not in ("id", "flagId")} == own[0]


def test_holdout_mutex_and_slot__every_key(api: httpx.Client, project_id: str) -> None:
    holdout = get(api, f"/api/1/holdouts/{create_holdout(api, project_id)}")
    mutex = get(api, f"/api/1/mutexes/{create_mutex(api, project_id)}")
    assert set(holdout) == HOLDOUT
    assert set(mutex) == MUTEX and all(set(slot) == SLOT for slot in mutex["slots"])
    assert set(get(api, "/api/1/holdouts?limit=1")) <= {"holdouts", "nextCursor"}
    assert set(get(api, "/api/1/mutexes?limit=1")) <= {"mutexes", "nextCursor"}
