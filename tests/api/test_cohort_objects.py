"""/api/1/cohorts: cohorts owned by flagyard, their members in batches, keys and errors.

(test_cohorts.py covers a variant's cohort inclusions.)
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import assert_error

BATCH = 10_000


def create_cohort(api: httpx.Client, project_id: str, **fields: Any) -> str:
    response = api.post("/api/1/cohorts", json={"projectId": project_id, "name": "beta testers", **fields})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def get_cohort(api: httpx.Client, cohort_id: str) -> dict[str, Any]:
    response = api.get(f"/api/1/cohorts/{cohort_id}")
    assert response.status_code == 200, response.text
    return response.json()


# --- create and get ---------------------------------------------------------------------


def test_create__minimal_body__answers_id_and_url_and_get_shows_the_defaults(
    api: httpx.Client, project_id: str, server
) -> None:  # type: ignore[no-untyped-def]
    # When
    response = api.post("/api/1/cohorts", json={"projectId": project_id, "name": "  Beta testers "})
    # Then
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"id", "url"}
    assert body["id"].isalnum() and body["id"] == body["id"].lower()
    assert body["url"] == f"{server.base_url}/api/1/cohorts/{body['id']}"
    cohort = get_cohort(api, body["id"])
    assert cohort == {
        "id": body["id"], "projectId": project_id, "name": "Beta testers", "description": "",
        "groupType": "User", "size": 0, "archived": False,
        "lastModified": cohort["lastModified"], "lastModifiedAt": cohort["lastModifiedAt"],
        "createdAt": cohort["createdAt"], "createdBy": "admin@example.com",
        "lastModifiedBy": "admin@example.com",
    }
    assert isinstance(cohort["lastModified"], int) and cohort["lastModifiedAt"].endswith("Z")


def test_create__members_and_group_type__counts_distinct_members(api: httpx.Client, project_id: str) -> None:
    # When
    cohort_id = create_cohort(api, project_id, description="big accounts", groupType="org name",
                              memberIds=["acme", "globex", "acme"])
    # Then
    cohort = get_cohort(api, cohort_id)
    assert (cohort["groupType"], cohort["description"], cohort["size"]) == ("org name", "big accounts", 2)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x"}, "projectId"),
        ({"projectId": "abc", "name": "x"}, "projectId"),
        ({"projectId": "PROJECT"}, "name"),
        ({"projectId": "PROJECT", "name": "   "}, "name"),
        ({"projectId": "PROJECT", "name": 5}, "name"),
        ({"projectId": "PROJECT", "name": "x", "description": ["d"]}, "description"),
        ({"projectId": "PROJECT", "name": "x", "groupType": ""}, "groupType"),
        ({"projectId": "PROJECT", "name": "x", "groupType": " org"}, "groupType"),
        ({"projectId": "PROJECT", "name": "x", "memberIds": "u1"}, "memberIds"),
        ({"projectId": "PROJECT", "name": "x", "memberIds": ["u1", 7]}, "memberIds[1]"),
        ({"projectId": "PROJECT", "name": "x", "memberIds": [""]}, "memberIds[0]"),
        ({"projectId": "PROJECT", "name": "x", "memberIds": ["u"] * (BATCH + 1)}, "memberIds"),
        ({"projectId": "PROJECT", "name": "x", "colour": "red"}, "colour"),
    ],
)
def test_create__bad_field__400_naming_it_and_nothing_created(
    api: httpx.Client, project_id: str, body: dict[str, Any], field: str
) -> None:
    # Given
    if body.get("projectId") == "PROJECT":
        body = {**body, "projectId": project_id}
    before = api.get("/api/1/cohorts", params={"projectId": project_id}).json()["cohorts"]
    # When
    response = api.post("/api/1/cohorts", json=body)
    # Then
    assert_error(response, 400, field)
    assert api.get("/api/1/cohorts", params={"projectId": project_id}).json()["cohorts"] == before


def test_create__unknown_project__404(api: httpx.Client) -> None:
    assert_error(api.post("/api/1/cohorts", json={"projectId": "999999", "name": "x"}), 404, "project")


@pytest.mark.parametrize("cohort_id", ["nosuch12", "not an id", "a" * 40])
def test_get__unknown_id__404(api: httpx.Client, cohort_id: str) -> None:
    assert_error(api.get(f"/api/1/cohorts/{cohort_id}"), 404, "cohort")


# --- members ----------------------------------------------------------------------------


def test_members__add_remove_replace__size_and_last_modified_follow(api: httpx.Client, project_id: str) -> None:
    # Given
    cohort_id = create_cohort(api, project_id, memberIds=["u1", "u2"])
    stamps = [get_cohort(api, cohort_id)["lastModified"]]
    path = f"/api/1/cohorts/{cohort_id}/members"
    # When / Then: each answer is the cohort after the change
    added = api.post(path, json={"memberIds": ["u2", "u3", "u4"]})
    assert added.status_code == 200 and added.json()["size"] == 4
    stamps.append(added.json()["lastModified"])
    removed = api.request("DELETE", path, json={"memberIds": ["u1", "nobody"]})
    assert removed.status_code == 200 and removed.json()["size"] == 3
    stamps.append(removed.json()["lastModified"])
    replaced = api.put(path, json={"memberIds": ["v1", "v2", "v1"]})
    assert replaced.status_code == 200 and replaced.json()["size"] == 2
    stamps.append(replaced.json()["lastModified"])
    assert stamps == sorted(set(stamps))  # strictly increasing
    assert get_cohort(api, cohort_id)["size"] == 2


def test_members__nothing_changes__last_modified_stays(api: httpx.Client, project_id: str) -> None:
    # Given
    cohort_id = create_cohort(api, project_id, memberIds=["u1"])
    before = get_cohort(api, cohort_id)
    # When: adding a present id and removing an absent one
    api.post(f"/api/1/cohorts/{cohort_id}/members", json={"memberIds": ["u1"]}).raise_for_status()
    api.request("DELETE", f"/api/1/cohorts/{cohort_id}/members", json={"memberIds": ["x"]}).raise_for_status()
    # Then
    assert get_cohort(api, cohort_id) == before


def test_members__full_batch_of_10000__accepted(api: httpx.Client, project_id: str) -> None:
    # Given
    cohort_id = create_cohort(api, project_id)
    # When
    response = api.post(f"/api/1/cohorts/{cohort_id}/members",
                        json={"memberIds": [f"user-{i}" for i in range(BATCH)]})
    # Then
    assert response.status_code == 200, response.text
    assert response.json()["size"] == BATCH


@pytest.mark.parametrize("method", ["POST", "DELETE", "PUT"])
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"memberIds": [f"m{i}" for i in range(BATCH + 1)]}, "memberIds"),
        ({"memberIds": ["ok", None]}, "memberIds[1]"),
        ({"memberIds": ["x" * 1001]}, "memberIds[0]"),
        ({"memberIds": ["ok", "é" * 501]}, "memberIds[1]"),
        ({}, "memberIds"),
        ({"memberIds": ["a"], "extra": 1}, "extra"),
    ],
)
def test_members__bad_batch__400_naming_the_field_and_members_unchanged(
    api: httpx.Client, project_id: str, method: str, body: dict[str, Any], field: str
) -> None:
    # Given
    cohort_id = create_cohort(api, project_id, memberIds=["keep"])
    before = get_cohort(api, cohort_id)
    # When
    response = api.request(method, f"/api/1/cohorts/{cohort_id}/members", json=body)
    # Then
    assert_error(response, 400, field)
    assert get_cohort(api, cohort_id) == before


def test_members__too_many_ids__message_says_the_limit(api: httpx.Client, project_id: str) -> None:
    cohort_id = create_cohort(api, project_id)
    response = api.post(f"/api/1/cohorts/{cohort_id}/members",
                        json={"memberIds": [f"m{i}" for i in range(BATCH + 1)]})
    assert_error(response, 400, "memberIds", "10000")


@pytest.mark.parametrize("method", ["POST", "DELETE", "PUT"])
def test_members__unknown_cohort__404(api: httpx.Client, method: str) -> None:
    response = api.request(method, "/api/1/cohorts/nosuch12/members", json={"memberIds": ["u"]})
    assert_error(response, 404, "cohort")


# --- list, edit, archive ----------------------------------------------------------------


def test_list__limit_and_cursor__pages_newest_first_without_overlap(api: httpx.Client, server) -> None:  # type: ignore[no-untyped-def]
    # Given a project of its own with 5 cohorts
    project = server.create_project("cohort paging")
    made = [create_cohort(api, project, name=f"c{i}") for i in range(5)]
    # When
    first = api.get("/api/1/cohorts", params={"projectId": project, "limit": 2}).json()
    second = api.get("/api/1/cohorts", params={"projectId": project, "limit": 2,
                                               "cursor": first["nextCursor"]}).json()
    third = api.get("/api/1/cohorts", params={"projectId": project, "limit": 2,
                                              "cursor": second["nextCursor"]}).json()
    # Then
    shown = [c["id"] for page in (first, second, third) for c in page["cohorts"]]
    assert shown == list(reversed(made))
    assert "nextCursor" not in third
    assert {c["size"] for c in first["cohorts"]} == {0}


@pytest.mark.parametrize(("params", "field"), [({"limit": 0}, "limit"), ({"cursor": "x"}, "cursor"),
                                               ({"projectId": "one"}, "projectId")])
def test_list__bad_query__400_naming_it(api: httpx.Client, params: dict[str, Any], field: str) -> None:
    assert_error(api.get("/api/1/cohorts", params=params), 400, field)


def test_edit__name_and_description__changed(api: httpx.Client, project_id: str) -> None:
    # Given
    cohort_id = create_cohort(api, project_id)
    # When
    response = api.patch(f"/api/1/cohorts/{cohort_id}", json={"name": "VIPs", "description": "paying"})
    # Then
    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["description"]) == ("VIPs", "paying")
    assert get_cohort(api, cohort_id)["name"] == "VIPs"


@pytest.mark.parametrize(("body", "field"), [({}, "field"), ({"name": ""}, "name"),
                                             ({"archive": "yes"}, "archive"), ({"size": 3}, "size")])
def test_edit__bad_body__400_naming_it(api: httpx.Client, project_id: str, body: dict[str, Any],
                                       field: str) -> None:
    cohort_id = create_cohort(api, project_id)
    assert_error(api.patch(f"/api/1/cohorts/{cohort_id}", json=body), 400, field)


def test_archive__hidden_from_list_and_members_frozen_until_restored(api: httpx.Client, project_id: str) -> None:
    # Given
    cohort_id = create_cohort(api, project_id, memberIds=["u1"])
    # When
    archived = api.patch(f"/api/1/cohorts/{cohort_id}", json={"archive": True})
    # Then
    assert archived.status_code == 200 and archived.json()["archived"] is True
    listed = api.get("/api/1/cohorts", params={"projectId": project_id}).json()["cohorts"]
    assert cohort_id not in [c["id"] for c in listed]
    with_archived = api.get("/api/1/cohorts", params={"projectId": project_id, "includeArchived": "true"})
    assert cohort_id in [c["id"] for c in with_archived.json()["cohorts"]]
    refused = api.post(f"/api/1/cohorts/{cohort_id}/members", json={"memberIds": ["u2"]})
    assert_error(refused, 400, "archived")
    assert get_cohort(api, cohort_id)["size"] == 1
    # And restoring lets members change again
    api.patch(f"/api/1/cohorts/{cohort_id}", json={"archive": False}).raise_for_status()
    assert api.post(f"/api/1/cohorts/{cohort_id}/members", json={"memberIds": ["u2"]}).json()["size"] == 2


# --- keys -------------------------------------------------------------------------------


def test_read_only_key__reads_but_every_write_is_403(
    api: httpx.Client, read_only_api: httpx.Client, project_id: str
) -> None:
    # Given
    cohort_id = create_cohort(api, project_id, memberIds=["u1"])
    before = get_cohort(api, cohort_id)
    # When / Then
    assert read_only_api.get(f"/api/1/cohorts/{cohort_id}").json() == before
    assert read_only_api.get("/api/1/cohorts").status_code == 200
    for response in (
        read_only_api.post("/api/1/cohorts", json={"projectId": project_id, "name": "x"}),
        read_only_api.patch(f"/api/1/cohorts/{cohort_id}", json={"archive": True}),
        read_only_api.post(f"/api/1/cohorts/{cohort_id}/members", json={"memberIds": ["u2"]}),
        read_only_api.request("DELETE", f"/api/1/cohorts/{cohort_id}/members", json={"memberIds": ["u1"]}),
        read_only_api.put(f"/api/1/cohorts/{cohort_id}/members", json={"memberIds": []}),
    ):
        assert_error(response, 403, "read-only")
    assert get_cohort(api, cohort_id) == before


def test_project_scoped_key__other_projects_cohorts_are_403_and_unlisted(
    api: httpx.Client, other_project_api: httpx.Client, project_id: str, other_project_id: str
) -> None:
    # Given a cohort in the main project and one in the other project
    mine = create_cohort(api, project_id)
    theirs = create_cohort(other_project_api, other_project_id)
    # When / Then
    assert other_project_api.get(f"/api/1/cohorts/{theirs}").status_code == 200
    assert_error(other_project_api.get(f"/api/1/cohorts/{mine}"), 403, "access")
    assert_error(other_project_api.get("/api/1/cohorts/nosuch12"), 403, "access")
    assert_error(other_project_api.patch(f"/api/1/cohorts/{mine}", json={"name": "x"}), 403, "access")
    assert_error(other_project_api.post(f"/api/1/cohorts/{mine}/members", json={"memberIds": ["u"]}),
                 403, "access")
    assert_error(other_project_api.post("/api/1/cohorts", json={"projectId": project_id, "name": "x"}),
                 403, "project")
    assert_error(other_project_api.get("/api/1/cohorts", params={"projectId": project_id}), 403, "project")
    listed = other_project_api.get("/api/1/cohorts").json()["cohorts"]
    assert {c["projectId"] for c in listed} == {other_project_id}


def test_no_key__401(anonymous: httpx.Client) -> None:
    assert_error(anonymous.get("/api/1/cohorts"), 401, "Authorization")
