"""Ingestion through two server processes on one database at once (ADR 0106): every event is
stored once, and the per-user totals and per-variant sums equal those of one process that was
sent the same events one upload after another.

The uploads interleave users both processes see, users only one of them sees, and uploads sent
to both at the same moment; exposures arrive before and after product events (backfill, the
CUPED window before exposure), and some users see both variants (excluded). A second test
changes the metrics and the CUPED window (jobs that recount every user of the experiment)
while the uploads are under way.

Runs on SQLite, and on PostgreSQL when FLAGYARD_TEST_DATABASE_URL is set, where the two
processes' writers run at once on different users.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from flagyard.store.db import make_engine
from tests.support.server import Server, fresh_database_url, run_cli, running_server

T0 = 1_700_000_000_000
HOUR_MS = 3_600_000
EXPOSURE = "[Experiment] Exposure"
FILTERED = {"eventType": "purchase", "property": "revenue", "kind": "mean", "name": "big orders",
            "filters": [{"subprop_type": "event", "subprop_key": "revenue", "subprop_op": "greater or equal",
                         "subprop_value": ["50"]}]}


def event(user: str, n: int, at: int, event_type: str = "purchase", **props: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"event_type": event_type, "user_id": user, "insert_id": f"{user}-{n}",
                             "time": at, "event_properties": props}
    if n % 3 == 0:
        found["device_id"] = f"device-{user}"
    return found


Atom = list[dict[str, Any]]  # events always sent in one upload


def user_events(user: str, rng: random.Random) -> list[Atom]:
    """One user's events over a day: purchases before and after their exposure, and for some a
    second exposure to the other variant, which excludes them (sent with the first: which variant
    an excluded user keeps depends on which arrives first), or no exposure at all."""
    exposed_at = T0 + rng.randrange(2, 20) * HOUR_MS
    variant = rng.choice(["control", "treatment"])
    found = [[event(user, n, T0 + rng.randrange(0, 24 * HOUR_MS), revenue=rng.randrange(0, 100))]
             for n in range(1, rng.randrange(2, 9))]
    roll = rng.random()
    if roll < 0.85:
        exposure = [event(user, 100, exposed_at, EXPOSURE, **{
            "[Experiment] Flag Key": "scale-exp", "[Experiment] Variant": variant})]
        if roll < 0.1:
            other = "treatment" if variant == "control" else "control"
            exposure.append(event(user, 101, exposed_at + HOUR_MS, EXPOSURE, **{
                "[Experiment] Flag Key": "scale-exp", "[Experiment] Variant": other}))
        found.append(exposure)
    return found


Upload = list[dict[str, Any]]


def uploads(seed: int) -> tuple[list[Upload], list[Upload], list[Upload]]:
    """(uploads for process A only, for B only, for both at the same moment): users of their own
    to each process, users both see (each of their events in one upload or the other), and
    uploads sent to both; every upload mixes users, in a shuffled order."""
    rng = random.Random(seed)

    def atoms(prefix: str, users: int) -> list[Atom]:
        found = [atom for u in range(users) for atom in user_events(f"user-{prefix}-{u}", rng)]
        rng.shuffle(found)
        return found

    own_a, own_b, shared, twice = atoms("a", 40), atoms("b", 40), atoms("s", 40), atoms("t", 20)
    half = len(shared) // 2
    # Some atoms of the uploads sent to both also go once more in the others.
    to_a, to_b = own_a + shared[:half] + twice[:8], own_b + shared[half:] + twice[4:12]
    rng.shuffle(to_a)
    rng.shuffle(to_b)

    def packed(found: list[Atom], size: int = 25) -> list[Upload]:
        packs: list[Upload] = [[]]
        for atom in found:
            if len(packs[-1]) + len(atom) > size:
                packs.append([])
            packs[-1].extend(atom)
        return packs

    return packed(to_a), packed(to_b), packed(twice)


def set_up(url: str, server: Server) -> dict[str, Any]:
    """A project, a deployment and the experiment `scale-exp` with a plain metric."""
    project = run_cli(url, "projects", "create", "--name", "scale").stdout.strip()
    deployment = json.loads(run_cli(url, "deployments", "create", "--project", project,
                                    "--label", "prod").stdout)
    key = run_cli(url, "keys", "create", "--name", "writer").stdout.strip()
    api = httpx.Client(base_url=server.base_url, timeout=60, headers={"Authorization": f"Bearer {key}"})
    created = api.post("/api/1/experiments", json={"projectId": project, "key": "scale-exp",
                                                   "deployments": [deployment["id"]]})
    assert created.status_code == 200, created.text
    experiment = created.json()["id"]
    assert api.put(f"/api/1/experiments/{experiment}/metrics",
                   json={"metrics": [{"eventType": "purchase"}]}).status_code == 200
    return {"api": api, "experiment": experiment, "api_key": deployment["key"]}


def send(server: Server, api_key: str, events: list[dict[str, Any]]) -> None:
    answer = httpx.post(server.base_url + "/2/httpapi", json={"api_key": api_key, "events": events}, timeout=120)
    assert answer.status_code == 200, answer.text


def change_design(api: httpx.Client, experiment: str) -> None:
    """Add a metric with a filter (counted from the stored events) and a CUPED window of two days
    (every exposed user's window recounted)."""
    answer = api.put(f"/api/1/experiments/{experiment}/metrics", json={"metrics": [{"eventType": "purchase"}, FILTERED]})
    assert answer.status_code == 200, answer.text
    answer = api.put(f"/api/1/experiments/{experiment}/analysis", json={"cupedWindowDays": 2})
    assert answer.status_code == 200, answer.text


def stored(url: str) -> dict[str, Any]:
    """Everything ingestion derives, keyed so that two databases compare: the events' dedup keys
    with their count, each user's exposure row, and the per-variant sums."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            events = sorted(conn.exec_driver_sql("SELECT dedup_key FROM events").scalars())
            # Aggregate keys of metrics with filters name the metric's id: name it by the metric's name.
            names = {f"#{i}": f"#{name}" for i, name in conn.exec_driver_sql("SELECT id, name FROM experiment_metrics")}
            exposures = {
                (user, variant, exposed_at, bool(excluded)): {names.get(k, k): v for k, v in json.loads(totals).items()}
                for user, variant, exposed_at, excluded, totals in conn.exec_driver_sql(
                    "SELECT user_key, variant, exposed_at, excluded, totals FROM experiment_exposures")}
            columns = [c.name for c in sa.Table("experiment_variant_stats", sa.MetaData(), autoload_with=conn).c
                       if c.name not in ("flag_id", "aggregate_key", "variant")]
            sums = {(names.get(key, key), variant): tuple(values)
                    for key, variant, *values in conn.exec_driver_sql(
                        f"SELECT aggregate_key, variant, {', '.join(columns)} FROM experiment_variant_stats")
                    if any(values)}
    finally:
        engine.dispose()
    return {"events": events, "exposures": exposures, "sums": sums}


def ingest_twice_over(tmp_path: Path, seed: int, meanwhile: Callable[[dict[str, Any]], None] | None) -> dict[str, Any]:
    """Two processes on one database, each sent its uploads by four clients at once, the shared
    uploads to both at the same moment, and `meanwhile` run halfway through; what was stored."""
    to_a, to_b, to_both = uploads(seed)
    (tmp_path / "two").mkdir(exist_ok=True)
    url = fresh_database_url(tmp_path / "two")
    with running_server(url) as a, running_server(url) as b:
        setup = set_up(url, a)
        sends = [(a, u) for u in to_a] + [(b, u) for u in to_b]
        random.Random(seed).shuffle(sends)
        for n, upload in enumerate(to_both):  # the same upload to both, next to each other
            sends[n * 3:n * 3] = [(a, upload), (b, upload)]
        with ThreadPoolExecutor(8) as pool:
            done = [pool.submit(send, server, setup["api_key"], upload) for server, upload in sends[:len(sends) // 2]]
            if meanwhile is not None:
                done.append(pool.submit(meanwhile, setup))
            done += [pool.submit(send, server, setup["api_key"], upload) for server, upload in sends[len(sends) // 2:]]
            for future in done:
                future.result(timeout=120)
        setup["api"].close()
    return stored(url)


def ingest_alone(tmp_path: Path, seed: int, after: Callable[[dict[str, Any]], None] | None) -> dict[str, Any]:
    """One process sent each upload once, one after another, then `after`; what was stored."""
    to_a, to_b, to_both = uploads(seed)
    (tmp_path / "one").mkdir(exist_ok=True)
    url = fresh_database_url(tmp_path / "one")
    with running_server(url) as server:
        setup = set_up(url, server)
        for upload in to_a + to_b + to_both:
            send(server, setup["api_key"], upload)
        if after is not None:
            after(setup)
        setup["api"].close()
    return stored(url)


def test_two_processes_at_once__each_event_stored_once__totals_and_sums_as_one_process_alone(tmp_path: Path) -> None:
    # Given the same uploads sent to two processes at once, and to one process alone
    together = ingest_twice_over(tmp_path, seed=1, meanwhile=None)
    alone = ingest_alone(tmp_path, seed=1, after=None)

    # Then every event is stored exactly once, and what ingestion derives is the same
    assert len(together["events"]) == len(set(together["events"]))
    assert together["events"] == alone["events"]
    assert len(together["exposures"]) > 100 and any(excluded for (*_, excluded) in together["exposures"])
    assert together["exposures"] == alone["exposures"]
    assert together["sums"] == alone["sums"]


def test_metrics_and_cuped_window_changed_during_ingestion__sums_as_if_changed_after_it(tmp_path: Path) -> None:
    # Given a metric with a filter and a new CUPED window set while two processes ingest
    def during(setup: dict[str, Any]) -> None:
        change_design(setup["api"], setup["experiment"])

    together = ingest_twice_over(tmp_path, seed=2, meanwhile=during)

    # And the same set after one process has stored every event
    def after(setup: dict[str, Any]) -> None:
        change_design(setup["api"], setup["experiment"])

    alone = ingest_alone(tmp_path, seed=2, after=after)

    # Then the filtered metric's sums, the covariates and every user's totals are the same
    assert together["events"] == alone["events"]
    assert any(key == "#big orders" for key, _ in together["sums"])
    assert together["exposures"] == alone["exposures"]
    assert together["sums"] == alone["sums"]
