"""Crash safety: a write storm, SIGKILL in the middle of it, a restart on the same database.

Every write that got a 200 must be there, nothing half-written may be visible, and every flag's
versions must run 1..N with the newest one equal to the flag as read.

Each writer thread owns the flags it creates, so what it expects of them is exact: a thread's
acknowledged writes in order, plus at most one write whose answer the kill cut off (present
whole or absent).
"""

from __future__ import annotations

import copy
import itertools
import random
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import Server, fresh_database_url, running_server, start_server

WRITERS = 6
ACKNOWLEDGED_BEFORE_KILL = 400  # a storm well under way; reachable on a loaded CI machine
STORM_DEADLINE_S = 60
NO_RATE_LIMIT = {"FLAGYARD_RATE_LIMIT_PER_SECOND": "0"}


@dataclass
class Item:
    """What one flag or experiment must look like, as its writer knows it."""

    kind: str
    key: str
    default_variant: str
    id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    variants: dict[str, Any] = field(default_factory=dict)  # key -> payload of the variants the storm made
    users: list[str] = field(default_factory=list)
    deployments: set[str] = field(default_factory=set)
    versions: int = 0

    def view(self) -> dict[str, Any]:
        return {"fields": self.fields, "variants": self.variants, "users": self.users,
                "deployments": self.deployments}


@dataclass
class Write:
    item: Item
    method: str
    path: str
    body: dict[str, Any]
    apply: Any  # (Item, response) -> None: what the write does to the item once acknowledged


@dataclass
class Writer:
    number: int
    items: list[Item] = field(default_factory=list)
    acknowledged: int = 0
    cut_off: Write | None = None  # the write in flight when the server died
    cut_started_before_kill: bool = False
    refused: list[str] = field(default_factory=list)


