"""An experiment's results page over HTTP: the numbers it shows are the API's (at the interval's
real level, with raw and adjusted p-values and the verdict), the sample ratio warning, the
decision form and the metric form with roles, and what a viewer may do."""

from __future__ import annotations

import html
import re
import uuid
from typing import Any

import httpx
import pytest

from tests.console.conftest import Browserless
from tests.console.events import T0, exposed, exposure, send
from tests.factories import create_flag
from tests.support.server import Server

FIELDS = ("exposures", "value", "difference", "relativeDifference", "adjustedPValue", "pValue", "chanceToBeatControl")


def experiment(api: httpx.Client, project_id: str, deployment: dict[str, str]) -> tuple[str, str]:
    key = f"results-{uuid.uuid4().hex[:8]}"
    flag_id = create_flag(api, project_id, "experiments", key=key, deployments=[deployment["id"]])
    return flag_id, key


def set_metrics(api: httpx.Client, flag_id: str, metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answer = api.put(f"/api/1/experiments/{flag_id}/metrics", json={"metrics": metrics})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["metrics"])


def shown(page: str) -> dict[str, dict[str, tuple[float, str]]]:
    """variant → field → (exact value, text shown) from the results table."""
    table = re.search(r'<table class="results".*?</table>', page, re.S)
    assert table, "no results table"
    found: dict[str, dict[str, tuple[float, str]]] = {}
    for variant, row in re.findall(r'<tr data-variant="([^"]+)">(.*?)</tr>', table.group(0), re.S):
        cells = re.findall(r'data-field="(\w+)"><data value="([^"]+)">([^<]*)</data>', row)
        found[variant] = {name: (float(raw), html.unescape(text)) for name, raw, text in cells}
        interval = re.search(r'data-field="ci"><span><data value="([^"]+)">[^<]*</data> to <data value="([^"]+)">', row)
        if interval:
            found[variant]["ci"] = (float(interval.group(1)), float(interval.group(2)))  # type: ignore[assignment]
    return found


def cell_text(page: str, variant: str, field: str) -> str:
    """The text of one cell of the results table, tags dropped."""
    row = re.search(rf'<tr data-variant="{variant}">(.*?)</tr>', page, re.S)
    assert row, f"no row for {variant}"
    cell = re.search(rf'data-field="{field}"[^>]*>(.*?)</td>', row.group(1), re.S)
    assert cell, f"no {field} cell for {variant}"
    return html.unescape(re.sub(r"<[^>]+>", "", cell.group(1))).strip()


