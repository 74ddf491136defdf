"""Flag dependencies from the console. Over HTTP: a prerequisite added from a flag's page, its
variants changed, then removed, each read back from the API's `parentDependencies`; the
flag's page lists what it depends on and what depends on it, and draws them; the project's
graph page lists every linked flag in evaluation order; a cycle, a flag depending on itself
and an unknown variant are refused by the field with the API's words, nothing changed; a
holdout the experiment is in stays as it is; a viewer reads only. In a real headless
Chromium: a prerequisite added from the keyboard and shown, then a cycle refused in place.

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

from tests.console.axe import serious_violations
from tests.console.browser import shoot, sign_in_page
from tests.console.conftest import Browserless, Person
from tests.factories import create_flag, create_holdout, get_ok
from tests.support.server import Server


@pytest.fixture(scope="module")
def project(server: Server, project_id: str) -> str:
    """A project of this module's own (made after the session's main one, where signing in
    lands), so its graph holds only the flags made here."""
    return server.create_project(f"dependencies-{uuid.uuid4().hex[:6]}")


def flag(api: httpx.Client, project: str, kind: str = "flags", **fields: Any) -> dict[str, Any]:
    return dict(get_ok(api, f"/api/1/{kind}/{create_flag(api, project, kind, **fields)}"))


def post(person: Browserless, path: str, **data: Any) -> httpx.Response:
    return person.client.post(path, data={"csrf_token": person.csrf, **data})


def field_error(page: str, form: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="err-{form}-{field}" role="alert">([^<]*)</p>', page)
    assert found, f"no error shown by {form}.{field}"
    return html.unescape(found.group(1))


def section(page: str) -> str:
    found = re.search(r'<section class="card" aria-labelledby="h-dependencies" id="dependencies">(.*?)</section>',
                      page, re.S)
    assert found, "the page has no Dependencies section"
    return html.unescape(found.group(1))


def parents(api: httpx.Client, flag_id: str, kind: str = "flags") -> Any:
    deps = get_ok(api, f"/api/1/{kind}/{flag_id}")["parentDependencies"]
    return deps["flags"] if deps else None


# --- a flag's prerequisites ---------------------------------------------------------------------

def test_prerequisite__added_changed_removed__as_the_api_shows(
        editor: Browserless, api: httpx.Client, project: str) -> None:
    parent = flag(api, project, "experiments")
    child = flag(api, project)
    base = f"/console/flags/{child['id']}/prerequisites"

    added = post(editor, base, parent=f"{parent['id']}:treatment")
    assert added.status_code == 303
    assert unquote(added.headers["location"]) == f"/console/flags/{child['id']}?done=Prerequisite added#dependencies"
    assert parents(api, child["id"]) == {parent["id"]: ["treatment"]}
    version = get_ok(api, f"/api/1/flags/{child['id']}")["version"]
    assert get_ok(api, f"/api/1/flags/{child['id']}/versions/{version}")["createdBy"] == editor.person.email

    saved = post(editor, f"{base}/{parent['id']}", variants=["control", "treatment"])
    assert saved.status_code == 303
    assert parents(api, child["id"]) == {parent["id"]: ["control", "treatment"]}

    shown = section(editor.client.get(f"/console/flags/{child['id']}").text)
    assert f'Experiment <a href="/console/experiments/{parent["id"]}">{parent["key"]}</a>' in shown
    assert "must serve <code>control</code> or <code>treatment</code>" in shown
    assert 'name="variants" value="control" checked' in shown and 'name="variants" value="treatment" checked' in shown

    removed = post(editor, f"{base}/{parent['id']}/remove")
    assert removed.status_code == 303
    assert parents(api, child["id"]) is None
    assert "No prerequisites" in section(editor.client.get(f"/console/flags/{child['id']}").text)


def test_flag_page__parents_children_and_further__in_words_and_drawn(
        editor: Browserless, api: httpx.Client, project: str) -> None:
    # top ← middle ← bottom: the middle flag has one of each
    top = flag(api, project)
    middle = flag(api, project, parentDependencies={"flags": {top["id"]: ["on"]}})
    bottom = flag(api, project, "experiments", parentDependencies={"flags": {middle["id"]: ["on"]}})

    shown = section(editor.client.get(f"/console/flags/{middle['id']}").text)
    depends_on, needed_by = shown.split('<h3 id="h-needed-by">', 1)
    assert f'Flag <a href="/console/flags/{top["id"]}">{top["key"]}</a>' in depends_on
    assert f'Experiment <a href="/console/experiments/{bottom["id"]}">{bottom["key"]}</a>' in needed_by
    assert "served only when this serves <code>on</code>" in needed_by
    # The drawing: the three flags and two arrows, with a text equivalent
    drawing = re.search(r'<svg class="dependency-graph"[^>]*aria-label="([^"]+)"', shown)
    assert drawing and drawing.group(1).startswith(f"Dependencies of {middle['key']}: 3 flags and 2 dependencies")
    assert shown.count('<g class="node">') == 3 and shown.count('<g class="edge">') == 2
    # Beyond the first step, the bottom flag's page names the top one
    further = section(editor.client.get(f"/console/experiments/{bottom['id']}").text)
    assert f'And through them on <a href="/console/flags/{top["id"]}">{top["key"]}</a>' in further


def test_project_graph__linked_flags_in_evaluation_order(editor: Browserless, api: httpx.Client,
                                                         project: str) -> None:
    own = f"order-{uuid.uuid4().hex[:6]}"
    first = flag(api, project, key=f"{own}-a")
    second = flag(api, project, key=f"{own}-b", parentDependencies={"flags": {first["id"]: ["on"]}})
    third = flag(api, project, key=f"{own}-c", parentDependencies={"flags": {second["id"]: ["on"], first["id"]: ["on"]}})
    alone = flag(api, project, key=f"{own}-alone")

    page = editor.client.get(f"/console/p/{project}/dependencies")

    assert page.status_code == 200 and 'aria-current="page">Dependencies</a>' in page.text
    text = html.unescape(page.text)
    steps = {key: step for step, key in re.findall(
        r'<td data-label="Step">(\d+)</td>\s*<td data-label="Flag"><span class="muted">Flag</span> '
        rf'<a href="/console/flags/\d+">({own}-[a-z]+)</a>', text)}
    assert steps == {f"{own}-a": "1", f"{own}-b": "2", f"{own}-c": "3"}
    assert alone["key"] not in text  # depends on nothing, needed by nothing
    assert third["key"] in text and '<svg class="dependency-graph"' in text


# --- refusals -----------------------------------------------------------------------------------

def test_cycle__refused_by_the_field_with_the_apis_words__nothing_changed(
        editor: Browserless, api: httpx.Client, project: str) -> None:
    a = flag(api, project)
    b = flag(api, project, parentDependencies={"flags": {a["id"]: ["on"]}})
    before = get_ok(api, f"/api/1/flags/{a['id']}")
    from_the_api = api.patch(f"/api/1/flags/{a['id']}", json={"parentDependencies": {"flags": {b["id"]: ["on"]}}})
    assert from_the_api.status_code == 400

    answer = post(editor, f"/console/flags/{a['id']}/prerequisites", parent=f"{b['id']}:on")

    assert answer.status_code == 400
    assert field_error(answer.text, "prerequisite-new", "parent") == from_the_api.json()["error"]["message"] \
        == "parentDependencies would create a dependency cycle"
    assert 'id="prerequisite-parent" name="parent" required aria-invalid="true"' in answer.text
    assert get_ok(api, f"/api/1/flags/{a['id']}") == before


@pytest.mark.parametrize(("choice", "message"), [
    ("self:on", "a flag cannot depend on itself"),
    ("parent:nope", "names variants the parent does not have: nope"),
    ("999999:on", "names no flag or experiment in this project"),
    ("", "parent: choose a flag and the variant it must serve"),
])
def test_add__bad_choice__refused_by_the_field__nothing_changed(
        editor: Browserless, api: httpx.Client, project: str, choice: str, message: str) -> None:
    parent = flag(api, project)
    child = flag(api, project)
    before = get_ok(api, f"/api/1/flags/{child['id']}")
    sent = choice.replace("self", child["id"]).replace("parent", parent["id"])

    answer = post(editor, f"/console/flags/{child['id']}/prerequisites", parent=sent)

    assert answer.status_code == 400
    assert message in field_error(answer.text, "prerequisite-new", "parent")
    assert get_ok(api, f"/api/1/flags/{child['id']}") == before


def test_save__no_variant_ticked__refused_by_the_checkboxes__nothing_changed(
        editor: Browserless, api: httpx.Client, project: str) -> None:
    parent = flag(api, project)
    child = flag(api, project, parentDependencies={"flags": {parent["id"]: ["on"]}})

    answer = post(editor, f"/console/flags/{child['id']}/prerequisites/{parent['id']}")

    assert answer.status_code == 400
    assert field_error(answer.text, f"prerequisite-{parent['id']}", "variants") == \
        "variants: tick at least one, or remove the prerequisite"
    assert '<details open>\n            <summary>Change or remove' in answer.text
    assert parents(api, child["id"]) == {parent["id"]: ["on"]}


def test_holdout_parent__shown_read_only__kept_when_another_is_added(
        editor: Browserless, api: httpx.Client, project: str) -> None:
    experiment = flag(api, project, "experiments")
    holdout = create_holdout(api, project, name="Q4 holdout", experiments=[experiment["id"]])
    other = flag(api, project)

    shown = section(editor.client.get(f"/console/experiments/{experiment['id']}").text)
    assert f'Holdout <a href="/console/groups/holdouts/{holdout}">' in shown
    assert "(membership is changed on the group's page)" in shown
    assert f"/prerequisites/{holdout}/remove" not in shown

    added = post(editor, f"/console/experiments/{experiment['id']}/prerequisites", parent=f"{other['id']}:on")
    assert added.status_code == 303
    assert parents(api, experiment["id"], "experiments") == {holdout: ["on"], other["id"]: ["on"]}
    assert get_ok(api, f"/api/1/holdouts/{holdout}")["experiments"] == [experiment["id"]]


# --- roles --------------------------------------------------------------------------------------

def test_viewer__reads_the_dependencies__no_forms__a_forged_change_is_403(
        viewer: Browserless, api: httpx.Client, project: str) -> None:
    parent = flag(api, project)
    child = flag(api, project, parentDependencies={"flags": {parent["id"]: ["on"]}})
    before = get_ok(api, f"/api/1/flags/{child['id']}")

    shown = section(viewer.client.get(f"/console/flags/{child['id']}").text)
    assert parent["key"] in shown and "<form" not in shown
    assert viewer.client.get(f"/console/p/{project}/dependencies").status_code == 200

    base = f"/console/flags/{child['id']}/prerequisites"
    for path, data in [(base, {"parent": f"{parent['id']}:on"}), (f"{base}/{parent['id']}", {"variants": "on"}),
                       (f"{base}/{parent['id']}/remove", {})]:
        assert post(viewer, path, **data).status_code == 403, path
    assert get_ok(api, f"/api/1/flags/{child['id']}") == before


# --- in a browser -------------------------------------------------------------------------------

def test_browser__a_prerequisite_added_from_the_keyboard__then_a_cycle_refused(
        browser: Any, server: Server, people: Callable[[str], Person], api: httpx.Client, shots: Path,
        project_id: str) -> None:
    project = server.create_project(f"dependencies-browser-{uuid.uuid4().hex[:6]}")
    checkout = flag(api, project, key="new-checkout")
    payments = flag(api, project, "experiments", key="payment-options")
    banner = flag(api, project, key="checkout-banner", parentDependencies={"flags": {checkout["id"]: ["on"]}})
    page = sign_in_page(browser, server, people("editor"))
    page.goto(f"/console/experiments/{payments['id']}")

    # The prerequisite chosen and sent with the keyboard only
    select = page.get_by_label("Add a prerequisite: a flag or experiment, and the variant it must serve")
    select.focus()
    # Choose…, checkout-banner serves on, new-checkout serves on
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(select).to_have_value(f"{checkout['id']}:on")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Add prerequisite")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"\?done=Prerequisite%20added#dependencies"))
    assert parents(api, payments["id"], "experiments") == {checkout["id"]: ["on"]}
    depends_on = page.locator("#dependencies ul.dependency-list").first
    expect(depends_on).to_contain_text("Flag new-checkout must serve on")
    expect(page.locator("#dependencies svg.dependency-graph")).to_be_visible()
    shoot(page, shots, "flag-dependencies")
    assert serious_violations(page) == []

    # The project's graph: three flags, parents first
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dependencies").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dependencies")
    expect(page.locator("table.dependencies tbody tr")).to_have_count(3)
    expect(page.locator("table.dependencies tbody tr").first).to_contain_text("new-checkout")
    shoot(page, shots, "project-dependencies")
    assert serious_violations(page) == []

    # new-checkout made to depend on checkout-banner, which depends on it: refused in place
    page.goto(f"/console/flags/{checkout['id']}")
    before = get_ok(api, f"/api/1/flags/{checkout['id']}")
    page.get_by_label("Add a prerequisite: a flag or experiment, and the variant it must serve") \
        .select_option(label="checkout-banner serves on")
    page.get_by_role("button", name="Add prerequisite").click()
    expect(page.locator("#err-prerequisite-new-parent")).to_have_text(
        "parentDependencies would create a dependency cycle")
    assert get_ok(api, f"/api/1/flags/{checkout['id']}") == before
    assert banner["key"] == "checkout-banner"
    page.locator("#dependencies").scroll_into_view_if_needed()
    shoot(page, shots, "flag-dependencies-cycle")
    assert serious_violations(page) == []
    page.context.close()
