"""Scheduled changes and ramps through the API: what is accepted, what is refused (400 naming the
field, nothing stored), who may, listing and cancelling. Firing is in test_schedule_firing.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.factories import assert_error, create_flag, create_linked

# Far enough ahead that the shared server's scheduler never applies what these tests make.
LATER = timedelta(days=1)


def at(offset: timedelta = LATER) -> str:
    return (datetime.now(UTC) + offset).isoformat()


def schedules_of(api: httpx.Client, kind: str, flag_id: str) -> list[dict[str, Any]]:
    answer = api.get(f"/api/1/{kind}/{flag_id}/schedules")
    assert answer.status_code == 200, answer.text
    return list(answer.json())


@pytest.fixture
def item(api: httpx.Client, project_id: str, deployment: dict[str, str], kind: str) -> str:
    return create_linked(api, project_id, deployment["id"], kind)


def test_schedule__a_change__stored_pending_with_its_patch(api: httpx.Client, kind: str, item: str) -> None:
    # When
    when = datetime.now(UTC).replace(microsecond=0) + LATER
    answer = api.post(f"/api/1/{kind}/{item}/schedules", json={
        "at": when.isoformat().replace("+00:00", "Z"), "name": "go live",
        "patch": {"enabled": True, "rolloutPercentage": 30}})
    # Then the schedule document
    assert answer.status_code == 200, answer.text
    schedule = answer.json()
    assert schedule["flagId"] == item and schedule["kind"] == "change" and schedule["state"] == "pending"
    assert schedule["name"] == "go live" and schedule["createdBy"] == "admin@example.com"
    assert schedule["steps"] == [{
        "at": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "patch": {"enabled": True, "rolloutPercentage": 30},
        "state": "pending", "appliedAt": None, "version": None, "late": False, "error": None}]
    # And it reads back, one by one and in the list; the flag itself is untouched
    assert api.get(f"/api/1/{kind}/{item}/schedules/{schedule['id']}").json() == schedule
    assert schedules_of(api, kind, item) == [schedule]
    assert api.get(f"/api/1/{kind}/{item}").json()["version"] == 1


def test_schedule__a_ramp__one_step_per_percentage_listed_newest_first(api: httpx.Client, kind: str,
                                                                       item: str) -> None:
    first = api.post(f"/api/1/{kind}/{item}/schedules", json={"at": at(), "patch": {"enabled": True}}).json()
    # When
    answer = api.post(f"/api/1/{kind}/{item}/schedules", json={"ramp": [
        {"at": at(LATER), "rolloutPercentage": 5},
        {"at": at(LATER + timedelta(hours=1)), "rolloutPercentage": 25},
        {"at": at(LATER + timedelta(hours=2)), "rolloutPercentage": 100}]})
    # Then
    assert answer.status_code == 200, answer.text
    ramp = answer.json()
    assert ramp["kind"] == "ramp" and ramp["name"] is None
    assert [step["patch"] for step in ramp["steps"]] == [{"rolloutPercentage": p} for p in (5, 25, 100)]
    assert [s["id"] for s in schedules_of(api, kind, item)] == [ramp["id"], first["id"]]


TOMORROW = "2099-01-01T00:00:00Z"


@pytest.mark.parametrize(("body", "words"), [
    ({"patch": {"enabled": True}}, ("at",)),
    ({"at": "tomorrow", "patch": {"enabled": True}}, ("at", "ISO 8601")),
    ({"at": "2099-01-01T00:00:00", "patch": {"enabled": True}}, ("at", "timezone")),
    ({"at": 4102444800, "patch": {"enabled": True}}, ("at",)),
    ({"at": "2001-01-01T00:00:00Z", "patch": {"enabled": True}}, ("at", "future")),
    ({"at": TOMORROW}, ("patch",)),
    ({"at": TOMORROW, "patch": {}}, ("patch",)),
    ({"at": TOMORROW, "patch": {"rolloutPercentage": 150}}, ("patch.rolloutPercentage",)),
    ({"at": TOMORROW, "patch": {"colour": "blue"}}, ("patch.colour",)),
    ({"at": TOMORROW, "patch": {"enabled": "yes"}}, ("patch.enabled",)),
    ({"at": TOMORROW, "patch": {"rolloutPercentage": 5}, "ramp": [{"at": TOMORROW, "rolloutPercentage": 5}]},
     ("ramp",)),
    ({"ramp": []}, ("ramp",)),
    ({"ramp": [{"at": TOMORROW, "rolloutPercentage": 101}]}, ("ramp[0].rolloutPercentage",)),
    ({"ramp": [{"at": TOMORROW, "rolloutPercentage": -1}]}, ("ramp[0].rolloutPercentage",)),
    ({"ramp": [{"at": TOMORROW}]}, ("ramp[0].rolloutPercentage",)),
    ({"ramp": [{"at": "2099-01-02T00:00:00Z", "rolloutPercentage": 5},
               {"at": TOMORROW, "rolloutPercentage": 10}]}, ("ramp[1].at", "later")),
    ({"ramp": [{"at": TOMORROW, "rolloutPercentage": 5}, {"at": TOMORROW, "rolloutPercentage": 10}]},
     ("ramp[1].at",)),
    ({"ramp": [{"at": "2001-01-01T00:00:00+02:00", "rolloutPercentage": 5}]}, ("ramp[0].at", "future")),
    ({"at": "9999-12-31T23:59:59-01:00", "patch": {"enabled": True}}, ("at",)),
])
def test_schedule__bad_body__400_naming_the_field_and_nothing_stored(
    api: httpx.Client, kind: str, item: str, body: dict[str, Any], words: tuple[str, ...]
) -> None:
    assert_error(api.post(f"/api/1/{kind}/{item}/schedules", json=body), 400, *words)
    assert schedules_of(api, kind, item) == []


def test_schedule__a_patch_the_flag_refuses_now__400_naming_the_field_and_nothing_stored(
    api: httpx.Client, project_id: str, deployment: dict[str, str]
) -> None:
    # Given an experiment with the default variants, and a flag on no deployment
    experiment = create_linked(api, project_id, deployment["id"], "experiments")
    undeployed = create_flag(api, project_id, "flags")
    # Then a variant it does not have cannot be scheduled for roll-out
    assert_error(api.post(f"/api/1/experiments/{experiment}/schedules", json={
        "at": TOMORROW, "patch": {"rolledOutVariant": "purple"}}), 400, "patch.rolledOutVariant", "purple",
        code="unknown_variant")
    # nor a segment naming an unknown variant, nor enabling a flag no deployment serves
    assert_error(api.post(f"/api/1/experiments/{experiment}/schedules", json={"at": TOMORROW, "patch": {
        "targetSegments": [{"conditions": [], "percentage": 50, "rolloutWeights": {"purple": 1}}]}}),
        400, "patch.targetSegments[0].rolloutWeights")
    assert_error(api.post(f"/api/1/flags/{undeployed}/schedules", json={"at": TOMORROW, "patch": {"enabled": True}}),
                 400, "patch.enabled", "deployments")
    # and an experiment-only field is not a flag's
    assert_error(api.post(f"/api/1/flags/{undeployed}/schedules", json={
        "at": TOMORROW, "patch": {"rolledOutVariant": "on"}}), 400, "patch.rolledOutVariant")
    assert schedules_of(api, "experiments", experiment) == []
    assert schedules_of(api, "flags", undeployed) == []


def test_schedule__an_archived_flag__refused_but_its_unarchiving_may_be_scheduled(
    api: httpx.Client, project_id: str
) -> None:
    flag_id = create_flag(api, project_id, "flags")
    assert api.patch(f"/api/1/flags/{flag_id}", json={"archive": True}).status_code == 200
    assert_error(api.post(f"/api/1/flags/{flag_id}/schedules", json={"at": TOMORROW, "patch": {"rolloutPercentage": 5}}),
                 400, "patch", "archived")
    answer = api.post(f"/api/1/flags/{flag_id}/schedules", json={"at": TOMORROW, "patch": {"archive": False}})
    assert answer.status_code == 200, answer.text


def test_schedule__more_than_100_pending__refused(api: httpx.Client, project_id: str) -> None:
    flag_id = create_flag(api, project_id, "flags")
    for n in range(100):
        made = api.post(f"/api/1/flags/{flag_id}/schedules",
                        json={"at": at(LATER + timedelta(minutes=n)), "patch": {"rolloutPercentage": n}})
        assert made.status_code == 200, made.text
    assert_error(api.post(f"/api/1/flags/{flag_id}/schedules", json={"at": at(), "patch": {"rolloutPercentage": 1}}),
                 400, "schedules", "100", code="too_many_schedules")
    # Cancelling one makes room
    newest = schedules_of(api, "flags", flag_id)[0]["id"]
    assert api.delete(f"/api/1/flags/{flag_id}/schedules/{newest}").status_code == 200
    assert api.post(f"/api/1/flags/{flag_id}/schedules",
                    json={"at": at(), "patch": {"rolloutPercentage": 1}}).status_code == 200


def test_cancel__pending_steps_cancelled_then_409_once_finished(api: httpx.Client, kind: str, item: str) -> None:
    made = api.post(f"/api/1/{kind}/{item}/schedules", json={"ramp": [
        {"at": at(), "rolloutPercentage": 10}, {"at": at(LATER * 2), "rolloutPercentage": 20}]}).json()
    # When
    answer = api.delete(f"/api/1/{kind}/{item}/schedules/{made['id']}")
    # Then
    assert answer.status_code == 200, answer.text
    cancelled = answer.json()
    assert cancelled["state"] == "cancelled" and cancelled["cancelledAt"] is not None
    assert [step["state"] for step in cancelled["steps"]] == ["cancelled", "cancelled"]
    assert api.get(f"/api/1/{kind}/{item}/schedules/{made['id']}").json() == cancelled
    # And cancelling what has finished is a conflict
    assert_error(api.delete(f"/api/1/{kind}/{item}/schedules/{made['id']}"), 409, code="schedule_finished")
    assert api.get(f"/api/1/{kind}/{item}").json()["version"] == 1


def test_schedules__read_only_key__reads_but_may_not_schedule_or_cancel(
    api: httpx.Client, read_only_api: httpx.Client, kind: str, item: str
) -> None:
    made = api.post(f"/api/1/{kind}/{item}/schedules", json={"at": at(), "patch": {"enabled": True}}).json()
    assert_error(read_only_api.post(f"/api/1/{kind}/{item}/schedules", json={"at": at(), "patch": {"enabled": True}}),
                 403)
    assert_error(read_only_api.delete(f"/api/1/{kind}/{item}/schedules/{made['id']}"), 403)
    assert read_only_api.get(f"/api/1/{kind}/{item}/schedules").json() == [made]
    assert schedules_of(api, kind, item) == [made]


def test_schedules__key_of_another_project__403_as_on_the_flag(
    api: httpx.Client, other_project_api: httpx.Client, kind: str, item: str
) -> None:
    made = api.post(f"/api/1/{kind}/{item}/schedules", json={"at": at(), "patch": {"enabled": True}}).json()
    base = f"/api/1/{kind}/{item}"
    assert other_project_api.get(base).status_code == 403
    assert_error(other_project_api.get(f"{base}/schedules"), 403)
    assert_error(other_project_api.get(f"{base}/schedules/{made['id']}"), 403)
    assert_error(other_project_api.post(f"{base}/schedules", json={"at": at(), "patch": {"enabled": True}}), 403)
    assert_error(other_project_api.delete(f"{base}/schedules/{made['id']}"), 403)
    assert schedules_of(api, kind, item) == [made]


def test_schedules__unknown_ids_or_the_other_kind__404(api: httpx.Client, project_id: str, item: str,
                                                       kind: str) -> None:
    made = api.post(f"/api/1/{kind}/{item}/schedules", json={"at": at(), "patch": {"enabled": True}}).json()
    other_kind = "experiments" if kind == "flags" else "flags"
    assert_error(api.get(f"/api/1/{other_kind}/{item}/schedules"), 404)
    assert_error(api.get(f"/api/1/{kind}/{item}/schedules/999999"), 404, code="schedule_not_found")
    assert_error(api.get(f"/api/1/{kind}/{item}/schedules/abc"), 404)
    assert_error(api.post("/api/1/flags/999999/schedules", json={"at": at(), "patch": {"enabled": True}}), 404)
    # a schedule is read only under its own flag
    elsewhere = create_flag(api, project_id, kind)
    assert_error(api.get(f"/api/1/{kind}/{elsewhere}/schedules/{made['id']}"), 404)
    assert_error(api.delete(f"/api/1/{kind}/{elsewhere}/schedules/{made['id']}"), 404)


def test_schedules__documented_in_openapi(server: Any) -> None:
    schema = httpx.get(f"{server.base_url}/openapi.json").json()
    for plural in ("flags", "experiments"):
        collection = schema["paths"][f"/api/1/{plural}/{{id}}/schedules"]
        one = schema["paths"][f"/api/1/{plural}/{{id}}/schedules/{{scheduleId}}"]
        for operation in (collection["post"], collection["get"], one["get"], one["delete"]):
            assert operation["tags"] == ["Schedules"]
            assert operation["security"] == [{"managementKey": []}]
            assert {"200", "400", "403", "404"} <= set(operation["responses"])
        assert "409" in one["delete"]["responses"]
