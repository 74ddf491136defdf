"""/api/1/holdouts: create, get, list, edit, archive; membership read from both sides."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.factories import assert_error, create_flag, create_holdout, unique_key
from tests.factories import create_experiment as experiment
from tests.factories import get_ok as get
from tests.support.server import Server

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
# Every field of Amplitude's holdout object, plus what every flagyard object carries.
HOLDOUT_FIELDS = {
    "id", "projectId", "name", "key", "description", "holdoutPercentage", "evaluationMode",
    "bucketingKey", "bucketingSalt", "variantName", "experiments", "individualInclusion",
    "individualExclusion", "deleted", "createdBy", "lastModifiedBy", "createdAt",
    "lastModifiedAt", "parentDependencies", "version",
}


# --- create and get ---------------------------------------------------------------------------


def test_create__minimal_body__answers_id_and_url(server: Server, api: httpx.Client, project_id: str) -> None:
    # When
    response = api.post("/api/1/holdouts", json={"projectId": project_id, "name": "H",
                                                  "holdoutPercentage": 5})
    # Then
    assert response.status_code == 200, response.text
    created = response.json()
    assert set(created) == {"id", "url"}
    assert created["url"] == f"{server.base_url}/api/1/holdouts/{created['id']}"


def test_create__then_get__every_field_with_its_default(api: httpx.Client, project_id: str) -> None:
    # Given
    holdout_id = create_holdout(api, project_id, name="Q3 holdout", holdoutPercentage=5)
    # When
    body = get(api, f"/api/1/holdouts/{holdout_id}")
    # Then
    assert set(body) == HOLDOUT_FIELDS
    assert body["id"] == holdout_id and body["projectId"] == project_id
    assert body["name"] == "Q3 holdout" and body["description"] == ""
    assert re.fullmatch(r"holdout-[a-z]{8}", body["key"])
    assert body["holdoutPercentage"] == 5
    assert body["evaluationMode"] == "remote"
    assert body["bucketingKey"] == "amplitude_id"
    assert re.fullmatch(r"[A-Za-z0-9]{8}", body["bucketingSalt"])
    assert body["variantName"] == "on"
    assert body["experiments"] == [] and body["individualInclusion"] == [] and body["individualExclusion"] == []
    assert body["parentDependencies"] is None
    assert body["deleted"] is False
    assert body["createdBy"] == body["lastModifiedBy"] == "admin@example.com"
    assert TIMESTAMP.match(body["createdAt"]) and TIMESTAMP.match(body["lastModifiedAt"])
    assert body["version"] == 1


def test_create__every_field__reads_back_as_sent(api: httpx.Client, project_id: str) -> None:
    # Given
    member = experiment(api, project_id, evaluationMode="local")
    key = unique_key("holdout")
    body = {"projectId": int(project_id), "name": "All", "key": key, "description": "d",
            "holdoutPercentage": 99, "evaluationMode": "local", "bucketingKey": "user_id",
            "bucketingSalt": "saltSALT", "experiments": [member],
            "individualInclusion": ["u-1", "u-2"], "individualExclusion": ["u-3"]}
    # When
    holdout_id = create_holdout(api, project_id, **body)
    # Then
    read = get(api, f"/api/1/holdouts/{holdout_id}")
    assert {k: read[k] for k in body if k != "projectId"} == {k: v for k, v in body.items() if k != "projectId"}
    assert read["projectId"] == project_id


def test_create__two_holdouts__get_different_keys_and_salts(api: httpx.Client, project_id: str) -> None:
    # When
    first = get(api, f"/api/1/holdouts/{create_holdout(api, project_id)}")
    second = get(api, f"/api/1/holdouts/{create_holdout(api, project_id)}")
    # Then
    assert first["key"] != second["key"]
    assert first["bucketingSalt"] != second["bucketingSalt"]


@pytest.mark.parametrize(("change", "field"), [
    ({"holdoutPercentage": 0}, "holdoutPercentage"),
    ({"holdoutPercentage": 100}, "holdoutPercentage"),
    ({"holdoutPercentage": 10.5}, "holdoutPercentage"),
    ({"holdoutPercentage": None}, "holdoutPercentage"),
    ({"name": ""}, "name"),
    ({"key": "a key"}, "key"),
    ({"key": ""}, "key"),
    ({"evaluationMode": "edge"}, "evaluationMode"),
    ({"bucketingKey": ""}, "bucketingKey"),
    ({"experiments": ["abc"]}, "experiments[0]"),
    ({"individualInclusion": [""]}, "individualInclusion[0]"),
    ({"individualInclusion": ["u-1"], "individualExclusion": ["u-1"]}, "individualExclusion"),
    ({"slots": []}, "slots"),
])
def test_create__bad_field__is_400_naming_it_and_creates_nothing(
    api: httpx.Client, project_id: str, change: dict[str, Any], field: str
) -> None:
    # Given
    before = get(api, "/api/1/holdouts?limit=1&includeArchived=true")
    body = {"projectId": project_id, "name": "H", "holdoutPercentage": 10, **change}
    # When
    response = api.post("/api/1/holdouts", json=body)
    # Then
    assert_error(response, 400, field)
    assert get(api, "/api/1/holdouts?limit=1&includeArchived=true") == before


@pytest.mark.parametrize("missing", ["projectId", "name", "holdoutPercentage"])
def test_create__required_field_missing__is_400_naming_it(api: httpx.Client, project_id: str, missing: str) -> None:
    body = {"projectId": project_id, "name": "H", "holdoutPercentage": 10}
    del body[missing]
    assert_error(api.post("/api/1/holdouts", json=body), 400, missing, code="missing_field")


def test_create__key_of_a_flag_or_mutex__is_409(api: httpx.Client, project_id: str) -> None:
    # Given
    flag_key = unique_key("flag")
    create_flag(api, project_id, "flags", key=flag_key)
    mutex_key = get(api, "/api/1/mutexes/" + api.post("/api/1/mutexes", json={
        "projectId": project_id, "name": "M", "slots": [{"percentage": 100}]}).json()["id"])["key"]
    # When / Then
    for key in (flag_key, mutex_key):
        response = api.post("/api/1/holdouts", json={"projectId": project_id, "name": "H",
                                                      "holdoutPercentage": 10, "key": key})
        assert_error(response, 409, "key", code="key_taken")


def test_create_flag__key_of_a_holdout__is_409(api: httpx.Client, project_id: str) -> None:
    key = get(api, f"/api/1/holdouts/{create_holdout(api, project_id)}")["key"]
    response = api.post("/api/1/flags", json={"projectId": project_id, "key": key})
    assert_error(response, 409, "key", code="key_taken")


def test_create__unknown_project__is_404(api: httpx.Client) -> None:
    response = api.post("/api/1/holdouts", json={"projectId": "999999", "name": "H", "holdoutPercentage": 10})
    assert_error(response, 404, code="project_not_found")


# --- membership -------------------------------------------------------------------------------


def test_create_with_experiments__each_experiment_depends_on_the_holdout(api: httpx.Client, project_id: str) -> None:
    # Given
    a, b = experiment(api, project_id), experiment(api, project_id)
    # When
    holdout_id = create_holdout(api, project_id, experiments=[a, b])
    # Then
    assert get(api, f"/api/1/holdouts/{holdout_id}")["experiments"] == [a, b]
    for member in (a, b):
        read = get(api, f"/api/1/experiments/{member}")
        assert read["parentDependencies"] == {"flags": {holdout_id: ["on"]}, "operator": "all"}
        assert read["version"] == 2  # created, then joined


def test_experiment_names_the_holdout__shows_in_the_holdout_with_a_new_version(
    api: httpx.Client, project_id: str
) -> None:
    # Given
    holdout_id = create_holdout(api, project_id)
    member = experiment(api, project_id)
    # When
    response = api.patch(f"/api/1/experiments/{member}",
                         json={"parentDependencies": {"flags": {holdout_id: ["on"]}}})
    # Then
    assert response.status_code == 200, response.text
    read = get(api, f"/api/1/holdouts/{holdout_id}")
    assert read["experiments"] == [member]
    assert read["version"] == 2
    # And leaving through the experiment shows too
    assert api.patch(f"/api/1/experiments/{member}", json={"parentDependencies": None}).status_code == 200
    assert get(api, f"/api/1/holdouts/{holdout_id}")["experiments"] == []


def test_experiment_created_in_the_holdout__shows_in_the_holdout(api: httpx.Client, project_id: str) -> None:
    holdout_id = create_holdout(api, project_id)
    member = experiment(api, project_id, parentDependencies={"flags": {holdout_id: ["on"]}})
    assert get(api, f"/api/1/holdouts/{holdout_id}")["experiments"] == [member]


def test_edit_experiments__replaces_the_members_on_both_sides(api: httpx.Client, project_id: str) -> None:
    # Given
    a, b, c = (experiment(api, project_id) for _ in range(3))
    holdout_id = create_holdout(api, project_id, experiments=[a, b])
    # When
    response = api.patch(f"/api/1/holdouts/{holdout_id}", json={"experiments": [b, c]})
    # Then
    assert response.status_code == 200, response.text
    assert response.json()["experiments"] == [b, c]
    assert get(api, f"/api/1/experiments/{a}")["parentDependencies"] is None
    assert get(api, f"/api/1/experiments/{c}")["parentDependencies"]["flags"] == {holdout_id: ["on"]}


def test_member_keeps_its_other_parents(api: httpx.Client, project_id: str) -> None:
    # Given an experiment that already depends on a flag
    parent = create_flag(api, project_id, "flags")
    member = experiment(api, project_id, parentDependencies={"flags": {parent: ["on"]}})
    holdout_id = create_holdout(api, project_id, experiments=[member])
    # When
    api.patch(f"/api/1/holdouts/{holdout_id}", json={"archive": True}).raise_for_status()
    # Then
    assert get(api, f"/api/1/experiments/{member}")["parentDependencies"]["flags"] == {parent: ["on"]}


@pytest.mark.parametrize("what", ["flag", "unknown", "archived", "other project"])
def test_edit_experiments__not_an_experiment_of_the_project__is_400_naming_it(
    api: httpx.Client, project_id: str, other_project_id: str, what: str
) -> None:
    # Given
    holdout_id = create_holdout(api, project_id)
    if what == "flag":
        bad = create_flag(api, project_id, "flags")
    elif what == "unknown":
        bad = "999999"
    elif what == "archived":
        bad = experiment(api, project_id)
        api.patch(f"/api/1/experiments/{bad}", json={"archive": True}).raise_for_status()
    else:
        bad = experiment(api, other_project_id)
    good = experiment(api, project_id)
    before = get(api, f"/api/1/holdouts/{holdout_id}")
    # When
    response = api.patch(f"/api/1/holdouts/{holdout_id}", json={"experiments": [good, bad]})
    # Then: nothing changed, on either side
    assert_error(response, 400, "experiments[1]")
    assert get(api, f"/api/1/holdouts/{holdout_id}") == before
    assert get(api, f"/api/1/experiments/{good}")["parentDependencies"] is None


def test_local_experiment_in_a_remote_holdout__is_400_naming_evaluation_mode(api: httpx.Client, project_id: str) -> None:
    # Given
    local = experiment(api, project_id, evaluationMode="local")
    holdout_id = create_holdout(api, project_id)
    # When / Then: from the holdout's side
    response = api.patch(f"/api/1/holdouts/{holdout_id}", json={"experiments": [local]})
    assert_error(response, 400, "experiments[0]", "evaluationMode", code="evaluation_mode_mismatch")
    # and from the experiment's side
    response = api.patch(f"/api/1/experiments/{local}", json={"parentDependencies": {"flags": {holdout_id: ["on"]}}})
    assert_error(response, 400, "parentDependencies", "evaluationMode")


def test_member_of_a_remote_holdout__switching_to_local__is_400_naming_evaluation_mode(
    api: httpx.Client, project_id: str
) -> None:
    # Given
    member = experiment(api, project_id)
    create_holdout(api, project_id, experiments=[member])
    # When
    response = api.patch(f"/api/1/experiments/{member}", json={"evaluationMode": "local"})
    # Then
    assert_error(response, 400, "evaluationMode")
    assert get(api, f"/api/1/experiments/{member}")["evaluationMode"] == "remote"


def test_remote_experiment_in_a_local_holdout__is_accepted(api: httpx.Client, project_id: str) -> None:
    member = experiment(api, project_id)
    holdout_id = create_holdout(api, project_id, evaluationMode="local", experiments=[member])
    assert get(api, f"/api/1/holdouts/{holdout_id}")["experiments"] == [member]


def test_experiment_in_two_holdouts__is_400(api: httpx.Client, project_id: str) -> None:
    # Given
    member = experiment(api, project_id)
    create_holdout(api, project_id, experiments=[member])
    second = create_holdout(api, project_id)
    # When
    response = api.patch(f"/api/1/holdouts/{second}", json={"experiments": [member]})
    # Then
    assert_error(response, 400, "experiments[0]", code="already_member")


@pytest.mark.parametrize("allowed", [["holdout"], ["on", "holdout"]])
def test_experiment_allowing_another_holdout_variant__is_400(
    api: httpx.Client, project_id: str, allowed: list[str]
) -> None:
    holdout_id = create_holdout(api, project_id)
    response = api.post("/api/1/experiments", json={
        "projectId": project_id, "key": unique_key("exp"),
        "parentDependencies": {"flags": {holdout_id: allowed}}})
    assert_error(response, 400, f"parentDependencies.flags.{holdout_id}")


def test_flag_naming_a_holdout__is_400(api: httpx.Client, project_id: str) -> None:
    holdout_id = create_holdout(api, project_id)
    response = api.post("/api/1/flags", json={
        "projectId": project_id, "key": unique_key("flag"),
        "parentDependencies": {"flags": {holdout_id: ["on"]}}})
    assert_error(response, 400, f"parentDependencies.flags.{holdout_id}", code="invalid_member")


# --- edit and archive ---------------------------------------------------------------------------


def test_edit__name_description_and_lists__persist_with_a_version(api: httpx.Client, project_id: str) -> None:
    # Given
    holdout_id = create_holdout(api, project_id)
    change = {"name": "Renamed", "description": "why", "individualInclusion": ["u-1"],
              "individualExclusion": ["u-2", "u-3"]}
    # When
    response = api.patch(f"/api/1/holdouts/{holdout_id}", json=change)
    # Then
    assert response.status_code == 200, response.text
    read = get(api, f"/api/1/holdouts/{holdout_id}")
    assert response.json() == read
    assert {k: read[k] for k in change} == change
    assert read["version"] == 2


@pytest.mark.parametrize(("change", "field"), [
    ({}, "body"),
    ({"holdoutPercentage": 20}, "holdoutPercentage"),
    ({"name": None}, "name"),
    ({"experiments": "12"}, "experiments"),
    ({"individualExclusion": ["u-1"]}, "individualExclusion"),
    ({"archive": "yes"}, "archive"),
])
def test_edit__bad_body__is_400_naming_the_field_and_changes_nothing(
    api: httpx.Client, project_id: str, change: dict[str, Any], field: str
) -> None:
    holdout_id = create_holdout(api, project_id, individualInclusion=["u-1"])
    before = get(api, f"/api/1/holdouts/{holdout_id}")
    assert_error(api.patch(f"/api/1/holdouts/{holdout_id}", json=change), 400, field)
    assert get(api, f"/api/1/holdouts/{holdout_id}") == before


def test_archive__leaves_every_member_and_lists_only_with_include_archived(api: httpx.Client, project_id: str) -> None:
    # Given
    member = experiment(api, project_id)
    holdout_id = create_holdout(api, project_id, experiments=[member])
    # When: other fields are ignored with archive
    response = api.patch(f"/api/1/holdouts/{holdout_id}", json={"archive": True, "name": "ignored"})
    # Then
    assert response.status_code == 200, response.text
    read = get(api, f"/api/1/holdouts/{holdout_id}")
    assert read["deleted"] is True and read["experiments"] == [] and read["name"] == "Holdout"
    assert get(api, f"/api/1/experiments/{member}")["parentDependencies"] is None
    listed = [h["id"] for h in get(api, "/api/1/holdouts")["holdouts"]]
    archived = [h["id"] for h in get(api, "/api/1/holdouts?includeArchived=true")["holdouts"]]
    assert holdout_id not in listed and holdout_id in archived
    # And an archived holdout takes no edit and no new member
    assert_error(api.patch(f"/api/1/holdouts/{holdout_id}", json={"name": "x"}), 400, code="archived")
    response = api.patch(f"/api/1/experiments/{member}", json={"parentDependencies": {"flags": {holdout_id: ["on"]}}})
    assert_error(response, 400, "archived")


def test_archive_false__restores_the_holdout(api: httpx.Client, project_id: str) -> None:
    holdout_id = create_holdout(api, project_id)
    api.patch(f"/api/1/holdouts/{holdout_id}", json={"archive": True}).raise_for_status()
    response = api.patch(f"/api/1/holdouts/{holdout_id}", json={"archive": False, "name": "Back"})
    assert response.status_code == 200, response.text
    assert response.json()["deleted"] is False and response.json()["name"] == "Back"


# --- lists, keys, errors -------------------------------------------------------------------------


def test_list__newest_first_paged_by_cursor(api: httpx.Client, project_id: str) -> None:
    # Given
    ids = [create_holdout(api, project_id) for _ in range(3)]
    # When
    first = get(api, "/api/1/holdouts?limit=2")
    second = get(api, f"/api/1/holdouts?limit=2&cursor={first['nextCursor']}")
    # Then
    assert [h["id"] for h in first["holdouts"]] == ids[::-1][:2]
    assert second["holdouts"][0]["id"] == ids[0]
    assert all(set(h) == HOLDOUT_FIELDS for h in first["holdouts"])


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "cursor=abc", "includeArchived=maybe"])
def test_list__bad_query__is_400_naming_it(api: httpx.Client, query: str) -> None:
    assert_error(api.get(f"/api/1/holdouts?{query}"), 400, query.split("=")[0])


def test_groups__never_listed_or_read_as_flags_or_experiments(api: httpx.Client, project_id: str) -> None:
    # Given
    holdout_id = create_holdout(api, project_id)
    # Then
    for kind in ("flags", "experiments"):
        listed = get(api, f"/api/1/{kind}?includeArchived=true")[kind]
        assert holdout_id not in [item["id"] for item in listed]
        assert_error(api.get(f"/api/1/{kind}/{holdout_id}"), 404)
    flag_id = create_flag(api, project_id, "flags")
    assert_error(api.get(f"/api/1/holdouts/{flag_id}"), 404, code="holdout_not_found")


@pytest.mark.parametrize("bad_id", ["999999", "abc", "0"])
def test_get_and_edit__unknown_id__is_404(api: httpx.Client, bad_id: str) -> None:
    assert_error(api.get(f"/api/1/holdouts/{bad_id}"), 404)
    assert_error(api.patch(f"/api/1/holdouts/{bad_id}", json={"name": "x"}), 404)


def test_read_only_key__reads_but_every_write_is_403(
    api: httpx.Client, read_only_api: httpx.Client, project_id: str
) -> None:
    # Given
    holdout_id = create_holdout(api, project_id)
    # Then
    assert read_only_api.get(f"/api/1/holdouts/{holdout_id}").status_code == 200
    assert_error(read_only_api.post("/api/1/holdouts", json={"projectId": project_id, "name": "H",
                                                             "holdoutPercentage": 5}), 403)
    assert_error(read_only_api.patch(f"/api/1/holdouts/{holdout_id}", json={"archive": True}), 403)
    assert get(api, f"/api/1/holdouts/{holdout_id}")["deleted"] is False


def test_scoped_key__other_projects_holdouts_are_403_and_unlisted(
    api: httpx.Client, other_project_api: httpx.Client, project_id: str, other_project_id: str
) -> None:
    # Given
    holdout_id = create_holdout(api, project_id)
    # Then
    assert_error(other_project_api.get(f"/api/1/holdouts/{holdout_id}"), 403)
    assert_error(other_project_api.patch(f"/api/1/holdouts/{holdout_id}", json={"name": "x"}), 403)
    assert_error(other_project_api.post("/api/1/holdouts", json={"projectId": project_id, "name": "H",
                                                                 "holdoutPercentage": 5}), 403)
    listed = [h["id"] for h in get(other_project_api, "/api/1/holdouts")["holdouts"]]
    assert holdout_id not in listed
    own = create_holdout(other_project_api, other_project_id)
    assert get(other_project_api, f"/api/1/holdouts/{own}")["projectId"] == other_project_id


def test_no_key__is_401(anonymous: httpx.Client) -> None:
    assert_error(anonymous.get("/api/1/holdouts"), 401)


def test_versions__every_change_of_group_and_members__in_api_versions(api: httpx.Client, project_id: str) -> None:
    # Given
    member = experiment(api, project_id)
    holdout_id = create_holdout(api, project_id, experiments=[member])
    api.patch(f"/api/1/holdouts/{holdout_id}", json={"name": "Second"}).raise_for_status()
    api.patch(f"/api/1/holdouts/{holdout_id}", json={"archive": True}).raise_for_status()
    # When
    versions = get(api, "/api/1/versions?limit=5")["versions"]
    # Then: newest first — archive (holdout, member), rename, create (holdout, member joined)
    mine = [(v["flagConfig"]["id"], v["version"]) for v in versions]
    assert mine == [(holdout_id, 3), (member, 3), (holdout_id, 2), (holdout_id, 1), (member, 2)]
    newest = versions[0]["flagConfig"]
    assert newest["deleted"] is True and newest["key"] == get(api, f"/api/1/holdouts/{holdout_id}")["key"]
    assert set(newest) == HOLDOUT_FIELDS
    assert versions[3]["flagConfig"]["experiments"] == [member]
