"""Crash safety of event ingestion: SIGKILL during an upload storm, restart on the same database.

Every event whose upload got `{"code": 200}` must be stored; an upload cut off by the kill is
stored whole or not at all; and the per-user totals agree with the raw events that survived.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from tests.support.server import fresh_database_url, running_server, start_server

SENDERS = 4
BATCH = 200
ACKNOWLEDGED_BEFORE_KILL = 4_000
DEADLINE_S = 60


@dataclass
class Sender:
    number: int
    acknowledged: list[list[str]] = field(default_factory=list)  # insert_ids per acknowledged upload
    cut_off: list[str] | None = None
    refused: list[str] = field(default_factory=list)


def upload(number: int, batch: int, flag: str) -> tuple[list[str], list[dict[str, Any]]]:
    ids, events = [], []
    for n in range(BATCH):
        user = f"user-{number}-{(batch * BATCH + n) // 5:06d}"
        insert_id = f"{number}-{batch}-{n}"
        if n % 5 == 0:
            event = {"event_type": "[Experiment] Exposure", "user_id": user, "time": 1_000 + batch,
                     "event_properties": {"[Experiment] Flag Key": flag,
                                          "[Experiment] Variant": "control" if n % 2 else "treatment"}}
        else:
            event = {"event_type": "purchase", "user_id": user, "time": 2_000 + batch,
                     "event_properties": {"revenue": n}}
        ids.append(insert_id)
        events.append({**event, "insert_id": insert_id})
    return ids, events


def storm(base_url: str, api_key: str, flag: str, senders: list[Sender],
          enough: threading.Event) -> list[threading.Thread]:
    total = [0]
    lock = threading.Lock()

    def run(sender: Sender) -> None:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            batch = 0
            deadline = time.monotonic() + DEADLINE_S
            while time.monotonic() < deadline:
                ids, events = upload(sender.number, batch, flag)
                batch += 1
                try:
                    response = client.post("/batch", json={"api_key": api_key, "events": events})
                except httpx.TransportError:
                    sender.cut_off = ids
                    return
                if response.json().get("code") != 200:
                    sender.refused.append(response.text[:200])
                    return
                sender.acknowledged.append(ids)
                with lock:
                    total[0] += len(ids)
                    if total[0] >= ACKNOWLEDGED_BEFORE_KILL:
                        enough.set()

    threads = [threading.Thread(target=run, args=(s,)) for s in senders]
    for thread in threads:
        thread.start()
    return threads


def test_event_storm__server_killed_midway__every_acknowledged_event_survives(tmp_path: Path) -> None:
    # Given a server with a running experiment, and senders uploading batches of 200 events
    database_url = fresh_database_url(tmp_path)
    server = start_server(database_url)
    senders = [Sender(n) for n in range(SENDERS)]
    try:
        project = server.create_project("crash-events")
        deployment = server.create_deployment(project, "crash-events")
        key = server.create_key("crash")
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}) as api:
            created = api.post("/api/1/experiments", json={
                "projectId": project, "key": "crash-exp", "deployments": [deployment["id"]]})
            assert created.status_code == 200, created.text
        enough = threading.Event()
        threads = storm(server.base_url, deployment["key"], "crash-exp", senders, enough)
        # When the server is killed with SIGKILL once 4,000 events were acknowledged
        reached = enough.wait(timeout=DEADLINE_S)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        for thread in threads:
            thread.join()
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
    assert reached, "the storm was too slow to reach the kill"
    assert [r for s in senders for r in s.refused] == []
    # Then, after a restart, every acknowledged event is stored once, cut-off uploads whole or absent
    with running_server(database_url) as restarted:
        health = httpx.get(f"{restarted.base_url}/health")
        assert health.status_code == 200
        engine = sa.create_engine(database_url)
        with engine.connect() as conn:
            stored = [r[0].split("\x1f", 1)[1] for r in conn.execute(sa.text("SELECT dedup_key FROM events"))]
            # the totals agree with the surviving raw events (same transaction, so both or neither)
            counted = sum(json.loads(totals).get("purchase", [0])[0] for (totals,) in conn.execute(
                sa.text("SELECT totals FROM experiment_exposures")))
            in_stats = conn.execute(sa.text(
                "SELECT coalesce(sum(count_sum), 0) FROM experiment_variant_stats WHERE aggregate_key = 'purchase'"
            )).scalar_one()
            recomputed = conn.execute(sa.text(
                "SELECT count(*) FROM events e JOIN experiment_exposures x ON x.user_key = e.user_key "
                "AND x.project_id = e.project_id WHERE e.event_type = 'purchase' AND e.time >= x.exposed_at"
            )).scalar_one()
        engine.dispose()
    present = set(stored)
    assert len(stored) == len(present), "an event was stored twice"
    acknowledged = [i for s in senders for ids in s.acknowledged for i in ids]
    missing = [i for i in acknowledged if i not in present]
    assert len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL
    assert missing == [], f"{len(missing)} acknowledged events lost, e.g. {missing[:5]}"
    cut = [s.cut_off for s in senders if s.cut_off is not None]
    assert cut, "the kill landed between uploads"
    for ids in cut:
        assert sum(i in present for i in ids) in (0, len(ids)), "an upload was stored in part"
    expected = set(acknowledged) | {i for ids in cut for i in ids if ids[0] in present}
    assert present == expected
    assert counted == recomputed == in_stats > 0
