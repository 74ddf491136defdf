"""An experiment end to end with Amplitude's own clients pointed at flagyard.

`LocalEvaluationClient` with exposure tracking sends `[Experiment] Exposure` events,
`RemoteEvaluationClient` makes flagyard record assignments itself, and `amplitude-analytics`
sends the product events. The results endpoint must count what was sent, and its statistics
must equal scipy's and statsmodels' on the per-user values the test computes itself.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from amplitude import Amplitude, BaseEvent, Config
from amplitude_experiment import (
    LocalEvaluationClient,
    LocalEvaluationConfig,
    RemoteEvaluationClient,
    RemoteEvaluationConfig,
    User,
)
from amplitude_experiment.exposure import ExposureConfig
from amplitude_experiment.local.evaluate_options import EvaluateOptions
from amplitude_experiment.remote.fetch_options import FetchOptions
from scipy import stats
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from tests.sdk.conftest import release
from tests.support.server import Server

LOCAL_USERS = 240
REMOTE_USERS = 60
HOUR_MS = 3_600_000


class Acks:
    """Counts the analytics SDK's callbacks, so the test knows every event was acknowledged."""

    def __init__(self) -> None:
        self.codes: list[int] = []
        self._cond = threading.Condition()

    def __call__(self, event: Any, code: int, message: str | None = None) -> None:
        with self._cond:
            self.codes.append(code)
            self._cond.notify_all()

    def wait_for(self, n: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.codes) < n and time.monotonic() < deadline:
                self._cond.wait(0.1)
        assert len(self.codes) >= n, f"{len(self.codes)} of {n} events acknowledged"


@pytest.fixture(scope="module")
def setup(server: Server) -> Iterator[dict[str, Any]]:
    project = server.create_project("results-e2e")
    deployment = server.create_deployment(project, "results-server")
    key = server.create_key("results-e2e", projects=(project,))
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
        ids = {}
        for name, mode in (("checkout-exp", "local"), ("remote-exp", "remote")):
            created = api.post("/api/1/experiments", json={
                "projectId": project, "key": name, "deployments": [deployment["id"]],
                "evaluationMode": mode, "bucketingKey": "user_id", "rolloutPercentage": 100,
            })
            assert created.status_code == 200, created.text
            ids[name] = created.json()["id"]
            enabled = api.patch(f"/api/1/experiments/{ids[name]}", json={"enabled": True})
            assert enabled.status_code == 200, enabled.text
        yield {"api": api, "deployment": deployment, "ids": ids}


def per_user_values(variants: dict[str, str], purchases: dict[str, list[float]], kind: str
                    ) -> dict[str, np.ndarray]:
    out: dict[str, list[float]] = {"control": [], "treatment": []}
    for user, variant in variants.items():
        amounts = purchases.get(user, [])
        value = {"conversion": float(bool(amounts)), "mean": float(sum(amounts)), "count": float(len(amounts))}[kind]
        out[variant].append(value)
    return {k: np.array(v) for k, v in out.items()}


def expected_comparison(control: np.ndarray, treatment: np.ndarray) -> dict[str, Any]:
    welch = stats.ttest_ind(treatment, control, equal_var=False)
    low, high = CompareMeans(DescrStatsW(treatment), DescrStatsW(control)).tconfint_diff(
        alpha=0.05, usevar="unequal")
    se = np.sqrt(treatment.var(ddof=1) / len(treatment) + control.var(ddof=1) / len(control))
    difference = treatment.mean() - control.mean()
    return {"difference": difference, "relativeDifference": difference / control.mean(),
            "ci": [low, high], "pValue": welch.pvalue,
            "chanceToBeatControl": stats.norm.cdf(difference / se)}


def expected_sequential(control: np.ndarray, treatment: np.ndarray, effect: float) -> dict[str, Any]:
    """The mSPRT of the reference, from per-user values: τ = effect × control's mean."""
    v = treatment.var(ddof=1) / len(treatment) + control.var(ddof=1) / len(control)
    tau2 = (effect * control.mean()) ** 2
    d = treatment.mean() - control.mean()
    ratio = np.sqrt(v / (v + tau2)) * np.exp(tau2 * d * d / (2 * v * (v + tau2)))
    half = np.sqrt(2 * v * (v + tau2) / tau2 * np.log(np.sqrt((v + tau2) / v) / 0.05))
    return {"difference": d, "pValue": min(1.0, 1 / ratio), "ci": [d - half, d + half],
            "stdError": np.sqrt(v), "mixingVariance": tau2}


