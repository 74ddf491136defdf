"""Cohorts from the console. Over HTTP: the list with sizes, last changes and the flags that
target each cohort; create; members uploaded from a file (add, remove, replace, CSV with a
header), each result read back from the API (GET /api/1/cohorts/{id} for the size, the SDKs'
/sdk/v1/cohort/{id} for the members); a file with bad lines refused by its field naming the
lines, nothing changed; the download; rename, archive and restore; a viewer reads only. In a
real headless Chromium: a 100,000-line file uploaded through the page with its progress bar,
compared with the API's answer, and a bad file refused in place.

Full-page screenshots at desktop width and at 390 px go to $FLAGYARD_SCREENSHOTS (or a
temporary directory), for a person to look at.
"""

from __future__ import annotations

import base64
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
from tests.factories import create_cohort, create_experiment, create_flag, get_ok
from tests.support.server import Server


@pytest.fixture(scope="module")
def project(server: Server, project_id: str) -> str:
    """A project of this module's own (made after the session's main one, where signing in
    lands), so its lists hold only the cohorts made here."""
    return server.create_project(f"cohorts-{uuid.uuid4().hex[:6]}")


@pytest.fixture(scope="module")
def sdk_keys(server: Server, project: str, admin_key: str) -> dict[str, str]:
    """The pair a local-evaluation SDK sends to download a cohort: its deployment key and a
    management key, as Basic credentials."""
    deployment = server.create_deployment(project, f"cohorts-{uuid.uuid4().hex[:6]}")
    token = base64.b64encode(f"{deployment['key']}:{admin_key}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def members_from_the_sdk_route(server: Server, sdk_keys: dict[str, str], cohort_id: str) -> list[str]:
    answer = httpx.get(f"{server.base_url}/sdk/v1/cohort/{cohort_id}", headers=sdk_keys,
                       params={"maxCohortSize": 10_000_000}, timeout=60)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["size"] == len(body["memberIds"])
    return list(body["memberIds"])


def field_error(page: str, form: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="err-{form}-{field}" role="alert">([^<]*)</p>', page)
    assert found, f"no error shown by {form}.{field}"
    return html.unescape(found.group(1))


def after_header(page: str) -> str:
    return page.split("</header>", 1)[1]


def upload(person: Browserless, cohort_id: str, content: bytes, mode: str = "add", file_format: str = "text",
           header: bool = False, filename: str = "members.txt") -> httpx.Response:
    data = {"csrf_token": person.csrf, "mode": mode, "format": file_format}
    if header:
        data["header"] = "yes"
    return person.client.post(f"/console/cohorts/{cohort_id}/members", data=data,
                              files={"file": (filename, content, "text/plain")})


def notice(answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text
    return unquote(answer.headers["location"].split("done=", 1)[1])


def lines(ids: list[str]) -> bytes:
    return ("\n".join(ids) + "\n").encode()


# --- the list and the create form ---------------------------------------------------------------

def test_list__sizes_last_change_and_who_targets_each__archived_hidden(
        editor: Browserless, api: httpx.Client, project: str) -> None:
    paying = create_cohort(api, project, name="Paying", memberIds=["u1", "u2", "u3"])
    lonely = create_cohort(api, project, name="Lonely", memberIds=[])
    gone = create_cohort(api, project, name="Gone")
    api.patch(f"/api/1/cohorts/{gone}", json={"archive": True})
    flag = create_flag(api, project, targetSegments=[{
        "name": "Payers", "percentage": 100, "rolloutWeights": {"on": 1},
        "conditions": [{"type": "property", "prop": "cohort_ids", "op": "set contains any", "values": [paying]}]}])
    experiment = create_experiment(api, project)
    control = get_ok(api, f"/api/1/experiments/{experiment}")["variants"][0]["key"]
    included = api.post(f"/api/1/experiments/{experiment}/variants/{control}/cohorts",
                        json={"inclusions": [paying]})
    assert included.status_code == 200, included.text

    page = editor.client.get(f"/console/p/{project}/cohorts")

    assert page.status_code == 200
    assert 'aria-current="page">Cohorts</a>' in page.text
    row = re.search(rf'<tr data-cohort="{paying}">(.*?)</tr>', page.text, re.S)
    assert row, "the cohort has no row"
    cells = html.unescape(row.group(1))
    assert f'<a href="/console/cohorts/{paying}">Paying</a>' in cells and ">3</td>" in cells
    stored = get_ok(api, f"/api/1/cohorts/{paying}")
    assert stored["lastModifiedAt"][:16].replace("T", " ") in cells
    assert f'Flag <a href="/console/flags/{flag}">' in cells and 'segment "Payers" (set contains any)' in cells
    assert f'Experiment <a href="/console/experiments/{experiment}">' in cells
    assert f"included in variant {control}" in cells
    assert "no flag or experiment" in re.search(rf'<tr data-cohort="{lonely}">(.*?)</tr>', page.text, re.S).group(1)  # type: ignore[union-attr]
    assert "Gone" not in page.text
    assert "Gone" in editor.client.get(f"/console/p/{project}/cohorts?archived=yes").text


def test_create__stored_as_the_api_shows__bad_name_refused_by_its_field(
        editor: Browserless, api: httpx.Client, project: str) -> None:
    answer = editor.client.post(f"/console/p/{project}/cohorts", data={
        "csrf_token": editor.csrf, "name": "Beta testers", "description": "opted in", "groupType": ""})

    assert answer.status_code == 303
    cohort_id = re.fullmatch(r"/console/cohorts/([a-z0-9]+)\?done=.*", answer.headers["location"]).group(1)  # type: ignore[union-attr]
    stored = get_ok(api, f"/api/1/cohorts/{cohort_id}")
    assert (stored["name"], stored["description"], stored["groupType"], stored["size"]) == (
        "Beta testers", "opted in", "User", 0)
    assert stored["createdBy"] == editor.person.email

    before = get_ok(api, f"/api/1/cohorts?projectId={project}&includeArchived=true&limit=1000")["cohorts"]
    refused = editor.client.post(f"/console/p/{project}/cohorts", data={
        "csrf_token": editor.csrf, "name": "", "description": "kept", "groupType": "User"})
    assert refused.status_code == 400
    assert "name" in field_error(refused.text, "cohort-new", "name")
    assert 'value="kept"' in refused.text
    assert get_ok(api, f"/api/1/cohorts?projectId={project}&includeArchived=true&limit=1000")["cohorts"] == before


# --- uploads ------------------------------------------------------------------------------------

def test_upload__add_remove_replace__as_the_api_and_the_sdk_route_answer(
        editor: Browserless, api: httpx.Client, server: Server, project: str, sdk_keys: dict[str, str]) -> None:
    cohort = create_cohort(api, project, memberIds=["kept"])

    added = upload(editor, cohort, lines([f"user-{i}" for i in range(500)] + ["", "kept", "user-1"]))
    assert notice(added) == "members.txt: 500 of its 502 ids added (the others were members already); " \
                            "the cohort has 501 members"
    assert get_ok(api, f"/api/1/cohorts/{cohort}")["size"] == 501
    assert sorted(members_from_the_sdk_route(server, sdk_keys, cohort)) == sorted(
        ["kept"] + [f"user-{i}" for i in range(500)])

    removed = upload(editor, cohort, lines(["user-0", "user-1", "nobody"]), mode="remove")
    assert notice(removed) == "members.txt: 2 of its 3 ids removed; the cohort has 499 members"
    assert get_ok(api, f"/api/1/cohorts/{cohort}")["size"] == 499

    replaced = upload(editor, cohort, lines(["a", "b", "c"]), mode="replace", filename="new.txt")
    assert notice(replaced) == "Members replaced by the 3 ids of new.txt; the cohort has 3 members"
    assert sorted(members_from_the_sdk_route(server, sdk_keys, cohort)) == ["a", "b", "c"]
    page = editor.client.get(f"/console/cohorts/{cohort}").text
    assert 'data-size="3"' in page and "<li><code>a</code></li>" in page


def test_upload__csv_with_a_header__the_first_column(editor: Browserless, api: httpx.Client, server: Server,
                                                     project: str, sdk_keys: dict[str, str]) -> None:
    cohort = create_cohort(api, project, memberIds=[])
    content = '\ufeffuser_id,plan\r\nann,pro\r\n"bob, jr",free\r\n  carl  ,pro\r\n\r\n'.encode()

    answer = upload(editor, cohort, content, file_format="csv", header=True, filename="export.csv")

    assert notice(answer) == "export.csv: 3 ids added; the cohort has 3 members"
    assert sorted(members_from_the_sdk_route(server, sdk_keys, cohort)) == ["ann", "bob, jr", "carl"]


def test_upload__bad_lines__named_by_the_file_field__nothing_added(
        editor: Browserless, api: httpx.Client, project: str) -> None:
    cohort = create_cohort(api, project, memberIds=["u1"])
    before = get_ok(api, f"/api/1/cohorts/{cohort}")
    rows = [f"ok-{i}".encode() for i in range(20)]
    rows[2] = b"x" * 1001  # line 3: over-long
    rows[6] = b"bad\xffbytes"  # line 7: not UTF-8
    rows[9] = b"tab\tinside"  # line 10: a control character
    for number in (12, 13, 14, 15):  # lines 13..16 over-long too: counted, not all named
        rows[number] = b"y" * 2000
    content = b"\n".join(rows) + b"\n"

    answer = upload(editor, cohort, content)

    assert answer.status_code == 400
    message = field_error(answer.text, "upload", "file")
    assert message == (
        "file has 7 bad lines, so nothing was changed: line 3 holds an id longer than 1000 bytes; "
        "line 7 is not valid UTF-8; line 10 contains a control character; line 13 holds an id longer "
        "than 1000 bytes; line 14 holds an id longer than 1000 bytes; and 2 more bad lines")
    assert 'id="up-file" name="file" type="file"' in answer.text and 'aria-invalid="true"' in answer.text
    assert get_ok(api, f"/api/1/cohorts/{cohort}") == before


@pytest.mark.parametrize(("content", "mode", "file_format", "message"), [
    (b"\n \n", "add", "text", "file holds no member ids"),
    (b"a\n", "merge", "text", "mode must be one of add, remove, replace"),
    (b"a\n", "add", "xlsx", "format must be one of text, csv"),
    (b'a,"unclosed\n', "add", "csv", "line 1 is not a CSV row (check its quotes)"),
])
def test_upload__empty_file_or_bad_choice__refused__nothing_changed(
        editor: Browserless, api: httpx.Client, project: str, content: bytes, mode: str, file_format: str,
        message: str) -> None:
    cohort = create_cohort(api, project)
    before = get_ok(api, f"/api/1/cohorts/{cohort}")

    answer = upload(editor, cohort, content, mode=mode, file_format=file_format)

    assert answer.status_code == 400
    assert message in html.unescape(answer.text)
    assert get_ok(api, f"/api/1/cohorts/{cohort}") == before


def test_upload__over_the_usual_body_limit__accepted(editor: Browserless, api: httpx.Client,
                                                     project: str) -> None:
    # 1.5 MB of ids: past the 1 MB limit other bodies have
    cohort = create_cohort(api, project, memberIds=[])
    ids = [f"member-{i:012d}-{uuid.uuid4().hex[:8]}" for i in range(50_000)]
    content = lines(ids)
    assert len(content) > 1024 * 1024

    assert notice(upload(editor, cohort, content)).endswith("the cohort has 50,000 members")
    assert get_ok(api, f"/api/1/cohorts/{cohort}")["size"] == 50_000


def test_download__every_member_one_per_line(editor: Browserless, api: httpx.Client, project: str) -> None:
    ids = [f"d-{i}" for i in range(25_000)]
    cohort = create_cohort(api, project, memberIds=[])
    assert notice(upload(editor, cohort, lines(ids)))

    answer = editor.client.get(f"/console/cohorts/{cohort}/download")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert answer.headers["content-disposition"] == f'attachment; filename="cohort-{cohort}.txt"'
    assert sorted(answer.text.splitlines()) == sorted(ids)


def test_settings_archive_restore__an_archived_cohort_takes_no_upload(
        editor: Browserless, api: httpx.Client, project: str) -> None:
    cohort = create_cohort(api, project, memberIds=["u1"])
    base = f"/console/cohorts/{cohort}"

    saved = editor.client.post(f"{base}/settings", data={"csrf_token": editor.csrf, "name": "Renamed",
                                                         "description": "why"})
    assert notice(saved) == "Cohort saved"
    assert (get_ok(api, f"/api/1/cohorts/{cohort}")["name"], get_ok(api, f"/api/1/cohorts/{cohort}")["description"]) \
        == ("Renamed", "why")

    assert notice(editor.client.post(f"{base}/archive", data={"csrf_token": editor.csrf, "archive": "true"})) \
        == "Cohort Renamed archived"
    assert get_ok(api, f"/api/1/cohorts/{cohort}")["archived"] is True
    page = editor.client.get(base).text
    assert "Restore cohort" in page and 'name="file"' not in page
    refused = upload(editor, cohort, lines(["u2"]))
    assert refused.status_code == 400 and "is archived; restore it to change its members" in html.unescape(refused.text)
    assert get_ok(api, f"/api/1/cohorts/{cohort}")["size"] == 1

    assert notice(editor.client.post(f"{base}/archive", data={"csrf_token": editor.csrf, "archive": "false"})) \
        == "Cohort Renamed restored"
    assert get_ok(api, f"/api/1/cohorts/{cohort}")["archived"] is False


# --- roles and CSRF -----------------------------------------------------------------------------

def test_viewer__reads_and_downloads__no_forms__a_forged_write_is_403(
        viewer: Browserless, api: httpx.Client, project: str) -> None:
    cohort = create_cohort(api, project, memberIds=["v1", "v2"])
    before = get_ok(api, f"/api/1/cohorts/{cohort}")

    for path in (f"/console/p/{project}/cohorts", f"/console/cohorts/{cohort}"):
        shown = viewer.client.get(path)
        assert shown.status_code == 200, path
        assert 'method="post"' not in after_header(shown.text), path
    assert sorted(viewer.client.get(f"/console/cohorts/{cohort}/download").text.split()) == ["v1", "v2"]

    assert upload(viewer, cohort, lines(["v3"])).status_code == 403
    for path, data in [(f"/console/p/{project}/cohorts", {"name": "x"}),
                       (f"/console/cohorts/{cohort}/settings", {"name": "taken"}),
                       (f"/console/cohorts/{cohort}/archive", {"archive": "true"})]:
        assert viewer.client.post(path, data={"csrf_token": viewer.csrf, **data}).status_code == 403, path
    assert get_ok(api, f"/api/1/cohorts/{cohort}") == before


def test_no_csrf_token__403__nothing_added(editor: Browserless, api: httpx.Client, project: str) -> None:
    cohort = create_cohort(api, project, memberIds=[])

    answer = editor.client.post(f"/console/cohorts/{cohort}/members", data={"mode": "add", "format": "text"},
                                files={"file": ("m.txt", b"a\nb\n", "text/plain")})

    assert answer.status_code == 403
    assert get_ok(api, f"/api/1/cohorts/{cohort}")["size"] == 0


# --- in a browser -------------------------------------------------------------------------------

def test_browser__a_100000_line_file_uploaded_with_progress__as_the_api_answers(
        browser: Any, server: Server, people: Callable[[str], Person], api: httpx.Client, project: str,
        sdk_keys: dict[str, str], shots: Path, tmp_path: Path) -> None:
    ids = [f"user-{uuid.uuid4().hex}" for _ in range(100_000)]
    big = tmp_path / "members.txt"
    big.write_bytes(lines(ids))
    page = sign_in_page(browser, server, people("editor"))
    page.goto(f"/console/p/{project}/flags")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cohorts").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Cohorts")

    # Created from the keyboard
    page.get_by_label("Name", exact=True).fill("Newsletter readers")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/console/cohorts/[a-z0-9]+\?done="))
    cohort = re.search(r"/cohorts/([a-z0-9]+)", page.url).group(1)  # type: ignore[union-attr]
    expect(page.locator("p.notice[role=status]")).to_contain_text("Cohort Newsletter readers created")
    shoot(page, shots, "cohort-empty")

    # The file, sent with its progress shown (the upload slowed to about 1 MB/s so the bar is
    # seen between its ends), then the page again with the result
    network = page.context.new_cdp_session(page)
    network.send("Network.enable")
    network.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0,
                                                      "downloadThroughput": -1, "uploadThroughput": 1_000_000})
    page.get_by_label("File of member ids").set_input_files(str(big))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_function("() => { const bar = document.querySelector('[data-upload-progress] progress');"
                           " return bar && bar.value > 10 && bar.value < 90; }", timeout=60_000)
    expect(page.locator("[data-upload-status]")).to_contain_text(re.compile(r"Sending: [\d.]+ MB of 3\.\d MB"))
    expect(page.get_by_role("button", name="Upload")).to_be_disabled()
    page.screenshot(path=str(shots / "cohort-uploading.png"), full_page=True)
    page.wait_for_url(re.compile(r"\?done="), timeout=120_000)
    network.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0,
                                                      "downloadThroughput": -1, "uploadThroughput": -1})
    expect(page.locator("p.notice[role=status]")).to_have_text(
        "members.txt: 100,000 ids added; the cohort has 100,000 members")
    expect(page.locator("dd[data-size]")).to_have_text("100,000")

    # The API's answers: the size, and the members the SDKs download
    assert get_ok(api, f"/api/1/cohorts/{cohort}")["size"] == 100_000
    downloaded = members_from_the_sdk_route(server, sdk_keys, cohort)
    assert len(downloaded) == 100_000 and set(downloaded) == set(ids)
    shown = page.locator("ul.member-sample code").all_text_contents()
    assert len(shown) == 20 and set(shown) <= set(ids)

    # A flag that targets it is named on its page
    flag = create_flag(api, project, key=f"newsletter-banner-{uuid.uuid4().hex[:4]}", targetSegments=[{
        "name": "Readers", "percentage": 100, "rolloutWeights": {"on": 1},
        "conditions": [{"type": "property", "prop": "cohort_ids", "op": "set contains any", "values": [cohort]}]}])
    page.reload()
    expect(page.locator("section[aria-labelledby=h-uses] li")).to_contain_text(
        'Flag newsletter-banner-')
    expect(page.locator(f'section[aria-labelledby=h-uses] a[href="/console/flags/{flag}"]')).to_be_visible()
    shoot(page, shots, "cohort")
    assert serious_violations(page) == []

    # The list shows its size
    page.get_by_role("link", name="Cohorts").first.click()
    expect(page.locator(f'tr[data-cohort="{cohort}"] td.num')).to_have_text("100,000")
    shoot(page, shots, "cohorts")
    assert serious_violations(page) == []
    page.context.close()


