"""The results page's analysis, in a real headless Chromium: an editor changes how results are
analysed through the form (and a bad value changes nothing), a guardrail's harm is warned about,
the difference over time is drawn from the API's series, and unmet minimum samples are named.

The full-page screenshot goes to $FLAGYARD_SCREENSHOTS (or a temporary directory), as in
test_browser.py, for a person to look at.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from flagyard.api.console.results_charts import difference_over_time
from tests.console.browser import sign_in_page
from tests.console.conftest import Browserless, Person
from tests.console.events import T0, exposure, send
from tests.factories import create_flag
from tests.support.server import Server

DEFAULTS = {"testType": "sequential", "confidenceLevel": 0.95, "multipleTesting": "bonferroni",
            "cuped": False, "cupedWindowDays": 7, "sequentialEffect": 0.05}








def experiment(api: httpx.Client, project_id: str, deployment: dict[str, str]) -> tuple[str, str]:
    key = f"analysis-{uuid.uuid4().hex[:8]}"
    return create_flag(api, project_id, "experiments", key=key, deployments=[deployment["id"]]), key


def population(flag: str, users: int, converting: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """`users` per variant, exposed at T0; converting[event][variant] of them do the event once."""
    events = []
    for variant in ("control", "treatment"):
        for n in range(users):
            user = f"{flag}-{variant}-{n:04d}"
            events.append(exposure(flag, user, variant))
            events += [{"event_type": event, "user_id": user, "time": T0 + 1_000}
                       for event, shares in converting.items() if n < shares[variant] * users]
    return events


def send_all(server: Server, deployment: dict[str, str], events: list[dict[str, Any]]) -> None:
    for n in range(0, len(events), 500):
        send(server, deployment, events[n:n + 500])


def settings(api: httpx.Client, flag_id: str) -> dict[str, Any]:
    """The analysis settings this page edits, as the API reads them back."""
    stored = api.get(f"/api/1/experiments/{flag_id}/analysis").json()
    return {name: stored[name] for name in DEFAULTS}


def put(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = api.put(path, json=body)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


@pytest.fixture(scope="module")
def guarded(server: Server, api: httpx.Client, project_id: str, deployment: dict[str, str]) -> dict[str, Any]:
    """400 users a side: purchases level, refunds (lower is better) tripled by the treatment —
    harm — and visits level with a wide margin — harm ruled out. The sequential test is tuned
    for the large effects 400 users can show (at 5 % it needs tens of thousands)."""
    flag_id, key = experiment(api, project_id, deployment)
    put(api, f"/api/1/experiments/{flag_id}/metrics", {"metrics": [
        {"eventType": "purchase", "role": "primary"},
        {"eventType": "refund", "role": "guardrail", "direction": "decrease", "nonInferiorityMargin": 0.05},
        {"eventType": "visit", "role": "guardrail", "nonInferiorityMargin": 0.5}]})
    send_all(server, deployment, population(key, 400, {
        "purchase": {"control": 0.3, "treatment": 0.36},
        "refund": {"control": 0.1, "treatment": 0.3},
        "visit": {"control": 0.8, "treatment": 0.8}}))
    put(api, f"/api/1/experiments/{flag_id}/analysis", {"sequentialEffect": 1.0})
    return {"id": flag_id, "key": key}


def test_analysis__an_editor_changes_the_test_and_the_level__a_bad_value_changes_nothing(
        browser: Any, server: Server, api: httpx.Client, project_id: str, deployment: dict[str, str],
        people: Callable[[str], Person], viewer: Browserless) -> None:
    flag_id, _ = experiment(api, project_id, deployment)
    person = people("editor")
    page = sign_in_page(browser, server, person)
    page.goto(f"/console/experiments/{flag_id}/results")
    facts = page.locator("#analysis-facts")
    assert "Sequential test (valid whenever you look)" in facts.inner_text()
    assert "Bonferroni" in facts.inner_text() and "95 %" in facts.inner_text()

    # Opens the form with the keyboard: its summary is reachable and every field is labelled
    page.locator("#analysis-edit summary").focus()
    page.keyboard.press("Enter")
    form = page.locator("form#analysis")
    assert form.get_by_label("Confidence level (%)").input_value() == "95"
    # A confidence of 99.95 %: the service's message by the field, and nothing changes
    form.get_by_label("Confidence level (%)").fill("99.95")
    form.get_by_role("button", name="Save analysis settings").click()
    page.wait_for_load_state()
    error = page.locator("#err-analysis-confidenceLevel")
    assert error.is_visible()
    assert "confidenceLevel must be a number between 0.5 and 0.999" in error.inner_text()
    assert "typed here in percent" in error.inner_text()
    field = page.locator("form#analysis").get_by_label("Confidence level (%)")
    assert field.get_attribute("aria-invalid") == "true" and field.input_value() == "99.95"
    assert settings(api, flag_id) == DEFAULTS
    assert api.get(f"/api/1/experiments/{flag_id}/analysis/changes").json()["changes"] == []

    # The t-test at 90 %: saved, read back through the API, said in words and on the record
    form = page.locator("form#analysis")
    form.get_by_label("Statistical test").select_option(label="T-test (read once, at the planned size)")
    form.get_by_label("Confidence level (%)").fill("90")
    form.get_by_label("Confidence level (%)").press("Enter")  # the keyboard sends it
    page.wait_for_url(re.compile("done=Analysis"))
    assert settings(api, flag_id) == {
        **DEFAULTS, "testType": "ttest", "confidenceLevel": 0.9}
    notice = page.get_by_role("status").inner_text()
    assert "test sequential → t-test" in notice and "confidence level 95 % → 90 %" in notice
    assert "T-test (read once, at the planned size)" in page.locator("#analysis-facts").inner_text()
    change = page.locator("#analysis-changes li").first.inner_text()
    assert person.email in change and "test sequential → t-test; confidence level 95 % → 90 %" in change
    # CUPED with a two-week window: the box and the field, read back and said in words
    page.locator("#analysis-edit summary").click()
    form = page.locator("form#analysis")
    form.get_by_label("Use CUPED").check()
    form.get_by_label("CUPED window (days before exposure, 1–90)").fill("14")
    form.get_by_role("button", name="Save analysis settings").click()
    page.wait_for_url(re.compile("done=Analysis"))
    assert settings(api, flag_id) == {
        **DEFAULTS, "testType": "ttest", "confidenceLevel": 0.9, "cuped": True, "cupedWindowDays": 14}
    assert "On, with each user's metric in the 14 days before exposure" in page.locator("#analysis-facts").inner_text()
    page.context.close()

    # A viewer sees the settings without the form, and a forged post is 403
    look = viewer.client.get(f"/console/experiments/{flag_id}/results").text
    assert 'id="analysis-facts"' in look and 'id="analysis"' not in look
    forged = viewer.client.post(f"/console/experiments/{flag_id}/results/analysis",
                                data={"csrf_token": viewer.csrf, "testType": "sequential"})
    assert forged.status_code == 403
    assert settings(api, flag_id)["testType"] == "ttest"


def test_guardrails__harm_is_warned_about_at_the_top__each_guardrail_in_words(
        browser: Any, server: Server, api: httpx.Client, guarded: dict[str, Any],
        people: Callable[[str], Person], shots: Path) -> None:
    flag_id = guarded["id"]
    expected = api.get(f"/api/1/experiments/{flag_id}/results", params={"metric": "purchase"}).json()
    assert expected["harm"] is True
    page = sign_in_page(browser, server, people("editor"))
    page.goto(f"/console/experiments/{flag_id}/results")

    warning = page.get_by_role("alert").filter(has_text="Guardrail harm")
    assert warning.is_visible()
    assert "refund is worse than control for treatment" in warning.inner_text()
    # The warning comes before the results themselves
    assert page.evaluate("document.querySelector('#harm-warning').compareDocumentPosition("
                         "document.querySelector('#h-results')) & Node.DOCUMENT_POSITION_FOLLOWING")
    refund = page.locator("table.guardrail", has_text="refund").locator('tr[data-variant="treatment"] [data-field="harm"]')
    visit = page.locator("table.guardrail", has_text="visit").locator('tr[data-variant="treatment"] [data-field="harm"]')
    assert refund.inner_text() == "harm detected"
    assert visit.inner_text() == "harm ruled out within the 50 % margin"
    page.screenshot(path=shots / "18-results-analysis.png", full_page=True)
    page.context.close()


def test_over_time__one_point_per_interval__the_numbers_are_the_apis_series(
        browser: Any, server: Server, api: httpx.Client, guarded: dict[str, Any],
        people: Callable[[str], Person]) -> None:
    flag_id = guarded["id"]
    page = sign_in_page(browser, server, people("viewer"))
    for interval in ("day", "hour"):
        series = api.get(f"/api/1/experiments/{flag_id}/results",
                         params={"metric": "purchase", "interval": interval}).json()["series"]
        page.goto(f"/console/experiments/{flag_id}/results?interval={interval}")
        chart = page.get_by_role("img", name=re.compile(f"difference from control at the end of each {interval}"))
        assert chart.is_visible()
        assert chart.locator("line.zero").count() == 1
        points = chart.locator('.point[data-variant="treatment"]')
        assert points.count() == len(series)
        for n, point in enumerate(series):
            row = point["variants"][0]
            drawn = points.nth(n)
            assert drawn.get_attribute("data-start") == point["start"]
            assert float(drawn.get_attribute("data-difference") or "nan") == pytest.approx(row["difference"], rel=1e-12)
            assert float(drawn.get_attribute("data-ci-low") or "nan") == pytest.approx(row["ci"][0], rel=1e-12)
            assert float(drawn.get_attribute("data-ci-high") or "nan") == pytest.approx(row["ci"][1], rel=1e-12)
            # The table repeats the same numbers
            cells = page.locator(f'#over-time-table tr[data-start="{point["start"]}"][data-treatment="treatment"]')
            shown = cells.locator('[data-field="difference"] data').get_attribute("value")
            assert float(shown or "nan") == pytest.approx(row["difference"], rel=1e-12)
        # The text alternative names the last figures
        assert "treatment at the end of" in (chart.locator("desc").text_content() or "")
    page.context.close()


def test_thresholds__before_the_minimum_samples__the_reason_instead_of_figures(
        browser: Any, server: Server, api: httpx.Client, project_id: str, deployment: dict[str, str],
        people: Callable[[str], Person]) -> None:
    # Given 120 users a side, of whom only 20 convert in control
    flag_id, key = experiment(api, project_id, deployment)
    send_all(server, deployment, population(key, 120, {"purchase": {"control": 20 / 120, "treatment": 0.5}}))
    put(api, f"/api/1/experiments/{flag_id}/metrics", {"metrics": [{"eventType": "purchase"}]})
    expected = api.get(f"/api/1/experiments/{flag_id}/results").json()
    reason = next(v for v in expected["variants"] if v["key"] == "treatment")["threshold"]["reason"]
    assert "20 of the 25 conversions" in reason
    page = sign_in_page(browser, server, people("viewer"))
    page.goto(f"/console/experiments/{flag_id}/results")
    row = page.locator('#results-table tr[data-variant="treatment"]')
    assert row.locator('[data-field="threshold"]').inner_text() == reason
    assert row.locator('[data-field="pValue"]').count() == 0 and row.locator('[data-field="ci"]').count() == 0
    # The interval column still names the level the figures will have: one comparison, 95 %
    assert "95 % interval" in (page.locator("#results-table thead").text_content() or "")
    # Over time: the interval is marked as short of the minimum, with no figures
    chart = page.locator("#over-time-chart")
    assert chart.locator('.point[data-variant="treatment"]').count() == len(
        api.get(f"/api/1/experiments/{flag_id}/results", params={"interval": "day"}).json()["series"])
    assert chart.locator(".point[data-difference]").count() == 0
    page.context.close()


def test_over_time_chart__several_days__a_band_along_each_run_and_a_tick_before_the_minimum() -> None:
    # Drawn from a series as the API answers it: day 1 short of the minimum, then three days
    def day(n: int, difference: float | None) -> dict[str, Any]:
        figures = {"difference": difference, "ci": None if difference is None else [difference - 0.1, difference + 0.1],
                   "thresholdsMet": difference is not None}
        return {"start": f"2026-12-0{n}T00:00:00Z", "variants": [{"key": "treatment", **figures}]}

    series = [day(1, None), day(2, 0.05), day(3, 0.08), day(4, 0.07)]

    chart = str(difference_over_time(series, {"treatment": "#16a34a"}, lambda v: f"{v:+.2f}",
                                     "purchase: difference", "95 % interval"))

    assert len(re.findall(r'class="point" data-variant="treatment"', chart)) == 4
    assert len(re.findall(r"data-difference=", chart)) == 3
    assert chart.count("<polygon") == 1 and chart.count('class="zero"') == 1
    assert "minimum samples not met" in chart
    assert re.search(r'role="img" aria-label="purchase: difference, 4 intervals from 2026-12-01 00:00 to 2026-12-04 00:00"',
                     chart)
    assert "treatment at the end of 2026-12-04 00:00: +0.07 (95 % interval -0.03 to +0.17)" in chart


def test_allocation__bandit_needs_a_primary_metric__then_is_saved_and_said(
        browser: Any, server: Server, api: httpx.Client, project_id: str, deployment: dict[str, str],
        people: Callable[[str], Person]) -> None:
    flag_id, _ = experiment(api, project_id, deployment)
    page = sign_in_page(browser, server, people("editor"))
    page.goto(f"/console/experiments/{flag_id}/results")
    # Without metrics, a bandit has nothing to optimise: the message by the field, nothing saved
    page.locator("#analysis-edit summary").click()
    form = page.locator("form#analysis")
    form.get_by_label("Allocation").select_option("bandit")
    form.get_by_role("button", name="Save analysis settings").click()
    page.wait_for_load_state()
    error = page.locator("#err-analysis-allocation")
    assert error.is_visible() and "needs a primary metric" in error.inner_text()
    assert api.get(f"/api/1/experiments/{flag_id}/analysis").json()["allocation"] == "fixed"
    # With a primary metric, an hourly bandit is saved and said in words
    put(api, f"/api/1/experiments/{flag_id}/metrics", {"metrics": [{"eventType": "purchase"}]})
    page.goto(f"/console/experiments/{flag_id}/results")
    page.locator("#analysis-edit summary").click()
    form = page.locator("form#analysis")
    form.get_by_label("Allocation").select_option("bandit")
    form.get_by_label("A bandit reallocates").select_option("hourly")
    form.get_by_role("button", name="Save analysis settings").click()
    page.wait_for_url(re.compile("done=Analysis"))
    stored = api.get(f"/api/1/experiments/{flag_id}/analysis").json()
    assert (stored["allocation"], stored["reallocation"]) == ("bandit", "hourly")
    facts = page.locator("#analysis-facts").inner_text()
    assert "Bandit: traffic moves to the likeliest best variant on the primary metric, reallocated every hour" in facts
    page.context.close()
