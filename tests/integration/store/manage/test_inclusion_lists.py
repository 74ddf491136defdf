"""A variant's ordered id list against a plain Python list, for random sequences of adds (with
repeats inside a batch and across batches), removals by value, removals by index and clears,
on two variants at once so that one list's changes never touch the other.

Runs on SQLite by default and on PostgreSQL when FLAGYARD_TEST_DATABASE_URL names a server.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from flagyard.manage.model.creation import new_flag
from flagyard.manage.model.flags import Kind
from flagyard.manage.model.projects import Project
from flagyard.store.manage.unit_of_work import SqlUnitOfWork

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
serial = itertools.count()

# Few distinct ids, so that batches often repeat ids already present or repeated in the batch;
# some need quoting in JSON or SQL.
ids = st.sampled_from(["a", "b", "c", "d", "e", "f", 'q"uote', "o'neil", "ünï", "", "42"])
operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 1), st.lists(ids, max_size=8)),
        st.tuples(st.just("remove"), st.integers(0, 1), st.lists(ids, max_size=4)),
        st.tuples(st.just("remove_at"), st.integers(0, 1), st.integers(0, 6)),
        st.tuples(st.just("clear"), st.integers(0, 1), st.none()),
    ),
    max_size=12,
)


def new_variants(engine: Engine) -> list[int]:
    """The ids of the two variants of a new experiment in a new project."""
    n = next(serial)
    with SqlUnitOfWork(engine, write=True) as uow:
        project_id = uow.projects.add(Project(name=f"p{n}", created_at=NOW))
        flag_id = uow.flags.add(new_flag(Kind.EXPERIMENT, project_id, {"key": f"exp-{n}"}, actor="t", now=NOW))
        flag = uow.flags.get(flag_id)
        uow.commit()
    assert flag is not None and len(flag.variants) == 2
    return [variant.id for variant in flag.variants]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=operations)
def test_ordered_id_list__any_sequence_of_changes__matches_a_python_list(
    engine: Engine, steps: list[tuple[str, int, object]]
) -> None:
    # Given
    variant_ids = new_variants(engine)
    expected: list[list[str]] = [[], []]
    # When
    for operation, which, argument in steps:
        model = expected[which]
        with SqlUnitOfWork(engine, write=True) as uow:
            lists = uow.inclusions.users
            if operation == "add":
                assert isinstance(argument, list)
                fresh = [v for v in dict.fromkeys(argument) if v not in model]
                assert lists.add(variant_ids[which], argument) == len(fresh)
                model.extend(fresh)
            elif operation == "remove":
                assert isinstance(argument, list)
                gone = set(argument)
                assert lists.remove(variant_ids[which], argument) == len([v for v in model if v in gone])
                model[:] = [v for v in model if v not in gone]
            elif operation == "remove_at":
                assert isinstance(argument, int)
                assert lists.remove_at(variant_ids[which], argument) == (argument < len(model))
                if argument < len(model):
                    del model[argument]
            else:
                assert lists.clear(variant_ids[which]) == len(model)
                model.clear()
            uow.commit()
    # Then
    with SqlUnitOfWork(engine) as uow:
        assert [uow.inclusions.users.ordered(v) for v in variant_ids] == expected
        assert uow.inclusions.users.for_variants(variant_ids) == {
            v: values for v, values in zip(variant_ids, expected, strict=True) if values
        }
