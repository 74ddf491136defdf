"""Holdouts and mutual exclusion groups from the console. Over HTTP: an editor creates both
kinds, adds and removes members and individuals, renames and archives, each change read back
from the API; bad input (a slot split that does not sum to 100, a member already elsewhere,
an id in two slots) is refused by its field with nothing stored; the experiment's page shows
its groups; a viewer reads only. In a real headless Chromium: a holdout and a mutex with
slots created and edited by an editor, the pages compared with the API's answers, and a
refused slot split.

Full-page screenshots at desktop width and at 390 px go to $FLAGYARD_SCREENSHOTS (or a
temporary directory), for a person to look at.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from playwright.sync_api import expect

from tests.console.browser import shoot, sign_in_page
from tests.console.conftest import Browserless, Person
from tests.factories import create_experiment, create_holdout, create_mutex, get_ok
from tests.support.server import Server


@pytest.fixture(scope="module")
def project(server: Server, project_id: str) -> str:
    """A project of this module's own, so its lists hold only the groups made here. Made after
    the session's shared project, which stays the first one, where signing in lands."""
    return server.create_project(f"groups-{uuid.uuid4().hex[:6]}")


def field_error(page: str, form: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="err-{form}-{field}" role="alert">([^<]*)</p>', page)
    assert found, f"no error shown by {form}.{field}"
    return html.unescape(found.group(1))


def id_in(url: str, plural: str) -> str:
    """The group id in a group page's URL (a redirect's location, or where the browser is)."""
    found = re.search(rf"/console/groups/{plural}/(\d+)", url)
    assert found, f"{url} is not a page of the {plural}"
    return found.group(1)


def after_header(page: str) -> str:
    return page.split("</header>", 1)[1]


def experiment(api: httpx.Client, project: str) -> dict[str, Any]:
    return dict(get_ok(api, f"/api/1/experiments/{create_experiment(api, project)}"))


def groups_of(api: httpx.Client, plural: str, project: str) -> list[dict[str, Any]]:
    listed = get_ok(api, f"/api/1/{plural}?includeArchived=true&limit=1000")[plural]
    return [group for group in listed if group["projectId"] == project]


def post(person: Browserless, path: str, **data: Any) -> httpx.Response:
    return person.client.post(path, data={"csrf_token": person.csrf, **data})


# --- the list and the create forms ------------------------------------------------------------

def test_list__both_kinds_of_the_project__linked__the_nav_entry_current(
        editor: Browserless, api: httpx.Client, project: str) -> None:
    holdout = create_holdout(api, project, name="Q3 holdout", holdoutPercentage=15)
    mutex = create_mutex(api, project, name="Checkout",
                         slots=[{"percentage": 40}, {"percentage": 35}, {"percentage": 25}])
    archived = create_holdout(api, project, name="Old holdout")
    api.patch(f"/api/1/holdouts/{archived}", json={"archive": True})

    page = editor.client.get(f"/console/p/{project}/groups")

    assert page.status_code == 200
    assert 'aria-current="page">Groups</a>' in page.text
    assert f'<a href="/console/groups/holdouts/{holdout}">Q3 holdout</a>' in page.text
    assert f'<a href="/console/groups/mutexes/{mutex}">Checkout</a>' in page.text
    assert "40% · 35% · 25%" in page.text and '<td class="num" data-label="Held out">15%</td>' in page.text
    # Archived groups are left out until asked for
    assert "Old holdout" not in page.text
    with_archived = editor.client.get(f"/console/p/{project}/groups?archived=yes").text
    assert "Old holdout" in with_archived and "archived</span>" in with_archived


def test_create_holdout__stored_as_the_api_shows(editor: Browserless, api: httpx.Client, project: str) -> None:
    answer = post(editor, f"/console/p/{project}/groups/holdouts", name="Launch holdout",
                  holdoutPercentage="20", description="all of Q4", evaluationMode="remote", key="", bucketingKey="")

    assert answer.status_code == 303
    holdout_id = id_in(answer.headers["location"], "holdouts")
    stored = get_ok(api, f"/api/1/holdouts/{holdout_id}")
    assert stored["name"] == "Launch holdout" and stored["holdoutPercentage"] == 20
    assert stored["description"] == "all of Q4" and stored["bucketingKey"] == "amplitude_id"
    assert stored["createdBy"] == editor.person.email and re.fullmatch(r"holdout-[a-z]{8}", stored["key"])
    shown = editor.client.get(answer.headers["location"]).text
    assert "Holdout Launch holdout created" in shown
    assert "Held out: 20%</strong> of users see none of the experiments" in shown
    assert "Not held out: 80%</strong> of users may see the experiments" in shown


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"holdoutPercentage": "100"}, "holdoutPercentage", "holdoutPercentage is too large"),
    ({"holdoutPercentage": "ten"}, "holdoutPercentage", "holdoutPercentage must be an integer"),
    ({"name": ""}, "name", "name has too few items"),
    ({"key": "has space"}, "key", "key"),
])
def test_create_holdout__bad_input__by_its_field__nothing_stored(
        editor: Browserless, api: httpx.Client, project: str, fields: dict[str, str], field: str,
        message: str) -> None:
    before = groups_of(api, "holdouts", project)
    typed = {"name": "refused", "holdoutPercentage": "10", "description": "kept", **fields}

    answer = post(editor, f"/console/p/{project}/groups/holdouts", **typed)

    assert answer.status_code == 400
    assert message in field_error(answer.text, "holdout-new", field)
    assert groups_of(api, "holdouts", project) == before
    assert '<details id="holdout-new" open>' in answer.text and 'value="kept"' in answer.text


