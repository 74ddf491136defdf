"""/api/1/mutexes: create, get, list, edit, archive, slots; membership read from both sides."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.factories import assert_error, create_flag, create_holdout, create_mutex, unique_key
from tests.factories import create_experiment as experiment
from tests.factories import get_ok as get
from tests.support.server import Server

MUTEX_FIELDS = {
    "id", "projectId", "name", "key", "description", "evaluationMode", "bucketingKey",
    "bucketingSalt", "slots", "deleted", "createdBy", "lastModifiedBy", "createdAt",
    "lastModifiedAt", "version",
}
SLOT_FIELDS = {"name", "index", "variantKey", "percentage", "experiments", "holdouts",
               "individuals", "cohorts"}


def test_create__minimal_body__answers_id_and_url(server: Server, api: httpx.Client, project_id: str) -> None:
    response = api.post("/api/1/mutexes", json={"projectId": project_id, "name": "M",
                                                 "slots": [{"percentage": 100}]})
    assert response.status_code == 200, response.text
    created = response.json()
    assert set(created) == {"id", "url"}
    assert created["url"] == f"{server.base_url}/api/1/mutexes/{created['id']}"


def test_create__then_get__every_field_with_its_default(api: httpx.Client, project_id: str) -> None:
    # Given
    mutex_id = create_mutex(api, project_id, slots=[{"percentage": 30}, {"percentage": 70}])
    # When
    body = get(api, f"/api/1/mutexes/{mutex_id}")
    # Then
    assert set(body) == MUTEX_FIELDS
    assert re.fullmatch(r"mutex-[a-z]{8}", body["key"])
    assert body["evaluationMode"] == "remote" and body["bucketingKey"] == "amplitude_id"
    assert re.fullmatch(r"[A-Za-z0-9]{8}", body["bucketingSalt"])
    assert body["deleted"] is False and body["version"] == 1 and body["description"] == ""
    assert body["slots"] == [
        {"name": "SLOT 1", "index": 1, "variantKey": "slot-1", "percentage": 30, "experiments": [],
         "holdouts": [], "individuals": [], "cohorts": []},
        {"name": "SLOT 2", "index": 2, "variantKey": "slot-2", "percentage": 70, "experiments": [],
         "holdouts": [], "individuals": [], "cohorts": []},
    ]


def test_create__every_field__reads_back_as_sent(api: httpx.Client, project_id: str) -> None:
    # Given
    a, b = experiment(api, project_id, evaluationMode="local"), experiment(api, project_id)
    holdout_id = create_holdout(api, project_id, evaluationMode="local")
    key = unique_key("mutex")
    body = {"projectId": project_id, "name": "M", "key": key, "description": "d",
            "evaluationMode": "local", "bucketingKey": "user_id", "bucketingSalt": "abcd1234",
            "slots": [{"percentage": 20, "experiments": [a], "individuals": ["u-1"]},
                      {"percentage": 80, "experiments": [b], "holdouts": [holdout_id]}]}
    # When
    mutex_id = create_mutex(api, project_id, **body)
    # Then
    read = get(api, f"/api/1/mutexes/{mutex_id}")
    assert [(s["experiments"], s["holdouts"], s["individuals"]) for s in read["slots"]] == [
        ([a], [], ["u-1"]), ([b], [holdout_id], [])]
    assert {k: read[k] for k in ("key", "description", "evaluationMode", "bucketingKey", "bucketingSalt")} == {
        "key": key, "description": "d", "evaluationMode": "local", "bucketingKey": "user_id",
        "bucketingSalt": "abcd1234"}
    assert get(api, f"/api/1/experiments/{a}")["parentDependencies"]["flags"] == {mutex_id: ["slot-1"]}
    assert get(api, f"/api/1/holdouts/{holdout_id}")["parentDependencies"]["flags"] == {mutex_id: ["slot-2"]}


@pytest.mark.parametrize(("slots", "field"), [
    ([], "slots"),
    ([{"percentage": 50}], "slots"),
    ([{"percentage": 60}, {"percentage": 50}], "slots"),
    ([{"percentage": 0}, {"percentage": 100}], "slots[0].percentage"),
    ([{"percentage": 101}], "slots[0].percentage"),
    ([{"percentage": 5}] * 20 + [{"percentage": 0}], "slots"),
    ([{"percentage": 50.5}, {"percentage": 49.5}], "slots[0].percentage"),
    ([{"percentage": 100, "experiments": ["x"]}], "slots[0].experiments[0]"),
    ([{"percentage": 50, "individuals": ["u"]}, {"percentage": 50, "individuals": ["u"]}], "individuals"),
    ([{"percentage": 100, "color": "red"}], "slots[0].color"),
    (None, "slots"),
])
def test_create__bad_slots__is_400_naming_the_field_and_creates_nothing(
    api: httpx.Client, project_id: str, slots: Any, field: str
) -> None:
    before = get(api, "/api/1/mutexes?limit=1&includeArchived=true")
    response = api.post("/api/1/mutexes", json={"projectId": project_id, "name": "M", "slots": slots})
    assert_error(response, 400, field)
    assert get(api, "/api/1/mutexes?limit=1&includeArchived=true") == before


def test_create__twenty_slots_summing_to_100__is_accepted(api: httpx.Client, project_id: str) -> None:
    mutex_id = create_mutex(api, project_id, slots=[{"percentage": 5}] * 20)
    assert [s["variantKey"] for s in get(api, f"/api/1/mutexes/{mutex_id}")["slots"]][-1] == "slot-20"


def test_create__same_experiment_in_two_slots__is_400_and_creates_nothing(api: httpx.Client, project_id: str) -> None:
    # Given
    member = experiment(api, project_id)
    # When
    response = api.post("/api/1/mutexes", json={"projectId": project_id, "name": "M", "slots": [
        {"percentage": 50, "experiments": [member]}, {"percentage": 50, "experiments": [member]}]})
    # Then
    assert_error(response, 400, "slots[1].experiments[0]", code="already_member")
    assert get(api, f"/api/1/experiments/{member}")["parentDependencies"] is None
    assert get(api, f"/api/1/experiments/{member}")["version"] == 1


def test_create__key_of_an_experiment__is_409(api: httpx.Client, project_id: str) -> None:
    key = unique_key("exp")
    experiment(api, project_id, key=key)
    response = api.post("/api/1/mutexes", json={"projectId": project_id, "name": "M", "key": key,
                                                 "slots": [{"percentage": 100}]})
    assert_error(response, 409, "key", code="key_taken")


# --- slots ---------------------------------------------------------------------------------------


def test_edit_slot__experiments__join_and_leave_on_both_sides(api: httpx.Client, project_id: str) -> None:
    # Given
    a, b = experiment(api, project_id), experiment(api, project_id)
    mutex_id = create_mutex(api, project_id)
    # When
    response = api.patch(f"/api/1/mutexes/{mutex_id}/slots/1", json={"experiments": [a, b]})
    # Then
    assert response.status_code == 200, response.text
    assert response.json()["slots"][0]["experiments"] == [a, b]
    assert get(api, f"/api/1/experiments/{b}")["parentDependencies"]["flags"] == {mutex_id: ["slot-1"]}
    # When one leaves
    api.patch(f"/api/1/mutexes/{mutex_id}/slots/1", json={"experiments": [b]}).raise_for_status()
    # Then
    assert get(api, f"/api/1/experiments/{a}")["parentDependencies"] is None
    assert get(api, f"/api/1/mutexes/{mutex_id}")["version"] == 3


def test_edit_slot__experiment_in_another_slot__is_400_until_it_leaves_there(api: httpx.Client, project_id: str) -> None:
    # Given
    member = experiment(api, project_id)
    mutex_id = create_mutex(api, project_id, slots=[{"percentage": 50, "experiments": [member]},
                                                    {"percentage": 50}])
    # When
    response = api.patch(f"/api/1/mutexes/{mutex_id}/slots/2", json={"experiments": [member]})
    # Then
    assert_error(response, 400, "experiments[0]", "slot-1", code="already_member")
    # And after leaving slot 1 it may join slot 2
    api.patch(f"/api/1/mutexes/{mutex_id}/slots/1", json={"experiments": []}).raise_for_status()
    api.patch(f"/api/1/mutexes/{mutex_id}/slots/2", json={"experiments": [member]}).raise_for_status()
    slots = get(api, f"/api/1/mutexes/{mutex_id}")["slots"]
    assert (slots[0]["experiments"], slots[1]["experiments"]) == ([], [member])


def test_experiment_side__naming_two_slots_or_two_mutexes__is_400(api: httpx.Client, project_id: str) -> None:
    # Given
    first, second = create_mutex(api, project_id), create_mutex(api, project_id)
    member = experiment(api, project_id)
    # When / Then
    two_slots = {"flags": {first: ["slot-1", "slot-2"]}}
    assert_error(api.patch(f"/api/1/experiments/{member}", json={"parentDependencies": two_slots}),
                 400, f"parentDependencies.flags.{first}")
    two_mutexes = {"flags": {first: ["slot-1"], second: ["slot-2"]}}
    assert_error(api.patch(f"/api/1/experiments/{member}", json={"parentDependencies": two_mutexes}),
                 400, "parentDependencies")
    # And one slot is accepted and shows in the mutex, with a version
    one = {"flags": {first: ["slot-2"]}}
    api.patch(f"/api/1/experiments/{member}", json={"parentDependencies": one}).raise_for_status()
    read = get(api, f"/api/1/mutexes/{first}")
    assert read["slots"][1]["experiments"] == [member] and read["version"] == 2


def test_edit_slot__holdouts_and_individuals(api: httpx.Client, project_id: str) -> None:
    # Given
    mutex_id = create_mutex(api, project_id)
    holdout_id = create_holdout(api, project_id)
    # When
    response = api.patch(f"/api/1/mutexes/{mutex_id}/slots/2",
                         json={"holdouts": [holdout_id], "individuals": ["u-1", "u-2"]})
    # Then
    assert response.status_code == 200, response.text
    slot = get(api, f"/api/1/mutexes/{mutex_id}")["slots"][1]
    assert slot["holdouts"] == [holdout_id] and slot["individuals"] == ["u-1", "u-2"]
    assert get(api, f"/api/1/holdouts/{holdout_id}")["parentDependencies"]["flags"] == {mutex_id: ["slot-2"]}
    # And the same individual in slot 1 is refused
    assert_error(api.patch(f"/api/1/mutexes/{mutex_id}/slots/1", json={"individuals": ["u-2"]}),
                 400, "individuals", code="conflicting_individuals")


@pytest.mark.parametrize(("body", "field"), [
    ({}, "body"),
    ({"experiments": ["x"]}, "experiments[0]"),
    ({"holdouts": "1"}, "holdouts"),
    ({"individuals": [""]}, "individuals[0]"),
    ({"percentage": 50}, "percentage"),
])
def test_edit_slot__bad_body__is_400_naming_the_field(
    api: httpx.Client, project_id: str, body: dict[str, Any], field: str
) -> None:
    mutex_id = create_mutex(api, project_id)
    before = get(api, f"/api/1/mutexes/{mutex_id}")
    assert_error(api.patch(f"/api/1/mutexes/{mutex_id}/slots/1", json=body), 400, field)
    assert get(api, f"/api/1/mutexes/{mutex_id}") == before


def test_edit_slot__flag_or_experiment_of_a_remote_mutex__is_400(api: httpx.Client, project_id: str) -> None:
    mutex_id = create_mutex(api, project_id)
    flag_id = create_flag(api, project_id, "flags")
    local = experiment(api, project_id, evaluationMode="local")
    local_holdout = create_holdout(api, project_id, evaluationMode="local")
    assert_error(api.patch(f"/api/1/mutexes/{mutex_id}/slots/1", json={"experiments": [flag_id]}),
                 400, "experiments[0]", code="unknown_member")
    assert_error(api.patch(f"/api/1/mutexes/{mutex_id}/slots/1", json={"experiments": [local]}),
                 400, "experiments[0]", "evaluationMode")
    assert_error(api.patch(f"/api/1/mutexes/{mutex_id}/slots/1", json={"holdouts": [local_holdout]}),
                 400, "holdouts[0]", "evaluationMode")


@pytest.mark.parametrize("slot", ["0", "3", "abc", "-1", "99999"])
def test_edit_slot__no_such_slot__is_404(api: httpx.Client, project_id: str, slot: str) -> None:
    mutex_id = create_mutex(api, project_id)
    assert_error(api.patch(f"/api/1/mutexes/{mutex_id}/slots/{slot}", json={"individuals": ["u"]}),
                 404, code="slot_not_found")


def test_edit_slot__unknown_mutex_or_holdout_id__is_404(api: httpx.Client, project_id: str) -> None:
    holdout_id = create_holdout(api, project_id)
    for bad in ("999999", holdout_id):
        assert_error(api.patch(f"/api/1/mutexes/{bad}/slots/1", json={"individuals": ["u"]}), 404)


# --- edit, archive, access -----------------------------------------------------------------------


def test_edit__name_and_description__persist(api: httpx.Client, project_id: str) -> None:
    mutex_id = create_mutex(api, project_id)
    response = api.patch(f"/api/1/mutexes/{mutex_id}", json={"name": "N", "description": "D"})
    assert response.status_code == 200, response.text
    read = get(api, f"/api/1/mutexes/{mutex_id}")
    assert (read["name"], read["description"], read["version"]) == ("N", "D", 2)


@pytest.mark.parametrize(("body", "field"), [({}, "body"), ({"slots": []}, "slots"), ({"name": 3}, "name")])
def test_edit__bad_body__is_400_naming_the_field(api: httpx.Client, project_id: str, body: dict[str, Any],
                                                 field: str) -> None:
    mutex_id = create_mutex(api, project_id)
    assert_error(api.patch(f"/api/1/mutexes/{mutex_id}", json=body), 400, field)


def test_archive__removes_the_mutex_from_its_members(api: httpx.Client, project_id: str) -> None:
    # Given
    member = experiment(api, project_id)
    holdout_id = create_holdout(api, project_id)
    mutex_id = create_mutex(api, project_id, slots=[{"percentage": 50, "experiments": [member]},
                                                    {"percentage": 50, "holdouts": [holdout_id]}])
    # When
    response = api.patch(f"/api/1/mutexes/{mutex_id}", json={"archive": True, "name": "ignored"})
    # Then
    assert response.status_code == 200, response.text
    read = get(api, f"/api/1/mutexes/{mutex_id}")
    assert read["deleted"] is True and read["name"] == "Mutex"
    assert [s["experiments"] + s["holdouts"] for s in read["slots"]] == [[], []]
    assert get(api, f"/api/1/experiments/{member}")["parentDependencies"] is None
    assert get(api, f"/api/1/holdouts/{holdout_id}")["parentDependencies"] is None
    assert mutex_id not in [m["id"] for m in get(api, "/api/1/mutexes")["mutexes"]]
    assert mutex_id in [m["id"] for m in get(api, "/api/1/mutexes?includeArchived=true")["mutexes"]]
    assert_error(api.patch(f"/api/1/mutexes/{mutex_id}/slots/1", json={"individuals": ["u"]}), 400,
                 code="archived")


def test_list__newest_first_paged_by_cursor(api: httpx.Client, project_id: str) -> None:
    ids = [create_mutex(api, project_id) for _ in range(3)]
    first = get(api, "/api/1/mutexes?limit=2")
    second = get(api, f"/api/1/mutexes?limit=2&cursor={first['nextCursor']}")
    assert [m["id"] for m in first["mutexes"]] == ids[::-1][:2]
    assert second["mutexes"][0]["id"] == ids[0]
    assert all(set(m) == MUTEX_FIELDS and all(set(s) == SLOT_FIELDS for s in m["slots"])
               for m in first["mutexes"])


def test_list__limit_over_1000__is_capped(api: httpx.Client) -> None:
    assert api.get("/api/1/mutexes?limit=5000").status_code == 200


def test_get__unknown_or_other_kind__is_404(api: httpx.Client, project_id: str) -> None:
    holdout_id = create_holdout(api, project_id)
    assert_error(api.get("/api/1/mutexes/999999"), 404, code="mutex_not_found")
    assert_error(api.get(f"/api/1/mutexes/{holdout_id}"), 404)
    mutex_id = create_mutex(api, project_id)
    assert_error(api.get(f"/api/1/holdouts/{mutex_id}"), 404)
    assert_error(api.get(f"/api/1/flags/{mutex_id}"), 404)


def test_read_only_key__every_write_is_403(api: httpx.Client, read_only_api: httpx.Client, project_id: str) -> None:
    mutex_id = create_mutex(api, project_id)
    assert read_only_api.get(f"/api/1/mutexes/{mutex_id}").status_code == 200
    assert_error(read_only_api.post("/api/1/mutexes", json={"projectId": project_id, "name": "M",
                                                            "slots": [{"percentage": 100}]}), 403)
    assert_error(read_only_api.patch(f"/api/1/mutexes/{mutex_id}", json={"name": "x"}), 403)
    assert_error(read_only_api.patch(f"/api/1/mutexes/{mutex_id}/slots/1", json={"individuals": ["u"]}), 403)


def test_scoped_key__other_projects_mutexes_are_403(
    api: httpx.Client, other_project_api: httpx.Client, project_id: str
) -> None:
    mutex_id = create_mutex(api, project_id)
    assert_error(other_project_api.get(f"/api/1/mutexes/{mutex_id}"), 403)
    assert_error(other_project_api.patch(f"/api/1/mutexes/{mutex_id}", json={"name": "x"}), 403)
    assert_error(other_project_api.patch(f"/api/1/mutexes/{mutex_id}/slots/1", json={"individuals": ["u"]}), 403)
    assert mutex_id not in [m["id"] for m in get(other_project_api, "/api/1/mutexes")["mutexes"]]


def test_versions__slot_changes_in_api_versions(api: httpx.Client, project_id: str) -> None:
    # Given
    member = experiment(api, project_id)
    mutex_id = create_mutex(api, project_id)
    # When
    api.patch(f"/api/1/mutexes/{mutex_id}/slots/2", json={"experiments": [member]}).raise_for_status()
    # Then
    versions = get(api, "/api/1/versions?limit=3")["versions"]
    assert [(v["flagConfig"]["id"], v["version"]) for v in versions] == [
        (mutex_id, 2), (member, 2), (mutex_id, 1)]
    assert versions[0]["flagConfig"]["slots"][1]["experiments"] == [member]
    assert set(versions[0]["flagConfig"]) == MUTEX_FIELDS
