"""Analysis settings, metric roles and what they do to results, through the HTTP API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from statsmodels.stats.multitest import multipletests

from tests.support.server import Server

T0 = 1_790_000_000_000  # a fixed client time, ms
DEFAULTS = {"testType": "sequential", "confidenceLevel": 0.95, "multipleTesting": "bonferroni",
            "cuped": False, "cupedWindowDays": 7, "sequentialEffect": 0.05,
            "allocation": "fixed", "reallocation": "daily"}


@pytest.fixture(scope="module")
def lab(server: Server) -> dict[str, Any]:
    project = server.create_project("analysis-api")
    return {"project": project, "deployment": server.create_deployment(project, "analysis-api")}


def new_experiment(api: httpx.Client, lab: dict[str, Any]) -> tuple[str, str]:
    key = f"exp-{uuid.uuid4().hex[:8]}"
    created = api.post("/api/1/experiments", json={
        "projectId": lab["project"], "key": key, "deployments": [lab["deployment"]["id"]]})
    assert created.status_code == 200, created.text
    return key, str(created.json()["id"])


def send(server: Server, lab: dict[str, Any], events: list[dict[str, Any]]) -> None:
    for n in range(0, len(events), 500):
        response = httpx.post(f"{server.base_url}/batch",
                              json={"api_key": lab["deployment"]["key"], "events": events[n:n + 500]})
        assert response.json()["code"] == 200, response.text


def population(flag: str, users: int, converting: dict[str, float], event: str = "purchase",
               prefix: str = "u") -> list[dict[str, Any]]:
    """`users` per variant, exposed at T0; a share of each converts once (deterministically)."""
    events = []
    for variant, share in converting.items():
        for n in range(users):
            user = f"{prefix}-{variant}-{n:04d}"
            events.append({"event_type": "[Experiment] Exposure", "user_id": user, "time": T0,
                           "event_properties": {"[Experiment] Flag Key": flag, "[Experiment] Variant": variant}})
            if n < share * users:
                events.append({"event_type": event, "user_id": user, "time": T0 + 1_000})
    return events


def results(api: httpx.Client, flag_id: str, **params: Any) -> dict[str, Any]:
    response = api.get(f"/api/1/experiments/{flag_id}/results", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def treatment(body: dict[str, Any]) -> dict[str, Any]:
    return next(row for row in body["variants"] if row["key"] == "treatment")


def test_analysis__defaults_then_partial_changes__each_change_is_kept_and_recorded(
        api: httpx.Client, lab: dict[str, Any]) -> None:
    # Given a new experiment: Amplitude's defaults
    _, flag_id = new_experiment(api, lab)
    assert api.get(f"/api/1/experiments/{flag_id}/analysis").json() == DEFAULTS
    # When two settings are changed, then one more
    first = api.put(f"/api/1/experiments/{flag_id}/analysis", json={"testType": "ttest", "confidenceLevel": 0.9})
    second = api.put(f"/api/1/experiments/{flag_id}/analysis", json={"multipleTesting": "holm"})
    # Then each change keeps the others, and reads back
    assert first.status_code == 200 and second.status_code == 200, (first.text, second.text)
    expected = {**DEFAULTS, "testType": "ttest", "confidenceLevel": 0.9, "multipleTesting": "holm"}
    assert second.json() == expected
    assert api.get(f"/api/1/experiments/{flag_id}/analysis").json() == expected
    # And both are on the record, newest first, with who made them and what changed
    changes = api.get(f"/api/1/experiments/{flag_id}/analysis/changes").json()["changes"]
    assert [c["subject"] for c in changes] == ["analysis", "analysis"]
    assert changes[0]["before"]["multipleTesting"] == "bonferroni" and changes[0]["after"]["multipleTesting"] == "holm"
    assert changes[1]["before"] == DEFAULTS and changes[1]["after"]["testType"] == "ttest"
    assert all(c["actor"] and c["changedAt"].endswith("Z") for c in changes)


@pytest.mark.parametrize(("body", "field"), [
    ({"testType": "bayesian"}, "testType"),
    ({"confidenceLevel": 0.5}, "confidenceLevel"),
    ({"confidenceLevel": 0.999}, "confidenceLevel"),
    ({"confidenceLevel": "0.95"}, "confidenceLevel"),
    ({"confidenceLevel": True}, "confidenceLevel"),
    ({"multipleTesting": "sidak"}, "multipleTesting"),
    ({"cuped": "yes"}, "cuped"),
    ({"cupedWindowDays": 0}, "cupedWindowDays"),
    ({"cupedWindowDays": 2.5}, "cupedWindowDays"),
    ({"sequentialEffect": 0}, "sequentialEffect"),
    ({"testType": "ttest", "alpha": 0.05}, "alpha"),
    ({"allocation": "greedy"}, "allocation"),
    ({"allocation": "bandit"}, "allocation"),  # no primary metric to optimise
    ({"reallocation": "weekly"}, "reallocation"),
])
def test_analysis__bad_setting__400_naming_it_and_nothing_changes(
        api: httpx.Client, lab: dict[str, Any], body: dict[str, Any], field: str) -> None:
    _, flag_id = new_experiment(api, lab)
    response = api.put(f"/api/1/experiments/{flag_id}/analysis", json=body)
    assert response.status_code == 400, response.text
    assert field in response.text
    assert api.get(f"/api/1/experiments/{flag_id}/analysis").json() == DEFAULTS
    assert api.get(f"/api/1/experiments/{flag_id}/analysis/changes").json()["changes"] == []


def test_analysis__read_only_key__403_and_unchanged(
        api: httpx.Client, read_only_api: httpx.Client, lab: dict[str, Any]) -> None:
    _, flag_id = new_experiment(api, lab)
    response = read_only_api.put(f"/api/1/experiments/{flag_id}/analysis", json={"testType": "ttest"})
    assert response.status_code == 403
    assert read_only_api.get(f"/api/1/experiments/{flag_id}/analysis").json() == DEFAULTS


def test_metrics__roles__first_is_primary_by_default_and_bad_roles_are_refused(
        api: httpx.Client, lab: dict[str, Any]) -> None:
    _, flag_id = new_experiment(api, lab)
    url = f"/api/1/experiments/{flag_id}/metrics"
    # Given metrics sent without roles, as before roles existed: the first is the primary
    saved = api.put(url, json={"metrics": [{"eventType": "purchase"}, {"eventType": "signup"}]})
    assert saved.status_code == 200, saved.text
    assert [(m["role"], m["direction"]) for m in saved.json()["metrics"]] == [
        ("primary", "increase"), ("secondary", "increase")]
    # When roles are wrong in any of these ways, then 400 naming the field, and nothing changes
    for metrics, field in (
        ([{"eventType": "a", "role": "primary"}, {"eventType": "b", "role": "primary"}], "primary"),
        ([{"eventType": "a", "role": "secondary"}], "primary"),
        ([{"eventType": "a", "role": "primary", "nonInferiorityMargin": 0.01}], "metrics[0].nonInferiorityMargin"),
        ([{"eventType": "a", "role": "primary"}, {"eventType": "b", "role": "guardrail"}],
         "metrics[1].nonInferiorityMargin"),
        ([{"eventType": "a", "role": "primary"}, {"eventType": "b", "role": "guardrail", "nonInferiorityMargin": 1}],
         "metrics[1].nonInferiorityMargin"),
        ([{"eventType": "a", "role": "leading"}], "metrics[0].role"),
        ([{"eventType": "a", "direction": "up"}], "metrics[0].direction"),
    ):
        response = api.put(url, json={"metrics": metrics})
        assert response.status_code == 400, (metrics, response.text)
        assert field in response.json()["error"]["message"] if "error" in response.json() else field in response.text
    assert [m["eventType"] for m in api.get(url).json()["metrics"]] == ["purchase", "signup"]
    # And the one accepted change is on the record
    changes = api.get(f"/api/1/experiments/{flag_id}/analysis/changes").json()["changes"]
    assert len(changes) == 1 and changes[0]["subject"] == "metrics"
    assert changes[0]["before"] == [] and [m["eventType"] for m in changes[0]["after"]] == ["purchase", "signup"]


def test_results__before_the_minimum_samples__no_figures_and_the_missing_threshold_named(
        server: Server, api: httpx.Client, lab: dict[str, Any]) -> None:
    # Given 120 users a side, of whom only 20 convert in control
    flag, flag_id = new_experiment(api, lab)
    send(server, lab, population(flag, 120, {"control": 20 / 120, "treatment": 0.5}, prefix="few"))
    # When results are read, with either test
    for test in ("sequential", "ttest"):
        api.put(f"/api/1/experiments/{flag_id}/analysis", json={"testType": test})
        row = treatment(results(api, flag_id, metric="purchase"))
        # Then no p-value or interval, and the answer says which minimum is not met
        assert row["pValue"] is None and row["ci"] is None and row["significant"] is None
        assert row["thresholdsMet"] is False
        assert row["threshold"] == {"variant": "control", "quantity": "conversions", "observed": 20,
                                    "required": 25, "reason": row["threshold"]["reason"]}
        assert "20 of the 25 conversions" in row["threshold"]["reason"]


@pytest.mark.parametrize("correction", ["bonferroni", "holm", "benjamini-hochberg", "none"])
def test_results__two_metrics__adjusted_p_values_are_statsmodels_over_the_family(
        server: Server, api: httpx.Client, lab: dict[str, Any], correction: str) -> None:
    # Given a primary and a secondary metric, and a guardrail (judged apart)
    flag, flag_id = new_experiment(api, lab)
    metrics = [{"eventType": "purchase", "role": "primary"}, {"eventType": "signup", "role": "secondary"},
               {"eventType": "refund", "role": "guardrail", "direction": "decrease", "nonInferiorityMargin": 0.1}]
    assert api.put(f"/api/1/experiments/{flag_id}/metrics", json={"metrics": metrics}).status_code == 200
    events = population(flag, 300, {"control": 0.3, "treatment": 0.38}, prefix=f"fam-{correction}")
    events += [dict(e, event_type="signup") for e in population(
        flag, 300, {"control": 0.2, "treatment": 0.25}, prefix=f"fam-{correction}") if e["event_type"] == "purchase"]
    send(server, lab, events)
    api.put(f"/api/1/experiments/{flag_id}/analysis", json={"testType": "ttest", "multipleTesting": correction})
    # When each metric's results are read
    raw, adjusted = [], []
    for metric in ("purchase", "signup"):
        body = results(api, flag_id, metric=metric)
        row = treatment(body)
        assert body["analysis"]["familySize"] == 2
        raw.append(row["pValue"])
        adjusted.append(row["adjustedPValue"])
        assert row["significant"] == (row["adjustedPValue"] < 0.05)
        # the interval is drawn at the level the correction allows
        assert row["ciLevel"] == pytest.approx(1 - 0.05 / 2 if correction == "bonferroni" else 0.95)
    # Then the adjusted p-values are statsmodels' for the family of two
    method = {"bonferroni": "bonferroni", "holm": "holm", "benjamini-hochberg": "fdr_bh"}.get(correction)
    expected = raw if method is None else list(multipletests(raw, method=method)[1])
    assert adjusted == pytest.approx(expected, rel=1e-12)


def test_results__guardrail__harm_shown_when_the_treatment_is_clearly_worse(
        server: Server, api: httpx.Client, lab: dict[str, Any]) -> None:
    # Given a guardrail where decrease is good (refunds), which the treatment doubles
    flag, flag_id = new_experiment(api, lab)
    metrics = [{"eventType": "purchase", "role": "primary"},
               {"eventType": "refund", "role": "guardrail", "direction": "decrease", "nonInferiorityMargin": 0.05}]
    assert api.put(f"/api/1/experiments/{flag_id}/metrics", json={"metrics": metrics}).status_code == 200
    events = population(flag, 400, {"control": 0.3, "treatment": 0.3}, prefix="harm")
    events += [dict(e, event_type="refund") for e in population(
        flag, 400, {"control": 0.1, "treatment": 0.3}, prefix="harm") if e["event_type"] == "purchase"]
    send(server, lab, events)
    # (a sequential test tuned for a 5 % lift needs tens of thousands of users; this one is
    # tuned for the large effects 400 users can show)
    api.put(f"/api/1/experiments/{flag_id}/analysis", json={"sequentialEffect": 1.0})
    # When the primary metric's results are read
    body = results(api, flag_id, metric="purchase")
    # Then the answer flags the guardrail's harm
    assert body["harm"] is True
    [guardrail] = body["guardrails"]
    assert guardrail["metric"]["eventType"] == "refund"
    assert guardrail["variants"] == [{"key": "treatment", "harm": True, "difference": pytest.approx(0.2),
                                      "ci": guardrail["variants"][0]["ci"], "thresholdsMet": True}]
    assert guardrail["variants"][0]["ci"][0] > 0  # refunds went up: harmful for a decrease-is-good metric
    # And on the guardrail's own results, harm is set per treatment and the family leaves it out
    row = treatment(results(api, flag_id, metric="refund"))
    assert row["harm"] is True and row["adjustedPValue"] is None and row["better"] is False


def test_results__guardrail__no_harm_once_the_interval_is_within_the_margin(
        server: Server, api: httpx.Client, lab: dict[str, Any]) -> None:
    flag, flag_id = new_experiment(api, lab)
    metrics = [{"eventType": "purchase", "role": "primary"},
               {"eventType": "visit", "role": "guardrail", "nonInferiorityMargin": 0.5}]
    assert api.put(f"/api/1/experiments/{flag_id}/metrics", json={"metrics": metrics}).status_code == 200
    events = population(flag, 400, {"control": 0.3, "treatment": 0.3}, prefix="safe")
    events += [dict(e, event_type="visit") for e in population(
        flag, 400, {"control": 0.8, "treatment": 0.8}, prefix="safe") if e["event_type"] == "purchase"]
    send(server, lab, events)
    body = results(api, flag_id, metric="purchase")
    assert body["harm"] is False
    assert body["guardrails"][0]["variants"][0]["harm"] is False


def test_results__over_time__one_point_per_interval_and_the_last_is_the_headline(
        server: Server, api: httpx.Client, lab: dict[str, Any]) -> None:
    flag, flag_id = new_experiment(api, lab)
    send(server, lab, population(flag, 300, {"control": 0.3, "treatment": 0.4}, prefix="time"))
    for interval in ("hour", "day"):
        body = results(api, flag_id, metric="purchase", interval=interval)
        assert body["interval"] == interval and body["series"]
        last = body["series"][-1]["variants"][0]
        row = treatment(body)
        assert (last["key"], last["pValue"], last["ci"], last["difference"]) == (
            "treatment", row["pValue"], row["ci"], row["difference"])
        p_values = [point["variants"][0]["pValue"] for point in body["series"] if point["variants"][0]["pValue"]]
        assert p_values == sorted(p_values, reverse=True)  # the sequential p-value never rises
    bad = api.get(f"/api/1/experiments/{flag_id}/results", params={"metric": "purchase", "interval": "week"})
    assert bad.status_code == 400 and "interval" in bad.text
