"""An experiment run from the console from its design to a new run: the design form (variants,
deployments, bucketing, exposure event, metrics with roles) and the experiment page's lifecycle
card (start now or at a time, stop, a decision that does what it says, new runs linked both ways).

In a real headless Chromium for the whole path, each step compared with the API's answer and
with what /sdk/v2/vardata serves; over HTTP for each refusal, which shows the API's message next
to its field and changes nothing. Full-page screenshots go to $FLAGYARD_SCREENSHOTS (or a
temporary directory) at desktop width and at 390 px, for a person to look at.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.console.axe import serious_violations
from tests.console.browser import sign_in_page
from tests.console.conftest import Browserless
from tests.factories import create_experiment, unique_key
from tests.support.server import Server

USER_ID = "lifecycle-console-user"
# The elements whose right edge passes the window's (the page scrolls sideways), tables aside.
OVERFLOWING = """() => Array.from(document.querySelectorAll('main *'))
    .filter(e => !e.closest('.table-wrap') && e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
    .map(e => `${e.tagName.toLowerCase()}.${e.className}#${e.id}`)"""


def served(server: Server, deployment: dict[str, str], key: str, user_id: str = USER_ID) -> str | None:
    """The variant /sdk/v2/vardata gives a user for `key` (None: nothing)."""
    answer = httpx.post(f"{server.base_url}/sdk/v2/vardata", json={"user_id": user_id},
                        headers={"Authorization": f"Api-Key {deployment['key']}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    variant = answer.json().get(key)
    return None if variant is None else variant.get("key")


def experiment_doc(api: httpx.Client, experiment_id: str) -> dict[str, Any]:
    answer = api.get(f"/api/1/experiments/{experiment_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def field_error(page: str, form: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="err-{form}-{field}" role="alert">([^<]*)</p>', page)
    assert found, f"no error shown by {form}.{field}"
    return html.unescape(found.group(1))


def post(who: Browserless, path: str, **data: str) -> httpx.Response:
    return who.client.post(path, data={"csrf_token": who.csrf, **data})


def stage_shown(page: Any) -> str:
    return str(page.locator("#lifecycle").get_attribute("data-stage"))


def current_step(page: Any) -> str:
    return str(page.locator('#lifecycle ol.stages [aria-current="step"]').inner_text()).split(maxsplit=1)[1]


def no_sideways_scroll(page: Any) -> None:
    assert page.evaluate(OVERFLOWING) == []


def design_form(key: str, deployment_id: str, **changes: str) -> dict[str, str]:
    """The design form as a person fills it, with `changes` typed over it."""
    return {"key": key, "name": "One-page checkout", "description": "Fewer steps, more purchases",
            "variant-0-key": "control", "variant-0-rolloutWeight": "1",
            "variant-1-key": "treatment", "variant-1-rolloutWeight": "1",
            "deployments": deployment_id, "rolloutPercentage": "100", "bucketingKey": "user_id",
            "bucketingSalt": "s4lt0001", "exposureEvent": "",
            "metric-0-eventType": "purchase", "metric-0-role": "primary", "metric-0-direction": "increase",
            "metric-1-eventType": "", "metric-1-role": "secondary", "metric-1-direction": "increase",
            **changes}


@pytest.fixture
def running(api: httpx.Client, project_id: str, deployment: dict[str, str]) -> str:
    """A running experiment: control and treatment, everyone in it, bucketed by user_id."""
    experiment = create_experiment(api, project_id, deployments=[deployment["id"]], rolloutPercentage=100,
                                   bucketingKey="user_id")
    assert api.post(f"/api/1/experiments/{experiment}/start").status_code == 200
    return experiment


# --- the whole path, in a browser ---------------------------------------------------------


def test_browser__experiment_from_its_design_to_a_rollout_and_a_new_run(
        browser: Any, server: Server, editor: Browserless, api: httpx.Client, project_id: str,
        deployment: dict[str, str], shots: Path) -> None:
    page = sign_in_page(browser, server, editor.person)
    key = unique_key("checkout")
    # An editor opens the design form from the experiments list
    page.goto(f"/console/p/{project_id}/experiments")
    page.screenshot(path=shots / "exp-00-list.png", full_page=True)
    page.get_by_role("link", name="New experiment").first.click()
    page.wait_for_url(re.compile("/experiments/new$"))
    form = page.locator("form#create")
    salt = form.get_by_label("Bucketing salt").input_value()
    assert re.fullmatch(r"[A-Za-z0-9]{8}", salt), salt  # the salt the experiment will have, shown
    assert form.get_by_role("group", name="Variant 1").get_by_label("Key").input_value() == "control"
    page.screenshot(path=shots / "exp-01-design-form.png", full_page=True)
    # and designs the experiment: hypothesis, variants, who, exposure, three metrics with roles
    what = form.get_by_role("region", name="What you are testing")
    what.get_by_label("Key").fill(key)
    what.get_by_label("Name").fill("One-page checkout")
    what.get_by_label("Hypothesis").fill("A one-page checkout raises purchases: fewer steps lose fewer buyers.")
    variant_2 = form.get_by_role("group", name="Variant 2")
    variant_2.get_by_label("Payload (JSON, optional)").fill('{"steps": 1}')
    form.get_by_role("group", name="Variant 1").get_by_label("Weight").fill("2")
    variant_2.get_by_label("Weight").fill("2")
    form.get_by_label(deployment_label(api, deployment), exact=True).check()
    form.get_by_label("Rollout percentage (all users)").fill("100")
    form.get_by_label("Bucketing key").fill("user_id")
    form.get_by_label("Exposure event (optional)").fill("checkout viewed")
    primary = form.get_by_role("group", name="Metric 1")
    primary.get_by_label("Event").fill("purchase")
    secondary = form.get_by_role("group", name="Metric 2")
    secondary.get_by_label("Event").fill("purchase")
    secondary.get_by_label("Property (optional)").fill("revenue")
    secondary.get_by_label("Measure").select_option("mean")
    guardrail = form.get_by_role("group", name="Metric 3")
    guardrail.get_by_label("Event").fill("checkout error")
    guardrail.get_by_label("Role").select_option("guardrail")
    guardrail.get_by_label("Good when it").select_option("decrease")
    # (first without the guardrail's margin: refused by that field, with nothing made)
    form.get_by_role("button", name="Create experiment").click()
    page.wait_for_load_state()
    margin = page.get_by_role("group", name="Metric 3").get_by_label("Guardrail margin (%)")
    expect(margin).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#err-create-metric-2-nonInferiorityMargin")).to_contain_text(
        "metrics[2].nonInferiorityMargin is required for a guardrail")
    assert api.get("/api/1/experiments", params={"key": key}).json()["experiments"] == []
    assert not serious_violations(page)
    page.screenshot(path=shots / "exp-01-design-form-refused.png", full_page=True)
    margin.fill("2")
    form.get_by_role("button", name="Create experiment").click()
    page.wait_for_url(re.compile(r"/console/experiments/\d+\?done="))
    experiment_id = re.search(r"/experiments/(\d+)", page.url).group(1)  # type: ignore[union-attr]
    expect(page.locator(".notice")).to_contain_text(f"Experiment {key} created in planning, with 3 metrics")

    # Then the API has exactly that design, in planning, by the editor
    made = experiment_doc(api, experiment_id)
    assert made["key"] == key and made["name"] == "One-page checkout" and made["state"] == "planning"
    assert made["description"] == "A one-page checkout raises purchases: fewer steps lose fewer buyers."
    assert [(v["key"], v["rolloutWeight"], v["payload"]) for v in made["variants"]] == [
        ("control", 2, None), ("treatment", 2, {"steps": 1})]
    assert made["deployments"] == [deployment["id"]] and made["rolloutPercentage"] == 100
    assert made["bucketingKey"] == "user_id" and made["bucketingSalt"] == salt
    assert made["exposureEvent"] == {"event_type": "checkout viewed", "filters": []}
    assert made["version"] == 1 and made["lastModifiedBy"] == editor.person.email
    metrics = api.get(f"/api/1/experiments/{experiment_id}/metrics").json()["metrics"]
    assert [(m["eventType"], m["property"], m["kind"], m["role"], m["direction"]) for m in metrics] == [
        ("purchase", None, "conversion", "primary", "increase"),
        ("purchase", "revenue", "mean", "secondary", "increase"),
        ("checkout error", None, "conversion", "guardrail", "decrease")]
    assert metrics[2]["nonInferiorityMargin"] == pytest.approx(0.02)
    # And the page shows it in planning, the hypothesis labelled as such
    assert stage_shown(page) == "planning" and current_step(page) == "Planning"
    expect(page.locator("main")).to_contain_text("Hypothesis: A one-page checkout")
    assert served(server, deployment, key) is None
    page.screenshot(path=shots / "exp-02-planning.png", full_page=True)
    page.locator("#lifecycle").screenshot(path=shots / "exp-02-planning-card.png")
    assert not serious_violations(page)

    # When they start it now
    page.get_by_role("button", name="Start now").click()
    page.wait_for_url(re.compile(r"done=Experiment%20[^&]*%20started"))
    # Then it runs, as the API says, from a start date the page shows
    started = experiment_doc(api, experiment_id)
    assert started["state"] == "running" and started["enabled"] is True and started["startDate"]
    assert stage_shown(page) == "running" and current_step(page) == "Running"
    expect(page.locator(".lifecycle-status")).to_contain_text(f"Running since {started['startDate'][:16].replace('T', ' ')}")
    assert served(server, deployment, key) in ("control", "treatment")
    page.screenshot(path=shots / "exp-03-running.png", full_page=True)
    page.locator("#lifecycle").screenshot(path=shots / "exp-03-running-card.png")
    assert not serious_violations(page)

    # When they roll out the winner, with a reason
    decision = page.locator("#lifecycle-decision")
    decision.get_by_label("Roll out a variant").check()
    decision.get_by_label("Variant to roll out").select_option("treatment")
    decision.get_by_label("Reason").fill("Purchases up 4 %, no guardrail harmed")
    decision.get_by_role("button", name="Record decision").click()
    page.wait_for_url(re.compile("done=Decision"))
    # Then the API serves treatment alone, to everyone, as one more version, and so does vardata
    decided = experiment_doc(api, experiment_id)
    assert decided["state"] == "decision-made" and decided["decision"] == "rollout"
    assert decided["rolledOutVariant"] == "treatment" and decided["decisionReason"] == "Purchases up 4 %, no guardrail harmed"
    assert {v["key"]: v["rolloutWeight"] for v in decided["variants"]} == {"control": 0, "treatment": 1}
    assert decided["rolloutPercentage"] == 100 and decided["enabled"] is True and decided["version"] == 3
    for user in (USER_ID, "someone-else", "a-third-user"):
        assert served(server, deployment, key, user) == "treatment"
    assert stage_shown(page) == "completed" and current_step(page) == "Completed"
    expect(page.locator(".lifecycle-status")).to_contain_text("rolled out treatment")
    expect(page.locator(".decision-reason")).to_contain_text("Purchases up 4 %")
    page.screenshot(path=shots / "exp-04-completed.png", full_page=True)
    page.locator("#lifecycle").screenshot(path=shots / "exp-04-completed-card.png")
    assert not serious_violations(page)

    # When they start a new run with a new bucketing salt
    page.locator("#lifecycle-run summary").click()
    run_form = page.locator("#lifecycle-run form")
    run_form.get_by_label("Key of the new run").fill(f"{key}-2")
    run_form.get_by_label("Name (optional)").fill("One-page checkout, again")
    run_form.get_by_label("New bucketing salt").check()
    run_form.get_by_role("button", name="Create the new run").click()
    page.wait_for_url(re.compile(r"/console/experiments/\d+\?done=New"))
    run_id = re.search(r"/experiments/(\d+)", page.url).group(1)  # type: ignore[union-attr]
    # Then the API has a new experiment in planning with the design, a new salt, no decision
    run = experiment_doc(api, run_id)
    assert run_id != experiment_id and run["key"] == f"{key}-2" and run["name"] == "One-page checkout, again"
    assert run["state"] == "planning" and run["decision"] is None and run["startDate"] is None
    assert run["bucketingSalt"] != salt and run["exposureEvent"] == made["exposureEvent"]
    assert [v["key"] for v in run["variants"]] == ["control", "treatment"]
    copied = api.get(f"/api/1/experiments/{run_id}/metrics").json()["metrics"]
    assert [(m["eventType"], m["role"]) for m in copied] == [(m["eventType"], m["role"]) for m in metrics]
    runs = api.get(f"/api/1/experiments/{run_id}/runs").json()["runs"]
    assert [r["id"] for r in runs] == [experiment_id, run_id]
    assert experiment_doc(api, experiment_id)["decision"] == "rollout"  # the old run keeps its decision
    # And the runs are linked both ways: the new run's page links the old one, and back
    assert stage_shown(page) == "planning"
    table = page.locator("table.runs")
    old_run_link = table.locator(f'tr[data-run="{experiment_id}"]').get_by_role("link", name=key, exact=True)
    expect(old_run_link).to_be_visible()
    expect(table.locator(f'tr[data-run="{run_id}"]')).to_have_attribute("aria-current", "page")
    page.screenshot(path=shots / "exp-05-new-run.png", full_page=True)
    page.locator("#lifecycle").screenshot(path=shots / "exp-05-new-run-card.png")
    assert not serious_violations(page)
    old_run_link.click()
    page.wait_for_url(re.compile(rf"/console/experiments/{experiment_id}$"))
    expect(page.locator("#lifecycle")).to_contain_text(f"This run was repeated as {key}-2")
    assert page.locator("#lifecycle-run").count() == 0  # only the latest run starts another
    page.locator("#lifecycle").get_by_role("link", name=f"{key}-2", exact=True).first.click()
    page.wait_for_url(re.compile(rf"/console/experiments/{run_id}$"))

    # The pages at 390 px: nothing wider than the screen
    page.set_viewport_size({"width": 390, "height": 844})
    for name, path in (("exp-06-new-run-phone", f"/console/experiments/{run_id}"),
                       ("exp-07-completed-phone", f"/console/experiments/{experiment_id}"),
                       ("exp-08-design-form-phone", f"/console/p/{project_id}/experiments/new"),
                       ("exp-09-list-phone", f"/console/p/{project_id}/experiments")):
        page.goto(path)
        no_sideways_scroll(page)
        page.screenshot(path=shots / f"{name}.png", full_page=True)
        # and its new parts alone, at their real size, to look at closely
        for n, part in enumerate(page.locator("#lifecycle, form#create > section").all()):
            part.screenshot(path=shots / f"{name}-part{n + 1}.png")
    page.context.close()


def deployment_label(api: httpx.Client, deployment: dict[str, str]) -> str:
    return str(api.get(f"/api/1/deployments/{deployment['id']}").json()["label"])


# --- refusals: the API's message by its field, nothing changed -----------------------------


def test_forged_rollout_of_an_unknown_variant__message_by_the_variant__nothing_changes(
        editor: Browserless, api: httpx.Client, running: str) -> None:
    before = experiment_doc(api, running)
    # When a forged form rolls out a variant the experiment does not have
    answer = post(editor, f"/console/experiments/{running}/lifecycle/decision",
                  decision="rollout", variant="ghost", reason="forged")
    # Then the page says so next to the variant menu, with the API's status and words
    assert answer.status_code == 400
    api_says = api.post(f"/api/1/experiments/{running}/decision", json={"decision": "rollout", "variant": "ghost"})
    assert api_says.status_code == 400
    assert field_error(answer.text, "lifecycle-decision", "variant") == api_says.json()["error"]["message"]
    assert "'ghost' is not a variant of this experiment (control, treatment)" in api_says.json()["error"]["message"]
    assert 'aria-invalid="true" aria-describedby="err-lifecycle-decision-variant"' in answer.text
    # And nothing changed
    assert experiment_doc(api, running) == before


def test_decision_without_a_choice__refused_by_the_decision(editor: Browserless, api: httpx.Client,
                                                            running: str) -> None:
    before = experiment_doc(api, running)
    answer = post(editor, f"/console/experiments/{running}/lifecycle/decision", variant="treatment")
    assert answer.status_code == 400
    assert "decision must be one of" in field_error(answer.text, "lifecycle-decision", "decision")
    assert experiment_doc(api, running) == before


def test_rollback_and_keep_running__do_what_they_say(server: Server, editor: Browserless, api: httpx.Client,
                                                     running: str, deployment: dict[str, str]) -> None:
    key = experiment_doc(api, running)["key"]
    # Keep running: recorded, still served, still on the running step, a stop still offered
    kept = post(editor, f"/console/experiments/{running}/lifecycle/decision", decision="continue-running",
                variant="treatment", reason="not enough users yet")
    assert kept.status_code == 303, kept.text
    doc = experiment_doc(api, running)
    assert doc["decision"] == "continue-running" and doc["rolledOutVariant"] is None and doc["enabled"] is True
    page = editor.client.get(f"/console/experiments/{running}").text
    assert 'data-stage="running"' in page and "Decision recorded: keep running" in page
    assert f'action="/console/experiments/{running}/lifecycle/stop"' in page
    assert served(server, deployment, key) in ("control", "treatment")
    # Roll back: nobody gets it, completed
    rolled = post(editor, f"/console/experiments/{running}/lifecycle/decision", decision="rollback")
    assert rolled.status_code == 303, rolled.text
    doc = experiment_doc(api, running)
    assert doc["decision"] == "rollback" and doc["enabled"] is False and doc["endDate"]
    assert served(server, deployment, key) is None
    page = editor.client.get(f"/console/experiments/{running}").text
    assert 'data-stage="completed"' in page and "Everyone gets the default again" in page


def test_stop__then_the_decision_stage__start_again(editor: Browserless, api: httpx.Client, running: str) -> None:
    stopped = post(editor, f"/console/experiments/{running}/lifecycle/stop")
    assert stopped.status_code == 303, stopped.text
    assert experiment_doc(api, running)["state"] == "stopped"
    page = editor.client.get(stopped.headers["location"]).text
    assert 'data-stage="decision"' in page and "Start again" in page and "/lifecycle/stop" not in page
    # Stopping again is the API's conflict, shown on the page, nothing changed
    before = experiment_doc(api, running)
    again = post(editor, f"/console/experiments/{running}/lifecycle/stop")
    assert again.status_code == 409 and "is not running" in again.text
    assert experiment_doc(api, running) == before
    restarted = post(editor, f"/console/experiments/{running}/lifecycle/start")
    assert restarted.status_code == 303 and experiment_doc(api, running)["state"] == "running"


def test_start_without_a_deployment__refused__still_in_planning(editor: Browserless, api: httpx.Client,
                                                                project_id: str) -> None:
    experiment = create_experiment(api, project_id)
    answer = post(editor, f"/console/experiments/{experiment}/lifecycle/start")
    assert answer.status_code == 400 and "cannot activate without deployments" in answer.text
    assert experiment_doc(api, experiment)["state"] == "planning"
    assert experiment_doc(api, experiment)["version"] == 1


def test_start_at_a_time__a_schedule_the_card_shows(editor: Browserless, api: httpx.Client, project_id: str,
                                                    deployment: dict[str, str]) -> None:
    experiment = create_experiment(api, project_id, deployments=[deployment["id"]])
    at = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S")
    # A time in the past is refused next to the time, nothing scheduled
    past = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    refused = post(editor, f"/console/experiments/{experiment}/lifecycle/start-at", at=past)
    assert refused.status_code == 400
    assert field_error(refused.text, "lifecycle-start-at", "at") == "at must be in the future"
    assert api.get(f"/api/1/experiments/{experiment}/schedules").json() == []
    # A time ahead becomes the schedule the API documents for a later start
    answer = post(editor, f"/console/experiments/{experiment}/lifecycle/start-at", at=at)
    assert answer.status_code == 303, answer.text
    [schedule] = api.get(f"/api/1/experiments/{experiment}/schedules").json()
    assert schedule["steps"][0]["at"] == f"{at}.000Z"
    assert schedule["steps"][0]["patch"] == {"enabled": True, "startDate": f"{at}Z"}
    assert experiment_doc(api, experiment)["state"] == "planning"
    page = editor.client.get(f"/console/experiments/{experiment}").text
    assert f"Starts at <time datetime=\"{at}.000Z\">{at[:16].replace('T', ' ')}</time> UTC" in page


def test_new_run_with_a_taken_key__refused_by_the_key__no_run(editor: Browserless, api: httpx.Client,
                                                              running: str, project_id: str) -> None:
    taken = experiment_doc(api, create_experiment(api, project_id))["key"]
    answer = post(editor, f"/console/experiments/{running}/lifecycle/runs", key=taken)
    assert answer.status_code == 409
    assert "key is already used" in field_error(answer.text, "lifecycle-run", "key")
    # the key typed is shown again, with the focus on it
    assert re.search(rf'id="lc-run-key" name="key" required value="{taken}"[^>]*autofocus', answer.text)
    bad = post(editor, f"/console/experiments/{running}/lifecycle/runs", key="no spaces")
    assert bad.status_code == 400 and field_error(bad.text, "lifecycle-run", "key")
    assert [r["id"] for r in api.get(f"/api/1/experiments/{running}/runs").json()["runs"]] == [running]


def test_design_form__refused_metric__message_by_its_field__no_experiment(
        editor: Browserless, api: httpx.Client, project_id: str, deployment: dict[str, str]) -> None:
    key = unique_key("design")
    url = f"/console/p/{project_id}/experiments/new"
    # A guardrail without its margin, in the third row
    answer = post(editor, url, **design_form(key, deployment["id"], **{
        "metric-2-eventType": "checkout error", "metric-2-role": "guardrail", "metric-2-direction": "decrease"}))
    assert answer.status_code == 400
    assert field_error(answer.text, "create", "metric-2-nonInferiorityMargin").startswith(
        "metrics[1].nonInferiorityMargin is required for a guardrail")
    # Two primaries
    answer = post(editor, url, **design_form(key, deployment["id"], **{
        "metric-1-eventType": "signup", "metric-1-role": "primary"}))
    assert answer.status_code == 400
    assert "exactly one metric must have role primary" in field_error(answer.text, "create", "metrics")
    # A bad payload and a negative weight: by their variant row
    answer = post(editor, url, **design_form(key, deployment["id"], **{"variant-1-payload": "{oops"}))
    assert answer.status_code == 400 and "not valid JSON" in field_error(answer.text, "create", "variant-1-payload")
    answer = post(editor, url, **design_form(key, deployment["id"], **{"variant-1-rolloutWeight": "-1"}))
    assert answer.status_code == 400 and "rolloutWeight" in field_error(answer.text, "create", "variant-1-rolloutWeight")
    # What was typed is kept
    assert f'value="{key}"' in answer.text and "Fewer steps, more purchases" in answer.text
    # And no experiment was made by any of them
    assert api.get("/api/1/experiments", params={"key": key}).json()["experiments"] == []
    # The same form, fixed, makes it with its one metric
    made = post(editor, url, **design_form(key, deployment["id"]))
    assert made.status_code == 303, made.text
    [experiment] = api.get("/api/1/experiments", params={"key": key}).json()["experiments"]
    assert [m["eventType"] for m in api.get(f"/api/1/experiments/{experiment['id']}/metrics").json()["metrics"]] == [
        "purchase"]
    # A taken key is refused by the key, and makes nothing more
    again = post(editor, url, **design_form(key, deployment["id"]))
    assert again.status_code == 409 and "key is already used" in field_error(again.text, "create", "key")
    assert len(api.get("/api/1/experiments", params={"key": key}).json()["experiments"]) == 1


def test_viewer__sees_the_lifecycle_but_no_forms(viewer: Browserless, api: httpx.Client, running: str) -> None:
    page = viewer.client.get(f"/console/experiments/{running}").text
    card = re.search(r'<section class="card lifecycle".*?</section>', page, re.S)
    assert card and 'data-stage="running"' in card.group(0) and "<form" not in card.group(0)
    assert "Runs" in card.group(0)
    forged = post(viewer, f"/console/experiments/{running}/lifecycle/stop")
    assert forged.status_code == 403
    assert experiment_doc(api, running)["state"] == "running"
    # and cannot open the design form
    assert viewer.client.get(f"/console/p/{experiment_doc(api, running)['projectId']}/experiments/new").status_code == 403


def test_protected_deployment__start_held_for_approval(editor: Browserless, api: httpx.Client,
                                                        project_id: str) -> None:
    guarded = api.post("/api/1/deployments", json={"projectId": project_id, "label": unique_key("guarded"),
                                                   "requireApproval": True}).json()
    experiment = create_experiment(api, project_id, deployments=[guarded["id"]])
    answer = post(editor, f"/console/experiments/{experiment}/lifecycle/start")
    assert answer.status_code == 303
    assert re.search(rf"/console/experiments/{experiment}\?pending=\d+$", answer.headers["location"])
    assert experiment_doc(api, experiment)["state"] == "planning"
