"""Two narrow reads over a project's flags: the dependency graph (nodes with their variant keys,
edges from parentDependencies) and the flags that may target a cohort (a segment on
cohort_ids, or a variant with cohort inclusions). Other projects' flags never show.

Runs on SQLite by default and on PostgreSQL when FLAGYARD_TEST_DATABASE_URL names a server.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from flagyard.manage.model.creation import new_flag
from flagyard.manage.model.flags import Kind
from flagyard.manage.model.projects import Project
from flagyard.store.manage.unit_of_work import SqlUnitOfWork

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
serial = itertools.count()


def cohort_segment(op: str = "set contains any") -> dict[str, Any]:
    return {"name": "s", "percentage": 100, "rolloutWeights": {"on": 1},
            "conditions": [{"type": "property", "prop": "cohort_ids", "op": op, "values": ["c1"]}]}


def project_with_flags(engine: Engine, specs: list[tuple[Kind, dict[str, Any]]]) -> tuple[int, list[int]]:
    n = next(serial)
    with SqlUnitOfWork(engine, write=True) as uow:
        project_id = uow.projects.add(Project(name=f"reads-{n}", created_at=NOW))
        ids = []
        for index, (kind, fields) in enumerate(specs):
            flag = new_flag(kind, project_id, {"key": f"k{n}-{index}", **fields}, actor="t", now=NOW)
            ids.append(uow.flags.add(flag))
        uow.commit()
    return project_id, ids


def test_dependency_graph__nodes_with_variant_keys__edges__this_project_only(engine: Engine) -> None:
    # Given a parent, a child of it, an experiment of both, and another project's flag
    project, (parent, child, experiment) = project_with_flags(engine, [
        (Kind.FLAG, {}), (Kind.FLAG, {}), (Kind.EXPERIMENT, {})])
    project_with_flags(engine, [(Kind.FLAG, {})])
    with SqlUnitOfWork(engine, write=True) as uow:
        for flag_id, parents in ((child, {str(parent): ["on"]}),
                                 (experiment, {str(parent): ["on"], str(child): ["on"]})):
            flag = uow.flags.get(flag_id)
            assert flag is not None
            flag.parent_dependencies = {"flags": parents, "operator": "all"}
            uow.flags.save(flag)
        uow.commit()
    # When
    with SqlUnitOfWork(engine) as uow:
        graph = uow.flags.dependency_graph(project)
    # Then
    assert set(graph.nodes) == {parent, child, experiment}
    assert graph.nodes[experiment].variants == ("control", "treatment")
    assert graph.nodes[parent].variants == ("on",) and graph.nodes[experiment].kind is Kind.EXPERIMENT
    assert {(e.parent, e.child, e.variants) for e in graph.edges} == {
        (parent, child, ("on",)), (parent, experiment, ("on",)), (child, experiment, ("on",))}
    assert graph.layers() == [[parent], [child], [experiment]]


def test_cohort_targeting__segments_and_inclusions__nothing_else(engine: Engine) -> None:
    # Given flags with a cohort segment, a cohort inclusion, a country segment, nothing
    project, (by_segment, by_inclusion, by_country, plain) = project_with_flags(engine, [
        (Kind.FLAG, {"target_segments": [cohort_segment()]}),
        (Kind.EXPERIMENT, {}),
        (Kind.FLAG, {"target_segments": [{**cohort_segment(), "conditions": [
            {"type": "property", "prop": "country", "op": "is", "values": ["DE"]}]}]}),
        (Kind.FLAG, {}),
    ])
    with SqlUnitOfWork(engine, write=True) as uow:
        experiment = uow.flags.get(by_inclusion)
        assert experiment is not None
        uow.inclusions.cohorts.add(experiment.variants[1].id, ["c2"])
        uow.commit()
    # When
    with SqlUnitOfWork(engine) as uow:
        found = uow.flags.cohort_targeting(project)
    # Then
    assert [f.id for f in found] == [by_segment, by_inclusion]
    assert by_country not in [f.id for f in found] and plain not in [f.id for f in found]
