"""SqlUnitOfWork and its repositories against a real database.

Runs on SQLite by default and on PostgreSQL when FLAGYARD_TEST_DATABASE_URL names a server.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from flagyard.errors import AlreadyExists, Conflict
from flagyard.manage.model.deployments import Deployment
from flagyard.manage.model.flags import Flag, Kind, Variant
from flagyard.manage.model.projects import Project
from flagyard.manage.model.versions import Version
from flagyard.store.db import make_engine
from flagyard.store.manage.unit_of_work import SqlUnitOfWork
from flagyard.store.migrate import upgrade
from tests.support.server import fresh_database_url

NOW = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(fresh_database_url(tmp_path))
    upgrade(engine)
    yield engine
    engine.dispose()


def add_project(engine: Engine, name: str = "main") -> int:
    with SqlUnitOfWork(engine, write=True) as uow:
        project_id = uow.projects.add(Project(name=name, created_at=NOW))
        uow.commit()
    return project_id


def add_deployment(engine: Engine, project_id: int, label: str) -> int:
    with SqlUnitOfWork(engine, write=True) as uow:
        deployment_id = uow.deployments.add(
            Deployment(project_id=project_id, label=label, key=f"server-{label}", type="server",
                       created_at=NOW)
        )
        uow.commit()
    return deployment_id


def make_flag(project_id: int, key: str = "checkout", **fields: Any) -> Flag:
    values: dict[str, Any] = {
        "project_id": project_id,
        "kind": Kind.FLAG,
        "key": key,
        "bucketing_salt": "abcdEFGH",
        "created_at": NOW,
        "created_by": "ada@example.com",
        "last_modified_at": NOW,
        "last_modified_by": "ada@example.com",
        "variants": [Variant(key="on")],
    }
    values.update(fields)
    return Flag(**values)


def add_flag(engine: Engine, flag: Flag) -> int:
    with SqlUnitOfWork(engine, write=True) as uow:
        flag_id = uow.flags.add(flag)
        uow.commit()
    return flag_id


def make_version(flag_id: int, project_id: int, number: int) -> Version:
    return Version(flag_id=flag_id, project_id=project_id, version=number, created_at=NOW,
                   created_by="ada@example.com", flag_config={"version": number})


# --- transactions ----------------------------------------------------------------------------


def test_unit_of_work__not_committed__rolls_back(engine: Engine) -> None:
    # Given
    project_id = add_project(engine)
    # When
    with SqlUnitOfWork(engine, write=True) as uow:
        flag_id = uow.flags.add(make_flag(project_id))
        uow.projects.add(Project(name="second", created_at=NOW))
        uow.projects.bump_revision(project_id)
    # Then
    with SqlUnitOfWork(engine) as uow:
        assert uow.flags.get(flag_id) is None
        assert [p.name for p in uow.projects.all()] == ["main"]
        assert uow.projects.revision(project_id) == 0


def test_unit_of_work__error_inside__rolls_back_and_lets_the_error_out(engine: Engine) -> None:
    # Given
    project_id = add_project(engine)
    # When
    with pytest.raises(RuntimeError), SqlUnitOfWork(engine, write=True) as uow:
        uow.flags.add(make_flag(project_id))
        raise RuntimeError("boom")
    # Then
    with SqlUnitOfWork(engine) as uow:
        assert uow.flags.find_ids_by_key(project_id, ["checkout"]) == {}


def test_unit_of_work__committed__is_visible_to_the_next_one(engine: Engine) -> None:
    # Given
    project_id = add_project(engine)
    # When
    with SqlUnitOfWork(engine, write=True) as uow:
        flag_id = uow.flags.add(make_flag(project_id))
        uow.projects.bump_revision(project_id)
        uow.commit()
    # Then
    with SqlUnitOfWork(engine) as uow:
        assert uow.flags.find_ids_by_key(project_id, ["checkout"]) == {"checkout": flag_id}
        assert uow.projects.revision(project_id) == 1


# --- the flag aggregate ----------------------------------------------------------------------


def test_flag_repository__committed_flag__reads_back_equal(engine: Engine) -> None:
    # Given
    project_id = add_project(engine)
    first = add_deployment(engine, project_id, "first")
    second = add_deployment(engine, project_id, "second")
    flag = make_flag(
        project_id,
        kind=Kind.EXPERIMENT,
        name="Checkout",
        description="new flow",
        enabled=True,
        started=True,
        evaluation_mode="local",
        bucketing_key="device_id",
        rollout_percentage=40,
        variants=[
            Variant(key="control", name="Control", payload={"z": 1, "a": [1, "two", None]},
                    rollout_weight=2),
            Variant(key="treatment", description="blue", payload="plain", rollout_weight=0),
            Variant(key="holdout", payload=None),
        ],
        target_segments=[{"name": "US", "conditions": [{"type": "property", "prop": "country",
                                                        "op": "is", "values": ["US"]}],
                          "percentage": 50, "rolloutWeights": {"treatment": 1, "control": 3}}],
        parent_dependencies={"flags": {"7": ["on"]}, "operator": "all"},
        sticky_bucketing=True,
        start_date="2024-05-01",
        experiment_type="no-harm",
        tags=["web", "checkout"],
        decision="rollout",
        decision_reason="it won",
        rolled_out_variant="treatment",
        exposure_event={"event_type": "seen", "event_properties": {"page": "cart"}},
        deployments=[second, first],
        created_at=datetime(2024, 5, 6, 9, 8, 9, 123000, tzinfo=timezone(timedelta(hours=2))),
        last_modified_at=datetime(2024, 5, 7, 0, 0, 0, 456000, tzinfo=UTC),
        last_modified_by="bob@example.com",
        version=3,
    )
    # When
    flag_id = add_flag(engine, flag)
    with SqlUnitOfWork(engine) as uow:
        loaded = uow.flags.get(flag_id)
    # Then
    assert loaded == flag
    assert loaded is not None
    assert all(v.id for v in loaded.variants)
    assert loaded.deployments == [second, first]
    assert list(loaded.variants[0].payload) == ["z", "a"]
    assert list(loaded.target_segments[0]["rolloutWeights"]) == ["treatment", "control"]
    assert loaded.created_at == NOW
    assert loaded.created_at.utcoffset() == timedelta(0)
    assert loaded.last_modified_at is not None
    assert loaded.last_modified_at.utcoffset() == timedelta(0)


def test_flag_repository__saved_changes__read_back_and_keep_variant_ids(engine: Engine) -> None:
    # Given
    project_id = add_project(engine)
    deployment = add_deployment(engine, project_id, "production")
    flag_id = add_flag(engine, make_flag(project_id, variants=[Variant(key="on"),
                                                               Variant(key="blue")]))
    with SqlUnitOfWork(engine, write=True) as uow:
        flag = uow.flags.get(flag_id, for_update=True)
        assert flag is not None
        kept_id = flag.variant("blue").id
        # When
        flag.edit_variant("blue", {"key": "green"})
        flag.remove_variant("on")
        flag.add_variant(Variant(key="red"))
        flag.link_deployments([deployment])
        flag.set_enabled(True)
        uow.flags.save(flag)
        uow.commit()
    # Then
    with SqlUnitOfWork(engine) as uow:
        loaded = uow.flags.get(flag_id)
    assert loaded == flag
    assert loaded is not None
    assert loaded.variant_keys == ["green", "red"]
    assert loaded.variant("green").id == kept_id
    assert loaded.deployments == [deployment]


def test_flag_repository__payload_changed_in_place_or_to_an_equal_value__reads_back_changed(
        engine: Engine) -> None:
    # Given a variant whose payload is 1 (equal to true in Python) and another with a dict
    project_id = add_project(engine)
    flag_id = add_flag(engine, make_flag(project_id, variants=[Variant(key="on", payload=1),
                                                               Variant(key="off", payload={"n": 1})]))
    with SqlUnitOfWork(engine, write=True) as uow:
        flag = uow.flags.get(flag_id, for_update=True)
        assert flag is not None
        # When one payload becomes true and the other is changed in place, then saved
        flag.variant("on").payload = True
        flag.variant("off").payload["n"] = 2
        uow.flags.save(flag)
        uow.commit()
    # Then both changes are stored
    with SqlUnitOfWork(engine) as uow:
        loaded = uow.flags.get(flag_id)
    assert loaded is not None
    assert loaded.variant("on").payload is True
    assert loaded.variant("off").payload == {"n": 2}


def test_flag_repository__saved_twice_in_one_unit_of_work__reads_back_the_last(engine: Engine) -> None:
    # Given a flag linked to a deployment
    project_id = add_project(engine)
    deployment = add_deployment(engine, project_id, "production")
    flag_id = add_flag(engine, make_flag(project_id, deployments=[deployment]))
    with SqlUnitOfWork(engine, write=True) as uow:
        flag = uow.flags.get(flag_id, for_update=True)
        assert flag is not None
        # When it is unlinked and saved, then linked again as it was read and saved again
        flag.deployments = []
        uow.flags.save(flag)
        flag.deployments = [deployment]
        uow.flags.save(flag)
        uow.commit()
    # Then the link is there
    with SqlUnitOfWork(engine) as uow:
        loaded = uow.flags.get(flag_id)
    assert loaded is not None
    assert loaded.deployments == [deployment]


def test_flag_repository__duplicate_key_in_project__raises_already_exists(engine: Engine) -> None:
    # Given
    project_id = add_project(engine)
    add_flag(engine, make_flag(project_id, key="checkout"))
    # When
    with pytest.raises(AlreadyExists) as raised, SqlUnitOfWork(engine, write=True) as uow:
        uow.flags.add(make_flag(project_id, key="checkout", kind=Kind.EXPERIMENT))
        uow.commit()
    # Then
    assert raised.value.code == "key_taken"
    with SqlUnitOfWork(engine) as uow:
        assert len(uow.flags.page(kind=Kind.EXPERIMENT, project_ids=None, key=None,
                                  include_archived=True, before_id=None, limit=10)) == 0


def test_flag_repository__same_key_in_another_project__is_allowed(engine: Engine) -> None:
    # Given
    first = add_project(engine, "first")
    second = add_project(engine, "second")
    add_flag(engine, make_flag(first, key="checkout"))
    # When
    flag_id = add_flag(engine, make_flag(second, key="checkout"))
    # Then
    with SqlUnitOfWork(engine) as uow:
        assert uow.flags.find_ids_by_key(second, ["checkout"]) == {"checkout": flag_id}


# --- inclusion lists -------------------------------------------------------------------------


def variant_id_of(engine: Engine) -> int:
    project_id = add_project(engine)
    flag_id = add_flag(engine, make_flag(project_id))
    with SqlUnitOfWork(engine) as uow:
        flag = uow.flags.get(flag_id)
    assert flag is not None
    return flag.variant("on").id


def test_inclusions__added_with_duplicates__keep_first_order_once(engine: Engine) -> None:
    # Given
    variant_id = variant_id_of(engine)
    # When
    with SqlUnitOfWork(engine, write=True) as uow:
        first = uow.inclusions.users.add(variant_id, ["u3", "u1", "u3", "u2"])
        second = uow.inclusions.users.add(variant_id, ["u1", "u0", "u4", "u0"])
        uow.commit()
    # Then
    assert (first, second) == (3, 2)
    with SqlUnitOfWork(engine) as uow:
        assert uow.inclusions.users.ordered(variant_id) == ["u3", "u1", "u2", "u0", "u4"]
        assert uow.inclusions.users.for_variants([variant_id]) == {
            variant_id: ["u3", "u1", "u2", "u0", "u4"]}


def test_inclusions__remove_at_index__removes_that_position(engine: Engine) -> None:
    # Given
    variant_id = variant_id_of(engine)
    with SqlUnitOfWork(engine, write=True) as uow:
        uow.inclusions.users.add(variant_id, ["a", "b", "c", "d"])
        uow.commit()
    # When
    with SqlUnitOfWork(engine, write=True) as uow:
        removed = uow.inclusions.users.remove_at(variant_id, 1)
        beyond = uow.inclusions.users.remove_at(variant_id, 3)
        uow.commit()
    # Then
    assert (removed, beyond) == (True, False)
    with SqlUnitOfWork(engine) as uow:
        assert uow.inclusions.users.ordered(variant_id) == ["a", "c", "d"]


def test_inclusions__removed_then_re_added__goes_to_the_end(engine: Engine) -> None:
    # Given
    variant_id = variant_id_of(engine)
    with SqlUnitOfWork(engine, write=True) as uow:
        uow.inclusions.cohorts.add(variant_id, ["c1", "c2", "c3"])
        uow.commit()
    # When
    with SqlUnitOfWork(engine, write=True) as uow:
        removed = uow.inclusions.cohorts.remove(variant_id, ["c1", "c1", "missing"])
        uow.inclusions.cohorts.add(variant_id, ["c1"])
        uow.commit()
    # Then
    assert removed == 1
    with SqlUnitOfWork(engine) as uow:
        assert uow.inclusions.cohorts.ordered(variant_id) == ["c2", "c3", "c1"]
        assert uow.inclusions.users.ordered(variant_id) == []


def test_inclusions__cleared__are_empty(engine: Engine) -> None:
    # Given
    variant_id = variant_id_of(engine)
    with SqlUnitOfWork(engine, write=True) as uow:
        uow.inclusions.users.add(variant_id, ["a", "b"])
        uow.commit()
    # When
    with SqlUnitOfWork(engine, write=True) as uow:
        cleared = uow.inclusions.users.clear(variant_id)
        uow.commit()
    # Then
    assert cleared == 2
    with SqlUnitOfWork(engine) as uow:
        assert uow.inclusions.users.ordered(variant_id) == []


# --- versions --------------------------------------------------------------------------------


def test_versions__duplicate_number_for_a_flag__raises_conflict_and_keeps_nothing(
    engine: Engine,
) -> None:
    # Given
    project_id = add_project(engine)
    flag_id = add_flag(engine, make_flag(project_id))
    with SqlUnitOfWork(engine, write=True) as uow:
        uow.versions.add(make_version(flag_id, project_id, 1))
        uow.commit()
    # When
    with pytest.raises(Conflict) as raised, SqlUnitOfWork(engine, write=True) as uow:
        uow.versions.add(make_version(flag_id, project_id, 2))
        uow.versions.add(make_version(flag_id, project_id, 1))
        uow.commit()
    # Then
    assert raised.value.code == "concurrent_change"
    with SqlUnitOfWork(engine) as uow:
        assert [v.version for v in uow.versions.for_flag(flag_id)] == [1]


def test_versions__same_number_for_two_flags__are_both_kept(engine: Engine) -> None:
    # Given
    project_id = add_project(engine)
    first = add_flag(engine, make_flag(project_id, key="first"))
    second = add_flag(engine, make_flag(project_id, key="second"))
    # When
    with SqlUnitOfWork(engine, write=True) as uow:
        uow.versions.add(make_version(first, project_id, 1))
        uow.versions.add(make_version(second, project_id, 1))
        uow.commit()
    # Then
    with SqlUnitOfWork(engine) as uow:
        version = uow.versions.get(second, 1)
    assert version is not None
    assert version.flag_config == {"version": 1}
    assert version.created_at == NOW


# --- commit listener -------------------------------------------------------------------------


def test_on_commit__successful_commit__receives_the_touched_projects_after_commit(
    engine: Engine,
) -> None:
    # Given
    first = add_project(engine, "first")
    second = add_project(engine, "second")
    add_project(engine, "untouched")
    calls: list[tuple[frozenset[int], dict[int, int]]] = []

    def listener(project_ids: Iterable[int]) -> None:
        touched = frozenset(project_ids)
        # What another connection sees now tells whether the commit already happened.
        with SqlUnitOfWork(engine) as reader:
            calls.append((touched, {p: reader.projects.revision(p) for p in touched}))

    # When
    with SqlUnitOfWork(engine, write=True, on_commit=listener) as uow:
        uow.projects.bump_revision(first)
        uow.projects.bump_revision(second)
        uow.projects.bump_revision(first)
        assert calls == []
        uow.commit()
    # Then
    assert calls == [(frozenset({first, second}), {first: 2, second: 1})]


def test_on_commit__not_committed__is_not_called(engine: Engine) -> None:
    # Given
    project_id = add_project(engine)
    calls: list[frozenset[int]] = []
    # When
    with SqlUnitOfWork(engine, write=True, on_commit=lambda ids: calls.append(frozenset(ids))) as uow:
        uow.projects.bump_revision(project_id)
    # Then
    assert calls == []


def test_on_commit__commit_fails__is_not_called(engine: Engine) -> None:
    # Given
    project_id = add_project(engine)
    add_flag(engine, make_flag(project_id, key="checkout"))
    calls: list[frozenset[int]] = []
    # When
    with pytest.raises(AlreadyExists), SqlUnitOfWork(
        engine, write=True, on_commit=lambda ids: calls.append(frozenset(ids))
    ) as uow:
        uow.projects.bump_revision(project_id)
        uow.flags.add(make_flag(project_id, key="checkout"))
        uow.commit()
    # Then
    assert calls == []


def test_on_commit__commit_touching_no_project__is_not_called(engine: Engine) -> None:
    # Given
    calls: list[frozenset[int]] = []
    # When
    with SqlUnitOfWork(engine, write=True, on_commit=lambda ids: calls.append(frozenset(ids))) as uow:
        uow.projects.add(Project(name="new", created_at=NOW))
        uow.commit()
    # Then
    assert calls == []
