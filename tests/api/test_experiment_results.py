"""Exposure rules, metrics and results through the HTTP API (events sent in Amplitude's format)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.server import Server

T0 = 1_790_000_000_000  # a fixed client time, ms


@pytest.fixture(scope="module")
def lab(server: Server, api: httpx.Client) -> dict[str, Any]:
    project = server.create_project("results-api")
    deployment = server.create_deployment(project, "results-api")
    return {"project": project, "deployment": deployment}


@pytest.fixture
def experiment(lab: dict[str, Any], api: httpx.Client) -> Callable[..., str]:
    def make(**changes: Any) -> str:
        key = f"exp-{uuid.uuid4().hex[:8]}"
        created = api.post("/api/1/experiments", json={
            "projectId": lab["project"], "key": key, "deployments": [lab["deployment"]["id"]]})
        assert created.status_code == 200, created.text
        if changes:  # exposureEvent is set by an edit, as with Amplitude
            edited = api.patch(f"/api/1/experiments/{created.json()['id']}", json=changes)
            assert edited.status_code == 200, edited.text
        return key
    return make


def send(server: Server, lab: dict[str, Any], events: list[dict[str, Any]]) -> None:
    response = httpx.post(f"{server.base_url}/batch", json={"api_key": lab["deployment"]["key"], "events": events})
    assert response.json()["code"] == 200, response.text


def exposure(flag: str, user: str, variant: str, time: int) -> dict[str, Any]:
    return {"event_type": "[Experiment] Exposure", "user_id": user, "time": time,
            "event_properties": {"[Experiment] Flag Key": flag, "[Experiment] Variant": variant}}


def purchase(user: str, time: int, revenue: float = 10.0) -> dict[str, Any]:
    return {"event_type": "purchase", "user_id": user, "time": time, "event_properties": {"revenue": revenue}}


def exp_id(api: httpx.Client, key: str) -> str:
    return str(api.get("/api/1/experiments", params={"key": key}).json()["experiments"][0]["id"])


def rows(api: httpx.Client, key: str, **params: Any) -> dict[str, Any]:
    response = api.get(f"/api/1/experiments/{exp_id(api, key)}/results", params={"metric": "purchase", **params})
    assert response.status_code == 200, response.text
    return response.json()


def by_variant(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in body["variants"]}


def test_results__events_before_and_after_exposure__only_later_events_count_whatever_the_arrival_order(
        server: Server, lab: dict[str, Any], api: httpx.Client, experiment: Callable[..., str]) -> None:
    # Given an experiment, and users whose purchases arrive before their exposure event does
    flag = experiment()
    send(server, lab, [purchase("user-late1", T0 + 5_000, 30), purchase("user-early", T0 - 5_000, 99)])
    send(server, lab, [exposure(flag, "user-late1", "treatment", T0), exposure(flag, "user-early", "treatment", T0),
                       exposure(flag, "user-ctrl1", "control", T0)])
    send(server, lab, [purchase("user-ctrl1", T0 + 1, 12), purchase("user-late1", T0 + 9_000, 5)])
    # When the results are read
    body = rows(api, flag, property="revenue")
    # Then only purchases at or after each user's exposure count
    treatment, control = by_variant(body)["treatment"], by_variant(body)["control"]
    assert treatment["exposures"] == 2 and treatment["total"] == 35 and treatment["value"] == 17.5
    assert control["exposures"] == 1 and control["total"] == 12


def test_results__user_seen_in_two_variants__excluded_and_counted(
        server: Server, lab: dict[str, Any], api: httpx.Client, experiment: Callable[..., str]) -> None:
    flag = experiment()
    send(server, lab, [exposure(flag, "user-both", "control", T0),
                       {"event_type": "$exposure", "user_id": "user-both", "time": T0 + 1,
                        "event_properties": {"flag_key": flag, "variant": "treatment"}},
                       exposure(flag, "user-one", "control", T0),
                       {"event_type": "[Experiment] Assignment", "user_id": "user-two", "time": T0,
                        "event_properties": {f"{flag}.variant": "treatment", f"{flag}.details": "v1 rule:x"}}])
    body = rows(api, flag)
    assert body["excludedUsers"] == 1
    assert {k: v["exposures"] for k, v in by_variant(body).items()} == {"control": 1, "treatment": 1}


def test_results__custom_exposure_event__counts_instead_of_sdk_exposures(
        server: Server, lab: dict[str, Any], api: httpx.Client, experiment: Callable[..., str]) -> None:
    # Given an experiment whose exposure event is a view of the checkout page on mobile
    flag = experiment(exposureEvent={"event_type": "view checkout", "filters": [
        {"subprop_type": "event", "subprop_key": "platform", "subprop_op": "is", "subprop_value": ["mobile"]}]})
    # When users are assigned, some view checkout (one on desktop), and they buy
    view = {"event_type": "view checkout", "event_properties": {"platform": "mobile"}}
    send(server, lab, [
        exposure(flag, "user-viewer", "treatment", T0),
        exposure(flag, "user-assigned-only", "treatment", T0),
        exposure(flag, "user-desktop", "control", T0),
        {**view, "user_id": "user-viewer", "time": T0 + 100},
        {**view, "user_id": "user-desktop", "time": T0 + 100, "event_properties": {"platform": "desktop"}},
        # the variant may also come on the event itself, as the user property Amplitude sets
        {**view, "user_id": "user-prop", "time": T0 + 100,
         "user_properties": {"$set": {f"[Experiment] {flag}": "control"}}},
        purchase("user-viewer", T0 + 50), purchase("user-viewer", T0 + 200), purchase("user-prop", T0 + 300),
    ])
    body = rows(api, flag, kind="count")
    # Then only users with the qualifying event are exposed, from the moment of that event
    variants = by_variant(body)
    assert variants["treatment"]["exposures"] == 1 and variants["treatment"]["total"] == 1
    assert variants["control"]["exposures"] == 1 and variants["control"]["total"] == 1


def test_results__skewed_split__srm_warning(
        server: Server, lab: dict[str, Any], api: httpx.Client, experiment: Callable[..., str]) -> None:
    flag = experiment()
    send(server, lab, [exposure(flag, f"user-{n:05d}", "control" if n < 700 else "treatment", T0)
                       for n in range(1000)])
    srm = rows(api, flag)["srm"]
    assert srm["mismatch"] is True and srm["pValue"] < 0.001
    assert "Sample ratio mismatch" in srm["warning"]


def test_metrics__set_list_and_filtered_metric_counted_from_stored_events(
        server: Server, lab: dict[str, Any], api: httpx.Client, experiment: Callable[..., str]) -> None:
    # Given an experiment with exposures and purchases already stored
    flag = experiment()
    send(server, lab, [exposure(flag, "user-m1", "control", T0), exposure(flag, "user-m2", "treatment", T0),
                       purchase("user-m1", T0 + 1, 5), purchase("user-m2", T0 + 1, 50),
                       purchase("user-m2", T0 + 2, 70)])
    eid = exp_id(api, flag)
    # When metrics are set, one of them with a filter
    big = {"eventType": "purchase", "property": "revenue", "kind": "mean", "name": "big orders",
           "filters": [{"subprop_type": "event", "subprop_key": "revenue", "subprop_op": "greater or equal",
                        "subprop_value": ["60"]}]}
    response = api.put(f"/api/1/experiments/{eid}/metrics", json={"metrics": [big, {"eventType": "purchase"}]})
    assert response.status_code == 200, response.text
    metrics = api.get(f"/api/1/experiments/{eid}/metrics").json()["metrics"]
    # Then they are listed, and the filtered one counts only matching events, past and future
    assert [(m["name"], m["kind"]) for m in metrics] == [("big orders", "mean"), ("purchase", "conversion")]
    send(server, lab, [purchase("user-m1", T0 + 3, 65)])
    first = api.get(f"/api/1/experiments/{eid}/results").json()  # the first stored metric
    assert first["metric"]["name"] == "big orders"
    assert {k: v["total"] for k, v in by_variant(first).items()} == {"control": 65, "treatment": 70}
    by_id = api.get(f"/api/1/experiments/{eid}/results", params={"metricId": metrics[1]["id"]}).json()
    assert by_id["metric"]["kind"] == "conversion"


@pytest.mark.parametrize(("body", "field"), [
    ({"metrics": [{"eventType": "purchase", "kind": "mean"}]}, "metrics[0].kind"),
    ({"metrics": [{"eventType": "purchase", "kind": "median"}]}, "metrics[0].kind"),
    ({"metrics": [{"eventType": "a", "filters": [{"subprop_key": "x", "subprop_op": "nearly",
                                                  "subprop_value": ["1"]}]}]}, "metrics[0].filters[0].subprop_op"),
    ({"metrics": [{"eventType": "a"}, {"eventType": "a"}]}, "metrics[1]"),
    ({"metrics": [{"property": "revenue"}]}, "eventType"),
])
def test_metrics__invalid__400_naming_the_field_and_nothing_changed(
        api: httpx.Client, experiment: Callable[..., str], body: dict[str, Any], field: str) -> None:
    eid = exp_id(api, experiment())
    response = api.put(f"/api/1/experiments/{eid}/metrics", json=body)
    assert response.status_code == 400
    assert field in response.json()["error"]["message"]
    assert api.get(f"/api/1/experiments/{eid}/metrics").json() == {"metrics": []}


def test_results__decision_recorded_with_patch__shown_with_the_results(
        api: httpx.Client, experiment: Callable[..., str]) -> None:
    eid = exp_id(api, experiment())
    patched = api.patch(f"/api/1/experiments/{eid}", json={"decision": "rollout", "decisionReason": "won"})
    assert patched.status_code == 200, patched.text
    body = api.get(f"/api/1/experiments/{eid}/results", params={"metric": "purchase"}).json()
    assert (body["decision"], body["decisionReason"], body["state"]) == ("rollout", "won", "decision-made")


def test_results__bad_requests__clear_errors(api: httpx.Client, experiment: Callable[..., str],
                                             lab: dict[str, Any]) -> None:
    eid = exp_id(api, experiment())
    assert api.get(f"/api/1/experiments/{eid}/results").status_code == 400  # no metric at all
    assert api.get(f"/api/1/experiments/{eid}/results", params={"metric": "a", "kind": "mean"}).status_code == 400
    assert api.get(f"/api/1/experiments/{eid}/exposures", params={"interval": "week"}).status_code == 400
    for bad in ({"metricId": "abc"}, {"metric": "a\x00b"}, {"metric": "m" * 5000}):
        response = api.get(f"/api/1/experiments/{eid}/results", params=bad)
        assert response.status_code == 400, (bad, response.text)
    assert api.get("/api/1/experiments/999999/results", params={"metric": "a"}).status_code == 404
    flag = api.post("/api/1/flags", json={"projectId": lab["project"], "key": f"f-{uuid.uuid4().hex[:6]}"})
    assert api.get(f"/api/1/experiments/{flag.json()['id']}/results", params={"metric": "a"}).status_code == 404
    assert httpx.get(f"{api.base_url}/api/1/experiments/{eid}/results").status_code == 401
