"""The console's audit log, for admins: over HTTP, a change made in the console or through the
API is found with who, what and before → after; the filters narrow the list, pages follow one
another, the download is the same records as JSON lines, viewers and editors are refused, and a
bad date is the service's message by its field with no records; in a real headless Chromium,
the page is filtered with the keyboard.

The screenshot goes to $FLAGYARD_SCREENSHOTS (or a temporary directory), as in test_browser.py,
for a person to look at.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from flagyard.api.console.audit import PAGE_SIZE
from tests.console.browser import sign_in_page
from tests.console.conftest import Browserless, Person
from tests.factories import create_flag
from tests.support.server import Server

PATCHES = PAGE_SIZE + 2  # with the flag's creation and a deployment: a second page of four


def record_ids(page: str) -> list[str]:
    return re.findall(r'<tr id="record-(\d+)">', page)


def row(page: str, record_id: str) -> str:
    """One record's row as a person reads it: the text, tags and extra spaces gone."""
    found = re.search(rf'<tr id="record-{record_id}">(.*?)</tr>', page, re.S)
    assert found, f"record {record_id} is not on the page"
    cells = re.sub(r"<[^>]+>", " ", found.group(1).replace("<wbr>", ""))
    return " ".join(html.unescape(cells).split()).replace(" :", ":")


def rows_linking_to(page: str, url: str) -> list[str]:
    return [row(page, r) for r in record_ids(page) if f'href="{url}"' in _row_html(page, r)]


def _row_html(page: str, record_id: str) -> str:
    found = re.search(rf'<tr id="record-{record_id}">(.*?)</tr>', page, re.S)
    return found.group(1) if found else ""


