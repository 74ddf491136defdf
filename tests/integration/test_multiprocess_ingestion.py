"""Two flagyard processes on one database store one project's events at once: what they store
is what one process stores from the same uploads.

The uploads interleave the same users across both processes (exposures, a second variant,
purchases before and after exposure, in the CUPED window and before it), some uploads are sent
to both processes at once and some events ride in two uploads. Afterwards the raw events,
every user's exposure row and totals, the per-variant sums and their history, and the results
read over HTTP must equal those of one process that received the same uploads one by one.

Runs on SQLite, and on PostgreSQL when FLAGYARD_TEST_DATABASE_URL is set (where the two event
writers really run at once: ADR 0098).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from flagyard.store.db import make_engine
from tests.support.server import Server, fresh_database_url, run_cli, running_server

T0 = 1_790_000_000_000  # client time of the first exposures, ms
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
FLAG = "checkout-exp"
BIG_ORDERS = {"eventType": "purchase", "property": "revenue", "kind": "mean", "name": "big orders",
              "filters": [{"subprop_type": "event", "subprop_key": "revenue", "subprop_op": "greater or equal",
                           "subprop_value": ["40"]}]}


@dataclass
class Lab:
    url: str
    servers: list[Server]
    api_key: str
    experiment_id: str
    api: httpx.Client


@contextmanager
def lab(tmp_path: Path, processes: int) -> Iterator[Lab]:
    """A fresh database with one running experiment (and a filtered metric beside the event
    types), served by `processes` processes."""
    tmp_path.mkdir()
    url = fresh_database_url(tmp_path)
    project = run_cli(url, "projects", "create", "--name", "scale-out").stdout.strip()
    deployment = json.loads(run_cli(url, "deployments", "create", "--project", project, "--label", "prod").stdout)
    key = run_cli(url, "keys", "create", "--name", "lab").stdout.strip()
    with ExitStack() as stack:
        servers = [stack.enter_context(running_server(url)) for _ in range(processes)]
        with httpx.Client(base_url=servers[0].base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as api:
            created = api.post("/api/1/experiments", json={"projectId": project, "key": FLAG,
                                                           "deployments": [deployment["id"]]})
            assert created.status_code == 200, created.text
            experiment_id = str(created.json()["id"])
            metrics = api.put(f"/api/1/experiments/{experiment_id}/metrics",
                              json={"metrics": [BIG_ORDERS, {"eventType": "purchase"}]})
            assert metrics.status_code == 200, metrics.text
            yield Lab(url, servers, deployment["key"], experiment_id, api)


def user_events(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """One user's events: exposures (now and then a second one, earlier or in the other variant),
    purchases from ten days before the first exposure to five days after, page views; some
    users are never exposed, some events carry a device id too."""
    user = f"shopper-{n:03d}"
    device = f"device-{n:03d}" if n % 3 == 0 else None
    exposed_at = T0 + rng.randrange(48) * HOUR_MS
    variant = rng.choice(["control", "treatment"])
    events: list[dict[str, Any]] = []

    def add(event_type: str, time: int, props: dict[str, Any]) -> None:
        event = {"event_type": event_type, "user_id": user, "time": time, "event_properties": props,
                 "insert_id": f"{user}-{len(events)}"}
        if device is not None:
            event["device_id"] = device
        events.append(event)

    if n % 7 != 0:
        add("[Experiment] Exposure", exposed_at, {"[Experiment] Flag Key": FLAG, "[Experiment] Variant": variant})
        if rng.random() < 0.3:  # seen again: earlier (exposure moves), later, or in the other variant
            again = rng.choice([variant, variant, "control" if variant == "treatment" else "treatment"])
            add("[Experiment] Exposure", exposed_at + rng.choice([-2, 3]) * HOUR_MS,
                {"[Experiment] Flag Key": FLAG, "[Experiment] Variant": again})
    for _ in range(rng.randrange(7)):
        time = exposed_at + rng.randrange(-10 * DAY_MS, 5 * DAY_MS, HOUR_MS // 4)
        add("purchase", time, {"revenue": rng.randrange(1, 90)} if rng.random() < 0.8 else {})
    for _ in range(rng.randrange(3)):
        add("page view", exposed_at + rng.randrange(-DAY_MS, DAY_MS), {})
    return events


def uploads(seed: int) -> list[tuple[int, list[dict[str, Any]]]]:
    """(target process, events) in sending order: the events of 60 users shuffled together into
    uploads of 3 to 25 events; a quarter of the uploads sent to both processes, and one event in
    ten repeated in another upload."""
    rng = random.Random(seed)
    events = [event for n in range(60) for event in user_events(rng, n)]
    rng.shuffle(events)
    cuts = sorted(rng.sample(range(1, len(events)), len(events) // 12))
    batches = [events[a:b] for a, b in zip([0, *cuts], [*cuts, len(events)], strict=True)]
    for batch in batches:
        if rng.random() < 0.1:
            batch.append(rng.choice(events))
    sends = []
    for n, batch in enumerate(batches):
        sends.append((n % 2, batch))
        if rng.random() < 0.25:
            sends.append(((n + 1) % 2, batch))
    return sends


def send_all(lab: Lab, sends: list[tuple[int, list[dict[str, Any]]]], *, at_once: int) -> None:
    def send(target: tuple[int, list[dict[str, Any]]]) -> int:
        server = lab.servers[target[0] % len(lab.servers)]
        answer = httpx.post(f"{server.base_url}/batch", json={"api_key": lab.api_key, "events": target[1]}, timeout=60)
        return int(answer.json()["code"])

    with ThreadPoolExecutor(max_workers=at_once) as pool:
        codes = list(pool.map(send, sends))
    assert set(codes) == {200}


def stored(lab: Lab) -> dict[str, Any]:
    """Everything ingestion keeps, in a form both databases compare equal in: raw events, each
    user's exposure and totals, the sums, and their history summed over the hours (the hour of
    processing differs between the runs; its rows must add up to the sums)."""
    engine = make_engine(lab.url)
    try:
        with engine.connect() as conn:
            events = sorted(tuple(r) for r in conn.execute(sa.text(
                "SELECT dedup_key, user_key, event_type, time, body FROM events")))
            exposures = {r.user_key: (r.variant, r.exposed_at, r.excluded, json.loads(r.totals)) for r in conn.execute(
                sa.text("SELECT user_key, variant, exposed_at, excluded, totals FROM experiment_exposures"))}
            metric_names = {f"#{r.id}": f"#{r.name}" for r in conn.execute(
                sa.text("SELECT id, name FROM experiment_metrics"))}
            sums: dict[str, dict[tuple[str, str], list[float]]] = {}
            for table in ("experiment_variant_stats", "experiment_variant_history"):
                found: dict[tuple[str, str], list[float]] = {}
                for key, variant, *values in conn.execute(sa.text(
                        "SELECT aggregate_key, variant, users, excluded, count_sum, count_squares, total_sum, "
                        "total_squares, pre_users, pre_count_sum, pre_count_squares, pre_total_sum, "
                        f"pre_total_squares, cross_users, cross_count, cross_total FROM {table}")):
                    row = found.setdefault((metric_names.get(key, key), variant), [0.0] * len(values))
                    for n, value in enumerate(values):
                        row[n] += value
                sums[table] = {k: v for k, v in found.items() if any(v)}
    finally:
        engine.dispose()
    for user, (_, _, _, totals) in exposures.items():
        exposures[user] = (*exposures[user][:3], {metric_names.get(k, k): v for k, v in totals.items()})
    return {"events": events, "exposures": exposures, **sums}


def results(lab: Lab) -> list[dict[str, Any]]:
    """What GET …/results answers for each metric, read with a t-test with and without CUPED (the
    sequential test's looks are the hours of processing, which differ between the runs)."""
    answers = []
    for analysis in ({"testType": "ttest", "multipleTesting": "none", "cuped": True},
                     {"testType": "ttest", "multipleTesting": "none", "cuped": False}):
        chosen = lab.api.put(f"/api/1/experiments/{lab.experiment_id}/analysis", json=analysis)
        assert chosen.status_code == 200, chosen.text
        for params in ({"metric": "purchase"}, {"metric": "purchase", "property": "revenue"},
                       {"metric": "purchase", "kind": "count"}, {}):
            answer = lab.api.get(f"/api/1/experiments/{lab.experiment_id}/results", params=params)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            answers.append({k: body[k] for k in ("metric", "variants", "excludedUsers", "srm")})
    return answers


def test_interleaved_uploads_of_the_same_users_through_two_processes__stored_as_one_process_stores_them(
        tmp_path: Path) -> None:
    # Given the same uploads for two runs: interleaved over two processes, several at once,
    # duplicates included; and one process taking them one by one
    sends = uploads(seed=22)
    unique = {(e.get("device_id", ""), e["insert_id"]) for _, batch in sends for e in batch}
    with lab(tmp_path / "two", processes=2) as two:
        send_all(two, sends, at_once=8)
        scaled, scaled_results = stored(two), results(two)
    with lab(tmp_path / "one", processes=1) as one:
        send_all(one, sends, at_once=1)
        single, single_results = stored(one), results(one)

    # Then each event is stored once, and every user's exposure and totals, the sums, their
    # history and the results are what one process computes
    assert len(scaled["events"]) == len(unique)
    assert scaled["events"] == single["events"]
    assert scaled["exposures"] == single["exposures"]
    assert scaled["experiment_variant_stats"] == single["experiment_variant_stats"]
    assert scaled["experiment_variant_history"] == single["experiment_variant_history"]
    assert single["experiment_variant_history"] == {
        k: v for k, v in single["experiment_variant_stats"].items() if not k[0].startswith("@h")}
    assert scaled_results == single_results
    # and the runs did what they are meant to: exposures moved, users excluded, CUPED's covariate
    exposures = single["exposures"].values()
    assert any(excluded for _, _, excluded, _ in exposures)
    assert any(len(totals) > 3 for _, _, _, user in exposures for totals in user.values())
