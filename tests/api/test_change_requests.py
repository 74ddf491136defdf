"""Approvals: a change to a flag or experiment on a deployment that requires approval becomes a
change request (202), is approved by someone else, and is applied as one version naming author
and approver; stale requests are refused until rebased; keys made with --bypass-approvals write
directly, and the audit log says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.factories import assert_error, create_flag, create_linked, create_mutex, first_variant
from tests.support.server import Server


@pytest.fixture(scope="module")
def protected(api: httpx.Client, project_id: str) -> dict[str, Any]:
    created = api.post("/api/1/deployments", json={"projectId": project_id, "label": "guarded-production",
                                                  "requireApproval": True})
    assert created.status_code == 200, created.text
    return dict(api.get(f"/api/1/deployments/{created.json()['id']}").json())


@pytest.fixture(scope="module")
def automation_api(server: Server, make_client) -> httpx.Client:  # type: ignore[no-untyped-def]
    return make_client(server.create_key("flags-as-code", bypass_approvals=True))


@pytest.fixture
def item(api: httpx.Client, project_id: str, protected: dict[str, Any], kind: str) -> str:
    return create_linked(api, project_id, protected["id"], kind)


def opened(answer: httpx.Response) -> str:
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert "requires approval" in body["message"]
    return str(body["changeRequestId"])


def request_of(api: httpx.Client, request_id: str) -> dict[str, Any]:
    answer = api.get(f"/api/1/change-requests/{request_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def approved_and_applied(api: httpx.Client, reviewer: httpx.Client, request_id: str) -> dict[str, Any]:
    approval = reviewer.post(f"/api/1/change-requests/{request_id}/approve")
    assert approval.status_code == 200, approval.text
    applied = api.post(f"/api/1/change-requests/{request_id}/apply")
    assert applied.status_code == 200, applied.text
    return dict(applied.json())


def test_deployment__require_approval_set_at_creation_shown_and_edited(api: httpx.Client, project_id: str,
                                                                     protected: dict[str, Any]) -> None:
    assert protected["requireApproval"] is True
    plain = api.post("/api/1/deployments", json={"projectId": project_id, "label": "unguarded-dev"}).json()["id"]
    assert api.get(f"/api/1/deployments/{plain}").json()["requireApproval"] is False
    # When it is turned on and off again
    assert api.patch(f"/api/1/deployments/{plain}", json={"requireApproval": True}).status_code == 200
    assert api.get(f"/api/1/deployments/{plain}").json()["requireApproval"] is True
    assert api.patch(f"/api/1/deployments/{plain}", json={"requireApproval": False}).status_code == 200
    # Then it reads back off, and a value that is not a boolean is refused by name
    assert api.get(f"/api/1/deployments/{plain}").json()["requireApproval"] is False
    assert_error(api.patch(f"/api/1/deployments/{plain}", json={"requireApproval": "yes"}), 400, "requireApproval")


def test_edit__held_as_a_change_request__flag_untouched_until_approved_and_applied(
        api: httpx.Client, editor_api: httpx.Client, kind: str, item: str, protected: dict[str, Any]) -> None:
    before = api.get(f"/api/1/{kind}/{item}").json()
    # When the admin changes the rollout
    request_id = opened(api.patch(f"/api/1/{kind}/{item}", json={"rolloutPercentage": 35}))
    # Then nothing changed yet, and the request shows what it would change
    assert api.get(f"/api/1/{kind}/{item}").json() == before
    request = request_of(api, request_id)
    assert request["status"] == "open" and request["author"] == "admin@example.com"
    assert request["flagId"] == item and request["kind"] == kind[:-1] and request["baseVersion"] == 1
    assert request["deployments"] == [protected["label"]]
    assert request["diff"] == [{"path": "rolloutPercentage", "from": before["rolloutPercentage"], "to": 35}]
    # And the author cannot approve it
    assert_error(api.post(f"/api/1/change-requests/{request_id}/approve"), 403, "own", code="own_change_request")
    # When someone else approves it and the author applies it
    applied = approved_and_applied(api, editor_api, request_id)
    # Then one version naming both, with the change
    assert applied["status"] == "applied" and applied["reviewedBy"] == "editor@example.com"
    assert applied["appliedVersion"] == 2
    flag = api.get(f"/api/1/{kind}/{item}").json()
    assert flag["rolloutPercentage"] == 35 and flag["version"] == 2
    version = api.get(f"/api/1/{kind}/{item}/versions/2").json()
    assert version["createdBy"] == "admin@example.com" and version["approvedBy"] == "editor@example.com"
    assert version["changeRequestId"] == request_id
    assert [v["version"] for v in api.get(f"/api/1/{kind}/{item}/versions").json()] == [2, 1]


def test_every_kind_of_write_to_a_protected_flag_is_held(api: httpx.Client, kind: str, item: str,
                                                         protected: dict[str, Any]) -> None:
    variant = first_variant(kind)
    writes = [
        api.patch(f"/api/1/{kind}/{item}", json={"enabled": True}),
        api.post(f"/api/1/{kind}/{item}/variants", json={"key": "extra"}),
        api.patch(f"/api/1/{kind}/{item}/variants/{variant}", json={"name": "renamed"}),
        api.delete(f"/api/1/{kind}/{item}/deployments/{protected['id']}"),
        api.patch(f"/api/1/{kind}/{item}", json={"archive": True}),
    ]
    ids = [opened(answer) for answer in writes]
    # Then each is its own open request and the flag is still at version 1
    assert len(set(ids)) == len(ids)
    assert api.get(f"/api/1/{kind}/{item}").json()["version"] == 1
    listed = api.get("/api/1/change-requests", params={"flagId": item, "status": "open"}).json()
    assert [r["id"] for r in listed["changeRequests"]] == list(reversed(ids))


def test_restore_of_an_older_version__held(api: httpx.Client, editor_api: httpx.Client, kind: str,
                                           item: str) -> None:
    approved_and_applied(api, editor_api, opened(api.patch(f"/api/1/{kind}/{item}", json={"rolloutPercentage": 80})))
    request_id = opened(api.post(f"/api/1/{kind}/{item}/versions/1/restore"))
    assert request_of(api, request_id)["diff"][0]["path"] == "rolloutPercentage"
    assert api.get(f"/api/1/{kind}/{item}").json()["rolloutPercentage"] == 80


def test_archive_through_a_request__applied_archives(api: httpx.Client, editor_api: httpx.Client, kind: str,
                                                     item: str) -> None:
    request_id = opened(api.patch(f"/api/1/{kind}/{item}", json={"archive": True}))
    approved_and_applied(api, editor_api, request_id)
    assert api.get(f"/api/1/{kind}/{item}").json()["deleted"] is True


def test_apply__stale_request_refused_until_rebased(api: httpx.Client, editor_api: httpx.Client, kind: str,
                                                    item: str) -> None:
    first = opened(api.patch(f"/api/1/{kind}/{item}", json={"rolloutPercentage": 20}))
    second = opened(api.patch(f"/api/1/{kind}/{item}", json={"description": "from the second request"}))
    approved_and_applied(api, editor_api, first)
    assert editor_api.post(f"/api/1/change-requests/{second}/approve").status_code == 200
    # When the second is applied after the first moved the flag
    assert_error(api.post(f"/api/1/change-requests/{second}/apply"), 409, "rebase", code="stale_change_request")
    assert api.get(f"/api/1/{kind}/{item}").json()["version"] == 2
    # Then a rebase keeps its change on the current version, and asks for approval again
    rebased = api.post(f"/api/1/change-requests/{second}/rebase")
    assert rebased.status_code == 200, rebased.text
    assert rebased.json()["status"] == "open" and rebased.json()["baseVersion"] == 2
    assert rebased.json()["diff"] == [{"path": "description", "from": "", "to": "from the second request"}]
    assert_error(api.post(f"/api/1/change-requests/{second}/apply"), 409, "open", code="change_request_closed")
    approved_and_applied(api, editor_api, second)
    flag = api.get(f"/api/1/{kind}/{item}").json()
    assert flag["rolloutPercentage"] == 20 and flag["description"] == "from the second request"
    assert flag["version"] == 3


def test_rebase__the_same_field_changed_both_ways_is_a_conflict(api: httpx.Client, editor_api: httpx.Client,
                                                                kind: str, item: str) -> None:
    first = opened(api.patch(f"/api/1/{kind}/{item}", json={"rolloutPercentage": 10}))
    second = opened(api.patch(f"/api/1/{kind}/{item}", json={"rolloutPercentage": 90}))
    approved_and_applied(api, editor_api, first)
    assert_error(api.post(f"/api/1/change-requests/{second}/rebase"), 409, "rolloutPercentage",
                 code="rebase_conflict")
    assert request_of(api, second)["baseVersion"] == 1


def test_reject__closes_the_request__nothing_applied(api: httpx.Client, editor_api: httpx.Client, kind: str,
                                                    item: str) -> None:
    request_id = opened(api.patch(f"/api/1/{kind}/{item}", json={"rolloutPercentage": 60}))
    rejected = editor_api.post(f"/api/1/change-requests/{request_id}/reject", json={"comment": "not this week"})
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert [c["body"] for c in rejected.json()["comments"]] == ["not this week"]
    assert_error(api.post(f"/api/1/change-requests/{request_id}/apply"), 409, "rejected")
    assert_error(editor_api.post(f"/api/1/change-requests/{request_id}/approve"), 409, "rejected")
    assert api.get(f"/api/1/{kind}/{item}").json()["version"] == 1


def test_comments__kept_in_order__empty_refused(api: httpx.Client, editor_api: httpx.Client, kind: str,
                                               item: str) -> None:
    request_id = opened(api.patch(f"/api/1/{kind}/{item}", json={"rolloutPercentage": 5}))
    assert editor_api.post(f"/api/1/change-requests/{request_id}/comments", json={"body": "why 5?"}).status_code == 201
    assert api.post(f"/api/1/change-requests/{request_id}/comments", json={"body": "a canary"}).status_code == 201
    assert_error(api.post(f"/api/1/change-requests/{request_id}/comments", json={"body": "  "}), 400, "body")
    comments = request_of(api, request_id)["comments"]
    assert [(c["author"], c["body"]) for c in comments] == [("editor@example.com", "why 5?"),
                                                            ("admin@example.com", "a canary")]


def test_bypass_key__writes_directly__recorded_in_the_audit_log(api: httpx.Client, automation_api: httpx.Client,
                                                              kind: str, item: str) -> None:
    answer = automation_api.patch(f"/api/1/{kind}/{item}", json={"rolloutPercentage": 45})
    assert answer.status_code == 200, answer.text
    assert api.get(f"/api/1/{kind}/{item}").json()["rolloutPercentage"] == 45
    records = api.get("/api/1/audit", params={"actor": "flags-as-code", "action": "approval."}).json()["records"]
    assert any(r["subjectId"] == item and r["after"]["version"] == 2 for r in records)


def test_unprotected_deployment__writes_apply_at_once(api: httpx.Client, project_id: str,
                                                      deployment: dict[str, str], kind: str) -> None:
    flag = create_linked(api, project_id, deployment["id"], kind)
    assert api.patch(f"/api/1/{kind}/{flag}", json={"rolloutPercentage": 15}).status_code == 200


def test_linking_a_flag_to_a_protected_deployment_needs_approval(api: httpx.Client, editor_api: httpx.Client,
                                                                 project_id: str, protected: dict[str, Any],
                                                                 kind: str) -> None:
    flag = create_flag(api, project_id, kind)
    request_id = opened(api.post(f"/api/1/{kind}/{flag}/deployments", json={"deployments": [protected["id"]]}))
    assert api.get(f"/api/1/{kind}/{flag}").json()["deployments"] == []
    approved_and_applied(api, editor_api, request_id)
    assert api.get(f"/api/1/{kind}/{flag}").json()["deployments"] == [protected["id"]]


def test_inclusions_on_a_protected_flag__refused_with_the_way_out(api: httpx.Client, automation_api: httpx.Client,
                                                                  kind: str, item: str) -> None:
    path = f"/api/1/{kind}/{item}/variants/{first_variant(kind)}/users"
    assert_error(api.post(path, json={"inclusions": ["qa-1"]}), 409, "--bypass-approvals", code="approval_required")
    assert api.get(path).json() == []
    assert automation_api.post(path, json={"inclusions": ["qa-1"]}).status_code == 200


def test_group_change_to_a_protected_member__refused_naming_the_way_out(api: httpx.Client, project_id: str,
                                                                        protected: dict[str, Any]) -> None:
    experiment = create_linked(api, project_id, protected["id"], "experiments")
    mutex = create_mutex(api, project_id)
    answer = api.patch(f"/api/1/mutexes/{mutex}/slots/1", json={"experiments": [experiment]})
    assert_error(answer, 409, "approval", code="approval_required")
    assert api.get(f"/api/1/experiments/{experiment}").json()["version"] == 1


def test_schedule_on_a_protected_flag__approved_when_made_not_when_fired(
        api: httpx.Client, editor_api: httpx.Client, kind: str, item: str) -> None:
    at = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    request_id = opened(api.post(f"/api/1/{kind}/{item}/schedules", json={
        "at": at.isoformat(), "patch": {"rolloutPercentage": 70}}))
    assert api.get(f"/api/1/{kind}/{item}/schedules").json() == []
    request = request_of(api, request_id)
    assert request["type"] == "schedule"
    # When approved and applied
    applied = approved_and_applied(api, editor_api, request_id)
    # Then the schedule exists, made by the author, and the flag waits for its time
    schedules = api.get(f"/api/1/{kind}/{item}/schedules").json()
    assert [s["id"] for s in schedules] == [applied["scheduleId"]]
    assert schedules[0]["createdBy"] == "admin@example.com"
    assert schedules[0]["steps"][0]["patch"] == {"rolloutPercentage": 70}
    assert api.get(f"/api/1/{kind}/{item}").json()["version"] == 1


def test_reading_and_reviewing_needs_the_rights(read_only_api: httpx.Client, other_project_api: httpx.Client,
                                                api: httpx.Client, kind: str, item: str) -> None:
    request_id = opened(api.patch(f"/api/1/{kind}/{item}", json={"rolloutPercentage": 1}))
    assert read_only_api.get(f"/api/1/change-requests/{request_id}").status_code == 200
    assert_error(read_only_api.post(f"/api/1/change-requests/{request_id}/approve"), 403)
    assert_error(other_project_api.get(f"/api/1/change-requests/{request_id}"), 403)
    assert request_id not in [r["id"] for r in other_project_api.get("/api/1/change-requests").json()["changeRequests"]]
    assert_error(api.get("/api/1/change-requests/999999"), 404, code="change_request_not_found")
    assert api.get("/api/1/change-requests", params={"status": "pending"}).json() == {"changeRequests": []}
    assert_error(api.get("/api/1/change-requests", params={"flagId": "x"}), 400, "flagId")
