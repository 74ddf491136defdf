"""A flag's schedules from its console page, over HTTP: schedule a change and a ramp, see them
listed with their steps, bad input refused next to its field with nothing stored, cancel."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import httpx

from tests.console.conftest import Browserless
from tests.factories import create_flag, create_linked


def form_time(offset: timedelta) -> str:
    """A time as a datetime-local input sends it: no offset (the page reads it as UTC)."""
    return (datetime.now(UTC) + offset).strftime("%Y-%m-%dT%H:%M:%S")


def field_error(page: str, form: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="err-{form}-{field}" role="alert">([^<]*)</p>', page)
    assert found, f"no error shown by {form}.{field}"
    return html.unescape(found.group(1))


def schedule_block(page: str, schedule_id: str) -> str:
    found = re.search(rf'<article class="schedule" data-schedule="{schedule_id}".*?</article>', page, re.S)
    assert found, f"schedule {schedule_id} is not listed"
    return found.group(0)


def test_flag_page__schedule_a_change_then_cancel_it(editor: Browserless, api: httpx.Client, project_id: str,
                                                     deployment: dict[str, str]) -> None:
    flag = create_linked(api, project_id, deployment["id"], "flags")
    at = form_time(timedelta(days=2))
    # When an editor schedules "enable at 30%" from the flag page
    answer = editor.client.post(f"/console/flags/{flag}/schedules", data={
        "csrf_token": editor.csrf, "at": at, "rolloutPercentage": "30", "enabled": "true", "name": "launch"})
    # Then it is stored as the API's schedule, by the editor, at that UTC time
    assert answer.status_code == 303, answer.text
    [schedule] = api.get(f"/api/1/flags/{flag}/schedules").json()
    assert schedule["name"] == "launch" and schedule["createdBy"] == editor.person.email
    assert schedule["steps"][0]["at"] == f"{at}.000Z"
    assert schedule["steps"][0]["patch"] == {"rolloutPercentage": 30, "enabled": True}
    # And the page lists it, pending, with what it changes and a cancel button
    page = editor.client.get(answer.headers["location"]).text
    block = schedule_block(page, schedule["id"])
    assert "launch" in block and 'data-step-state="pending"' in block
    assert "<code>rolloutPercentage</code> → <code>30</code>" in block and "<code>enabled</code> → <code>true</code>" in block
    assert f'action="/console/flags/{flag}/schedules/{schedule["id"]}/cancel"' in block
    # When they cancel it
    cancelled = editor.client.post(f"/console/flags/{flag}/schedules/{schedule['id']}/cancel",
                                   data={"csrf_token": editor.csrf})
    # Then it is cancelled, shown so, and no longer offers a cancel button
    assert cancelled.status_code == 303, cancelled.text
    assert api.get(f"/api/1/flags/{flag}/schedules/{schedule['id']}").json()["state"] == "cancelled"
    block = schedule_block(editor.client.get(f"/console/flags/{flag}").text, schedule["id"])
    assert 'data-step-state="cancelled"' in block and "/cancel" not in block
    # And cancelling again is the API's conflict, shown on the page
    again = editor.client.post(f"/console/flags/{flag}/schedules/{schedule['id']}/cancel",
                               data={"csrf_token": editor.csrf})
    assert again.status_code == 409 and "no pending step" in again.text
    assert api.get(f"/api/1/flags/{flag}").json()["version"] == 1


def test_experiment_page__schedule_a_ramp(editor: Browserless, api: httpx.Client, project_id: str,
                                          deployment: dict[str, str]) -> None:
    experiment = create_linked(api, project_id, deployment["id"], "experiments")
    answer = editor.client.post(f"/console/experiments/{experiment}/schedules/ramp", data={
        "csrf_token": editor.csrf,
        "at-0": form_time(timedelta(days=1)), "percentage-0": "10",
        "at-1": "", "percentage-1": "",
        "at-2": form_time(timedelta(days=2)), "percentage-2": "50"})
    assert answer.status_code == 303, answer.text
    [ramp] = api.get(f"/api/1/experiments/{experiment}/schedules").json()
    assert ramp["kind"] == "ramp" and [s["patch"] for s in ramp["steps"]] == [{"rolloutPercentage": 10},
                                                                             {"rolloutPercentage": 50}]
    block = schedule_block(editor.client.get(f"/console/experiments/{experiment}").text, ramp["id"])
    assert block.count('data-step-state="pending"') == 2


def test_flag_page__bad_schedule__the_services_message_next_to_the_field_and_nothing_stored(
    editor: Browserless, api: httpx.Client, project_id: str, deployment: dict[str, str]
) -> None:
    flag = create_linked(api, project_id, deployment["id"], "flags")
    undeployed = create_flag(api, project_id, "flags")
    url = f"/console/flags/{flag}/schedules"
    # a time in the past
    page = editor.client.post(url, data={"csrf_token": editor.csrf, "at": form_time(-timedelta(hours=1)),
                                         "rolloutPercentage": "30"})
    assert page.status_code == 400
    assert field_error(page.text, "schedule-change", "at") == "at must be in the future"
    # a percentage out of range
    page = editor.client.post(url, data={"csrf_token": editor.csrf, "at": form_time(timedelta(days=1)),
                                         "rolloutPercentage": "150"})
    assert page.status_code == 400
    assert "rolloutPercentage" in field_error(page.text, "schedule-change", "rolloutPercentage")
    # enabling what no deployment serves: the flag's own refusal, now
    page = editor.client.post(f"/console/flags/{undeployed}/schedules", data={
        "csrf_token": editor.csrf, "at": form_time(timedelta(days=1)), "enabled": "true"})
    assert page.status_code == 400
    assert "deployments" in field_error(page.text, "schedule-change", "enabled")
    # a ramp going back in time: named on the row that does
    page = editor.client.post(f"{url}/ramp", data={
        "csrf_token": editor.csrf, "at-0": form_time(timedelta(days=2)), "percentage-0": "10",
        "at-3": form_time(timedelta(days=1)), "percentage-3": "20"})
    assert page.status_code == 400
    assert field_error(page.text, "schedule-ramp", "at-3") == "ramp[1].at must be later than ramp[0].at"
    assert api.get(f"/api/1/flags/{flag}/schedules").json() == []
    assert api.get(f"/api/1/flags/{undeployed}/schedules").json() == []


def test_viewer__sees_schedules_but_no_schedule_forms(viewer: Browserless, api: httpx.Client, project_id: str,
                                                      deployment: dict[str, str]) -> None:
    flag = create_linked(api, project_id, deployment["id"], "flags")
    made = api.post(f"/api/1/flags/{flag}/schedules", json={
        "at": (datetime.now(UTC) + timedelta(days=1)).isoformat(), "patch": {"enabled": True}}).json()
    page = viewer.client.get(f"/console/flags/{flag}").text
    assert "/cancel" not in schedule_block(page, made["id"]) and "Schedule a change" not in page
    forged = viewer.client.post(f"/console/flags/{flag}/schedules/{made['id']}/cancel", data={"csrf_token": viewer.csrf})
    assert forged.status_code == 403
    assert api.get(f"/api/1/flags/{flag}/schedules/{made['id']}").json()["state"] == "pending"
