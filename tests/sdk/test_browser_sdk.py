"""Amplitude's browser SDK (`@amplitude/experiment-js-client`, its own build from npm) in headless
Chromium, on a page served from a second origin: remote fetch and local evaluation agree with
/sdk/v2/vardata, through CORS, with a client deployment key."""

from __future__ import annotations

import base64
import functools
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, sync_playwright

from tests.sdk.typed_flags import FLAGS, TypedProject, make_typed_project, users
from tests.support.npm import npm_packages
from tests.support.server import Server

PACKAGE = "@amplitude/experiment-js-client@1.23.1"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PAGE = """<!doctype html><html><head><title>flagyard browser check</title>
<script src="experiment.umd.js"></script></head><body>ready</body></html>"""
SERVED = [key for key, (_, _, enabled) in FLAGS.items() if enabled]

# Runs in the page: one client fetching remotely, one evaluating locally, per user.
SCRIPT = """async ({serverUrl, key, users, flagKeys}) => {
  const quiet = {track: () => {}};
  const options = {serverUrl, flagsServerUrl: serverUrl, fetchOnStart: false, pollOnStart: false,
                   automaticExposureTracking: false, exposureTrackingProvider: quiet,
                   retryFetchOnFailure: false, throwOnError: true};
  const remote = Experiment.initialize(key, {...options, instanceName: 'remote'});
  const local = Experiment.initialize(key, {...options, instanceName: 'local'});
  await local.start();
  const rows = [];
  for (const user of users) {
    await remote.fetch(user);
    const fetched = remote.all();
    local.setUser(user);
    const evaluated = {};
    for (const flagKey of flagKeys) evaluated[flagKey] = local.variant(flagKey);
    rows.push({fetched, evaluated});
  }
  let management = 'readable';
  try { await fetch(serverUrl + '/api/1/flags', {headers: {Authorization: 'Bearer x'}}); }
  catch (error) { management = 'blocked'; }
  return {origin: location.origin, rows, management};
}"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second origin (localhost, another port) serving the page and the SDK's UMD build."""
    root = tmp_path_factory.mktemp("page")
    build = npm_packages(PACKAGE) / "node_modules/@amplitude/experiment-js-client/dist/experiment.umd.js"
    shutil.copy(build, root / "experiment.umd.js")
    (root / "index.html").write_text(PAGE)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture(scope="module")
def page(page_origin: str) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page()
            tab.goto(f"{page_origin}/index.html")
            yield tab
        finally:
            browser.close()


def vardata(server: Server, key: str, user: dict[str, Any]) -> dict[str, Any]:
    encoded = base64.urlsafe_b64encode(json.dumps(user).encode()).decode().rstrip("=")
    answer = httpx.get(f"{server.base_url}/sdk/v2/vardata?v=0",
                       headers={"Authorization": f"Api-Key {key}", "X-Amp-Exp-User": encoded})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _shown(variant: dict[str, Any] | None) -> tuple[Any, Any, Any]:
    """(key, value, payload) of a served variant; Nones for the default. The SDK drops a
    `false` payload, so falsy payloads compare as absent on both sides."""
    if not variant or variant.get("key") in (None, "off") or variant.get("metadata", {}).get("default"):
        return (None, None, None)
    return (variant["key"], variant.get("value"), variant.get("payload") or None)


def test_browser_sdk__second_origin__remote_and_local_agree_with_vardata(
    server: Server, api: httpx.Client, page: Page
) -> None:
    # Given typed flags served to a client deployment, and people to evaluate
    typed: TypedProject = make_typed_project(server, api, "browser")
    people = []
    for context in users(20):
        person = {"user_id": context["targetingKey"], "device_id": context["targetingKey"]}
        if "country" in context:
            person["country"] = context["country"]
        people.append(person)
    # When the browser SDK, loaded on another origin, fetches and evaluates each of them
    result = page.evaluate(SCRIPT, {"serverUrl": server.base_url, "key": typed.client_key,
                                    "users": people, "flagKeys": SERVED})
    # Then it really ran cross-origin, and the management API stayed closed to the page
    assert result["origin"] != server.base_url
    assert result["management"] == "blocked"
    served = 0
    for person, row in zip(people, result["rows"], strict=True):
        expected = vardata(server, typed.client_key, person)
        for flag in SERVED:
            want = _shown(expected[flag])
            # remote fetch returns what /sdk/v2/vardata returns
            assert _shown(row["fetched"].get(flag)) == want, (person, flag)
            # local evaluation in the browser agrees
            assert _shown(row["evaluated"].get(flag)) == want, (person, flag)
            served += want[0] is not None
    assert served > len(people) * 3