def test_create_mutex__slots_in_order__as_the_api_shows(editor: Browserless, api: httpx.Client,
                                                        project: str) -> None:
    answer = post(editor, f"/console/p/{project}/groups/mutexes", name="Search page", rows="4",
                  **{"percentage-0": "10", "percentage-1": "", "percentage-2": "70", "percentage-3": "20"})

    assert answer.status_code == 303
    mutex_id = id_in(answer.headers["location"], "mutexes")
    stored = get_ok(api, f"/api/1/mutexes/{mutex_id}")
    # The empty row is left out; the others are slots 1, 2, 3 in the order typed
    assert [(s["index"], s["percentage"]) for s in stored["slots"]] == [(1, 10), (2, 70), (3, 20)]
    assert stored["name"] == "Search page" and stored["createdBy"] == editor.person.email


@pytest.mark.parametrize(("percentages", "field", "message"), [
    (["60", "30"], "slots", "slots percentages must sum to 100, not 90"),
    (["60", "30", "20"], "slots", "slots percentages must sum to 100, not 110"),
    (["100", "0"], "percentage-1", "slots[1].percentage is too small"),
    (["", "half"], "percentage-1", "slots[0].percentage must be an integer"),
    (["", ""], "slots", "slots has too few items"),
])
def test_create_mutex__a_refused_split__by_its_field__nothing_stored(
        editor: Browserless, api: httpx.Client, project: str, percentages: list[str], field: str,
        message: str) -> None:
    before = groups_of(api, "mutexes", project)
    rows = {f"percentage-{row}": value for row, value in enumerate(percentages)}

    answer = post(editor, f"/console/p/{project}/groups/mutexes", name="refused split", rows=str(len(rows)), **rows)

    assert answer.status_code == 400
    assert message in field_error(answer.text, "mutex-new", field)
    assert groups_of(api, "mutexes", project) == before
    # What was typed is there to be corrected
    assert '<details id="mutex-new" open>' in answer.text and 'value="refused split"' in answer.text
    for row, value in enumerate(percentages):
        assert re.search(rf'name="percentage-{row}" inputmode="numeric" size="4" value="{value}"', answer.text)


