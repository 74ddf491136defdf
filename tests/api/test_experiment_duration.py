"""The duration estimator through the HTTP API: users and days to detect an effect."""

from __future__ import annotations

import math
import time
import uuid
from typing import Any

import httpx
import pytest
from statsmodels.stats.power import NormalIndPower

from tests.api.test_experiment_results import exp_id, exposure, purchase, send
from tests.support.server import Server

HOUR = 3_600_000


@pytest.fixture(scope="module")
def lab(server: Server) -> dict[str, Any]:
    project = server.create_project("duration-api")
    return {"project": project, "deployment": server.create_deployment(project, "duration-api")}


@pytest.fixture(scope="module")
def running(server: Server, api: httpx.Client, lab: dict[str, Any]) -> dict[str, Any]:
    """An experiment whose 400 users were exposed over the last two days: a fifth of control
    and a quarter of treatment bought, for 10 or 30."""
    key = f"exp-{uuid.uuid4().hex[:8]}"
    created = api.post("/api/1/experiments", json={
        "projectId": lab["project"], "key": key, "deployments": [lab["deployment"]["id"]]})
    assert created.status_code == 200, created.text
    now = int(time.time() * 1000)
    events = []
    for n in range(400):
        variant = "control" if n % 2 == 0 else "treatment"
        user = f"{key}-u{n}"
        seen = now - (n % 48) * HOUR - 60_000
        events.append(exposure(key, user, variant, seen))
        rate = 5 if variant == "control" else 4
        if n // 2 % rate == 0:
            events.append(purchase(user, seen + 1000, revenue=10.0 if n % 3 else 30.0))
    send(server, lab, events)
    return {"key": key, "id": exp_id(api, key)}


def _duration(api: httpx.Client, experiment_id: str, **params: Any) -> dict[str, Any]:
    response = api.get(f"/api/1/experiments/{experiment_id}/duration", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _statsmodels_users(effect: float, control_variance: float, treatment_variance: float,
                       alpha: float, power: float) -> float:
    # The same two-sided z-test with the variances averaged into one standard deviation.
    size = effect / math.sqrt((control_variance + treatment_variance) / 2)
    return float(NormalIndPower().solve_power(effect_size=size, alpha=alpha, power=power, ratio=1.0))


def test_duration__conversion_metric__users_as_statsmodels_and_days_at_the_recent_rate(
        api: httpx.Client, running: dict[str, Any]) -> None:
    body = _duration(api, running["id"], metric="purchase", mde=0.1)

    baseline = body["baseline"]
    assert baseline == pytest.approx(40 / 200)  # the control's conversion rate
    effect = 0.1 * baseline
    expected = _statsmodels_users(effect, baseline * (1 - baseline),
                                  (baseline + effect) * (1 - baseline - effect), 0.05, 0.8)
    assert body["absoluteEffect"] == pytest.approx(effect)
    assert body["usersPerVariant"] == math.ceil(expected)
    assert body["totalUsers"] == 2 * body["usersPerVariant"]
    assert body["exposedUsers"] == 400
    # 400 users over the last two days: about 200 a day.
    assert 150 <= body["dailyExposures"] <= 260
    assert body["days"] == pytest.approx(body["totalUsers"] / body["dailyExposures"])
    assert body["daysRemaining"] == pytest.approx((body["totalUsers"] - 400) / body["dailyExposures"])
    assert body["reason"] is None


def test_duration__mean_metric_absolute_mde_and_other_power__uses_the_controls_variance(
        api: httpx.Client, running: dict[str, Any]) -> None:
    results = api.get(f"/api/1/experiments/{running['id']}/results",
                      params={"metric": "purchase", "property": "revenue"}).json()
    control = next(row for row in results["variants"] if row["key"] == "control")

    body = _duration(api, running["id"], metric="purchase", property="revenue", mde=0.5,
                     mdeType="absolute", power=0.9, confidenceLevel=0.99)

    assert body["metric"]["kind"] == "mean"
    assert body["baseline"] == pytest.approx(control["value"])
    variance = body["standardDeviation"] ** 2
    assert variance > 0
    expected = _statsmodels_users(0.5, variance, variance, 0.01, 0.9)
    assert body["usersPerVariant"] == math.ceil(expected)
    assert (body["mdeType"], body["power"], body["confidenceLevel"]) == ("absolute", 0.9, 0.99)


def test_duration__no_mde__five_percent_of_control(api: httpx.Client, running: dict[str, Any]) -> None:
    default = _duration(api, running["id"], metric="purchase")
    explicit = _duration(api, running["id"], metric="purchase", mde=0.05, mdeType="relative")

    assert (default["mde"], default["mdeType"]) == (0.05, "relative")
    assert default["usersPerVariant"] == explicit["usersPerVariant"]


def test_duration__larger_effect__fewer_users(api: httpx.Client, running: dict[str, Any]) -> None:
    small = _duration(api, running["id"], metric="purchase", mde=0.05)
    large = _duration(api, running["id"], metric="purchase", mde=0.2)

    assert large["usersPerVariant"] < small["usersPerVariant"]


def test_duration__no_exposures_yet__no_estimate_and_the_reason(
        api: httpx.Client, lab: dict[str, Any]) -> None:
    created = api.post("/api/1/experiments", json={"projectId": lab["project"], "key": f"exp-{uuid.uuid4().hex[:8]}"})

    body = _duration(api, str(created.json()["id"]), metric="purchase", mde=0.1)

    assert body["usersPerVariant"] is None and body["days"] is None
    assert body["exposedUsers"] == 0 and body["dailyExposures"] is None
    assert "no exposed users" in body["reason"]


@pytest.mark.parametrize("params, field", [
    ({"metric": "purchase", "mde": 0}, "mde"),
    ({"metric": "purchase", "mde": -0.1}, "mde"),
    ({"metric": "purchase", "mde": "much"}, "mde"),
    ({"metric": "purchase", "mde": 0.1, "power": 1.5}, "power"),
    ({"metric": "purchase", "mde": 0.1, "power": 0.2}, "power"),
    ({"metric": "purchase", "mde": 0.1, "confidenceLevel": 1}, "confidenceLevel"),
    ({"metric": "purchase", "mde": 0.1, "mdeType": "percent"}, "mdeType"),
    ({"mde": 0.1, "kind": "mean"}, "metric"),
])
def test_duration__bad_input__400_naming_the_field(api: httpx.Client, running: dict[str, Any],
                                                   params: dict[str, Any], field: str) -> None:
    response = api.get(f"/api/1/experiments/{running['id']}/duration", params=params)

    assert response.status_code == 400, response.text
    assert field in response.json()["error"]["message"]


def test_duration__unknown_experiment_or_no_key__404_and_401(api: httpx.Client) -> None:
    assert api.get("/api/1/experiments/999999/duration", params={"metric": "a", "mde": 0.1}).status_code == 404
    assert httpx.get(f"{api.base_url}/api/1/experiments/1/duration", params={"mde": 0.1}).status_code == 401
