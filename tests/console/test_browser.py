"""End to end in a real headless Chromium: a person runs a flag from the console.

Screenshots of every main page go to $FLAGYARD_SCREENSHOTS (or a temporary directory), outside
the repository, so a person can look at them after the run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from amplitude_experiment import RemoteEvaluationClient, RemoteEvaluationConfig, User

from tests.console.browser import sign_in_page
from tests.console.conftest import Browserless, Person
from tests.console.events import exposed
from tests.factories import create_flag, unique_key
from tests.support.server import Server


def test_a_person_runs_a_flag_from_the_console(
    browser: Any, server: Server, api: httpx.Client, project_id: str, deployment: dict[str, str], shots: Path,
    admin: Browserless, people: Callable[[str], Person],
) -> None:
    viewer = people("viewer")
    key = unique_key("checkout")

    # Sign in
    signed_out = browser.new_page(base_url=server.base_url, viewport={"width": 1280, "height": 800})
    signed_out.goto("/")
    signed_out.screenshot(path=shots / "01-sign-in.png")
    signed_out.close()
    page = sign_in_page(browser, server, admin.person)
    # The first Tab reaches the skip link
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"

    # Create a flag linked to the deployment
    create = page.locator("form#create")
    create.get_by_label("Key", exact=True).fill(key)
    create.get_by_label("Name", exact=True).fill("New checkout")
    create.get_by_label("production", exact=True).check()
    create.get_by_role("button", name="Create flag").click()
    page.wait_for_url(re.compile(r"/console/flags/\d+"))
    flag_id = re.search(r"/console/flags/(\d+)", page.url).group(1)  # type: ignore[union-attr]

    # Add a variant with a JSON payload; broken JSON is caught before it is sent
    variant = page.locator("form#variant-new")
    before = page.url
    variant.get_by_label("Key", exact=True).fill("blue")
    variant.get_by_label("Payload (JSON, optional)").fill('{"color": "#00f"')
    variant.get_by_role("button", name="Add variant").click()
    assert variant.locator("[data-json-error]").is_visible()
    assert "not valid JSON" in variant.locator("[data-json-error]").inner_text()
    assert page.url == before  # nothing was sent
    variant.get_by_label("Payload (JSON, optional)").fill('{"color": "#00f", "sizes": [1, 2]}')
    variant.get_by_role("button", name="Add variant").click()
    page.wait_for_url(re.compile("done=Variant"))

    # Add a targeting segment with two conditions, built with the condition builder
    page.locator("#segment-new summary").click()
    segment = page.locator("#segment-new form")
    segment.get_by_label("Segment name").fill("German pro plan")
    segment.get_by_label("Property").fill("country")
    segment.get_by_label("Operator").select_option("is")
    segment.get_by_label("Values (one per line)").fill("DE\nAT")
    segment.get_by_role("button", name="Add condition").click()
    segment.get_by_label("Property").nth(1).fill("plan")
    segment.get_by_label("Operator").nth(1).select_option("is not")
    segment.get_by_label("Values (one per line)").nth(1).fill("free")
    segment.get_by_label("Percentage").fill("100")
    segment.get_by_label("on", exact=True).fill("0")
    segment.get_by_label("blue", exact=True).fill("1")
    segment.get_by_role("button", name="Add segment").click()
    page.wait_for_url(re.compile("done=Segment"))

    # Enable
    page.get_by_role("button", name="Enable").click()
    page.wait_for_url(re.compile("done=Enabled"))
    page.screenshot(path=shots / "03-flag.png", full_page=True)

    # Through the API, the flag is exactly what was entered, by this person
    flag = api.get(f"/api/1/flags/{flag_id}").json()
    assert flag["key"] == key and flag["name"] == "New checkout" and flag["enabled"] is True
    assert flag["deployments"] == [deployment["id"]]
    assert [(v["key"], v["payload"]) for v in flag["variants"]] == [
        ("on", None), ("blue", {"color": "#00f", "sizes": [1, 2]})]
    assert flag["targetSegments"] == [{
        "name": "German pro plan",
        "conditions": [
            {"type": "property", "prop": "country", "op": "is", "values": ["DE", "AT"]},
            {"type": "property", "prop": "plan", "op": "is not", "values": ["free"]},
        ],
        "percentage": 100,
        "bucketingKey": "amplitude_id",  # a segment shows the flag's key unless it has its own
        "rolloutWeights": {"on": 0, "blue": 1},
    }]
    assert flag["version"] == 4 and flag["lastModifiedBy"] == admin.person.email

    # History shows every version, by this person; the last change reads as enabled false → true
    page.get_by_role("link", name="History").click()
    page.wait_for_url(re.compile("/history"))
    rows = page.locator("table >> nth=1").locator("tbody tr")
    assert rows.count() == 4
    assert admin.person.email in rows.first.inner_text()
    diff = page.locator("table.diff")
    assert "enabled" in diff.inner_text() and "true" in diff.inner_text()
    page.screenshot(path=shots / "04-history.png", full_page=True)

    # Restore version 3 (before it was enabled): a new version 5 equal to version 3
    page.get_by_role("button", name="Restore version 3").click()
    page.wait_for_url(re.compile("done=Version"))
    restored = api.get(f"/api/1/flags/{flag_id}").json()
    version_3 = api.get(f"/api/1/flags/{flag_id}/versions/3").json()["flagConfig"]
    assert restored["version"] == 5 and restored["enabled"] is False
    ignore = ("version", "lastModifiedAt", "lastModifiedBy")
    assert {k: v for k, v in restored.items() if k not in ignore} == {
        k: v for k, v in version_3.items() if k not in ignore}
    assert "Version 3 restored as version 5" in page.locator(".notice").inner_text()

    # Enable again, then ask the debugger what two users get
    page.goto(f"/console/flags/{flag_id}")
    page.get_by_role("button", name="Enable").click()
    page.wait_for_url(re.compile("done=Enabled"))
    page.get_by_role("link", name="Debugger").click()
    client = RemoteEvaluationClient(deployment["key"], RemoteEvaluationConfig(server_url=server.base_url))
    try:
        for user_id, country, expected in (("alice", "DE", "blue"), ("bob", "US", "off")):
            page.get_by_label("Deployment").select_option(label="production")
            page.get_by_label("User id").fill(user_id)
            typed = {"country": country, "plan": "pro"}
            page.get_by_label("User fields and properties (JSON object)").fill(json.dumps(typed))
            page.get_by_role("button", name="Evaluate").click()
            page.wait_for_url(re.compile("user_id="))
            row = page.locator(f'tr[data-flag="{key}"]')
            shown = row.locator(".variant").inner_text().strip()
            sdk_user = User(user_id=user_id, country=country, user_properties={"plan": "pro"})
            sdk = client.fetch_v2(sdk_user).get(key)
            assert shown == expected == (sdk.key if sdk and sdk.key else "off")
            if expected == "blue":
                assert sdk.payload == {"color": "#00f", "sizes": [1, 2]}
                assert row.locator(".segment").inner_text() == "German pro plan"
                page.screenshot(path=shots / "05-debugger.png", full_page=True)
    finally:
        client.close()

    # The other main pages, for a person to look at
    for name, path in (("02-flags", f"/console/p/{project_id}/flags"),
                       ("06-activity", f"/console/p/{project_id}/activity"),
                       ("07-deployments", f"/console/p/{project_id}/deployments"),
                       ("08-keys", "/console/keys"), ("09-users", "/console/users"),
                       ("10-experiments", f"/console/p/{project_id}/experiments")):
        page.goto(path)
        page.screenshot(path=shots / f"{name}.png", full_page=True)
    page.goto("/docs")
    page.locator(".swagger-ui .info").wait_for()  # rendered from flagyard's own assets
    page.screenshot(path=shots / "11-docs.png")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/console/flags/{flag_id}")
    page.screenshot(path=shots / "12-flag-phone.png", full_page=True)
    page.goto(f"/console/p/{project_id}/flags")
    page.screenshot(path=shots / "13-flags-phone.png", full_page=True)

    # A request without the CSRF token is refused, and changes nothing
    forged = page.context.request.post(f"/console/flags/{flag_id}/enabled", form={"enabled": "false"},
                                       max_redirects=0)
    assert forged.status == 403
    assert api.get(f"/api/1/flags/{flag_id}").json()["enabled"] is True
    page.context.close()

    # A viewer sees the flag without a single write control, and a forged write is 403
    look = sign_in_page(browser, server, viewer)
    look.goto(f"/console/flags/{flag_id}")
    assert look.locator("main form[method='post']").count() == 0
    assert look.get_by_role("button", name="Disable").count() == 0
    look.screenshot(path=shots / "14-flag-viewer.png", full_page=True)
    csrf = look.locator("input[name='csrf_token']").first.get_attribute("value")
    refused = look.context.request.post(f"/console/flags/{flag_id}/enabled",
                                        form={"enabled": "false", "csrf_token": csrf}, max_redirects=0)
    assert refused.status == 403
    assert api.get(f"/api/1/flags/{flag_id}").json()["enabled"] is True
    look.context.close()


def test_a_person_reads_an_experiments_results_and_records_the_decision(
    browser: Any, server: Server, api: httpx.Client, project_id: str, deployment: dict[str, str], shots: Path,
    people: Callable[[str], Person],
) -> None:
    # Given an experiment with exposed users (past the minimum of 100 a side), purchases and two metrics
    key = unique_key("results")
    flag_id = create_flag(api, project_id, "experiments", key=key, deployments=[deployment["id"]])
    exposed(server, deployment, key, 110, 112, {"control": [10.0, 8.0, 12.0, 9.0, 11.0, 10.0],
                                              "treatment": [12.0, 14.0, 9.0, 13.0, 15.0, 11.0, 12.0, 16.0]})
    stored = api.put(f"/api/1/experiments/{flag_id}/metrics", json={"metrics": [
        {"eventType": "purchase"}, {"eventType": "purchase", "property": "revenue", "name": "revenue per user"}]})
    assert stored.status_code == 200, stored.text
    revenue = stored.json()["metrics"][1]
    expected = api.get(f"/api/1/experiments/{flag_id}/results", params={"metricId": revenue["id"]}).json()

    # An editor finds it through the links and the search box, keyboard only for the search
    page = sign_in_page(browser, server, people("editor"))
    page.get_by_role("link", name="Experiments").click()
    page.get_by_label("Search key or name").fill(key)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q="))
    page.get_by_role("link", name=key).click()
    page.get_by_role("link", name="Results").click()
    page.wait_for_url(re.compile(rf"/console/experiments/{flag_id}/results"))

    # Picks the revenue metric with the keyboard: the chart and the table show the API's numbers
    picker = page.get_by_label("Show results for")
    picker.focus()
    picker.select_option(label="revenue per user (mean)")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Show"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"metric={revenue['id']}"))
    chart = page.locator("#h-results ~ svg.chart")
    assert chart.is_visible()
    assert "revenue per user: value per variant" in (chart.get_attribute("aria-label") or "")
    treatment = next(v for v in expected["variants"] if v["key"] == "treatment")
    row = page.locator('tr[data-variant="treatment"]')
    assert row.locator('[data-field="value"]').inner_text() == f"{treatment['value']:.4g}"
    assert row.locator('[data-field="pValue"]').inner_text() == (
        "< 0.001" if treatment["pValue"] < 0.001 else f"{treatment['pValue']:.3f}")
    assert page.get_by_role("img", name=re.compile("Exposed users per day")).is_visible()
    assert page.locator("#srm-warning").count() == 0
    page.screenshot(path=shots / "15-results.png", full_page=True)

    # Records the decision and sees it confirmed
    decision = page.locator("form#decision")
    decision.get_by_label("Decision").select_option("rollout")
    decision.get_by_label("Variant rolled out").select_option("treatment")
    decision.get_by_label("Reason").fill("Revenue per user is up")
    decision.get_by_role("button", name="Record decision").click()
    page.wait_for_url(re.compile("done=Decision"))
    assert "The experiment is now decision-made" in page.get_by_role("status").inner_text()
    assert "revenue per user" in page.locator("#h-results").inner_text()  # still on the chosen metric
    assert api.get(f"/api/1/experiments/{flag_id}").json()["decision"] == "rollout"
    page.screenshot(path=shots / "16-results-decided.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.screenshot(path=shots / "17-results-phone.png", full_page=True)
    page.context.close()