def test_add_a_slot__the_form_again_with_one_more_row__nothing_stored(
        editor: Browserless, api: httpx.Client, project: str) -> None:
    before = groups_of(api, "mutexes", project)

    answer = post(editor, f"/console/p/{project}/groups/mutexes", name="growing", rows="2", add_slot="1",
                  **{"percentage-0": "33", "percentage-1": "33"})

    assert answer.status_code == 200
    assert groups_of(api, "mutexes", project) == before
    assert 'name="rows" value="3"' in answer.text
    assert 'id="m-percentage-2" name="percentage-2" inputmode="numeric" size="4" value="" autofocus' in answer.text
    assert 'value="growing"' in answer.text and 'name="percentage-1" inputmode="numeric" size="4" value="33"' in answer.text


# --- a holdout's page ---------------------------------------------------------------------------

def test_holdout__experiments_added_and_removed__individuals__as_the_api_shows(
        editor: Browserless, api: httpx.Client, project: str) -> None:
    a, b = experiment(api, project), experiment(api, project)
    holdout = create_holdout(api, project, name="H", holdoutPercentage=10)
    base = f"/console/groups/holdouts/{holdout}"
    page = editor.client.get(base).text
    # Both experiments are offered; neither is in the holdout yet
    assert f'<option value="{a["id"]}"' in page and f'<option value="{b["id"]}"' in page

    added = post(editor, f"{base}/experiments", member=a["id"])
    assert added.status_code == 303 and f"Experiment {a['key']} added" in unquote(added.headers["location"])
    post(editor, f"{base}/experiments", member=b["id"])
    assert get_ok(api, f"/api/1/holdouts/{holdout}")["experiments"] == [a["id"], b["id"]]
    assert get_ok(api, f"/api/1/experiments/{a['id']}")["parentDependencies"]["flags"] == {holdout: ["on"]}
    page = editor.client.get(base).text
    assert f'<a href="/console/experiments/{a["id"]}">' in page
    assert f"each deciding as usual: {a['key']}, {b['key']}" in page
    assert f'<option value="{a["id"]}"' not in page  # no longer offered

    removed = post(editor, f"{base}/experiments/{a['id']}/remove")
    assert removed.status_code == 303
    assert get_ok(api, f"/api/1/holdouts/{holdout}")["experiments"] == [b["id"]]
    assert get_ok(api, f"/api/1/experiments/{a['id']}")["parentDependencies"] is None

    saved = post(editor, f"{base}/individuals", individualInclusion="tester@example.com\nqa-1, qa-2",
                 individualExclusion="ceo@example.com")
    assert saved.status_code == 303
    stored = get_ok(api, f"/api/1/holdouts/{holdout}")
    assert stored["individualInclusion"] == ["tester@example.com", "qa-1", "qa-2"]
    assert stored["individualExclusion"] == ["ceo@example.com"]


def test_holdout__refusals_by_their_field__nothing_changed(editor: Browserless, api: httpx.Client,
                                                           project: str) -> None:
    a = experiment(api, project)
    first = create_holdout(api, project, name="first", experiments=[a["id"]])
    second = create_holdout(api, project, name="second", individualInclusion=["u-1"])
    before = get_ok(api, f"/api/1/holdouts/{second}")

    # An experiment already in another holdout
    taken = post(editor, f"/console/groups/holdouts/{second}/experiments", member=a["id"])
    assert taken.status_code == 400
    assert f"is already in holdout {first}" in field_error(taken.text, "experiments", "experiments")
    # An id both always and never held out: the message by the second list, the lists as typed
    both = post(editor, f"/console/groups/holdouts/{second}/individuals", individualInclusion="u-1\nu-2",
                individualExclusion="u-2")
    assert both.status_code == 400
    assert "individualExclusion repeats ids of individualInclusion: u-2" in field_error(
        both.text, "individuals", "individualExclusion")
    assert ">u-1\nu-2</textarea>" in both.text
    # An empty name
    nameless = post(editor, f"/console/groups/holdouts/{second}/settings", name="", description="x")
    assert nameless.status_code == 400 and "name has too few items" in field_error(nameless.text, "settings", "name")
    assert get_ok(api, f"/api/1/holdouts/{second}") == before