def expected_cuped(x_c: np.ndarray, y_c: np.ndarray, x_t: np.ndarray, y_t: np.ndarray) -> dict[str, Any]:
    """CUPED from per-user values as the reference defines it, θ pooled, then the z-test."""
    x, y = np.concatenate([x_c, x_t]), np.concatenate([y_c, y_t])
    theta = np.sum((x - x.mean()) * (y - y.mean())) / np.sum((x - x.mean()) ** 2)
    difference = (y_t.mean() - y_c.mean()) - theta * (x_t.mean() - x_c.mean())
    variance = sum((np.var(yv, ddof=1) - 2 * theta * np.cov(xv, yv, ddof=1)[0, 1] + theta**2 * np.var(xv, ddof=1))
                   / yv.size for xv, yv in ((x_c, y_c), (x_t, y_t)))
    plain = np.var(y_t, ddof=1) / y_t.size + np.var(y_c, ddof=1) / y_c.size
    se = np.sqrt(variance)
    return {"difference": difference, "stdError": se, "cupedTheta": theta, "varianceReduction": 1 - variance / plain,
            "pValue": 2 * stats.norm.sf(abs(difference) / se),
            "ci": [difference - stats.norm.ppf(0.975) * se, difference + stats.norm.ppf(0.975) * se]}


