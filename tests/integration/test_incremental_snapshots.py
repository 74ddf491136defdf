"""Incremental snapshots equal full rebuilds, and a write recompiles only what it touched.

Runs the services in-process on a SQLite file: random sequences of writes (create, edit,
variants, inclusions, parent dependencies, deployment links, archive), and after every write
the snapshot built from the previous one must serve the same bytes, ETags, keys and variants
as one built from nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from flagyard.errors import DomainError
from flagyard.manage.deployments import DeploymentService
from flagyard.manage.flags import FlagService
from flagyard.manage.keys import KeyService
from flagyard.manage.model.access import OPERATOR
from flagyard.manage.model.flags import Kind
from flagyard.manage.ports import UnitOfWorkFactory
from flagyard.manage.variants import VariantService
from flagyard.serve.service import evaluate_snapshot
from flagyard.serve.snapshots import PartPool, Snapshot, build_snapshot
from flagyard.store import migrate
from flagyard.store.db import make_engine
from flagyard.store.manage.unit_of_work import unit_of_work_factory

USERS = [{"device_id": f"device-{i}", "user_id": f"user-{i}", "user_properties": {"plan": p}}
         for i, p in enumerate(["free", "pro", "free", "team", "pro", "free"])]


@pytest.fixture(scope="module")
def uow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UnitOfWorkFactory]:
    path = Path(tmp_path_factory.mktemp("incremental")) / "flagyard.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    yield unit_of_work_factory(engine)
    engine.dispose()


class World:
    """One project with two deployments, driven through the services."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self.uow = uow
        self.flags = FlagService(uow)
        self.variants = VariantService(uow)
        self.deployments = DeploymentService(uow)
        self.project = KeyService(uow).create_project("p").id
        self.deployment_ids = [self.deployments.create(OPERATOR, self.project, label).id
                               for label in ("web", "api")]
        self.ids: list[tuple[Kind, int]] = []
        self.snapshots: dict[int, Snapshot] = {}
        self.pool = PartPool()  # shared by both deployments' incremental builds, as in a process

    def pick(self, index: int) -> tuple[Kind, int] | None:
        return self.ids[index % len(self.ids)] if self.ids else None

    def apply(self, op: tuple[Any, ...]) -> None:
        name, index, *args = op
        if name == "create":
            kind, mode, links, parent = args
            fields: dict[str, Any] = {
                "project_id": self.project, "key": f"f{len(self.ids)}", "evaluation_mode": mode,
                "deployments": [self.deployment_ids[i] for i in links], "rollout_percentage": 50,
            }
            target = self.pick(index) if parent else None
            if target is not None:
                fields["parent_dependencies"] = _depends_on(target)
            try:
                flag = self.flags.create(OPERATOR, kind, fields)
            except DomainError:
                return
            self.ids.append((kind, flag.id))
            if links:  # most flags that matter are on: start them so
                self.flags.set_enabled(OPERATOR, kind, flag.id, True)
            return
        picked = self.pick(index)
        if picked is None:
            return
        kind, flag_id = picked
        with contextlib.suppress(DomainError):  # a refused write changes nothing; compare anyway
            self._edit(name, kind, flag_id, args)

    def _edit(self, name: str, kind: Kind, flag_id: int, args: list[Any]) -> None:
        first = "on" if kind is Kind.FLAG else "control"
        if name == "enable":
            self.flags.set_enabled(OPERATOR, kind, flag_id, args[0])
        elif name == "percentage":
            self.flags.edit(OPERATOR, kind, flag_id, {"rollout_percentage": args[0]})
        elif name == "mode":
            self.flags.edit(OPERATOR, kind, flag_id, {"evaluation_mode": args[0]})
        elif name == "segment":
            segment = {"name": "plan", "percentage": args[0], "rolloutWeights": {first: 1},
                       "conditions": [{"type": "property", "prop": "plan", "op": "is",
                                       "values": [args[1]]}]}
            self.flags.edit(OPERATOR, kind, flag_id, {"target_segments": [segment]})
        elif name == "add_variant":
            self.variants.create(OPERATOR, kind, flag_id, {"key": args[0], "payload": {"n": args[1]}})
        elif name == "edit_variant":
            self.variants.edit(OPERATOR, kind, flag_id, first, {"payload": {"n": args[1]}})
        elif name == "remove_variant":
            self.variants.remove(OPERATOR, kind, flag_id, args[0])
        elif name == "include":
            self.variants.include(OPERATOR, kind, flag_id, first, "users", [f"user-{args[0]}"])
        elif name == "clear":
            self.variants.clear(OPERATOR, kind, flag_id, first)
        elif name == "parent":
            parent = self.pick(args[0])
            deps = None if parent is None or args[1] else _depends_on(parent)
            self.flags.edit(OPERATOR, kind, flag_id, {"parent_dependencies": deps})
        elif name == "link":
            self.deployments.link(OPERATOR, kind, flag_id, [self.deployment_ids[args[0]]])
        elif name == "unlink":
            self.deployments.unlink(OPERATOR, kind, flag_id, self.deployment_ids[args[0]])
        elif name == "archive":
            self.flags.edit(OPERATOR, kind, flag_id, {"archive": args[0]})

    def check(self) -> None:
        """Incremental and full builds of every deployment serve the same thing."""
        with self.uow() as uow:
            revision = uow.projects.revision(self.project)
            for deployment_id in self.deployment_ids:
                deployment = uow.deployments.get(deployment_id)
                assert deployment is not None
                incremental = build_snapshot(uow, deployment, revision,
                                             self.snapshots.get(deployment_id), self.pool)
                full = build_snapshot(uow, deployment, revision)
                self.snapshots[deployment_id] = incremental
                _assert_same(incremental, full)