def test_settings_archive_and_unarchive(editor: Browserless, api: httpx.Client, project: str) -> None:
    a = experiment(api, project)
    holdout = create_holdout(api, project, name="to archive", experiments=[a["id"]])
    base = f"/console/groups/holdouts/{holdout}"

    renamed = post(editor, f"{base}/settings", name="renamed", description="why it exists")
    assert renamed.status_code == 303
    stored = get_ok(api, f"/api/1/holdouts/{holdout}")
    assert (stored["name"], stored["description"]) == ("renamed", "why it exists")

    archived = post(editor, f"{base}/archive", archive="true")
    assert archived.status_code == 303
    stored = get_ok(api, f"/api/1/holdouts/{holdout}")
    assert stored["deleted"] is True and stored["experiments"] == []
    assert get_ok(api, f"/api/1/experiments/{a['id']}")["parentDependencies"] is None
    page = editor.client.get(base).text
    assert "archived</span>" in page and "Unarchive holdout" in page and 'name="member"' not in page

    assert post(editor, f"{base}/archive", archive="false").status_code == 303
    assert get_ok(api, f"/api/1/holdouts/{holdout}")["deleted"] is False


# --- a mutex's page -----------------------------------------------------------------------------

def test_mutex__slot_members_and_individuals__as_the_api_shows(editor: Browserless, api: httpx.Client,
                                                               project: str) -> None:
    a, b = experiment(api, project), experiment(api, project)
    inner = create_holdout(api, project, name="inner holdout")
    mutex = create_mutex(api, project, name="M", slots=[{"percentage": 30}, {"percentage": 70}])
    base = f"/console/groups/mutexes/{mutex}/slots"

    assert post(editor, f"{base}/1/experiments", member=a["id"]).status_code == 303
    assert post(editor, f"{base}/2/experiments", member=b["id"]).status_code == 303
    assert post(editor, f"{base}/2/holdouts", member=inner).status_code == 303
    assert post(editor, f"{base}/1/individuals", individuals="vip-1\nvip-2").status_code == 303
    stored = get_ok(api, f"/api/1/mutexes/{mutex}")
    assert [(s["experiments"], s["holdouts"], s["individuals"]) for s in stored["slots"]] == [
        ([a["id"]], [], ["vip-1", "vip-2"]), ([b["id"]], [inner], [])]
    assert get_ok(api, f"/api/1/experiments/{b['id']}")["parentDependencies"]["flags"] == {mutex: ["slot-2"]}

    page = editor.client.get(f"/console/groups/mutexes/{mutex}").text
    # The bar's text equivalent says who lands where
    words = re.search(r'class="split-bar" role="img" aria-label="([^"]+)"', page)
    assert words, "the bar has no text equivalent"
    assert html.unescape(words.group(1)) == (
        f"Users of mutual exclusion group M. Slot 1: 30% of users may see {a['key']}, and no other "
        f"experiment of the group; Slot 2: 70% of users may see {b['key']}, the experiments of holdout "
        f"{get_ok(api, f'/api/1/holdouts/{inner}')['key']}, and no other experiment of the group")
    assert 'style="flex: 30 1 0; background: #1d4ed8"' in page and 'style="flex: 70 1 0; background: #15803d"' in page

    assert post(editor, f"{base}/2/holdouts/{inner}/remove").status_code == 303
    assert post(editor, f"{base}/1/experiments/{a['id']}/remove").status_code == 303
    stored = get_ok(api, f"/api/1/mutexes/{mutex}")
    assert [(s["experiments"], s["holdouts"]) for s in stored["slots"]] == [([], []), ([b["id"]], [])]