def field_error(page: str, form: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="err-{form}-{field}" role="alert">([^<]*)</p>', page)
    assert found, f"no error shown by {form}.{field}"
    return html.unescape(found.group(1))


@pytest.fixture(scope="module")
def balanced(server: Server, api: httpx.Client, project_id: str, deployment: dict[str, str]) -> dict[str, Any]:
    """An experiment with 120 users a side and purchases (past the minimum samples: 100 users and
    25 conversions a side), and two stored metrics: a primary and a secondary."""
    flag_id, key = experiment(api, project_id, deployment)
    exposed(server, deployment, key, 120, 118, {
        "control": [8.0 + (i * 7) % 11 for i in range(30)],
        "treatment": [9.0 + (i * 5) % 13 for i in range(44)],
    })
    metrics = set_metrics(api, flag_id, [{"eventType": "purchase"},
                                         {"eventType": "purchase", "property": "revenue", "name": "revenue per user"}])
    return {"id": flag_id, "key": key, "metrics": metrics}


def test_results_page__every_number_shown_is_the_apis(editor: Browserless, api: httpx.Client,
                                                      balanced: dict[str, Any]) -> None:
    flag_id = balanced["id"]
    for metric in balanced["metrics"]:
        page = editor.client.get(f"/console/experiments/{flag_id}/results", params={"metric": metric["id"]})
        assert page.status_code == 200, page.text
        expected = api.get(f"/api/1/experiments/{flag_id}/results", params={"metricId": metric["id"]}).json()
        rows = shown(page.text)
        assert list(rows) == [v["key"] for v in expected["variants"]] == ["control", "treatment"]
        for variant in expected["variants"]:
            cells = rows[variant["key"]]
            for name in FIELDS:
                if variant[name] is not None:
                    assert cells[name][0] == pytest.approx(variant[name], rel=1e-12), (metric, name)
            if variant["ci"] is not None:
                assert cells["ci"] == pytest.approx(tuple(variant["ci"]), rel=1e-12)
        treatment = next(v for v in expected["variants"] if v["key"] == "treatment")
        assert treatment["ci"] is not None and treatment["pValue"] is not None
        # The interval is named at its real level: Bonferroni over two metrics draws it at 97.5 %
        assert expected["analysis"]["familySize"] == 2 and treatment["ciLevel"] == pytest.approx(0.975)
        assert '<th scope="col" class="num">97.5 % interval</th>' in page.text and "95 % interval" not in page.text
        assert "p-value (adjusted)" in page.text and "p-value (raw)" in page.text
        # The verdict follows `significant` and `better`
        verdict = cell_text(page.text, "treatment", "verdict")
        if not treatment["significant"]:
            assert verdict == "not distinguishable yet"
        else:
            assert verdict.startswith("better than control" if treatment["better"] else "worse than control")
        # The text a person reads is those numbers, rounded
        value_text = rows["treatment"]["value"][1]
        if metric["kind"] == "conversion":
            assert value_text == f"{treatment['value'] * 100:.2f} %"
            assert rows["treatment"]["difference"][1] == f"{treatment['difference'] * 100:+.2f} pp"
        else:
            assert value_text == f"{treatment['value']:.4g}"
        assert rows["treatment"]["chanceToBeatControl"][1] == f"{treatment['chanceToBeatControl'] * 100:.1f} %"
        # A chart with a text alternative, the excluded count, no sample ratio warning
        assert re.search(r'<svg class="chart"[^>]*role="img" aria-label="[^"]*control: [^"]*treatment: ', page.text)
        assert 'id="excluded">Excluded users' in page.text and 'id="srm-warning"' not in page.text
        assert "the split matches the rollout weights" in page.text
        # The metric picker lists both stored metrics and marks the one shown
        assert f'<option value="{metric["id"]}" selected>' in page.text
    # Exposures over time: the chart and the table of the /exposures answer
    series = api.get(f"/api/1/experiments/{flag_id}/exposures", params={"interval": "day"}).json()
    page = editor.client.get(f"/console/experiments/{flag_id}/results").text
    assert 'aria-label="Exposed users per day, cumulative' in page
    assert f"<code>control</code> {series['totals']['control']}, <code>treatment</code> {series['totals']['treatment']}" in page
    hourly = editor.client.get(f"/console/experiments/{flag_id}/results", params={"interval": "hour"}).text
    assert 'aria-label="Exposed users per hour, cumulative' in hourly
    # The experiment page links here; a flag has no results page
    assert f'href="/console/experiments/{flag_id}/results"' in editor.client.get(f"/console/experiments/{flag_id}").text


def test_results_page__skewed_split__warns_with_the_observed_and_expected_split(
        server: Server, editor: Browserless, api: httpx.Client, project_id: str, deployment: dict[str, str]) -> None:
    flag_id, key = experiment(api, project_id, deployment)
    exposed(server, deployment, key, 60, 20, {"control": [5.0] * 10, "treatment": [5.0] * 4})
    # Two users seen in both variants are excluded and counted
    send(server, deployment, [exposure(key, f"{key}-control-000", "treatment", T0 + 5),
                              exposure(key, f"{key}-treatment-000", "control", T0 + 5)])
    set_metrics(api, flag_id, [{"eventType": "purchase"}])
    expected = api.get(f"/api/1/experiments/{flag_id}/results").json()
    assert expected["srm"]["mismatch"] is True and expected["excludedUsers"] == 2
    page = editor.client.get(f"/console/experiments/{flag_id}/results").text
    warning = re.search(r'<div class="warning" role="alert" id="srm-warning">(.*?)</div>', page, re.S)
    assert warning, "no sample ratio warning"
    text = re.sub(r"<[^>]+>", "", warning.group(1))
    assert "control 75.6 % (59 users), treatment 24.4 % (19 users)" in text
    assert "expected from the rollout weights control 50.0 %, treatment 50.0 %" in text
    p_value = re.search(r'<data value="([^"]+)">', warning.group(1))
    assert p_value and float(p_value.group(1)) == pytest.approx(expected["srm"]["pValue"], rel=1e-12)
    assert expected["srm"]["warning"] in html.unescape(text)
    assert re.search(r'id="excluded">[^<]*<strong><data value="2">2</data>', page)


def test_decision__editor_records_it__viewer_sees_it_without_a_form(
        editor: Browserless, viewer: Browserless, api: httpx.Client, balanced: dict[str, Any]) -> None:
    flag_id = balanced["id"]
    url = f"/console/experiments/{flag_id}/results"
    before = api.get(f"/api/1/experiments/{flag_id}").json()
    # No decision chosen: refused by the field, with the API's message, nothing changes
    refused = editor.client.post(f"{url}/decision", data={"csrf_token": editor.csrf, "decision": ""})
    assert refused.status_code == 400
    assert "decision must be one of" in field_error(refused.text, "decision", "decision")
    # A variant that does not exist: the domain's message, by that field
    refused = editor.client.post(f"{url}/decision", data={
        "csrf_token": editor.csrf, "decision": "rollout", "rolledOutVariant": "purple"})
    assert refused.status_code == 400
    assert field_error(refused.text, "decision", "rolledOutVariant") == "rolledOutVariant 'purple' names no variant"
    # Without the CSRF token: 403
    assert editor.client.post(f"{url}/decision", data={"decision": "rollout"}).status_code == 403
    # A viewer: sees no form, and a forged post is 403
    look = viewer.client.get(url).text
    assert 'id="decision"' not in look and 'id="metric-new"' not in look and "No decision yet" in look
    assert viewer.client.post(f"{url}/decision", data={"csrf_token": viewer.csrf, "decision": "rollback"}
                              ).status_code == 403
    assert api.get(f"/api/1/experiments/{flag_id}").json()["version"] == before["version"]

    recorded = editor.client.post(f"{url}/decision", data={
        "csrf_token": editor.csrf, "decision": "rollout", "rolledOutVariant": "treatment",
        "decisionReason": "revenue per user up", "metric": str(balanced["metrics"][1]["id"])})
    assert recorded.status_code == 303
    confirmed = editor.client.get(recorded.headers["location"])
    assert "Decision recorded: rollout of treatment. The experiment is now decision-made." in confirmed.text
    after = api.get(f"/api/1/experiments/{flag_id}").json()
    assert (after["decision"], after["rolledOutVariant"], after["decisionReason"], after["state"]) == (
        "rollout", "treatment", "revenue per user up", "decision-made")
    assert after["version"] == before["version"] + 1 and after["lastModifiedBy"] == editor.person.email
    facts = re.sub(r"<[^>]+>|\s+", " ", viewer.client.get(url).text)
    assert "Decision rollout Variant rolled out treatment Reason revenue per user up State decision-made" \
        in re.sub(r" +", " ", facts)


def test_metrics__added_in_the_console__empty_states_say_so(
        server: Server, editor: Browserless, api: httpx.Client, project_id: str, deployment: dict[str, str]) -> None:
    flag_id, key = experiment(api, project_id, deployment)
    url = f"/console/experiments/{flag_id}/results"
    # Nothing yet: no metrics, no exposures
    empty = editor.client.get(url)
    assert empty.status_code == 200
    assert "This experiment has no metrics yet" in empty.text and 'id="no-exposures"' in empty.text
    # An editor adds a metric nobody has done; the page then shows it
    added = editor.client.post(f"{url}/metrics", data={"csrf_token": editor.csrf, "eventType": "signup",
                                                       "kind": "", "property": "", "name": ""})
    assert added.status_code == 303
    metrics = api.get(f"/api/1/experiments/{flag_id}/metrics").json()["metrics"]
    assert [(m["eventType"], m["kind"], m["property"]) for m in metrics] == [("signup", "conversion", None)]
    page = editor.client.get(added.headers["location"]).text
    assert "Metric signup added" in page and "No users have been exposed to this experiment yet" in page
    # Only control is exposed: treatment says so, and nobody did the event
    send(server, deployment, [exposure(key, f"{key}-c{i}", "control") for i in range(3)])
    page = editor.client.get(url).text
    assert re.search(r'data-variant="treatment">.*?no exposures yet', page, re.S)
    assert 'id="nobody-did"' in page
    # Exposures all in one day are drawn hour by hour, unless a person asks for days
    send(server, deployment, [exposure(key, f"{key}-late", "control", T0 + 2 * 3_600_000)])
    assert 'aria-label="Exposed users per hour, cumulative' in editor.client.get(url).text
    by_day = editor.client.get(url, params={"interval": "day"}).text
    assert 'aria-label="Exposed users per day, cumulative' in by_day and "all in the" in by_day
    # A metric id that is not the experiment's: said plainly, the rest of the page still there
    unknown = editor.client.get(url, params={"metric": "999999"})
    assert unknown.status_code == 200
    assert "metric 999999 is not one of this experiment&#39;s metrics" in unknown.text
    # A bad metric: the API's own message, by the field; nothing is stored
    bad = {"eventType": "purchase", "kind": "mean"}
    api_answer = api.put(f"/api/1/experiments/{flag_id}/metrics",
                         json={"metrics": [{"eventType": "signup", "kind": "conversion"}, bad]})
    assert api_answer.status_code == 400
    refused = editor.client.post(f"{url}/metrics", data={"csrf_token": editor.csrf, **bad})
    assert refused.status_code == 400
    assert field_error(refused.text, "metric-new", "kind") in api_answer.text
    assert len(api.get(f"/api/1/experiments/{flag_id}/metrics").json()["metrics"]) == 1
    # Removing it leaves the metric list empty again
    removed = editor.client.post(f"{url}/metrics/{metrics[0]['id']}/delete", data={"csrf_token": editor.csrf})
    assert removed.status_code == 303
    assert api.get(f"/api/1/experiments/{flag_id}/metrics").json()["metrics"] == []


def test_results_page__only_for_experiments(editor: Browserless, api: httpx.Client, project_id: str) -> None:
    flag_id = create_flag(api, project_id, "flags")
    assert editor.client.get(f"/console/experiments/{flag_id}/results").status_code == 404
    assert "/results" not in editor.client.get(f"/console/flags/{flag_id}").text
    assert editor.client.get("/console/experiments/abc/results").status_code in (400, 404)


def test_duration__estimated_on_the_page__the_apis_figures_for_viewers_too(
        viewer: Browserless, api: httpx.Client, balanced: dict[str, Any]) -> None:
    flag_id, metric = balanced["id"], balanced["metrics"][0]
    url = f"/console/experiments/{flag_id}/results"

    page = viewer.client.get(url, params={"metric": metric["id"], "mde": "10", "power": "90"})

    assert page.status_code == 200, page.text
    expected = api.get(f"/api/1/experiments/{flag_id}/duration",
                       params={"metricId": metric["id"], "mde": 0.1, "power": 0.9}).json()
    estimate = re.search(r'<p id="duration-estimate">(.*?)</p>', page.text, re.S)
    assert estimate, "no estimate shown"
    shown_users = re.search(r'<data value="(\d+)">', estimate.group(1))
    assert shown_users and int(shown_users.group(1)) == expected["usersPerVariant"]
    # Until asked, the page shows the form and no estimate
    assert 'id="duration-estimate"' not in viewer.client.get(url, params={"metric": metric["id"]}).text


@pytest.mark.parametrize("params, field, words", [
    ({"mde": "lots"}, "mde", "percentage"),
    ({"mde": "0"}, "mde", "positive"),
    ({"mde": "5", "power": "150"}, "power", "power"),
])
def test_duration__bad_input__the_message_next_to_the_field(
        editor: Browserless, balanced: dict[str, Any], params: dict[str, str], field: str,
        words: str) -> None:
    page = editor.client.get(f"/console/experiments/{balanced['id']}/results",
                             params={"metric": balanced["metrics"][0]["id"], **params})

    assert page.status_code == 400
    assert words in field_error(page.text, "duration", field)


def roles(api: httpx.Client, flag_id: str) -> list[tuple[str, str, str, float | None]]:
    metrics = api.get(f"/api/1/experiments/{flag_id}/metrics").json()["metrics"]
    return [(m["eventType"], m["role"], m["direction"], m["nonInferiorityMargin"]) for m in metrics]


def test_metrics__added_in_the_console__the_others_keep_their_roles_and_one_primary_stays(
        editor: Browserless, api: httpx.Client, project_id: str, deployment: dict[str, str]) -> None:
    # Given a primary, a guardrail where lower is better, and a secondary
    flag_id, _ = experiment(api, project_id, deployment)
    url = f"/console/experiments/{flag_id}/results"
    set_metrics(api, flag_id, [
        {"eventType": "purchase", "role": "primary"},
        {"eventType": "refund", "role": "guardrail", "direction": "decrease", "nonInferiorityMargin": 0.05},
        {"eventType": "signup", "role": "secondary"}])
    form = {"csrf_token": editor.csrf, "kind": "", "property": "", "name": ""}
    # When an editor adds a guardrail with a margin typed in percent
    added = editor.client.post(f"{url}/metrics", data={**form, "eventType": "visit", "role": "guardrail",
                                                       "direction": "increase", "nonInferiorityMargin": "2"})
    # Then it is stored as a fraction, and the others keep their roles, directions and margins
    assert added.status_code == 303, added.text
    assert roles(api, flag_id) == [("purchase", "primary", "increase", None),
                                   ("refund", "guardrail", "decrease", 0.05),
                                   ("signup", "secondary", "increase", None),
                                   ("visit", "guardrail", "increase", 0.02)]
    page = editor.client.get(added.headers["location"]).text
    assert "Metric visit added as guardrail" in page
    # The list shows each metric's role, margin and direction
    refund_row = re.search(r"<tr>\s*<td><a [^>]*>refund</a></td>(.*?)</tr>", page, re.S)
    assert refund_row and "guardrail" in refund_row.group(1) and "margin 5 %" in refund_row.group(1)
    assert "lower is better" in refund_row.group(1)
    # And the record of changes says what the addition did
    changes = re.search(r'<ol class="feed" id="analysis-changes">(.*?)</ol>', page, re.S)
    assert changes and "added visit (guardrail)" in changes.group(1) and editor.person.email in changes.group(1)

    # A new primary takes the place of the old one, which becomes secondary
    primary = editor.client.post(f"{url}/metrics", data={**form, "eventType": "checkout", "role": "primary"})
    assert primary.status_code == 303
    assert "purchase is now secondary" in editor.client.get(primary.headers["location"]).text
    assert [r[:2] for r in roles(api, flag_id)] == [("purchase", "secondary"), ("refund", "guardrail"),
                                                   ("signup", "secondary"), ("visit", "guardrail"),
                                                   ("checkout", "primary")]
    # Removing the primary makes the first other non-guardrail metric primary
    checkout = next(m for m in api.get(f"/api/1/experiments/{flag_id}/metrics").json()["metrics"]
                    if m["eventType"] == "checkout")
    removed = editor.client.post(f"{url}/metrics/{checkout['id']}/delete", data={"csrf_token": editor.csrf})
    assert removed.status_code == 303
    assert "purchase is now the primary metric" in editor.client.get(removed.headers["location"]).text
    assert [r[:2] for r in roles(api, flag_id)][:2] == [("purchase", "primary"), ("refund", "guardrail")]


@pytest.mark.parametrize("fields, words", [
    ({"role": "guardrail", "nonInferiorityMargin": "lots"}, "typed here in percent"),
    ({"role": "guardrail", "nonInferiorityMargin": "100"}, "from 0 up to (not including) 1"),
    ({"role": "guardrail"}, "is required for a guardrail"),
    ({"role": "secondary", "nonInferiorityMargin": "2"}, "is for guardrail metrics only"),
])
def test_metrics__bad_margin__the_message_by_the_margin_field_and_nothing_stored(
        editor: Browserless, api: httpx.Client, balanced: dict[str, Any], fields: dict[str, str], words: str) -> None:
    flag_id = balanced["id"]
    before = roles(api, flag_id)
    refused = editor.client.post(f"/console/experiments/{flag_id}/results/metrics", data={
        "csrf_token": editor.csrf, "eventType": "refund", **fields})
    assert refused.status_code == 400
    message = field_error(refused.text, "metric-new", "nonInferiorityMargin")
    assert "nonInferiorityMargin" in message and words in message
    assert roles(api, flag_id) == before