def _depends_on(parent: tuple[Kind, int]) -> dict[str, Any]:
    kind, parent_id = parent
    return {"flags": {str(parent_id): ["on" if kind is Kind.FLAG else "control"]}}


def _assert_same(incremental: Snapshot, full: Snapshot) -> None:
    assert incremental.local.body == full.local.body
    assert incremental.everything.body == full.everything.body
    assert (incremental.local.etag, incremental.everything.etag) == (full.local.etag, full.everything.etag)
    assert incremental.deployed_keys == full.deployed_keys
    assert incremental.warnings == full.warnings
    for user in USERS:
        assert evaluate_snapshot(incremental, user) == evaluate_snapshot(full, user)


kinds = st.sampled_from([Kind.FLAG, Kind.EXPERIMENT])
index = st.integers(0, 6)
creates = st.tuples(st.just("create"), index, kinds, st.sampled_from(["local", "remote"]),
                    st.lists(st.integers(0, 1), max_size=2, unique=True), st.booleans())
operations = st.one_of(
    creates, creates, creates,  # more flags, and more of them depending on each other
    st.tuples(st.just("enable"), index, st.booleans()),
    st.tuples(st.just("percentage"), index, st.integers(0, 100)),
    st.tuples(st.just("mode"), index, st.sampled_from(["local", "remote"])),
    st.tuples(st.just("segment"), index, st.integers(0, 100), st.sampled_from(["free", "pro"])),
    st.tuples(st.just("add_variant"), index, st.sampled_from(["blue", "green"]), st.integers(0, 3)),
    st.tuples(st.just("edit_variant"), index, st.none(), st.integers(0, 3)),
    st.tuples(st.just("remove_variant"), index, st.sampled_from(["blue", "on", "treatment"])),
    st.tuples(st.just("include"), index, st.integers(0, 5)),
    st.tuples(st.just("clear"), index),
    st.tuples(st.just("parent"), index, index, st.booleans()),
    st.tuples(st.just("link"), index, st.integers(0, 1)),
    st.tuples(st.just("unlink"), index, st.integers(0, 1)),
    st.tuples(st.just("archive"), index, st.booleans()),
)


SEED = [("create", 0, Kind.FLAG, "local", [0], False),
        ("create", 0, Kind.FLAG, "remote", [0, 1], True),
        ("create", 1, Kind.FLAG, "local", [0], True),
        ("create", 0, Kind.EXPERIMENT, "local", [1], True)]


@settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(operations, min_size=1, max_size=10))
@example(ops=[("create", 0, Kind.FLAG, "local", [0], False),
              ("create", 0, Kind.EXPERIMENT, "local", [0, 1], True),
              ("enable", 0, False), ("enable", 0, True), ("archive", 0, True)])