def test_mutex__refusals_by_their_field__nothing_changed(editor: Browserless, api: httpx.Client,
                                                         project: str) -> None:
    a = experiment(api, project)
    mutex = create_mutex(api, project, name="M", slots=[
        {"percentage": 50, "experiments": [a["id"]], "individuals": ["vip"]}, {"percentage": 50}])
    before = get_ok(api, f"/api/1/mutexes/{mutex}")
    base = f"/console/groups/mutexes/{mutex}/slots"

    # The experiment of slot 1 into slot 2
    moved = post(editor, f"{base}/2/experiments", member=a["id"])
    assert moved.status_code == 400
    assert "is already in slot-1 of this mutex; remove it there first" in field_error(
        moved.text, "slot-2", "experiments")
    # An id placed by hand in two slots
    twice = post(editor, f"{base}/2/individuals", individuals="vip")
    assert twice.status_code == 400
    assert "individuals: 'vip' is already in slot 1" in field_error(twice.text, "slot-2", "individuals")
    # A slot that does not exist
    assert post(editor, f"{base}/3/individuals", individuals="x").status_code == 404
    assert get_ok(api, f"/api/1/mutexes/{mutex}") == before


# --- the experiment's page ----------------------------------------------------------------------

def test_experiment_page__shows_its_groups(editor: Browserless, api: httpx.Client, project: str) -> None:
    a, alone = experiment(api, project), experiment(api, project)
    holdout = create_holdout(api, project, name="Q4 holdout", holdoutPercentage=5, experiments=[a["id"]])
    mutex = create_mutex(api, project, name="Checkout", slots=[
        {"percentage": 25}, {"percentage": 75, "experiments": [a["id"]]}])

    page = html.unescape(editor.client.get(f"/console/experiments/{a['id']}").text)

    assert f'Holdout <a href="/console/groups/holdouts/{holdout}">Q4 holdout</a>' in page
    assert "5% of users are held out and see none of its experiments; this experiment may reach the other 95%" in page
    assert f'Mutual exclusion group <a href="/console/groups/mutexes/{mutex}">Checkout</a>' in page
    assert "slot 2: this experiment may reach only the 75% of users in that slot" in page
    assert "In no holdout and no mutual exclusion group" in editor.client.get(f"/console/experiments/{alone['id']}").text
    # A flag's page has no such section: flags are never in a group
    flag = api.post("/api/1/flags", json={"projectId": project, "key": f"f-{uuid.uuid4().hex[:8]}"}).json()["id"]
    assert 'id="h-groups"' not in editor.client.get(f"/console/flags/{flag}").text


# --- roles and CSRF -----------------------------------------------------------------------------

def test_viewer__reads_every_page_without_forms__a_forged_write_is_403(
        viewer: Browserless, api: httpx.Client, project: str) -> None:
    a = experiment(api, project)
    holdout = create_holdout(api, project, name="watched", experiments=[a["id"]], individualInclusion=["u-9"])
    mutex = create_mutex(api, project, name="watched mutex", slots=[{"percentage": 100, "experiments": []}])
    before = (get_ok(api, f"/api/1/holdouts/{holdout}"), get_ok(api, f"/api/1/mutexes/{mutex}"))

    for path in (f"/console/p/{project}/groups", f"/console/groups/holdouts/{holdout}",
                 f"/console/groups/mutexes/{mutex}"):
        shown = viewer.client.get(path)
        assert shown.status_code == 200, path
        assert 'method="post"' not in after_header(shown.text), path
    assert "u-9" in viewer.client.get(f"/console/groups/holdouts/{holdout}").text

    forged = [
        (f"/console/p/{project}/groups/holdouts", {"name": "x", "holdoutPercentage": "10"}),
        (f"/console/p/{project}/groups/mutexes", {"name": "x", "rows": "1", "percentage-0": "100"}),
        (f"/console/groups/holdouts/{holdout}/settings", {"name": "taken over"}),
        (f"/console/groups/holdouts/{holdout}/archive", {"archive": "true"}),
        (f"/console/groups/holdouts/{holdout}/experiments/{a['id']}/remove", {}),
        (f"/console/groups/holdouts/{holdout}/individuals", {"individualInclusion": ""}),
        (f"/console/groups/mutexes/{mutex}/slots/1/experiments", {"member": a["id"]}),
        (f"/console/groups/mutexes/{mutex}/slots/1/individuals", {"individuals": "x"}),
    ]
    for path, data in forged:
        assert post(viewer, path, **data).status_code == 403, path
    assert (get_ok(api, f"/api/1/holdouts/{holdout}"), get_ok(api, f"/api/1/mutexes/{mutex}")) == before