def test_experiment__sdks_send_exposures_and_events__results_match_an_independent_computation(
    server: Server, setup: dict[str, Any]
) -> None:
    # Given a local-evaluation client tracking exposures, and the analytics SDK, both sending to flagyard
    deployment, api, ids = setup["deployment"], setup["api"], setup["ids"]
    events_url = f"{server.base_url}/2/httpapi"
    quiet = logging.getLogger("flagyard.tests.results")
    quiet.setLevel(logging.ERROR)
    local = LocalEvaluationClient(deployment["key"], LocalEvaluationConfig(
        server_url=server.base_url, logger=quiet,
        exposure_config=ExposureConfig(api_key=deployment["key"], server_url=events_url)))
    local.start()
    acks = Acks()
    analytics = Amplitude(deployment["key"], Config(server_url=events_url, callback=acks, flush_queue_size=100))
    rng = random.Random(11)
    started_ms = int(time.time() * 1000)
    # When users are evaluated with exposure tracking, then buy (treatment buys more), and a
    # few purchases are stamped an hour before the experiment began
    variants: dict[str, str] = {}
    for n in range(LOCAL_USERS):
        user = f"shopper-{n:04d}"
        result = local.evaluate_v2(User(user_id=user), {"checkout-exp"}, EvaluateOptions(tracks_exposure=True))
        variants[user] = result["checkout-exp"].key
    release(local)  # flushes the exposure events
    purchases: dict[str, list[float]] = {}
    earlier: dict[str, list[float]] = {}  # in the week before exposure
    sent = 0
    for user, variant in variants.items():
        for _ in range(rng.choice([0, 0, 1, 2]) + (variant == "treatment" and rng.random() < 0.3)):
            amount = round(rng.uniform(5, 120), 2)
            purchases.setdefault(user, []).append(amount)
            analytics.track(BaseEvent("purchase", user_id=user, event_properties={"revenue": amount}))
            sent += 1
        if rng.random() < 0.2:  # before exposure: must not count, except as CUPED's covariate
            amount = round(rng.uniform(500, 1500), 2)
            earlier.setdefault(user, []).append(amount)
            analytics.track(BaseEvent("purchase", user_id=user, time=started_ms - HOUR_MS,
                                      event_properties={"revenue": amount}))
            sent += 1
    # and one user is also reported in the other variant (by the browser SDK's event)
    switcher = next(iter(variants))
    other = "treatment" if variants[switcher] == "control" else "control"
    analytics.track(BaseEvent("$exposure", user_id=switcher,
                              event_properties={"flag_key": "checkout-exp", "variant": other}))
    sent += 1
    analytics.flush()
    acks.wait_for(sent)
    analytics.shutdown()
    del variants[switcher]
    purchases.pop(switcher, None)
    earlier.pop(switcher, None)

    # Then, read with a fixed-horizon t-test and no correction, each metric's counts and
    # statistics are the independent computation's
    chosen = api.put(f"/api/1/experiments/{ids['checkout-exp']}/analysis",
                     json={"testType": "ttest", "multipleTesting": "none"})
    assert chosen.status_code == 200, chosen.text
    for kind, params in (("conversion", {"metric": "purchase"}),
                         ("mean", {"metric": "purchase", "property": "revenue"}),
                         ("count", {"metric": "purchase", "kind": "count"})):
        response = api.get(f"/api/1/experiments/{ids['checkout-exp']}/results", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(acks.codes) == {200}
        assert body["control"] == "control" and body["excludedUsers"] == 1
        values = per_user_values(variants, purchases, kind)
        rows = {row["key"]: row for row in body["variants"]}
        for key in ("control", "treatment"):
            assert rows[key]["exposures"] == len(values[key])
            assert rows[key]["value"] == pytest.approx(values[key].mean(), abs=1e-9)
        assert rows["control"]["pValue"] is None and rows["control"]["ci"] is None
        assert body["analysis"]["testType"] == "ttest" and rows["treatment"]["thresholdsMet"] is True
        expected = expected_comparison(values["control"], values["treatment"])
        for name, value in expected.items():
            assert rows["treatment"][name] == pytest.approx(value, abs=1e-6), (kind, name)
        converters = sum(1 for u, v in variants.items() if v == "treatment" and purchases.get(u))
        assert rows["treatment"]["conversions"] == converters
        assert body["srm"]["mismatch"] is False and 0 <= body["srm"]["pValue"] <= 1

    # And with the default sequential test, the figures are the mixture SPRT's on the same data
    # (every event arrived within the hour, so there is one look)
    chosen = api.put(f"/api/1/experiments/{ids['checkout-exp']}/analysis",
                     json={"testType": "sequential", "multipleTesting": "bonferroni", "sequentialEffect": 0.1})
    assert chosen.status_code == 200, chosen.text
    body = api.get(f"/api/1/experiments/{ids['checkout-exp']}/results", params={"metric": "purchase"}).json()
    values = per_user_values(variants, purchases, "conversion")
    treatment = next(row for row in body["variants"] if row["key"] == "treatment")
    expected = expected_sequential(values["control"], values["treatment"], effect=0.1)
    for name, value in expected.items():
        assert treatment[name] == pytest.approx(value, rel=1e-9), name
    assert treatment["adjustedPValue"] == treatment["pValue"]  # a family of one comparison

    # And with CUPED, the difference is adjusted by the pre-exposure purchases as computed here
    chosen = api.put(f"/api/1/experiments/{ids['checkout-exp']}/analysis",
                     json={"testType": "ttest", "multipleTesting": "none", "cuped": True})
    assert chosen.status_code == 200, chosen.text
    answer = api.get(f"/api/1/experiments/{ids['checkout-exp']}/results",
                     params={"metric": "purchase", "property": "revenue"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    treatment = next(row for row in body["variants"] if row["key"] == "treatment")
    y = per_user_values(variants, purchases, "mean")
    x = per_user_values(variants, earlier, "mean")
    expected = expected_cuped(x["control"], y["control"], x["treatment"], y["treatment"])
    for name, value in expected.items():
        assert treatment[name] == pytest.approx(value, rel=1e-9), name
    assert body["analysis"]["cuped"] is True

    # And exposures over time add up to the exposed users
    series = api.get(f"/api/1/experiments/{ids['checkout-exp']}/exposures").json()
    counts = {k: sum(1 for v in variants.values() if v == k) for k in ("control", "treatment")}
    assert series["totals"] == counts and series["excludedUsers"] == 1


def test_remote_evaluation__tracked_and_untracked_fetches__only_tracked_users_are_assigned(
    server: Server, setup: dict[str, Any]
) -> None:
    # Given a remote-evaluation client
    deployment, api, ids = setup["deployment"], setup["api"], setup["ids"]
    client = RemoteEvaluationClient(deployment["key"], RemoteEvaluationConfig(server_url=server.base_url))
    try:
        # When users are fetched (some twice), and others with assignment tracking turned off
        assigned: dict[str, str] = {}
        for n in range(REMOTE_USERS):
            user = User(user_id=f"visitor-{n:04d}", device_id=f"device-{n:04d}")
            assigned[user.user_id] = client.fetch_v2(user)["remote-exp"].key
            if n % 5 == 0:
                client.fetch_v2(user)
        for n in range(20):
            client.fetch_v2(User(user_id=f"ghost-{n:04d}"), FetchOptions(tracksAssignment=False))
    finally:
        release(client)
    # Then flagyard recorded one assignment (exposure) per tracked user, in the variant served
    expected = {k: sum(1 for v in assigned.values() if v == k) for k in ("control", "treatment")}
    deadline = time.monotonic() + 20
    while True:
        body = api.get(f"/api/1/experiments/{ids['remote-exp']}/results", params={"metric": "purchase"}).json()
        seen = {row["key"]: row["exposures"] for row in body["variants"]}
        if seen == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert seen == expected
    assert body["excludedUsers"] == 0
