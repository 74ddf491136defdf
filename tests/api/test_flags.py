"""/api/1/flags and /api/1/experiments: create, get, list with filters, edit, archive."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import (
    assert_error,
    create_flag,
    create_linked,
    segment_for,
    snapshot,
    unique_key,
)
from tests.support.server import Server, fresh_database_url, running_server

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

# Every field the seeds' examples show on a flag or experiment.
OBJECT_FIELDS = {
    "id", "projectId", "deployments", "key", "name", "description", "enabled", "evaluationMode",
    "bucketingKey", "bucketingSalt", "bucketingUnit", "variants", "rolledOutVariant",
    "rolloutPercentage", "rolloutWeights", "targetSegments", "parentDependencies",
    "stickyBucketing", "state", "startDate", "endDate", "experimentType", "deleted", "tags",
    "createdBy", "lastModifiedBy", "createdAt", "lastModifiedAt", "decision", "decisionReason",
    "exposureEvent", "deliveryMethod",
}


def _list(api: httpx.Client, kind: str, **params: Any) -> list[dict[str, Any]]:
    response = api.get(f"/api/1/{kind}", params=params)
    assert response.status_code == 200, response.text
    return response.json()[kind]


# --- create and get ----------------------------------------------------------------------------


def test_create__minimal_body__answers_id_and_url_only(
    server: Server, api: httpx.Client, project_id: str, kind: str
) -> None:
    # Given
    body = {"projectId": project_id, "key": unique_key()}
    # When
    response = api.post(f"/api/1/{kind}", json=body)
    # Then
    assert response.status_code == 200, response.text
    created = response.json()
    assert set(created) == {"id", "url"}
    assert isinstance(created["id"], str) and created["id"].isdigit()
    assert created["url"].startswith(server.base_url + "/")
    assert created["url"].endswith(f"/{created['id']}")


def test_create__then_get__shows_every_field_with_defaults(
    api: httpx.Client, project_id: str, kind: str
) -> None:
    # Given
    key = unique_key()
    item_id = create_flag(api, project_id, kind, key=key)
    # When
    body = api.get(f"/api/1/{kind}/{item_id}").json()
    # Then
    assert set(body) >= OBJECT_FIELDS
    assert body["id"] == item_id
    assert body["projectId"] == project_id
    assert body["key"] == key
    assert body["enabled"] is False
    assert body["deleted"] is False
    assert body["deployments"] == []
    assert body["bucketingKey"] == "amplitude_id"
    assert re.fullmatch(r"[A-Za-z0-9]{8}", body["bucketingSalt"])
    assert body["bucketingUnit"] == "User"
    assert body["evaluationMode"] == "remote"
    assert body["rolloutPercentage"] == 0
    assert body["deliveryMethod"] == "feature"
    assert body["targetSegments"] == []
    assert body["tags"] == []
    assert body["createdBy"] == body["lastModifiedBy"] == "admin@example.com"
    assert TIMESTAMP.match(body["createdAt"]) and TIMESTAMP.match(body["lastModifiedAt"])
    if kind == "flags":
        assert [v["key"] for v in body["variants"]] == ["on"]
        assert body["rolloutWeights"] == {"on": 1}
    else:
        assert [v["key"] for v in body["variants"]] == ["control", "treatment"]
        assert body["rolloutWeights"] == {"control": 1, "treatment": 1}
        assert body["experimentType"] == "a-b-test"
        assert body["state"] == "planning"


def test_create__two_items__get_different_salts(api: httpx.Client, project_id: str) -> None:
    # Given
    first = create_flag(api, project_id)
    second = create_flag(api, project_id)
    # When
    salts = {api.get(f"/api/1/flags/{i}").json()["bucketingSalt"] for i in (first, second)}
    # Then
    assert len(salts) == 2


def test_create__full_seed_example__reads_back_exactly_as_written(
    api: httpx.Client, project_id: str, deployment: dict[str, str], kind: str
) -> None:
    # Given
    body: dict[str, Any] = {
        "projectId": project_id,
        "key": unique_key("analyze-button-clicks"),
        "name": "Analyze button clicks",
        "description": "analyze button clicks on the main page",
        "variants": [
            {"key": "control", "name": "Control", "description": "as today", "payload": {"color": "grey"}},
            {"key": "treatment", "payload": [1, "two", {"three": None}]},
        ],
        "rolloutWeights": {"control": 1, "treatment": 3},
        "targetSegments": [
            {
                "name": "Segment 1",
                "conditions": [{"prop": "country", "op": "is", "type": "property", "values": ["United States"]}],
                "percentage": 40,
                "bucketingKey": "device_id",
                "rolloutWeights": {"control": 1, "treatment": 1},
            }
        ],
        "deployments": [deployment["id"]],
        "evaluationMode": "local",
        "bucketingKey": "user_id",
    }
    if kind == "experiments":
        body["experimentType"] = "multi-arm-bandit"
    # When
    item_id = api.post(f"/api/1/{kind}", json=body).json()["id"]
    got = api.get(f"/api/1/{kind}/{item_id}").json()
    # Then
    assert got["key"] == body["key"]
    assert got["name"] == body["name"]
    assert got["description"] == body["description"]
    assert got["variants"] == [
        {"key": "control", "name": "Control", "description": "as today", "payload": {"color": "grey"},
         "rolloutWeight": 1},
        {"key": "treatment", "name": "", "description": "", "payload": [1, "two", {"three": None}],
         "rolloutWeight": 3},
    ]
    assert got["rolloutWeights"] == {"control": 1, "treatment": 3}
    assert got["targetSegments"] == body["targetSegments"]
    assert got["deployments"] == [deployment["id"]]
    assert got["evaluationMode"] == "local"
    assert got["bucketingKey"] == "user_id"
    if kind == "experiments":
        assert got["experimentType"] == "multi-arm-bandit"


def test_create__key_with_dots_and_200_characters__is_accepted(api: httpx.Client, project_id: str) -> None:
    # Given
    key = unique_key("a.b_c-d")
    key = key + "x" * (200 - len(key))
    # When
    response = api.post("/api/1/flags", json={"projectId": project_id, "key": key})
    # Then
    assert response.status_code == 200, response.text
    assert api.get(f"/api/1/flags/{response.json()['id']}").json()["key"] == key


@pytest.mark.parametrize("bad_key", ["has space", "slash/key", "x" * 201, "", "ünïcode"])
def test_create__invalid_key__is_400_naming_key(
    api: httpx.Client, project_id: str, kind: str, bad_key: str
) -> None:
    # Given
    before = _list(api, kind, projectId=project_id)
    # When
    response = api.post(f"/api/1/{kind}", json={"projectId": project_id, "key": bad_key})
    # Then
    assert_error(response, 400, "key")
    assert _list(api, kind, projectId=project_id) == before


def test_create__key_used_by_same_kind__is_409_and_creates_nothing(
    api: httpx.Client, project_id: str, kind: str
) -> None:
    # Given
    key = unique_key()
    create_flag(api, project_id, kind, key=key)
    # When
    response = api.post(f"/api/1/{kind}", json={"projectId": project_id, "key": key})
    # Then
    assert_error(response, 409, "key")
    assert len(_list(api, kind, key=key)) == 1


@pytest.mark.parametrize(("first", "second"), [("flags", "experiments"), ("experiments", "flags")])
def test_create__key_used_by_other_kind__is_409(
    api: httpx.Client, project_id: str, first: str, second: str
) -> None:
    # Given
    key = unique_key()
    create_flag(api, project_id, first, key=key)
    # When
    response = api.post(f"/api/1/{second}", json={"projectId": project_id, "key": key})
    # Then
    assert_error(response, 409, "key")
    assert _list(api, second, key=key) == []


def test_create__key_used_in_another_project__is_accepted(
    api: httpx.Client, project_id: str, other_project_id: str
) -> None:
    # Given
    key = unique_key()
    create_flag(api, project_id, key=key)
    # When
    response = api.post("/api/1/flags", json={"projectId": other_project_id, "key": key})
    # Then
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("projectId", None, "projectId"),
        ("key", None, "key"),
        ("projectId", "not-a-number", "projectId"),
        ("name", 5, "name"),
        ("variants", "control", "variants"),
        ("rolloutWeights", {"on": -1}, "rolloutWeights"),
        ("rolloutWeights", {"nope": 1}, "rolloutWeights.nope"),
        ("evaluationMode", "sometimes", "evaluationMode"),
        ("deployments", "1", "deployments"),
        ("targetSegments", [{"conditions": [], "percentage": 150, "rolloutWeights": {}}],
         "targetSegments[0].percentage"),
        ("bogus", 1, "bogus"),
    ],
)
def test_create__bad_field__is_400_naming_it(
    api: httpx.Client, project_id: str, field: str, value: Any, named: str
) -> None:
    # Given
    body: dict[str, Any] = {"projectId": project_id, "key": unique_key()}
    if value is None:
        del body[field]
    else:
        body[field] = value
    # When
    response = api.post("/api/1/flags", json=body)
    # Then
    assert_error(response, 400, named)
    if "key" in body:
        assert _list(api, "flags", key=body["key"]) == []


def test_create__duplicate_variant_keys__is_400_naming_the_second(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    body = {"projectId": project_id, "key": unique_key(), "variants": [{"key": "a"}, {"key": "b"}, {"key": "a"}]}
    # When
    response = api.post(f"/api/1/{kind}", json=body)
    # Then
    assert_error(response, 400, "variants[2].key")
    assert _list(api, kind, key=body["key"]) == []


def test_create__url__points_under_the_public_base_url(tmp_path: Path) -> None:
    # Given
    database_url = fresh_database_url(tmp_path)
    with running_server(database_url, env={"FLAGYARD_PUBLIC_URL": "https://flags.example.com/"}) as server:
        project_id = server.create_project()
        key = server.create_key()
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}) as api:
            # When
            created = api.post("/api/1/experiments", json={"projectId": project_id, "key": "k"}).json()
    # Then
    assert created["url"].startswith("https://flags.example.com/")
    assert created["url"].endswith(f"/{created['id']}")


def test_create__variant_key_off__is_400_naming_the_variant(api: httpx.Client, project_id: str) -> None:
    # Given
    body = {"projectId": project_id, "key": unique_key(), "variants": [{"key": "on"}, {"key": "off"}]}
    # When
    response = api.post("/api/1/experiments", json=body)
    # Then
    assert_error(response, 400, "variants[1].key")
    assert _list(api, "experiments", key=body["key"]) == []


def test_create__unknown_project__is_404(api: httpx.Client) -> None:
    # When
    response = api.post("/api/1/flags", json={"projectId": "987654", "key": unique_key()})
    # Then
    assert_error(response, 404, "project")


def test_create__deployment_of_another_project__is_404_naming_deployments(
    api: httpx.Client, project_id: str, other_deployment: dict[str, str]
) -> None:
    # When
    response = api.post(
        "/api/1/flags", json={"projectId": project_id, "key": unique_key(), "deployments": [other_deployment["id"]]}
    )
    # Then
    assert_error(response, 404, "deployments[0]")


def test_create__flag_with_experiment_field__is_400_naming_it(api: httpx.Client, project_id: str) -> None:
    # When
    response = api.post(
        "/api/1/flags", json={"projectId": project_id, "key": unique_key(), "experimentType": "a-b-test"}
    )
    # Then
    assert_error(response, 400, "experimentType")


def test_create__web_delivery__is_refused(api: httpx.Client, project_id: str) -> None:
    # When
    response = api.post(
        "/api/1/experiments", json={"projectId": project_id, "key": unique_key(), "deliveryMethod": "web"}
    )
    # Then
    assert_error(response, 400, "Web Experiments")


def test_get__unknown_id__is_404(api: httpx.Client, kind: str) -> None:
    # When
    response = api.get(f"/api/1/{kind}/99999999")
    # Then
    assert_error(response, 404, "99999999")


def test_get__id_of_other_kind__is_404(api: httpx.Client, project_id: str) -> None:
    # Given
    flag_id = create_flag(api, project_id, "flags")
    # When
    response = api.get(f"/api/1/experiments/{flag_id}")
    # Then
    assert_error(response, 404)


@pytest.mark.parametrize("bad_id", ["abc", "0", "-1", "1.5"])
def test_get__malformed_id__is_404(api: httpx.Client, kind: str, bad_id: str) -> None:
    # When
    response = api.get(f"/api/1/{kind}/{bad_id}")
    # Then
    assert_error(response, 404)


# --- list ------------------------------------------------------------------------------------


def test_list__envelope__names_the_kind_and_is_newest_first(
    api: httpx.Client, project_id: str, kind: str
) -> None:
    # Given
    ids = [create_flag(api, project_id, kind) for _ in range(3)]
    # When
    response = api.get(f"/api/1/{kind}", params={"projectId": project_id})
    # Then
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {kind}  # one page, so no nextCursor
    listed = [item["id"] for item in body[kind]]
    assert [i for i in listed if i in ids] == list(reversed(ids))
    assert listed[:3] == list(reversed(ids))


def test_list__items__are_the_full_objects(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    # When
    listed = _list(api, kind, projectId=project_id)
    # Then
    assert next(i for i in listed if i["id"] == item_id) == api.get(f"/api/1/{kind}/{item_id}").json()


def test_list__other_kind__is_absent(api: httpx.Client, project_id: str) -> None:
    # Given
    flag_id = create_flag(api, project_id, "flags")
    experiment_id = create_flag(api, project_id, "experiments")
    # When
    flags = {i["id"] for i in _list(api, "flags")}
    experiments = {i["id"] for i in _list(api, "experiments")}
    # Then
    assert flag_id in flags and flag_id not in experiments
    assert experiment_id in experiments and experiment_id not in flags


def test_list__key_filter__returns_only_that_key(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    key = unique_key()
    item_id = create_flag(api, project_id, kind, key=key)
    create_flag(api, project_id, kind, key=key + "-longer")
    # When
    listed = _list(api, kind, key=key)
    # Then
    assert [i["id"] for i in listed] == [item_id]


def test_list__project_filter__returns_only_that_project(
    api: httpx.Client, project_id: str, other_project_id: str, kind: str
) -> None:
    # Given
    mine = create_flag(api, project_id, kind)
    theirs = create_flag(api, other_project_id, kind)
    # When
    listed = {i["id"]: i["projectId"] for i in _list(api, kind, projectId=other_project_id)}
    # Then
    assert theirs in listed and mine not in listed
    assert set(listed.values()) == {other_project_id}


def test_list__unknown_project_filter__is_empty(api: httpx.Client, kind: str) -> None:
    # When
    listed = _list(api, kind, projectId="987654")
    # Then
    assert listed == []


def test_list__malformed_project_filter__is_400_naming_it(api: httpx.Client, kind: str) -> None:
    # When
    response = api.get(f"/api/1/{kind}", params={"projectId": "abc"})
    # Then
    assert_error(response, 400, "projectId")


def test_list__archived_item__appears_only_with_include_archived(
    api: httpx.Client, project_id: str, kind: str
) -> None:
    # Given
    key = unique_key()
    item_id = create_flag(api, project_id, kind, key=key)
    assert api.patch(f"/api/1/{kind}/{item_id}", json={"archive": True}).status_code == 200
    # When
    default = _list(api, kind, key=key)
    excluded = _list(api, kind, key=key, includeArchived="false")
    included = _list(api, kind, key=key, includeArchived="true")
    # Then
    assert default == excluded == []
    assert [i["id"] for i in included] == [item_id]
    assert included[0]["deleted"] is True


def test_list__include_archived_not_boolean__is_400_naming_it(api: httpx.Client, kind: str) -> None:
    # When
    response = api.get(f"/api/1/{kind}", params={"includeArchived": "maybe"})
    # Then
    assert_error(response, 400, "includeArchived")


def test_list__limit__returns_at_most_that_many_with_a_cursor(
    api: httpx.Client, project_id: str, kind: str
) -> None:
    # Given
    for _ in range(3):
        create_flag(api, project_id, kind)
    # When
    body = api.get(f"/api/1/{kind}", params={"limit": 2}).json()
    # Then
    assert len(body[kind]) == 2
    assert body["nextCursor"] not in (None, 0, "0", "")


# --- edit ------------------------------------------------------------------------------------

COMMON_EDITS: list[tuple[str, Any]] = [
    ("name", "Renamed"),
    ("description", "a new description"),
    ("bucketingKey", "device_id"),
    ("bucketingSalt", "s4ltS4lt"),
    ("bucketingUnit", "org_id"),
    ("evaluationMode", "local"),
    ("rolloutPercentage", 35),
    ("rolloutPercentage", 0),
    ("rolloutPercentage", 100),
    ("stickyBucketing", True),
    ("tags", ["prod", "staging"]),
    ("tags", []),
]

EXPERIMENT_EDITS: list[tuple[str, Any]] = [
    ("experimentType", "multi-arm-bandit"),
    ("startDate", "2023-07-31T10:26:00.996Z"),
    ("endDate", "2023-09-23T10:26:00.996Z"),
    ("endDate", None),
    ("exposureEvent", {
        "event_type": "_active",
        "filters": [{"group_type": "User", "subprop_key": "amplitude_day_of_week", "subprop_op": "is",
                     "subprop_type": "day_time_prop", "subprop_value": ["Tuesday"]}],
    }),
    ("exposureEvent", None),
    ("decisionReason", "the numbers were clear"),
    ("rolledOutVariant", "treatment"),
]


@pytest.mark.parametrize(("field", "value"), COMMON_EDITS, ids=[f"{f}={v!r}" for f, v in COMMON_EDITS])
def test_edit__common_field__returns_updated_object_and_persists(
    api: httpx.Client, project_id: str, kind: str, field: str, value: Any
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    before = api.get(f"/api/1/{kind}/{item_id}").json()
    # When
    response = api.patch(f"/api/1/{kind}/{item_id}", json={field: value})
    # Then
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated[field] == value
    assert updated == api.get(f"/api/1/{kind}/{item_id}").json()
    unchanged = {k for k in before if k not in (field, "version", "lastModifiedAt", "lastModifiedBy")}
    assert {k: updated[k] for k in unchanged} == {k: before[k] for k in unchanged}
    assert updated["version"] == before["version"] + 1


@pytest.mark.parametrize(("field", "value"), EXPERIMENT_EDITS, ids=[f"{f}={v!r}" for f, v in EXPERIMENT_EDITS])
def test_edit__experiment_field__returns_updated_object_and_persists(
    api: httpx.Client, project_id: str, field: str, value: Any
) -> None:
    # Given
    item_id = create_flag(api, project_id, "experiments")
    # When
    response = api.patch(f"/api/1/experiments/{item_id}", json={field: value})
    # Then
    assert response.status_code == 200, response.text
    assert response.json()[field] == value
    assert api.get(f"/api/1/experiments/{item_id}").json()[field] == value


def test_edit__target_segments__replace_the_whole_list(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind, targetSegments=[segment_for(kind, name="old")])
    new = [segment_for(kind, name="first", percentage=10), segment_for(kind, name="second", percentage=90)]
    # When
    response = api.patch(f"/api/1/{kind}/{item_id}", json={"targetSegments": new})
    # Then
    assert response.status_code == 200, response.text
    # Read back with the bucketing key each segment uses (the flag's, as none names its own).
    assert response.json()["targetSegments"] == [{**segment, "bucketingKey": "amplitude_id"} for segment in new]
    assert api.get(f"/api/1/{kind}/{item_id}").json()["targetSegments"] == response.json()["targetSegments"]


def test_edit__several_fields_at_once__applies_all(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    # When
    response = api.patch(
        f"/api/1/{kind}/{item_id}", json={"name": "n", "description": "d", "rolloutPercentage": 7}
    )
    # Then
    assert response.status_code == 200, response.text
    got = api.get(f"/api/1/{kind}/{item_id}").json()
    assert (got["name"], got["description"], got["rolloutPercentage"]) == ("n", "d", 7)


def test_edit__by_another_key__records_who_changed_it(
    api: httpx.Client, editor_api: httpx.Client, project_id: str, kind: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    # When
    edited = editor_api.patch(f"/api/1/{kind}/{item_id}", json={"name": "edited"}).json()
    # Then
    assert edited["createdBy"] == "admin@example.com"
    assert edited["lastModifiedBy"] == "editor@example.com"
    assert edited["lastModifiedAt"] >= edited["createdAt"]


def test_edit__enable_with_a_deployment__enables_it(
    api: httpx.Client, project_id: str, deployment: dict[str, str], kind: str
) -> None:
    # Given
    item_id = create_linked(api, project_id, deployment["id"], kind)
    # When
    response = api.patch(f"/api/1/{kind}/{item_id}", json={"enabled": True})
    # Then
    assert response.status_code == 200, response.text
    assert response.json()["enabled"] is True
    assert api.get(f"/api/1/{kind}/{item_id}").json()["enabled"] is True


def test_edit__enable_without_deployment__is_400_and_changes_nothing(
    api: httpx.Client, project_id: str, kind: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    before = snapshot(api, kind, item_id)
    # When
    response = api.patch(f"/api/1/{kind}/{item_id}", json={"enabled": True, "name": "x"})
    # Then
    assert_error(response, 400, "deployment")
    assert snapshot(api, kind, item_id) == before


EDIT_ERRORS: list[tuple[Any, str]] = [
    ({"rolloutPercentage": 150}, "rolloutPercentage"),
    ({"rolloutPercentage": -1}, "rolloutPercentage"),
    ({"rolloutPercentage": 12.5}, "rolloutPercentage"),
    ({"rolloutPercentage": "50"}, "rolloutPercentage"),
    ({"enabled": "yes"}, "enabled"),
    ({"name": None}, "name"),
    ({"name": ["x"]}, "name"),
    ({"tags": "prod"}, "tags"),
    ({"evaluationMode": "sometimes"}, "evaluationMode"),
    ({"bucketingKey": ""}, "bucketingKey"),
    ({"targetSegments": {"name": "x"}}, "targetSegments"),
    ({"targetSegments": [{"conditions": [], "percentage": 5}]}, "targetSegments[0].rolloutWeights"),
    ({"targetSegments": [{"conditions": [], "percentage": 150, "rolloutWeights": {}}]},
     "targetSegments[0].percentage"),
    ({"targetSegments": [{"conditions": [], "percentage": 5, "rolloutWeights": {"nope": 1}}]},
     "targetSegments[0].rolloutWeights"),
    ({"targetSegments": [{"percentage": 5, "rolloutWeights": {}}]}, "targetSegments[0].conditions"),
    ({"targetSegments": [{"conditions": [{"type": "property", "prop": "p", "op": "is", "values": "x"}],
                          "percentage": 5, "rolloutWeights": {}}]}, "targetSegments[0].conditions[0].values"),
    ({"key": "new-key"}, "key"),
    ({"variants": []}, "variants"),
    ({"deployments": []}, "deployments"),
    ({"unknownField": 1}, "unknownField"),
    ({}, "field"),
]


@pytest.mark.parametrize(("body", "named"), EDIT_ERRORS, ids=[repr(b)[:60] for b, _ in EDIT_ERRORS])
def test_edit__bad_body__is_400_naming_the_field_and_changes_nothing(
    api: httpx.Client, project_id: str, kind: str, body: Any, named: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    before = snapshot(api, kind, item_id)
    # When
    response = api.patch(f"/api/1/{kind}/{item_id}", json=body)
    # Then
    assert_error(response, 400, named)
    assert snapshot(api, kind, item_id) == before


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"experimentType": "a-b-test"}, "experimentType"),
        ({"decision": "rollout"}, "decision"),
        ({"startDate": "2024-01-01"}, "startDate"),
    ],
)
def test_edit__flag_with_experiment_field__is_400_naming_it(
    api: httpx.Client, project_id: str, body: dict[str, Any], named: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, "flags")
    before = snapshot(api, "flags", item_id)
    # When
    response = api.patch(f"/api/1/flags/{item_id}", json=body)
    # Then
    assert_error(response, 400, named)
    assert snapshot(api, "flags", item_id) == before


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"decision": "abandon"}, "decision"),
        ({"experimentType": "coin-flip"}, "experimentType"),
        ({"startDate": "next tuesday"}, "startDate"),
        ({"rolledOutVariant": "nope"}, "rolledOutVariant"),
        ({"exposureEvent": {"filters": []}}, "exposureEvent.event_type"),
    ],
)
def test_edit__experiment_bad_value__is_400_naming_it(
    api: httpx.Client, project_id: str, body: dict[str, Any], named: str
) -> None:
    # Given
    item_id = create_flag(api, project_id, "experiments")
    before = snapshot(api, "experiments", item_id)
    # When
    response = api.patch(f"/api/1/experiments/{item_id}", json=body)
    # Then
    assert_error(response, 400, named)
    assert snapshot(api, "experiments", item_id) == before


def test_edit__malformed_json__is_400_and_changes_nothing(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    before = snapshot(api, kind, item_id)
    # When
    response = api.patch(
        f"/api/1/{kind}/{item_id}", content=b'{"name": "x",', headers={"Content-Type": "application/json"}
    )
    # Then
    assert_error(response, 400, "JSON")
    assert snapshot(api, kind, item_id) == before


def test_edit__unknown_id__is_404(api: httpx.Client, kind: str) -> None:
    # When
    response = api.patch(f"/api/1/{kind}/99999999", json={"name": "x"})
    # Then
    assert_error(response, 404, "99999999")


# --- experiment state ------------------------------------------------------------------------


def test_experiment_state__follows_enable_decision_and_archive(
    api: httpx.Client, project_id: str, deployment: dict[str, str]
) -> None:
    # Given
    item_id = create_linked(api, project_id, deployment["id"], "experiments")
    path = f"/api/1/experiments/{item_id}"
    # When / Then
    assert api.get(path).json()["state"] == "planning"
    assert api.patch(path, json={"enabled": True}).json()["state"] == "running"
    decided = api.patch(path, json={"decision": "rollout", "decisionReason": "won",
                                    "rolledOutVariant": "treatment"}).json()
    assert decided["state"] == "decision-made"
    assert (decided["decision"], decided["decisionReason"], decided["rolledOutVariant"]) == (
        "rollout", "won", "treatment")
    assert api.patch(path, json={"archive": True}).json()["state"] == "archived"


# --- archive ---------------------------------------------------------------------------------


def test_archive__item__is_deleted_and_still_readable_by_id(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    # When
    response = api.patch(f"/api/1/{kind}/{item_id}", json={"archive": True})
    # Then
    assert response.status_code == 200, response.text
    assert response.json()["deleted"] is True
    assert api.get(f"/api/1/{kind}/{item_id}").json()["deleted"] is True
    assert item_id not in {i["id"] for i in _list(api, kind, projectId=project_id)}


def test_archive__with_other_fields__is_400_naming_archive(api: httpx.Client, project_id: str, kind: str) -> None:
    # Given
    item_id = create_flag(api, project_id, kind)
    before = snapshot(api, kind, item_id)
    # When
    response = api.patch(f"/api/1/{kind}/{item_id}", json={"archive": True, "name": "x"})
    # Then
    assert_error(response, 400, "archive")
    assert snapshot(api, kind, item_id) == before


def test_archive__enabled_item__is_archived(
    api: httpx.Client, project_id: str, deployment: dict[str, str], kind: str
) -> None:
    # Given
    item_id = create_linked(api, project_id, deployment["id"], kind)
    api.patch(f"/api/1/{kind}/{item_id}", json={"enabled": True})
    # When
    response = api.patch(f"/api/1/{kind}/{item_id}", json={"archive": True})
    # Then
    assert response.status_code == 200, response.text
    assert response.json()["deleted"] is True


def _archived(api: httpx.Client, project_id: str, kind: str, deployment_id: str) -> str:
    item_id = create_linked(api, project_id, deployment_id, kind)
    assert api.patch(f"/api/1/{kind}/{item_id}", json={"archive": True}).status_code == 200
    return item_id


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "", {"name": "x"}),
        ("PATCH", "", {"enabled": True}),
        ("PATCH", "", {"archive": True, "name": "x"}),
        ("POST", "/variants", {"key": "extra"}),
        ("PATCH", "/variants/{variant}", {"name": "x"}),
        ("DELETE", "/variants/{variant}", None),
        ("POST", "/variants/{variant}/users", {"inclusions": ["u1"]}),
        ("DELETE", "/variants/{variant}/users", None),
        ("POST", "/variants/{variant}/cohorts", {"inclusions": ["c1"]}),
        ("POST", "/deployments", {"deployments": ["{deployment}"]}),
        ("DELETE", "/deployments/{deployment}", None),
    ],
)
def test_archived_item__any_edit_but_unarchive__is_400_and_changes_nothing(
    api: httpx.Client, project_id: str, deployment: dict[str, str], kind: str,
    method: str, path: str, body: Any,
) -> None:
    # Given
    item_id = _archived(api, project_id, kind, deployment["id"])
    variant = "on" if kind == "flags" else "control"
    path = path.format(variant=variant, deployment=deployment["id"])
    if body and "deployments" in body:
        body = {"deployments": [deployment["id"]]}
    before = snapshot(api, kind, item_id)
    # When
    response = api.request(method, f"/api/1/{kind}/{item_id}{path}", json=body)
    # Then
    assert_error(response, 400, "archived" if "archive" not in (body or {}) else "archive")
    assert snapshot(api, kind, item_id) == before


def test_archived_item__archive_false__restores_it(
    api: httpx.Client, project_id: str, deployment: dict[str, str], kind: str
) -> None:
    # Given
    item_id = _archived(api, project_id, kind, deployment["id"])
    # When
    response = api.patch(f"/api/1/{kind}/{item_id}", json={"archive": False})
    # Then
    assert response.status_code == 200, response.text
    assert response.json()["deleted"] is False
    assert item_id in {i["id"] for i in _list(api, kind, projectId=project_id)}
    assert api.patch(f"/api/1/{kind}/{item_id}", json={"name": "editable again"}).status_code == 200


def test_create__scoped_key_in_its_project__is_recorded_with_its_name(
    server: Server, make_client, other_project_api: httpx.Client, other_project_id: str  # type: ignore[no-untyped-def]
) -> None:
    # When
    item_id = create_flag(other_project_api, other_project_id)
    # Then
    assert other_project_api.get(f"/api/1/flags/{item_id}").json()["createdBy"] == "outsider@example.com"