def test_no_csrf_token__403__nothing_stored(editor: Browserless, api: httpx.Client, project: str) -> None:
    before = groups_of(api, "holdouts", project)
    answer = editor.client.post(f"/console/p/{project}/groups/holdouts", data={"name": "x", "holdoutPercentage": "5"})
    assert answer.status_code == 403
    assert groups_of(api, "holdouts", project) == before


# --- in a browser -------------------------------------------------------------------------------

def test_browser__a_holdout_and_a_mutex_with_slots__created_and_edited__as_the_api_shows(
        browser: Any, server: Server, people: Callable[[str], Person], api: httpx.Client,
        project_id: str, shots: Path) -> None:
    project = server.create_project(f"groups-browser-{uuid.uuid4().hex[:6]}")  # after the shared one
    checkout, search, banner = (experiment(api, project) for _ in range(3))
    local = get_ok(api, f"/api/1/experiments/{create_experiment(api, project, evaluationMode='local')}")
    page = sign_in_page(browser, server, people("editor"))
    page.goto(f"/console/p/{project}/flags")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Groups").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Groups")

    # A holdout, its form opened and sent from the keyboard
    page.locator("#holdout-new > summary").focus()
    page.keyboard.press("Enter")
    holdout_form = page.locator("#holdout-new form")
    holdout_form.get_by_label("Held out (% of users, 1 to 99)").fill("12")
    holdout_form.get_by_label("Name").fill("Q3 holdout")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/console/groups/holdouts/\d+\?done="))
    holdout_id = id_in(page.url, "holdouts")
    expect(page.locator("p.notice[role=status]")).to_contain_text("Holdout Q3 holdout created")

    # Two experiments added from the drop-down; the bar and its words follow
    for added in (checkout, search):
        page.get_by_label("Experiment to add").select_option(added["id"])
        page.get_by_role("button", name="Add experiment").click()
        page.wait_for_url(re.compile(r"\?done="))
    bar = page.get_by_role("img", name=re.compile("Users of holdout Q3 holdout"))
    expect(bar).to_have_attribute("aria-label", re.compile(
        rf"Held out: 12% of users see none of the experiments.*Not held out: 88% of users may see the "
        rf"experiments, each deciding as usual: {checkout['key']}, {search['key']}"))
    page.get_by_label("Always held out (user or device ids, one per line)").fill("qa@example.com")
    page.get_by_role("button", name="Save individuals").click()
    page.wait_for_url(re.compile(r"\?done="))
    stored = get_ok(api, f"/api/1/holdouts/{holdout_id}")
    assert (stored["name"], stored["holdoutPercentage"]) == ("Q3 holdout", 12)
    assert stored["experiments"] == [checkout["id"], search["id"]]
    assert stored["individualInclusion"] == ["qa@example.com"]
    shoot(page, shots, "groups-holdout")

    # A mutex: a split that sums to 90 is refused by the slots, nothing stored
    page.get_by_role("link", name="Groups", exact=True).first.click()
    page.locator("#mutex-new > summary").click()
    mutex_form = page.locator("#mutex-new form")
    mutex_form.get_by_label("Name").fill("Checkout page")
    mutex_form.get_by_label("Slot 1 (%)").fill("60")
    mutex_form.get_by_label("Slot 2 (%)").fill("30")
    mutex_form.get_by_role("button", name="Create mutual exclusion group").click()
    page.wait_for_load_state()
    expect(page.locator("#err-mutex-new-slots")).to_have_text("slots percentages must sum to 100, not 90")
    expect(mutex_form.get_by_label("Slot 2 (%)")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("group", name=re.compile("Slots"))).to_have_attribute(
        "aria-describedby", "err-mutex-new-slots")
    assert groups_of(api, "mutexes", project) == []
    shoot(page, shots, "groups-list-refused")

    # One more slot row, then created with three slots
    page.get_by_role("button", name="Add a slot").click()
    page.wait_for_load_state()
    expect(page.get_by_label("Slot 3 (%)")).to_be_focused()
    page.keyboard.type("10")
    page.get_by_role("button", name="Create mutual exclusion group").click()
    page.wait_for_url(re.compile(r"/console/groups/mutexes/\d+\?done="))
    mutex_id = id_in(page.url, "mutexes")

    # Members put in slots 1 and 3, the holdout in slot 2
    page.get_by_label("Experiment to add to slot 1").select_option(banner["id"])
    page.locator("#slot-1").get_by_role("button", name="Add experiment").click()
    page.wait_for_url(re.compile(r"\?done="))
    page.get_by_label("Holdout to add to slot 2").select_option(holdout_id)
    page.locator("#slot-2").get_by_role("button", name="Add holdout").click()
    page.wait_for_url(re.compile(r"\?done="))
    page.get_by_label("User or device ids always in slot 3 (one per line)").fill("vip-1\nvip-2")
    page.locator("#slot-3").get_by_role("button", name="Save individuals").click()
    page.wait_for_url(re.compile(r"\?done="))
    # A locally evaluated experiment into this remote group: refused by the field, nothing changed
    page.get_by_label("Experiment to add to slot 3").select_option(local["id"])
    page.locator("#slot-3").get_by_role("button", name="Add experiment").click()
    page.wait_for_load_state()
    expect(page.locator("#err-slot-3-experiments")).to_contain_text(
        f"experiment {local['id']} has evaluationMode local; the mutex evaluates remotely")
    expect(page.get_by_label("Experiment to add to slot 3")).to_have_attribute("aria-invalid", "true")

    stored = get_ok(api, f"/api/1/mutexes/{mutex_id}")
    assert [(s["percentage"], s["experiments"], s["holdouts"], s["individuals"]) for s in stored["slots"]] == [
        (60, [banner["id"]], [], []), (30, [], [holdout_id], []), (10, [], [], ["vip-1", "vip-2"])]
    holdout_key = get_ok(api, f"/api/1/holdouts/{holdout_id}")["key"]
    bar = page.get_by_role("img", name=re.compile("Users of mutual exclusion group Checkout page"))
    expect(bar).to_have_attribute("aria-label", re.compile(
        rf"Slot 1: 60% of users may see {banner['key']}, .*Slot 2: 30% of users may see the experiments of holdout {holdout_key}, "
        rf".*Slot 3: 10% of users see no experiment of the group"))
    for label in ("Slot 1 · 60%", "Slot 2 · 30%", "Slot 3 · 10%"):
        expect(bar.get_by_text(label)).to_be_attached()
    page.goto(f"/console/groups/mutexes/{mutex_id}")
    shoot(page, shots, "groups-mutex")

    # The list, and the experiment's page naming its group
    page.get_by_role("link", name="Groups", exact=True).first.click()
    expect(page.get_by_role("link", name="Checkout page")).to_be_visible()
    shoot(page, shots, "groups-list")
    page.goto(f"/console/experiments/{banner['id']}")
    section = page.get_by_role("region", name="Holdouts and mutual exclusion groups")
    expect(section).to_contain_text("Mutual exclusion group Checkout page")
    expect(section).to_contain_text("slot 1: this experiment may reach only the 60% of users in that slot")
    section.scroll_into_view_if_needed()
    shoot(page, shots, "groups-experiment")
    page.context.close()