def test_incremental_snapshot__any_write_sequence__equals_full_rebuild(
    uow: UnitOfWorkFactory, ops: list[tuple[Any, ...]]
) -> None:
    world = World(uow)
    # A start with a dependency chain f0 <- f1 <- f2 and f0 <- f3, all on; the ops take it from there.
    for op in SEED:
        world.apply(op)
    world.check()
    for op in ops:
        world.apply(op)
        world.check()


def _snapshot(world: World, previous: Snapshot | None) -> Snapshot:
    with world.uow() as uow:
        deployment = uow.deployments.get(world.deployment_ids[0])
        assert deployment is not None
        return build_snapshot(uow, deployment, uow.projects.revision(world.project), previous)


def _recompiled(before: Snapshot, after: Snapshot) -> set[str]:
    """Keys whose compiled part is a new object (reused parts are the same object)."""
    old = {part.key: part for part in before.compiled.parts.values()}
    return {part.key for part in after.compiled.parts.values()
            if old.get(part.key) is not part}


def test_incremental_snapshot__edit_one_flag__recompiles_it_and_its_children_only(
    uow: UnitOfWorkFactory,
) -> None:
    # Given: ten enabled flags, f1 and f2 depending on f0
    world = World(uow)
    for n in range(10):
        world.apply(("create", 0, Kind.FLAG, "local", [0], n in (1, 2)))
    for n in range(10):
        world.apply(("enable", n, True))
    before = _snapshot(world, None)
    assert len(before.compiled.parts) == 10

    # When: a leaf changes, then the parent changes
    world.apply(("percentage", 5, 7))
    leaf = _snapshot(world, before)
    world.apply(("percentage", 0, 9))
    parent = _snapshot(world, leaf)

    # Then
    assert _recompiled(before, leaf) == {"f5"}
    assert _recompiled(leaf, parent) == {"f0"}  # children's inputs (parent key, gate) unchanged
    world.apply(("enable", 0, False))  # a disabled parent closes its children's gate
    closed = _snapshot(world, parent)
    assert _recompiled(parent, closed) == {"f1", "f2"}
    assert closed.local.body == _snapshot(world, None).local.body


def test_shared_parts__flag_two_deployments_serve_alike__compiled_once_for_both(
    uow: UnitOfWorkFactory,
) -> None:
    # Given: f0 on both deployments, f1 on both and depending on f0, f2 only on web and the
    # parent of f3, which is only on api (so api serves f2 as a parent it does not deploy)
    world = World(uow)
    for parent_index, links, parent in ((0, [0, 1], False), (0, [0, 1], True), (0, [0], False), (2, [1], True)):
        world.apply(("create", parent_index, Kind.FLAG, "local", links, parent))
    pool = PartPool()

    def built(deployment_id: int, previous: Snapshot | None = None) -> Snapshot:
        with world.uow() as unit:
            deployment = unit.deployments.get(deployment_id)
            assert deployment is not None
            return build_snapshot(unit, deployment, unit.projects.revision(world.project), previous, pool)

    web, api = (built(deployment_id) for deployment_id in world.deployment_ids)
    # Then what both serve alike is one object; what they serve differently is not
    assert web.flags["f0"] is api.flags["f0"] and web.flags["f1"] is api.flags["f1"]
    assert web.flags["f2"] is not api.flags["f2"]
    assert api.flags["f2"].metadata is not None and api.flags["f2"].metadata["deployed"] is False
    # And after a write to f1, the second deployment's rebuild takes the first's compile
    world.apply(("percentage", 1, 7))
    web, api = built(world.deployment_ids[0], web), built(world.deployment_ids[1], api)
    assert web.flags["f1"] is api.flags["f1"]
    assert web.everything.body == _rebuilt(world, 0).everything.body
    assert api.everything.body == _rebuilt(world, 1).everything.body


def _rebuilt(world: World, index: int) -> Snapshot:
    with world.uow() as unit:
        deployment = unit.deployments.get(world.deployment_ids[index])
        assert deployment is not None
        return build_snapshot(unit, deployment, unit.projects.revision(world.project))