def test_browser__a_file_with_bad_lines__refused_in_place__nothing_added(
        browser: Any, server: Server, people: Callable[[str], Person], api: httpx.Client, project: str,
        shots: Path, tmp_path: Path) -> None:
    cohort = create_cohort(api, project, name="Careful", memberIds=["one"])
    before = get_ok(api, f"/api/1/cohorts/{cohort}")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine-1\nfine-2\n" + b"z" * 1500 + b"\nfine-3\nnul\x00here\n")
    page = sign_in_page(browser, server, people("editor"))
    page.goto(f"/console/cohorts/{cohort}")

    page.get_by_label("File of member ids").set_input_files(str(bad))
    page.get_by_label("Replace all the members with its ids").check()
    page.get_by_role("button", name="Upload").click()

    error = page.locator("#err-upload-file")
    expect(error).to_have_text("file has 2 bad lines, so nothing was changed: line 3 holds an id longer than "
                               "1000 bytes; line 5 contains a control character")
    expect(page.get_by_label("File of member ids")).to_be_focused()
    expect(page.get_by_label("Replace all the members with its ids")).to_be_checked()
    assert get_ok(api, f"/api/1/cohorts/{cohort}") == before
    shoot(page, shots, "cohort-refused")
    assert serious_violations(page) == []
    page.context.close()
