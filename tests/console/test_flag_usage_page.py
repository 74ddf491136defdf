"""Flag usage and staleness in the console. Flags made 40 days ago (their creation moved back in
the database): one evaluated by Amplitude's Python SDK just now, one never evaluated, one on
for everyone with a single variant. Over HTTP: the list's "candidates for removal" filter finds
each kind, a bad number of days is refused by its field, and each flag's page says what its
usage is, as GET /api/1/flags/{id}/usage does. In a real headless Chromium: the filter chosen
and applied with the keyboard, the pages checked with axe-core and photographed.
"""

from __future__ import annotations

import html
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from amplitude_experiment import RemoteEvaluationClient, RemoteEvaluationConfig, User
from playwright.sync_api import expect

from flagyard.store.tables import flags as flags_table
from tests.console.axe import serious_violations
from tests.console.browser import shoot, sign_in_page
from tests.console.conftest import Browserless, Person
from tests.factories import create_flag, get_ok
from tests.sdk.conftest import release
from tests.support.server import Server

MADE = datetime.now(UTC) - timedelta(days=40)


@pytest.fixture(scope="module")
def stale_project(server: Server, api: httpx.Client) -> dict[str, str]:
    project = server.create_project(f"usage-{uuid.uuid4().hex[:6]}")
    deployment = server.create_deployment(project, f"usage-web-{uuid.uuid4().hex[:4]}")
    linked = {"deployments": [deployment["id"]]}
    flags = {
        "used": create_flag(api, project, key=f"used-{uuid.uuid4().hex[:4]}", rolloutPercentage=40, **linked),
        "forgotten": create_flag(api, project, key=f"forgotten-{uuid.uuid4().hex[:4]}"),
        "everyone": create_flag(api, project, key=f"everyone-{uuid.uuid4().hex[:4]}", rolloutPercentage=100,
                                **linked),
    }
    for name in ("used", "everyone"):
        assert api.patch(f"/api/1/flags/{flags[name]}", json={"enabled": True}).status_code == 200
    engine = sa.create_engine(server.database_url)
    with engine.begin() as connection:
        connection.execute(sa.update(flags_table).where(flags_table.c.id.in_([int(i) for i in flags.values()]))
                           .values(created_at=MADE, last_modified_at=MADE))
    engine.dispose()
    client = RemoteEvaluationClient(deployment["key"], RemoteEvaluationConfig(server_url=server.base_url))
    try:
        assert client.fetch_v2(User(user_id="shopper-1"))
    finally:
        release(client)
    deadline = time.monotonic() + 20
    while get_ok(api, f"/api/1/flags/{flags['used']}/usage")["evaluations"] == 0:
        assert time.monotonic() < deadline, "the evaluation was never written"
        time.sleep(0.2)
    return {"project": project, **flags}


def listed(person: Browserless, project: str, **params: str) -> tuple[int, str]:
    response = person.client.get(f"/console/p/{project}/flags", params=params)
    return response.status_code, html.unescape(response.text)


def keys_in(page: str) -> set[str]:
    return set(re.findall(r'<td><a href="/console/flags/\d+">([^<]+)</a></td>', page))


def key_of(api: httpx.Client, flag_id: str) -> str:
    return str(get_ok(api, f"/api/1/flags/{flag_id}")["key"])


def usage_card(person: Browserless, flag_id: str) -> str:
    page = html.unescape(person.client.get(f"/console/flags/{flag_id}").text)
    found = re.search(r'<section class="card usage" aria-labelledby="h-usage" id="usage">(.*?)</section>', page, re.S)
    assert found, "the flag page has no Usage section"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1)))


def test_list__finds_unused_flags_and_flags_serving_everyone_one_variant(
        viewer: Browserless, api: httpx.Client, stale_project: dict[str, str]) -> None:
    project = stale_project["project"]
    keys = {name: key_of(api, stale_project[name]) for name in ("used", "forgotten", "everyone")}
    # Not evaluated for 30 days: the one never evaluated (the others were, just now)
    assert keys_in(listed(viewer, project, stale="unused", days="30")[1]) == {keys["forgotten"]}
    # One variant to everyone for 30 days: the flag on at 100 %
    assert keys_in(listed(viewer, project, stale="rolled-out", days="30")[1]) == {keys["everyone"]}
    # Nobody has been unchanged for 41 days
    assert keys_in(listed(viewer, project, stale="rolled-out", days="41")[1]) == set()
    # Without the filter, all three
    assert keys_in(listed(viewer, project)[1]) == set(keys.values())


@pytest.mark.parametrize("days", ["0", "366", "soon", "9" * 20])
def test_list__a_bad_number_of_days__is_refused_by_its_field(
        viewer: Browserless, stale_project: dict[str, str], days: str) -> None:
    status, page = listed(viewer, stale_project["project"], stale="unused", days=days)
    assert status == 400
    assert re.search(r'<p class="field-error" id="err-filters-days" role="alert">Days must be a whole number '
                     r'from 1 to 365</p>', page)
    assert len(keys_in(page)) == 3  # shown unfiltered beside the message


def test_flag_page__says_what_its_usage_is(viewer: Browserless, api: httpx.Client,
                                         stale_project: dict[str, str]) -> None:
    forgotten = usage_card(viewer, stale_project["forgotten"])
    assert "Never evaluated in the 40 days since it was made: a candidate for removal." in forgotten
    assert "No remote evaluation yet." in forgotten

    everyone = usage_card(viewer, stale_project["everyone"])
    assert "Everyone has got variant on for 40 days: a candidate for removal." in everyone

    used = usage_card(viewer, stale_project["used"])
    usage = get_ok(api, f"/api/1/flags/{stale_project['used']}/usage")
    [deployment] = usage["deployments"]
    assert "candidate for removal" not in used
    assert f"{usage['evaluations']} evaluation" in used and "in the last 30 days" in used
    assert f"{deployment['label']} {deployment['evaluations']}" in used


def test_browser__the_stale_filter_from_the_keyboard(
        browser: Any, server: Server, people: Callable[[str], Person], api: httpx.Client, shots: Path,
        stale_project: dict[str, str]) -> None:
    page = sign_in_page(browser, server, people("viewer"))
    page.goto(f"/console/p/{stale_project['project']}/flags")
    select = page.get_by_label("Candidates for removal")
    select.focus()
    page.keyboard.press("ArrowDown")  # Any → Not evaluated for
    expect(select).to_have_value("unused")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Days")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("30")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"stale=unused"))
    expect(page.locator("table.list tbody tr")).to_have_count(1)
    expect(page.locator("table.list tbody")).to_contain_text(key_of(api, stale_project["forgotten"]))
    shoot(page, shots, "flags-stale-filter")
    assert serious_violations(page) == []

    page.locator("table.list tbody a").first.click()
    expect(page.locator("#usage .notice.stale")).to_contain_text("a candidate for removal")
    page.locator("#usage").scroll_into_view_if_needed()
    shoot(page, shots, "flag-usage")
    assert serious_violations(page) == []
    page.context.close()