class Storm:
    def __init__(self, base_url: str, key: str, project_id: str, deployments: list[str]) -> None:
        self.base_url = base_url
        self.key = key
        self.project_id = project_id
        self.main_deployment, *self.spare_deployments = deployments
        self.writers = [Writer(n) for n in range(WRITERS)]
        self.enough = threading.Event()
        self.stop = threading.Event()
        self.killed_at: float | None = None
        self._count = itertools.count(1)
        self._lock = threading.Lock()
        self.acknowledged = 0

    # --- the writes ------------------------------------------------------------------------

    def create(self, writer: Writer, rng: random.Random) -> Write:
        kind = rng.choice(("flags", "flags", "experiments"))
        item = Item(kind=kind, key=f"crash-{writer.number}-{uuid.uuid4().hex[:8]}",
                    default_variant="on" if kind == "flags" else "control")

        def apply(target: Item, response: httpx.Response) -> None:
            target.id = str(response.json()["id"])
            target.deployments = {self.main_deployment}
            target.fields = {"name": target.key, "description": "", "rolloutPercentage": 0, "tags": [],
                             "enabled": False}
            writer.items.append(target)

        body = {"projectId": self.project_id, "key": item.key, "deployments": [self.main_deployment]}
        return Write(item, "POST", f"/api/1/{kind}", body, apply)

    def edit(self, item: Item, rng: random.Random) -> Write:
        n = next(self._count)
        body = rng.choice([
            {"name": f"name {n}"},
            {"description": f"description {n} " + "d" * rng.randrange(0, 2000)},
            {"rolloutPercentage": n % 101, "tags": [f"t{n}"]},
            {"enabled": not item.fields.get("enabled", False)},
        ])
        return Write(item, "PATCH", f"/api/1/{item.kind}/{item.id}", body,
                     lambda target, _: target.fields.update(body))

    def add_variant(self, item: Item, rng: random.Random) -> Write:
        key = f"v{next(self._count)}"
        payload = {"n": key, "list": list(range(rng.randrange(0, 50)))}

        def apply(target: Item, _: httpx.Response) -> None:
            target.variants[key] = payload

        return Write(item, "POST", f"/api/1/{item.kind}/{item.id}/variants", {"key": key, "payload": payload}, apply)

    def rename_variant(self, item: Item, rng: random.Random) -> Write:
        old = rng.choice(sorted(item.variants))
        new = f"r{next(self._count)}"

        def apply(target: Item, _: httpx.Response) -> None:
            target.variants[new] = target.variants.pop(old)

        return Write(item, "PATCH", f"/api/1/{item.kind}/{item.id}/variants/{old}", {"key": new}, apply)

    def include(self, item: Item, rng: random.Random) -> Write:
        batch = next(self._count)
        users = [f"u{batch}-{i}" for i in range(rng.randrange(100, 1001))]
        return Write(item, "POST", f"/api/1/{item.kind}/{item.id}/variants/{item.default_variant}/users",
                     {"inclusions": users}, lambda target, _: target.users.extend(users))

    def link(self, item: Item, rng: random.Random) -> Write | None:
        free = [d for d in self.spare_deployments if d not in item.deployments]
        if not free:
            return None
        deployment = rng.choice(free)
        return Write(item, "POST", f"/api/1/{item.kind}/{item.id}/deployments", {"deployments": [deployment]},
                     lambda target, _: target.deployments.add(deployment))

    def next_write(self, writer: Writer, rng: random.Random) -> Write:
        if len(writer.items) < 3 or rng.random() < 0.08:
            return self.create(writer, rng)
        item = rng.choice(writer.items)
        choices = [self.edit, self.edit, self.add_variant, self.include, self.include, self.link]
        if item.variants:
            choices.append(self.rename_variant)
        return rng.choice(choices)(item, rng) or self.edit(item, rng)

    # --- running it ------------------------------------------------------------------------

    def run(self, writer: Writer) -> None:
        rng = random.Random(writer.number)
        headers = {"Authorization": f"Bearer {self.key}"}
        deadline = time.monotonic() + STORM_DEADLINE_S
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=30) as client:
            while not self.stop.is_set() and time.monotonic() < deadline:
                write = self.next_write(writer, rng)
                started = time.monotonic()
                try:
                    response = client.request(write.method, write.path, json=write.body)
                except httpx.TransportError:
                    writer.cut_off = write
                    writer.cut_started_before_kill = self.killed_at is not None and started < self.killed_at
                    return
                if response.status_code != 200:
                    writer.refused.append(f"{write.method} {write.path} → {response.status_code} {response.text[:200]}")
                    return
                write.apply(write.item, response)
                write.item.versions += 1
                writer.acknowledged += 1
                with self._lock:
                    self.acknowledged += 1
                    if self.acknowledged >= ACKNOWLEDGED_BEFORE_KILL:
                        self.enough.set()

    def kill_midway(self, server: Server) -> None:
        threads = [threading.Thread(target=self.run, args=(w,)) for w in self.writers]
        for thread in threads:
            thread.start()
        reached = self.enough.wait(timeout=STORM_DEADLINE_S)
        self.killed_at = time.monotonic()
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        self.stop.set()
        for thread in threads:
            thread.join()
        assert reached, f"only {self.acknowledged} writes acknowledged before the deadline"


# --- reading back ----------------------------------------------------------------------------

def observed(api: httpx.Client, item: Item) -> tuple[dict[str, Any], dict[str, Any]]:
    """The item as the restarted server shows it, in the shape of Item.view(), and the raw flag."""
    response = api.get(f"/api/1/{item.kind}/{item.id}")
    assert response.status_code == 200, response.text
    doc = response.json()
    users = api.get(f"/api/1/{item.kind}/{item.id}/variants/{item.default_variant}/users")
    assert users.status_code == 200, users.text
    defaults = {"on"} if item.kind == "flags" else {"control", "treatment"}
    view = {
        "fields": {name: doc[name] for name in item.fields},
        "variants": {v["key"]: v["payload"] for v in doc["variants"] if v["key"] not in defaults},
        "users": users.json(),
        "deployments": set(doc["deployments"]),
    }
    return view, doc


