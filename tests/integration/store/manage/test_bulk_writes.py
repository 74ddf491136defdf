"""The batched writes a project import makes read back exactly as the one-at-a-time writes do.

Runs on SQLite by default and on PostgreSQL when FLAGYARD_TEST_DATABASE_URL names a server.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from flagyard.manage.model.audit import AuditQuery, AuditRecord
from flagyard.manage.model.flags import Flag, Variant
from flagyard.store.db import make_engine
from flagyard.store.manage.unit_of_work import SqlUnitOfWork
from flagyard.store.migrate import upgrade
from tests.integration.store.manage.test_unit_of_work import (
    NOW,
    add_deployment,
    add_project,
    make_flag,
    make_version,
)
from tests.support.server import fresh_database_url


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(fresh_database_url(tmp_path))
    upgrade(engine)
    yield engine
    engine.dispose()


def _flags(project_id: int, deployments: list[int]) -> list[Flag]:
    return [
        make_flag(project_id, f"flag-{i}", deployments=deployments[: i % 3],
                  variants=[Variant(key="on", payload={"n": i}), Variant(key="off-ish", name="Off", rollout_weight=3)],
                  target_segments=[{"name": "s", "conditions": [], "percentage": i, "rolloutWeights": {"on": 1}}],
                  tags=[f"t{i}"], parent_dependencies={"operator": "all", "flags": {"1": ["on"]}} if i % 2 else None)
        for i in range(7)
    ]


def _edit(flags: list[Flag], deployments: list[int]) -> None:
    """Remove, rename, add and reorder variants, and relink deployments."""
    for i, flag in enumerate(flags):
        flag.rollout_percentage = 10 * i
        flag.variants = [Variant(key="new", payload=[i]), *reversed(flag.variants[i % 2:])]
        flag.variants[-1].key = f"renamed-{i}"
        flag.deployments = list(reversed(deployments))[: (i + 1) % 3]


def _shape(flag: Flag, labels: dict[int, str]) -> dict[str, Any]:
    """The flag as read back, without what differs between the two projects."""
    found = dataclasses.asdict(flag)
    for name in ("id", "project_id", "key"):
        found.pop(name)
    found["deployments"] = [labels[d] for d in flag.deployments]
    found["variants"] = [{k: v for k, v in variant.items() if k != "id"} for variant in found["variants"]]
    return found


def test_add_many_then_save_many__read_back_as_add_then_save(engine: Engine) -> None:
    # Given the same flags written one at a time into one project and in batches into another
    singly, batched = add_project(engine, "singly"), add_project(engine, "batched")
    links = {p: [add_deployment(engine, p, f"{p}-a"), add_deployment(engine, p, f"{p}-b")] for p in (singly, batched)}
    with SqlUnitOfWork(engine, write=True) as uow:
        one, many = _flags(singly, links[singly]), _flags(batched, links[batched])
        for flag in one:
            uow.flags.add(flag)
        uow.flags.add_many(many)
        uow.commit()
    # When both are edited alike and saved, one at a time and in a batch
    with SqlUnitOfWork(engine, write=True) as uow:
        one = uow.flags.get_many([flag.id for flag in one])
        many = uow.flags.get_many([flag.id for flag in many])
        _edit(one, links[singly])
        _edit(many, links[batched])
        for flag in one:
            uow.flags.save(flag)
        uow.flags.save_many(many)
        uow.commit()
    # Then both read back the same, with the ids the writes gave them, in the order they had
    with SqlUnitOfWork(engine) as uow:
        read_one = sorted(uow.flags.get_many([flag.id for flag in one]), key=lambda f: f.id)
        read_many = sorted(uow.flags.get_many([flag.id for flag in many]), key=lambda f: f.id)
    assert [f.id for f in read_many] == [f.id for f in many] == sorted(f.id for f in many)
    assert [[v.id for v in f.variants] for f in read_many] == [[v.id for v in f.variants] for f in many]
    labels = {links[singly][0]: "a", links[singly][1]: "b", links[batched][0]: "a", links[batched][1]: "b"}
    assert [_shape(f, labels) for f in read_many] == [_shape(f, labels) for f in read_one]


def test_versions_add_many__read_back__and_configs_of_finds_the_pairs_asked(engine: Engine) -> None:
    # Given versions of two flags added in one batch
    project = add_project(engine)
    with SqlUnitOfWork(engine, write=True) as uow:
        first, second = _flags(project, [])[:2]
        uow.flags.add_many([first, second])
        uow.versions.add_many([make_version(first.id, project, 1), make_version(first.id, project, 2),
                               make_version(second.id, project, 1)])
        uow.commit()
    # When
    with SqlUnitOfWork(engine) as uow:
        history = [v.version for v in uow.versions.for_flag(first.id)]
        configs = uow.versions.configs_of([(first.id, 2), (second.id, 1), (second.id, 5)])
    # Then
    assert history == [2, 1]
    assert configs == {(first.id, 2): {"version": 2}, (second.id, 1): {"version": 1}}


def test_audit_add_many__records_kept_in_their_order(engine: Engine) -> None:
    # Given
    records = [AuditRecord(at=NOW, actor="ada", action=f"flag.step-{i}", subject_type="flag", subject_id=str(i),
                           project_id=1, before={"n": i}, after=None) for i in range(5)]
    # When
    with SqlUnitOfWork(engine, write=True) as uow:
        uow.audit.add_many(records)
        uow.commit()
    # Then (newest first)
    with SqlUnitOfWork(engine) as uow:
        read = uow.audit.page(AuditQuery(), before_id=None, limit=10)
    assert [(r.action, r.before) for r in reversed(read)] == [(r.action, r.before) for r in records]


def test_inclusions_add_many_and_clear_many__lists_in_order_others_untouched(engine: Engine) -> None:
    # Given three variants with lists
    project = add_project(engine)
    with SqlUnitOfWork(engine, write=True) as uow:
        flag = make_flag(project, variants=[Variant(key="a"), Variant(key="b"), Variant(key="c")])
        uow.flags.add(flag)
        a, b, c = (v.id for v in flag.variants)
        for variant_id in (a, b, c):
            uow.inclusions.users.add(variant_id, ["old-1", "old-2"])
        uow.commit()
    # When two are cleared and given new lists in one batch (a repeated id kept once)
    with SqlUnitOfWork(engine, write=True) as uow:
        uow.inclusions.users.clear_many([a, b])
        uow.inclusions.users.add_many({b: ["z", "y", "q\"'ü"], a: ["x", "x", "w"]})
        uow.commit()
    # Then
    with SqlUnitOfWork(engine) as uow:
        lists = uow.inclusions.users.for_variants([a, b, c])
    assert dict(lists) == {a: ["x", "w"], b: ["z", "y", "q\"'ü"], c: ["old-1", "old-2"]}
