"""A project's webhooks from the console: over HTTP, an editor creates one (its secret shown
once), edits and deletes it, bad input is refused by its field with nothing stored, a viewer
reads only; in a real headless Chromium, an editor creates a webhook pointing at a receiver,
sends a test and sees the delivery, and its retry, in the log.

The full-page screenshot goes to $FLAGYARD_SCREENSHOTS (or a temporary directory), as in
test_browser.py, for a person to look at.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from standardwebhooks.webhooks import Webhook as Verifier

from tests.console.browser import sign_in_page
from tests.console.conftest import Browserless, Person, create_user
from tests.support.server import Server, fresh_database_url, running_server
from tests.support.webhook_receiver import Receiver, webhook_receiver

# Resolves nowhere here, so the shared server (which refuses private targets) accepts it.
PUBLIC_URL = "https://hooks.example.com/flagyard"
# A server of the browser test's own that may send to the receiver on 127.0.0.1, and retries fast.
SENDING = {"FLAGYARD_WEBHOOK_ALLOW_PRIVATE": "true", "FLAGYARD_WEBHOOK_CHECK_SECONDS": "0.1",
           "FLAGYARD_WEBHOOK_RETRY_DELAYS": "0.3,0.3,0.3"}


def field_error(page: str, form: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="err-{form}-{field}" role="alert">([^<]*)</p>', page)
    assert found, f"no error shown by {form}.{field}"
    return html.unescape(found.group(1))


def hooks_of(api: httpx.Client, project_id: str) -> list[dict[str, Any]]:
    return list(api.get("/api/1/webhooks", params={"projectId": project_id}).json()["webhooks"])


def create_hook(api: httpx.Client, project_id: str, **fields: Any) -> dict[str, Any]:
    body = {"projectId": project_id, "url": PUBLIC_URL, "events": ["flag.version.created"], **fields}
    created = api.post("/api/1/webhooks", json=body)
    assert created.status_code == 200, created.text
    return dict(created.json())


def after_header(page: str) -> str:
    return page.split("</header>", 1)[1]


# --- over HTTP ----------------------------------------------------------------------------------

def test_create__the_secret_shown_once__listed_with_a_link(editor: Browserless, api: httpx.Client,
                                                          project_id: str) -> None:
    name = f"ops-{uuid.uuid4().hex[:6]}"
    # When an editor fills in the create form
    answer = editor.client.post(f"/console/p/{project_id}/webhooks", data={
        "csrf_token": editor.csrf, "url": PUBLIC_URL, "name": name, "format": "slack",
        "events": ["flag.enabled", "experiment.started"], "flagKeys": "checkout, search\nbanner"})
    # Then the answer is the webhook's page, with its secret and a notice to copy it now
    assert answer.status_code == 200, answer.text
    secret = re.search(r'<code id="new-secret">(whsec_[^<]+)</code>', answer.text)
    assert secret and "copy it now" in answer.text and "cannot be shown again" in answer.text
    # And it is stored as the API shows it, by the editor
    [hook] = [h for h in hooks_of(api, project_id) if h["name"] == name]
    assert hook["url"] == PUBLIC_URL and hook["format"] == "slack" and hook["enabled"] is True
    assert hook["events"] == ["flag.enabled", "experiment.started"]
    assert hook["filters"] == {"flagKeys": ["checkout", "search", "banner"]}
    assert hook["createdBy"] == editor.person.email
    # And the list links to it; neither the list nor its page shows the secret again
    listing = editor.client.get(f"/console/p/{project_id}/webhooks").text
    assert f'<a href="/console/webhooks/{hook["id"]}">{name}</a>' in listing
    assert 'aria-current="page">Webhooks</a>' in listing
    assert secret.group(1) not in listing
    assert secret.group(1) not in editor.client.get(f"/console/webhooks/{hook['id']}").text


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"url": "ftp://hooks.example.com/x"}, "url", "url must be an http or https URL with a host"),
    ({"url": "https://me:pw@hooks.example.com/x"}, "url", "url must not carry credentials"),
    ({"url": "http://127.0.0.1:9/hook"}, "url", "url points at 127.0.0.1, a private, loopback or link-local"),
    ({"events": []}, "events", "events must list at least one event type"),
    ({"events": ["flag.renamed"]}, "events", "events[0] 'flag.renamed' is not an event type"),
    ({"format": "xml"}, "format", "format must be one of standard, slack"),
])
def test_create__bad_input__the_message_by_its_field_and_nothing_stored(
        editor: Browserless, api: httpx.Client, project_id: str, fields: dict[str, Any], field: str,
        message: str) -> None:
    before = hooks_of(api, project_id)
    typed = {"url": PUBLIC_URL, "name": "refused", "events": ["flag.enabled"], "flagKeys": "kept", **fields}
    answer = editor.client.post(f"/console/p/{project_id}/webhooks", data={"csrf_token": editor.csrf, **typed})
    assert answer.status_code == 400
    assert message in field_error(answer.text, "webhook-new", field)
    assert hooks_of(api, project_id) == before
    # What was typed is still there, to be corrected rather than typed again
    assert 'value="refused"' in answer.text and ">kept</textarea>" in answer.text
    assert "new-secret" not in answer.text


def test_edit__saved_as_the_api_shows__a_bad_value_changes_nothing(editor: Browserless, api: httpx.Client,
                                                                   project_id: str) -> None:
    hook = create_hook(api, project_id, name="to edit")
    page = editor.client.get(f"/console/webhooks/{hook['id']}").text
    assert 'id="webhook-settings"' in page and 'name="enabled" value="true" checked' in page
    # When an editor disables it and changes its events and filter (leaving "enabled" unchecked)
    saved = editor.client.post(f"/console/webhooks/{hook['id']}", data={
        "csrf_token": editor.csrf, "url": PUBLIC_URL + "/v2", "name": "edited", "format": "standard",
        "events": ["experiment.decision", "flag.disabled"], "flagKeys": "a,b"})
    assert saved.status_code == 303 and saved.headers["location"].startswith(f"/console/webhooks/{hook['id']}?done=")
    stored = api.get(f"/api/1/webhooks/{hook['id']}").json()
    assert stored["enabled"] is False and stored["name"] == "edited" and stored["url"] == PUBLIC_URL + "/v2"
    assert stored["events"] == ["experiment.decision", "flag.disabled"]
    assert stored["filters"] == {"flagKeys": ["a", "b"]}
    assert "Webhook saved" in editor.client.get(saved.headers["location"]).text
    # When a bad URL is sent with other changes, the message is by the URL and nothing changes
    refused = editor.client.post(f"/console/webhooks/{hook['id']}", data={
        "csrf_token": editor.csrf, "url": "mailto:ops@example.com", "name": "never", "enabled": "true",
        "events": ["flag.enabled"]})
    assert refused.status_code == 400
    assert "url must be an http or https URL" in field_error(refused.text, "webhook-settings", "url")
    assert '<details open id="webhook-settings">' in refused.text
    assert api.get(f"/api/1/webhooks/{hook['id']}").json() == stored


def test_test_button_and_delete(editor: Browserless, api: httpx.Client, project_id: str) -> None:
    hook = create_hook(api, project_id)
    # "Send a test" queues a webhook.test delivery and comes back to the page with a notice
    tested = editor.client.post(f"/console/webhooks/{hook['id']}/test", data={"csrf_token": editor.csrf})
    assert tested.status_code == 303
    page = editor.client.get(tested.headers["location"]).text
    [delivery] = api.get(f"/api/1/webhooks/{hook['id']}/deliveries").json()["deliveries"]
    assert delivery["eventType"] == "webhook.test"
    assert f'<p class="notice" role="status">Test delivery {delivery["messageId"]} queued' in page
    assert f'<tbody data-delivery="{delivery["id"]}">' in page
    # Delete asks first (the console's confirmation), then goes back to the list, without it
    assert 'data-confirm="Delete Webhook' in page
    deleted = editor.client.post(f"/console/webhooks/{hook['id']}/delete", data={"csrf_token": editor.csrf})
    assert deleted.status_code == 303
    assert deleted.headers["location"].startswith(f"/console/p/{project_id}/webhooks?done=")
    assert api.get(f"/api/1/webhooks/{hook['id']}").status_code == 404
    assert f"/console/webhooks/{hook['id']}\"" not in editor.client.get(deleted.headers["location"]).text
    # A webhook that is gone is the console's 404 page
    assert editor.client.get(f"/console/webhooks/{hook['id']}").status_code == 404


def test_viewer__reads_the_pages_without_forms__a_forged_write_is_403(viewer: Browserless, api: httpx.Client,
                                                                      project_id: str) -> None:
    hook = create_hook(api, project_id, name="watched")
    api.post(f"/api/1/webhooks/{hook['id']}/test")
    listing = viewer.client.get(f"/console/p/{project_id}/webhooks")
    page = viewer.client.get(f"/console/webhooks/{hook['id']}")
    assert listing.status_code == 200 and page.status_code == 200
    assert "watched" in listing.text and "New webhook" not in listing.text
    for shown in (listing.text, page.text):
        assert 'method="post"' not in after_header(shown)
    assert PUBLIC_URL in page.text and "Delivery log" in page.text and "webhook.test" in page.text
    # Writes crafted by hand, with a valid session and CSRF token, are refused
    for path, data in ((f"/console/p/{project_id}/webhooks", {"url": PUBLIC_URL, "events": ["flag.enabled"]}),
                       (f"/console/webhooks/{hook['id']}", {"url": PUBLIC_URL, "events": ["flag.enabled"]}),
                       (f"/console/webhooks/{hook['id']}/test", {}),
                       (f"/console/webhooks/{hook['id']}/delete", {})):
        answer = viewer.client.post(path, data={"csrf_token": viewer.csrf, **data})
        assert answer.status_code == 403, path
    assert api.get(f"/api/1/webhooks/{hook['id']}").json()["events"] == ["flag.version.created"]
    assert len(api.get(f"/api/1/webhooks/{hook['id']}/deliveries").json()["deliveries"]) == 1


def test_no_csrf_token__403(editor: Browserless, api: httpx.Client, project_id: str) -> None:
    before = hooks_of(api, project_id)
    answer = editor.client.post(f"/console/p/{project_id}/webhooks",
                                data={"url": PUBLIC_URL, "events": ["flag.enabled"]})
    assert answer.status_code == 403
    assert hooks_of(api, project_id) == before


# --- in a browser -------------------------------------------------------------------------------





@pytest.fixture(scope="module")
def sending(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Person]]:
    """A server that sends to 127.0.0.1, with a project and an editor."""
    database_url = fresh_database_url(tmp_path_factory.mktemp("webhooks-page"))
    with running_server(database_url, env=SENDING) as server:
        server.create_project("shop")
        yield server, create_user(server, "editor")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as running:
        yield running




def reload_until(page: Any, selector: str, timeout: float = 20_000) -> None:
    """The log is a plain page: reload it (as a person would) until the row is there."""
    deadline = page.evaluate("Date.now()") + timeout
    while page.locator(selector).count() == 0:
        assert page.evaluate("Date.now()") < deadline, f"{selector} never appeared"
        page.wait_for_timeout(200)
        page.get_by_role("link", name="Reload").click()
        page.wait_for_load_state()


def test_browser__an_editor_creates_a_webhook__sends_a_test__sees_it_delivered(
        browser: Any, sending: tuple[Server, Person], receiver: Receiver, shots: Path) -> None:
    server, editor = sending
    page = sign_in_page(browser, server, editor)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Webhooks")
    form = page.locator("form#webhook-new")

    # A URL that is not http(s): the message by the field, nothing stored
    form.get_by_label("URL").fill("ftp://receiver.example/hook")
    form.get_by_label("Name (optional)").fill("receiver")
    form.get_by_role("group", name="Events").get_by_label("flag.version.created").check()
    form.get_by_role("button", name="Create webhook").click()
    page.wait_for_load_state()
    error = page.locator("#err-webhook-new-url")
    expect(error).to_contain_text("url must be an http or https URL with a host")
    expect(page.get_by_label("URL")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("cell", name="No webhooks.")).to_be_visible()
    page.screenshot(path=str(shots / "webhooks-list.png"), full_page=True)

    # Corrected, with one more event ticked from the keyboard: created, the secret shown once
    form.get_by_label("URL").fill(receiver.url)
    form.get_by_label("webhook.test").focus()
    page.keyboard.press("Space")
    form.get_by_role("button", name="Create webhook").click()
    page.wait_for_load_state()
    notice = page.get_by_role("status").filter(has_text="Signing secret")
    expect(notice).to_contain_text("copy it now")
    expect(notice).to_contain_text("it cannot be shown again")
    secret = page.locator("#new-secret").inner_text()
    assert secret.startswith("whsec_")

    # "Send a test": back to the page with a notice, and the delivery in the log with status 200
    page.get_by_role("button", name="Send a test").click()
    page.wait_for_url(re.compile(r"/console/webhooks/\d+\?done="))
    expect(page.locator("p.notice[role=status]")).to_contain_text("queued")
    assert page.locator("#new-secret").count() == 0
    reload_until(page, "tr[data-attempt-status='200']")
    delivery = page.locator("tbody[data-delivery]").first
    expect(delivery.locator("tr.delivery")).to_contain_text("webhook.test")
    expect(delivery.locator("tr.delivery")).to_contain_text("delivered")
    expect(delivery.locator("table.attempts")).to_contain_text("200")
    # And the receiver got it, signed with the secret the page showed
    [received] = receiver.wait_for(1)
    assert Verifier(secret).verify(received.body, received.headers)["type"] == "webhook.test"

    # A receiver that fails once: the retry shows as a second attempt, 503 then 200
    receiver.answers = [503]
    page.get_by_role("button", name="Send a test").click()
    page.wait_for_url(re.compile(r"/console/webhooks/\d+\?done="))
    reload_until(page, "tbody[data-delivery] >> nth=0 >> tr[data-attempt-status='200']")
    retried = page.locator("tbody[data-delivery]").first.locator("table.attempts tbody tr")
    expect(retried).to_have_count(2)
    expect(retried.nth(0)).to_contain_text("503")
    page.screenshot(path=str(shots / "webhooks-page.png"), full_page=True)