def check_item(api: httpx.Client, item: Item, cut_off: Write | None) -> list[str]:
    problems = []
    view, doc = observed(api, item)
    expected = [(item.view(), item.versions)]
    if cut_off is not None and cut_off.item is item:
        whole = copy.deepcopy(item)
        cut_off.apply(whole, None)
        expected.append((whole.view(), item.versions + 1))
    matches = [versions for state, versions in expected if state == view]
    if not matches:
        problems.append(f"{item.kind} {item.id}: {view} is none of {[s for s, _ in expected]}")
        return problems
    versions = api.get(f"/api/1/{item.kind}/{item.id}/versions").json()
    numbers = sorted(v["version"] for v in versions)
    if numbers != list(range(1, matches[0] + 1)):
        problems.append(f"{item.kind} {item.id}: versions {numbers}, expected 1..{matches[0]}")
    newest = max(versions, key=lambda v: v["version"])
    if newest["flagConfig"] != doc:
        problems.append(f"{item.kind} {item.id}: newest version differs from the flag")
    return problems


def check_cut_off_create(api: httpx.Client, write: Write) -> list[str]:
    """A create whose answer never came is either absent or complete."""
    found = api.get(f"/api/1/{write.item.kind}", params={"key": write.item.key}).json()[write.item.kind]
    if not found:
        return []
    write.item.id = str(found[0]["id"])
    write.apply(write.item, httpx.Response(200, json={"id": write.item.id}))
    write.item.versions = 1
    return check_item(api, write.item, None)


def check_everything(api: httpx.Client, storm: Storm, project_id: str) -> tuple[list[str], int]:
    problems: list[str] = []
    checked_items = 0
    for writer in storm.writers:
        for item in writer.items:
            problems += check_item(api, item, writer.cut_off)
            checked_items += 1
        if writer.cut_off is not None and writer.cut_off.item.id is None:
            problems += check_cut_off_create(api, writer.cut_off)
    listed = api.get("/api/1/flags", params={"projectId": project_id}).json()["flags"] + \
        api.get("/api/1/experiments", params={"projectId": project_id}).json()["experiments"]
    known = {item.key for w in storm.writers for item in w.items} | \
        {w.cut_off.item.key for w in storm.writers if w.cut_off is not None}
    problems += [f"an item no writer made: {f['key']}" for f in listed if f["key"] not in known]
    return problems, checked_items


def test_write_storm__server_killed_midway__every_acknowledged_write_survives_whole(tmp_path: Path) -> None:
    # Given a live server on a fresh database, and writers ready to storm it with creates, edits,
    # variant creates and renames, inclusions of 100-1000 users, deployment links and enabling
    database_url = fresh_database_url(tmp_path)
    server = start_server(database_url, env=NO_RATE_LIMIT)
    try:
        project_id = server.create_project("crash")
        deployments = [str(server.create_deployment(project_id, f"crash-{n}")["id"]) for n in range(4)]
        key = server.create_key("storm@example.com")
        storm = Storm(server.base_url, key, project_id, deployments)
        # When the server is killed with SIGKILL in the middle of the storm, and started again
        storm.kill_midway(server)
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
    with running_server(database_url, env=NO_RATE_LIMIT) as restarted, \
            httpx.Client(base_url=restarted.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
        problems, checked_items = check_everything(api, storm, project_id)
    # Then
    in_flight = sum(w.cut_started_before_kill for w in storm.writers)
    summary = (f"{storm.acknowledged} acknowledged writes checked over {checked_items} items; "
               f"{in_flight} writes in flight at the kill")
    print(f"\n{summary}")
    assert [line for w in storm.writers for line in w.refused] == [], summary
    assert problems == [], "\n".join([summary, *problems[:20]])
    assert storm.acknowledged >= ACKNOWLEDGED_BEFORE_KILL, summary
    assert in_flight >= 1, f"the kill landed between requests: {summary}"
