"""Approvals in the console (ADR 0089): a change to a flag on a deployment that requires
approval opens a change request instead of a version, from every form of the flag's page; the
change requests pages list and review them; the deployments and keys pages set who needs
approval and who bypasses it.

Over HTTP for each form and refusal; in a real headless Chromium for the round trip: an editor's
change held, a second person approving and applying it, the author unable to approve their own,
a stale request rebased. Full-page screenshots go to $FLAGYARD_SCREENSHOTS (or a temporary
directory) at desktop width and at 390 px, for a person to look at.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from playwright.sync_api import expect

from tests.console.browser import sign_in_page
from tests.console.conftest import Browserless, Person
from tests.console.support import signed_in_client
from tests.console.test_accessibility import AXE, axe_violations
from tests.factories import create_linked, first_variant, segment_for
from tests.support.npm import npm_packages
from tests.support.server import Server

PENDING = re.compile(r"\?pending=(\d+)$")
# The elements under the selector whose right edge passes the window's (the page scrolls sideways).
OVERFLOWING = """scope => Array.from(document.querySelectorAll(scope)).flatMap(e => [e, ...e.querySelectorAll('*')])
    .filter(e => !e.closest('.table-wrap') && e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
    .map(e => `${e.tagName.toLowerCase()}.${e.className}#${e.id}`)"""


@pytest.fixture(scope="module")
def protected(api: httpx.Client, project_id: str) -> dict[str, Any]:
    created = api.post("/api/1/deployments", json={"projectId": project_id, "label": "console-guarded",
                                                  "requireApproval": True})
    assert created.status_code == 200, created.text
    return dict(created.json())


@pytest.fixture(scope="module")
def automation(server: Server, make_client: Callable[[str], httpx.Client]) -> httpx.Client:
    """A key made with --bypass-approvals: moves a protected flag at once (so requests go stale)."""
    return make_client(server.create_key("console-automation", bypass_approvals=True))


@pytest.fixture(scope="module")
def reviewer(people: Callable[[str], Person], server: Server) -> Iterator[Browserless]:
    """A second editor: someone other than the author."""
    person = people("editor")
    client, csrf = signed_in_client(server.base_url, person.email, person.password)
    yield Browserless(client, csrf, person)
    client.close()


def guarded(api: httpx.Client, project_id: str, protected: dict[str, Any], kind: str = "flags",
            **fields: Any) -> str:
    return create_linked(api, project_id, protected["id"], kind, **fields)


def held(answer: httpx.Response) -> str:
    """A form answered by the held-for-approval redirect: the change request's id."""
    assert answer.status_code == 303, answer.text
    found = PENDING.search(answer.headers["location"])
    assert found, answer.headers["location"]
    return found.group(1)


def request_of(api: httpx.Client, request_id: str) -> dict[str, Any]:
    answer = api.get(f"/api/1/change-requests/{request_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def post(who: Browserless, path: str, **data: str) -> httpx.Response:
    return who.client.post(path, data={"csrf_token": who.csrf, **data})


def alert_text(page_html: str) -> list[str]:
    """The refusals shown on a page (`role="alert"`, not the empty ones the script fills), as text."""
    found = re.findall(r'<p class="(?:field-error|error)"[^>]*role="alert">(.*?)</p>', page_html, re.S)
    return [text for text in (html.unescape(re.sub(r"<[^>]+>", "", m)).strip() for m in found) if text]


def settings_form(api: httpx.Client, kind: str, flag: str, **changes: str) -> dict[str, str]:
    """The settings form as the page fills it, with `changes` typed over it."""
    current = api.get(f"/api/1/{kind}/{flag}").json()
    return {"name": current["name"], "description": current["description"],
            "rolloutPercentage": str(current["rolloutPercentage"]), "evaluationMode": current["evaluationMode"],
            "bucketingKey": current["bucketingKey"], "tags": ", ".join(current["tags"]), **changes}


def in_the_future(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S")


# --- every write on the flag's pages --------------------------------------------------------


@pytest.mark.parametrize("kind", ["flags", "experiments"])
def test_every_form_on_a_protected_flag__opens_a_request__the_flag_unchanged(
        editor: Browserless, api: httpx.Client, automation: httpx.Client, project_id: str,
        protected: dict[str, Any], deployment: dict[str, str], kind: str) -> None:
    flag = guarded(api, project_id, protected, kind, targetSegments=[segment_for(kind)])
    variant = first_variant(kind)
    # version 2 by the bypassing key, so there is an older version to restore
    assert automation.patch(f"/api/1/{kind}/{flag}", json={"description": "second"}).status_code == 200
    before = api.get(f"/api/1/{kind}/{flag}").json()
    base = f"/console/{kind}/{flag}"
    writes = {
        "enable": (base + "/enabled", {"enabled": "true"}),
        "settings": (base + "/settings", settings_form(api, kind, flag, rolloutPercentage="40")),
        "weights": (base + "/weights", {f"weight.{v['key']}": "3" for v in before["variants"]}),
        "add variant": (base + "/variants", {"key": "extra", "rolloutWeight": "1"}),
        "edit variant": (base + f"/variants/{variant}", {"key": variant, "name": "renamed", "rolloutWeight": "1"}),
        "remove variant": (base + f"/variants/{variant}/delete", {}),
        "add segment": (base + "/segments", {"segmentName": "beta", "prop": "country", "op": "is", "values": "FR",
                                             "percentage": "100", f"weight.{variant}": "1"}),
        "save segment": (base + "/segments/0", {"segmentName": "renamed", "prop": "country", "op": "is",
                                                "values": "DE", "percentage": "50", f"weight.{variant}": "1"}),
        "remove segment": (base + "/segments/0/delete", {}),
        "add deployment": (base + "/deployments", {"deployment": deployment["id"]}),
        "remove deployment": (base + f"/deployments/{protected['id']}/remove", {}),
        "archive": (base + "/archive", {"archive": "true"}),
        "restore": (base + "/history/1/restore", {}),
        "schedule a change": (base + "/schedules", {"at": in_the_future(1), "rolloutPercentage": "30"}),
        "schedule a ramp": (base + "/schedules/ramp", {"at-0": in_the_future(1), "percentage-0": "10",
                                                      "at-1": in_the_future(2), "percentage-1": "60"}),
    }
    if kind == "experiments":
        writes["record a decision"] = (f"/console/experiments/{flag}/results/decision",
                                       {"decision": "rollout", "rolledOutVariant": "treatment"})
    opened = {}
    for name, (path, data) in writes.items():
        # When the editor sends the form
        answer = post(editor, path, **data)
        # Then it is held: back to the form's page, naming the request it opened
        request_id = held(answer)
        back = {"restore": f"{base}/history", "record a decision": f"{base}/results"}.get(name, base)
        assert answer.headers["location"] == f"{back}?pending={request_id}", name
        shown = editor.client.get(answer.headers["location"]).text
        assert f"This change needs approval: <a href=\"/console/change-requests/{request_id}\">change request " \
               f"#{request_id}</a> was opened" in shown, name
        assert not alert_text(shown), (name, alert_text(shown))
        opened[name] = request_id
    # And the flag is as it was, with one open request per form, each by the editor
    after = api.get(f"/api/1/{kind}/{flag}").json()
    assert after == before and api.get(f"/api/1/{kind}/{flag}/schedules").json() == []
    listed = api.get("/api/1/change-requests", params={"flagId": flag, "status": "open"}).json()["changeRequests"]
    assert sorted(r["id"] for r in listed) == sorted(opened.values())
    assert {r["author"] for r in listed} == {editor.person.email}
    assert request_of(api, opened["schedule a ramp"])["type"] == "schedule"
    # And the flag's page lists them, linked
    page = editor.client.get(base).text
    for request_id in opened.values():
        assert f'href="/console/change-requests/{request_id}"' in page


def test_inclusions_on_a_protected_flag__refused_in_words__nothing_included(
        editor: Browserless, api: httpx.Client, project_id: str, protected: dict[str, Any]) -> None:
    flag = guarded(api, project_id, protected)
    answer = post(editor, f"/console/flags/{flag}/inclusions/on/users", ids="qa-1")
    assert answer.status_code == 409
    assert any("--bypass-approvals" in text for text in alert_text(answer.text))
    assert api.get(f"/api/1/flags/{flag}/variants/on/users").json() == []


def test_unprotected_flag__the_form_applies_at_once(editor: Browserless, api: httpx.Client, project_id: str,
                                                     deployment: dict[str, str]) -> None:
    flag = create_linked(api, project_id, deployment["id"])
    answer = post(editor, f"/console/flags/{flag}/settings", **settings_form(api, "flags", flag, rolloutPercentage="25"))
    assert answer.status_code == 303 and "pending=" not in answer.headers["location"]
    assert api.get(f"/api/1/flags/{flag}").json()["rolloutPercentage"] == 25


# --- the round trip in a browser ------------------------------------------------------------


def test_browser__held_change__approved_and_applied_by_someone_else(
        browser: Any, server: Server, editor: Browserless, reviewer: Browserless, api: httpx.Client,
        project_id: str, protected: dict[str, Any], shots: Path) -> None:
    flag = guarded(api, project_id, protected)
    before = api.get(f"/api/1/flags/{flag}").json()
    # An editor changes the rollout from the flag's page, with the keyboard
    page = sign_in_page(browser, server, editor.person)
    page.goto(f"/console/flags/{flag}")
    expect(page.locator("#change-requests")).to_contain_text("console-guarded, which requires approval")
    settings = page.get_by_role("region", name="Settings")
    settings.get_by_label("Rollout percentage").fill("40")
    settings.get_by_label("Rollout percentage").press("Enter")
    page.wait_for_url(PENDING)
    request_id = PENDING.search(page.url).group(1)  # type: ignore[union-attr]
    # Then the page says it needs approval and links the request; nothing changed
    notice = page.locator("p.notice.pending")
    expect(notice).to_have_text(re.compile(rf"This change needs approval: change request #{request_id} was opened"))
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator(f'#change-requests li[data-change-request="{request_id}"]')).to_contain_text("open")
    assert api.get(f"/api/1/flags/{flag}").json() == before
    page.screenshot(path=str(shots / "cr-01-flag-held.png"), full_page=True)
    # The author opens it: they cannot approve their own, and are told why
    notice.get_by_role("link", name=f"change request #{request_id}").click()
    page.wait_for_url(f"**/console/change-requests/{request_id}")
    approve = page.get_by_role("button", name="Approve")
    expect(approve).to_be_disabled()
    expect(page.locator("#approve-why")).to_have_text(re.compile("You opened this change request, so you cannot approve it"))
    expect(page.get_by_role("button", name="Withdraw")).to_be_visible()
    page.screenshot(path=str(shots / "cr-02-review-author.png"), full_page=True)
    page.context.close()

    # Someone else finds it in the list, reads the diff, approves with a comment, applies it
    page = sign_in_page(browser, server, reviewer.person)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Change requests").click()
    row = page.locator(f'tr[data-change-request="{request_id}"]')
    expect(row).to_contain_text(editor.person.email)
    expect(row).to_contain_text("open")
    page.screenshot(path=str(shots / "cr-03-list.png"), full_page=True)
    row.get_by_role("link", name=f"#{request_id}").click()
    changed = page.locator("table.diff tbody tr")
    expect(changed).to_have_count(1)
    expect(changed.locator("th")).to_have_text("rolloutPercentage")
    expect(changed.locator("td.before")).to_have_text(str(before["rolloutPercentage"]))
    expect(changed.locator("td.after")).to_have_text("40")
    expect(page.locator("dl.facts")).to_contain_text("version 1")
    page.screenshot(path=str(shots / "cr-04-review-open.png"), full_page=True)
    page.get_by_label("Comment with your verdict (optional)").fill("40 % is fine for this week")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(re.compile("done="))
    expect(page.get_by_role("status")).to_contain_text(f"Change request #{request_id} approved")
    expect(page.locator("ol.comments")).to_contain_text("40 % is fine for this week")
    page.get_by_role("button", name="Apply as version 2").click()
    page.wait_for_url(re.compile("done="))
    expect(page.get_by_role("status")).to_contain_text("is now at version 2")
    expect(page.locator("h1 .badge")).to_have_text("applied")
    page.screenshot(path=str(shots / "cr-05-review-applied.png"), full_page=True)
    # Then the flag has the change, in one version naming the author and the approver
    after = api.get(f"/api/1/flags/{flag}").json()
    assert after["rolloutPercentage"] == 40 and after["version"] == 2
    version = api.get(f"/api/1/flags/{flag}/versions/2").json()
    assert version["createdBy"] == editor.person.email and version["approvedBy"] == reviewer.person.email
    assert version["changeRequestId"] == request_id
    # And the history page says so
    page.goto(f"/console/flags/{flag}/history")
    expect(page.get_by_role("region", name="Versions, newest first").locator("tbody tr").first).to_contain_text(
        f"{editor.person.email}approved by {reviewer.person.email} in change request #{request_id}")
    page.context.close()


def test_browser__stale_request__apply_refused_in_words__rebased(
        browser: Any, server: Server, editor: Browserless, reviewer: Browserless, api: httpx.Client,
        automation: httpx.Client, project_id: str, protected: dict[str, Any], shots: Path) -> None:
    flag = guarded(api, project_id, protected)
    request_id = held(post(editor, f"/console/flags/{flag}/settings",
                           **settings_form(api, "flags", flag, description="for the launch")))
    assert post(reviewer, f"/console/change-requests/{request_id}/approve").status_code == 303
    page = sign_in_page(browser, server, reviewer.person)
    page.goto(f"/console/change-requests/{request_id}")
    # When the flag moves while the page is open, and the reviewer then applies
    assert automation.patch(f"/api/1/flags/{flag}", json={"rolloutPercentage": 15}).status_code == 200
    page.get_by_role("button", name="Apply as version 2").click()
    # Then the refusal is said next to the button, and the page shows the way on
    apply = page.locator(".action.apply")
    expect(apply.get_by_role("alert")).to_contain_text("has changed since this request was made")
    expect(apply.get_by_role("button", name="Apply")).to_be_disabled()
    stale = page.locator("#stale")
    expect(stale).to_contain_text("is now at version 2")
    assert api.get(f"/api/1/flags/{flag}").json()["description"] == ""
    assert request_of(api, request_id)["status"] == "approved"
    page.screenshot(path=str(shots / "cr-06-review-stale.png"), full_page=True)
    # When they rebase it
    stale.get_by_role("button", name="Rebase onto version 2").click()
    page.wait_for_url(re.compile("done="))
    # Then it is on version 2, open again for review, and changes only its own field
    expect(page.get_by_role("status")).to_contain_text("rebased onto version 2: it needs approval again")
    expect(page.locator("#stale")).to_have_count(0)
    expect(page.locator("h1 .badge")).to_have_text("open")
    rebased = request_of(api, request_id)
    assert rebased["baseVersion"] == 2 and [d["path"] for d in rebased["diff"]] == ["description"]
    expect(page.locator("table.diff tbody tr")).to_have_count(1)
    page.context.close()


def test_rebase_conflict__said_by_the_rebase_button__nothing_changes(
        editor: Browserless, api: httpx.Client, automation: httpx.Client, project_id: str,
        protected: dict[str, Any]) -> None:
    flag = guarded(api, project_id, protected)
    request_id = held(post(editor, f"/console/flags/{flag}/settings",
                           **settings_form(api, "flags", flag, rolloutPercentage="70")))
    assert automation.patch(f"/api/1/flags/{flag}", json={"rolloutPercentage": 20}).status_code == 200
    page = editor.client.get(f"/console/change-requests/{request_id}").text
    assert 'id="stale"' in page and "Rebase onto version 2" in page
    answer = post(editor, f"/console/change-requests/{request_id}/rebase")
    assert answer.status_code == 409
    stale = re.search(r'<section class="warning stale".*?</section>', answer.text, re.S)
    assert stale and "cannot rebase: rolloutPercentage changed both" in html.unescape(stale.group(0))
    assert request_of(api, request_id)["baseVersion"] == 1


# --- who may do what ------------------------------------------------------------------------


def test_author__approving_their_own_is_refused_in_words__the_request_stays_open(
        editor: Browserless, api: httpx.Client, project_id: str, protected: dict[str, Any]) -> None:
    flag = guarded(api, project_id, protected)
    request_id = held(post(editor, f"/console/flags/{flag}/enabled", enabled="true"))
    answer = post(editor, f"/console/change-requests/{request_id}/approve")
    assert answer.status_code == 403
    assert alert_text(answer.text) == ["you cannot approve your own change request; someone else must review it"]
    assert request_of(api, request_id)["status"] == "open"
    # The author may withdraw it
    withdrawn = post(editor, f"/console/change-requests/{request_id}/reject", comment="not yet")
    assert withdrawn.status_code == 303
    assert f"Change request #{request_id} withdrawn" in unquote(withdrawn.headers["location"])
    assert request_of(api, request_id)["status"] == "rejected"
    assert api.get(f"/api/1/flags/{flag}").json()["enabled"] is False


def test_viewer__reads_the_review_without_buttons__a_forged_approval_is_403(
        viewer: Browserless, editor: Browserless, api: httpx.Client, project_id: str,
        protected: dict[str, Any]) -> None:
    flag = guarded(api, project_id, protected)
    request_id = held(post(editor, f"/console/flags/{flag}/enabled", enabled="true"))
    page = viewer.client.get(f"/console/change-requests/{request_id}").text
    assert "Viewers can read change requests but not approve them." in page
    assert re.search(r'<button type="submit" disabled aria-describedby="approve-why">Approve</button>', page)
    assert "/reject" not in page and "/comments" not in page and "/apply" not in page
    assert viewer.client.get("/console/change-requests").status_code == 200
    forged = post(viewer, f"/console/change-requests/{request_id}/approve")
    assert forged.status_code == 403
    assert request_of(api, request_id)["status"] == "open"


def test_no_csrf_token__403__nothing_approved(editor: Browserless, reviewer: Browserless, api: httpx.Client,
                                             project_id: str, protected: dict[str, Any]) -> None:
    flag = guarded(api, project_id, protected)
    request_id = held(post(editor, f"/console/flags/{flag}/enabled", enabled="true"))
    assert reviewer.client.post(f"/console/change-requests/{request_id}/approve").status_code == 403
    assert request_of(api, request_id)["status"] == "open"


def test_approving_twice__the_conflict_said_on_the_page(editor: Browserless, reviewer: Browserless,
                                                        api: httpx.Client, project_id: str,
                                                        protected: dict[str, Any]) -> None:
    flag = guarded(api, project_id, protected)
    request_id = held(post(editor, f"/console/flags/{flag}/enabled", enabled="true"))
    assert post(reviewer, f"/console/change-requests/{request_id}/approve").status_code == 303
    again = post(reviewer, f"/console/change-requests/{request_id}/approve")
    assert again.status_code == 409
    assert alert_text(again.text) == [f"change request {request_id} is approved; only a request that is open "
                                      "can be approved"]


def test_comments__added_in_order__an_empty_one_refused_by_its_field(
        editor: Browserless, reviewer: Browserless, api: httpx.Client, project_id: str,
        protected: dict[str, Any]) -> None:
    flag = guarded(api, project_id, protected)
    request_id = held(post(editor, f"/console/flags/{flag}/enabled", enabled="true"))
    assert post(reviewer, f"/console/change-requests/{request_id}/comments", body="why now?").status_code == 303
    assert post(editor, f"/console/change-requests/{request_id}/comments", body="launch\nday").status_code == 303
    refused = post(editor, f"/console/change-requests/{request_id}/comments", body="   ")
    assert refused.status_code == 400
    assert re.search(r'id="err-comment-body" role="alert">body must be a non-empty text<', refused.text)
    assert 'id="comment-body" name="body" rows="3" aria-invalid="true"' in refused.text
    comments = request_of(api, request_id)["comments"]
    assert [(c["author"], c["body"]) for c in comments] == [(reviewer.person.email, "why now?"),
                                                            (editor.person.email, "launch\nday")]
    page = editor.client.get(f"/console/change-requests/{request_id}").text
    assert page.index("why now?") < page.index("launch\nday")


# --- the list -------------------------------------------------------------------------------


def test_list__newest_first__filtered_by_status__a_bad_status_named(
        editor: Browserless, reviewer: Browserless, api: httpx.Client, project_id: str,
        protected: dict[str, Any]) -> None:
    flag = guarded(api, project_id, protected)
    form = settings_form(api, "flags", flag)
    ids = [held(post(editor, f"/console/flags/{flag}/settings", **{**form, "description": f"try {n}"}))
           for n in range(4)]
    opened, approved, rejected, applied = ids
    assert post(reviewer, f"/console/change-requests/{approved}/approve").status_code == 303
    assert post(reviewer, f"/console/change-requests/{rejected}/reject").status_code == 303
    assert post(reviewer, f"/console/change-requests/{applied}/approve").status_code == 303
    assert post(editor, f"/console/change-requests/{applied}/apply").status_code == 303

    def listed(**params: str) -> list[str]:
        answer = editor.client.get("/console/change-requests", params={"flag": flag, **params})
        assert answer.status_code == 200, answer.text
        return re.findall(r'<tr data-change-request="(\d+)">', answer.text)

    assert listed(status="") == list(reversed(ids))
    assert listed() == [approved, opened]  # waiting: open or approved
    assert listed(status="open") == [opened]
    assert listed(status="rejected") == [rejected]
    assert listed(status="applied") == [applied]
    bad = editor.client.get("/console/change-requests", params={"status": "pending"})
    assert bad.status_code == 400
    assert "status must be one of open, approved, rejected, applied" in html.unescape(bad.text)
    assert "<tr data-change-request=" not in bad.text
    # The flag page lists only the waiting ones
    page = editor.client.get(f"/console/flags/{flag}").text
    block = re.search(r'<section class="card approvals".*?</section>', page, re.S)
    assert block and re.findall(r'data-change-request="(\d+)"', block.group(0)) == [approved, opened]


# --- deployments and keys -------------------------------------------------------------------


def test_deployments_page__approval_turned_on_and_off__viewers_cannot(
        editor: Browserless, viewer: Browserless, api: httpx.Client, project_id: str) -> None:
    created = post(editor, f"/console/p/{project_id}/deployments", label="console-staging", type="server",
                   requireApproval="true")
    assert created.status_code == 303, created.text
    [made] = [d for d in api.get("/api/1/deployments").json()["deployments"] if d["label"] == "console-staging"]
    assert made["requireApproval"] is True
    page = editor.client.get(f"/console/p/{project_id}/deployments").text
    assert f'action="/console/p/{project_id}/deployments/{made["id"]}/approval"' in page
    off = post(editor, f"/console/p/{project_id}/deployments/{made['id']}/approval", requireApproval="false")
    assert off.status_code == 303
    assert api.get(f"/api/1/deployments/{made['id']}").json()["requireApproval"] is False
    forged = post(viewer, f"/console/p/{project_id}/deployments/{made['id']}/approval", requireApproval="true")
    assert forged.status_code == 403
    assert api.get(f"/api/1/deployments/{made['id']}").json()["requireApproval"] is False
    assert "/approval" not in viewer.client.get(f"/console/p/{project_id}/deployments").text


def test_keys_page__a_bypassing_key__shown__writes_at_once(
        admin: Browserless, server: Server, api: httpx.Client, project_id: str,
        protected: dict[str, Any]) -> None:
    def create(name: str, **extra: str) -> str:
        answer = post(admin, "/console/keys", name=name, **extra)
        assert answer.status_code == 200, answer.text
        found = re.search(r'<code id="new-secret">([^<]+)</code>', answer.text)
        assert found
        return found.group(1)

    bypassing = create("console-flags-as-code", bypassApprovals="true")
    plain = create("console-plain-key")
    page = admin.client.get("/console/keys").text
    rows = {name: row for row in re.findall(r"<tr><td>.*?</tr>", page, re.S)
            for name in ("console-flags-as-code", "console-plain-key") if f"<td>{name}</td>" in row}
    assert "bypasses approvals" in rows["console-flags-as-code"]
    assert "bypasses approvals" not in rows["console-plain-key"]
    flag = guarded(api, project_id, protected)
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {bypassing}"}) as client:
        assert client.patch(f"/api/1/flags/{flag}", json={"rolloutPercentage": 5}).status_code == 200
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {plain}"}) as client:
        assert client.patch(f"/api/1/flags/{flag}", json={"rolloutPercentage": 6}).status_code == 202
    assert api.get(f"/api/1/flags/{flag}").json()["rolloutPercentage"] == 5


# --- how the pages look ---------------------------------------------------------------------


def test_pages_at_desktop_and_phone_width__fit__no_serious_axe_violation(
        browser: Any, server: Server, editor: Browserless, reviewer: Browserless, admin: Browserless,
        viewer: Browserless, api: httpx.Client, automation: httpx.Client, project_id: str,
        protected: dict[str, Any], shots: Path) -> None:
    """The new and changed pages at 1280 and 390 px, as the author, an admin and a viewer see
    them: nothing wider than the screen, and axe-core finds no serious or critical violation."""
    flag = guarded(api, project_id, protected, key=f"checkout-redesign-{datetime.now(UTC):%H%M%S%f}",
                   name="Checkout redesign", targetSegments=[segment_for("flags")])
    request_id = held(post(editor, f"/console/flags/{flag}/segments/0", segmentName="Beta testers in France",
                           prop="country", op="is", values="France\nBelgium", percentage="50", **{"weight.on": "1"}))
    assert post(reviewer, f"/console/change-requests/{request_id}/comments",
                body="Belgium too? Fine by me; check the support rota first.").status_code == 303
    stale_id = held(post(editor, f"/console/flags/{flag}/enabled", enabled="true"))
    assert post(reviewer, f"/console/change-requests/{stale_id}/approve").status_code == 303
    schedule_id = held(post(editor, f"/console/flags/{flag}/schedules/ramp", **{
        "at-0": in_the_future(1), "percentage-0": "10", "at-1": in_the_future(2), "percentage-1": "50"}))
    assert automation.patch(f"/api/1/flags/{flag}", json={"description": "moved by automation"}).status_code == 200
    review = f"/console/change-requests/{request_id}"
    seen_by = {
        "editor": (editor.person, {
            "flag": f"/console/flags/{flag}?pending={request_id}",
            "list": f"/console/change-requests?project={project_id}",
            "review": review,
            "stale": f"/console/change-requests/{stale_id}",
            "schedule": f"/console/change-requests/{schedule_id}",
            "deployments": f"/console/p/{project_id}/deployments"}),
        "admin": (admin.person, {"keys": "/console/keys"}),
        "viewer": (viewer.person, {"review-viewer": review}),
    }
    axe = str(npm_packages(AXE) / "node_modules" / "axe-core" / "axe.min.js")
    for width in (1280, 390):
        for person, pages in seen_by.values():
            page = sign_in_page(browser, server, person, width=width)
            for name, path in pages.items():
                page.goto(path)
                # On the flag's page, what approvals add to it: the notice and the requests' block.
                scope = "#change-requests, p.notice.pending" if name == "flag" else "main"
                wide = page.evaluate(OVERFLOWING, scope)
                assert not wide, f"{name} at {width} px: wider than the screen: {wide}"
                page.screenshot(path=str(shots / f"cr-{name}-{width}.png"), full_page=True)
                serious = [f"{v['id']}: {v['help']} ({' '.join(v['nodes'][0]['target'])})"
                           for v in axe_violations(page, axe) if v["impact"] in ("serious", "critical")]
                assert not serious, f"{name} at {width} px: {serious}"
            page.context.close()