def actors(page: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", a)) for a in re.findall(r'<td class="actor">(.*?)</td>', page)]


def actions(page: str) -> list[str]:
    return re.findall(r'<td class="nowrap" title="([^"]*)">', page)


def next_url(page: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next">Next page</a>', page)
    return html.unescape(found.group(1)) if found else None


def field_error(page: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="err-audit-filters-{field}" role="alert">([^<]*)</p>', page)
    assert found, f"no error shown by {field}"
    return html.unescape(found.group(1))


def audit(session: Browserless, **params: str) -> httpx.Response:
    return session.client.get("/console/audit", params=params)


@pytest.fixture(scope="module")
def auditor(server: Server, project_id: str) -> dict[str, Any]:
    """A key of its own that made a flag, changed it PATCHES times, and made a deployment."""
    name = f"auditor-{uuid.uuid4().hex[:8]}@example.com"
    key = server.create_key(name)
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
        flag_id = create_flag(api, project_id)
        for percentage in range(1, PATCHES + 1):
            assert api.patch(f"/api/1/flags/{flag_id}", json={"rolloutPercentage": percentage}).status_code == 200
        label = f"audited-{uuid.uuid4().hex[:6]}"
        created = api.post("/api/1/deployments", json={"projectId": project_id, "label": label})
        assert created.status_code == 200, created.text
    return {"name": name, "flag": flag_id, "deployment": label, "records": PATCHES + 2}


# --- over HTTP ----------------------------------------------------------------------------------

def test_a_change_in_the_console_and_one_through_the_api__found_with_before_and_after(
        admin: Browserless, api: httpx.Client, project_id: str, deployment: dict[str, str]) -> None:
    # Given a flag made through the API, then enabled by an admin in the console
    flag_id = create_flag(api, project_id, deployments=[deployment["id"]])
    key = api.get(f"/api/1/flags/{flag_id}").json()["key"]
    enabled = admin.client.post(f"/console/flags/{flag_id}/enabled",
                                data={"csrf_token": admin.csrf, "enabled": "true"})
    assert enabled.status_code == 303, enabled.text

    # When the admin opens the audit log, narrowed to flags
    answer = audit(admin, action="flag.")
    assert answer.status_code == 200, answer.text
    page = answer.text

    # Then the console's change is the newest record: who, what, the flag by its key and link,
    # the project, the client and the change as before → after
    newest = row(page, record_ids(page)[0])
    assert newest.startswith(tuple("0123456789"))  # the time comes first
    assert f"{admin.person.email} flag updated flag {key} main 127.0.0.1 enabled: false → true" in newest
    assert f'<a href="/console/flags/{flag_id}">{key}</a>' in page
    # And the API's creation, by the key's name, shows the values it was made with
    [created] = [r for r in rows_linking_to(page, f"/console/flags/{flag_id}") if "flag created" in r]
    assert "admin@example.com flag created" in created and f'key: "{key}"' in created and "→" not in created
    # And the nav links to the page, marked as the current one
    assert '<a href="/console/audit" aria-current="page">Audit log</a>' in page


def test_the_actor_and_action_filters__narrow_the_list(admin: Browserless, auditor: dict[str, Any],
                                                       project_id: str) -> None:
    # Each actor's own records only (the admin's: signing in and making people, at least)
    assert set(actors(audit(admin, actor=auditor["name"]).text)) == {auditor["name"]}
    assert set(actors(audit(admin, actor=admin.person.email).text)) == {admin.person.email}
    assert actors(audit(admin, actor="nobody@example.com").text) == []
    deployments = audit(admin, actor=auditor["name"], action="deployment.").text
    assert actions(deployments) == ["deployment.created"]
    [made] = [row(deployments, r) for r in record_ids(deployments)]
    assert f"deployment created deployment {auditor['deployment']}" in made
    assert f'<a href="/console/p/{project_id}/deployments">{auditor["deployment"]}</a>' in deployments
    # The filters are shown again, so the next search starts from them
    assert f'value="{auditor["name"]}"' in deployments
    assert '<option value="deployment." selected>Deployments</option>' in deployments
    # And an action prefix matches every action of its kind, here without the actor
    assert {a.split(".")[0] for a in actions(audit(admin, action="flag.").text)} == {"flag"}


def test_paging_and_the_download__the_same_records_newest_first(admin: Browserless,
                                                                auditor: dict[str, Any]) -> None:
    # The first page holds PAGE_SIZE records and links to the next, which keeps the filter
    first = audit(admin, actor=auditor["name"]).text
    assert len(record_ids(first)) == PAGE_SIZE
    following = next_url(first)
    assert following and f"before={record_ids(first)[-1]}" in following and "actor=" in following
    second = admin.client.get(following).text
    assert len(record_ids(second)) == auditor["records"] - PAGE_SIZE and next_url(second) is None
    shown = record_ids(first) + record_ids(second)
    assert shown == sorted(shown, key=int, reverse=True)
    assert "flag updated" in row(second, record_ids(second)[1])
    assert "rolloutPercentage: 1 → 2" in row(second, record_ids(second)[1])

    # The download link carries the filter; its JSON lines are the page's records
    assert 'href="/console/audit/export?actor=' in first
    exported = admin.client.get("/console/audit/export", params={"actor": auditor["name"]})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    assert exported.headers["content-disposition"] == 'attachment; filename="flagyard-audit.jsonl"'
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert [r["id"] for r in lines] == shown
    assert [r["action"] for r in lines] == actions(first) + actions(second)
    assert {r["actor"] for r in lines} == {auditor["name"]}
    # as /api/1/audit/export has them
    patched = next(r for r in lines if r["action"] == "flag.updated")
    assert patched["before"] == {"rolloutPercentage": PATCHES - 1} and patched["after"] == {
        "rolloutPercentage": PATCHES}


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_viewers_and_editors__are_refused_and_not_shown_the_link(role: str, request: pytest.FixtureRequest) -> None:
    session: Browserless = request.getfixturevalue(role)
    for path in ("/console/audit", "/console/audit/export"):
        refused = session.client.get(path)
        assert refused.status_code == 403 and "only an admin may read the audit log" in refused.text
    assert 'href="/console/audit"' not in session.client.get("/console", follow_redirects=True).text


def test_a_bad_date__the_message_by_its_field_and_no_records(admin: Browserless) -> None:
    answer = audit(admin, start="yesterday")
    assert answer.status_code == 400
    assert field_error(answer.text, "start") == "start must be an ISO 8601 date or date-time"
    assert 'aria-invalid="true" aria-describedby="err-audit-filters-start"' in answer.text
    assert record_ids(answer.text) == [] and "No records: correct the filter above." in answer.text
    assert "/console/audit/export" not in answer.text
    # A range that ends before it starts is refused by the service, by the start
    backwards = audit(admin, start="2024-05-02", end="2024-04-30")
    assert field_error(backwards.text, "start") == "start must not be after end"
    # The download refuses it too, as an error page rather than a broken file
    refused = admin.client.get("/console/audit/export", params={"end": "tomorrow"})
    assert refused.status_code == 400 and "end must be an ISO 8601 date or date-time" in refused.text


def test_a_date_range__includes_its_last_day(admin: Browserless, auditor: dict[str, Any]) -> None:
    today = audit(admin, actor=auditor["name"]).text
    day = re.search(r'<time datetime="(\d{4}-\d{2}-\d{2})', today)
    assert day
    assert len(record_ids(audit(admin, actor=auditor["name"], start=day.group(1), end=day.group(1)).text)) == PAGE_SIZE
    assert record_ids(audit(admin, actor=auditor["name"], end="2000-01-01").text) == []


# --- in a browser -------------------------------------------------------------------------------







def test_in_a_browser__an_admin_filters_the_log_with_the_keyboard(
        browser: Any, server: Server, people: Callable[[str], Person], auditor: dict[str, Any],
        shots: Path) -> None:
    page = sign_in_page(browser, server, people("admin"))
    page.get_by_role("link", name="Audit log").click()
    page.wait_for_url("**/console/audit")
    table = page.get_by_role("table", name="Audit records, newest first")
    for header in ("Time (UTC)", "Who", "What", "Subject", "Project", "Client", "Change"):
        expect(table.get_by_role("columnheader", name=header)).to_be_visible()
    page.screenshot(path=shots / "audit-page.png")

    # Chooses deployments by typing in the select, goes back to the actor's field and sends with Enter
    page.get_by_label("What").focus()
    page.keyboard.type("Depl")
    expect(page.get_by_label("What")).to_have_value("deployment.")
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_label("Who (exact match)")).to_be_focused()
    page.keyboard.type(auditor["name"])
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"action=deployment\."))

    rows = table.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("deployment created")
    expect(rows.first.get_by_role("link", name=auditor["deployment"])).to_be_visible()
    expect(page.get_by_label("What")).to_have_value("deployment.")
    # The subject's link is reached with Tab, like every other link
    rows.first.get_by_role("link", name=auditor["deployment"]).focus()
    expect(rows.first.get_by_role("link", name=auditor["deployment"])).to_be_focused()
    page.context.close()
