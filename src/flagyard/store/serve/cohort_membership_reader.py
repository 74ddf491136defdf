"""The one read remote evaluation makes for cohorts: which targeted cohorts hold these ids.

It runs per evaluation, so it skips the unit of work: on PostgreSQL the statement runs in
autocommit (no BEGIN and ROLLBACK round trips around one SELECT); SQLite is in-process and
keeps its ordinary read transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from flagyard.store.tables import cohort_members, cohorts

# Built once: building the statement cost more than running it.
_MEMBERSHIPS = (
    sa.select(cohorts.c.public_id, cohorts.c.group_type, cohort_members.c.member_id)
    .join(cohort_members, cohort_members.c.cohort_id == cohorts.c.id)
    .where(
        cohorts.c.project_id == sa.bindparam("project_id"),
        cohorts.c.archived.is_(False),
        cohorts.c.public_id.in_(sa.bindparam("public_ids", expanding=True)),
        cohort_members.c.member_id.in_(sa.bindparam("member_ids", expanding=True)),
    )
)

MembershipLookup = Callable[[int, Collection[str], Collection[str]], list[tuple[str, str, str]]]


def membership_reader(engine: Engine) -> MembershipLookup:
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    def lookup(project_id: int, public_ids: Collection[str],
               member_ids: Collection[str]) -> list[tuple[str, str, str]]:
        with engine.connect() as connection:
            rows = connection.execute(_MEMBERSHIPS, {
                "project_id": project_id, "public_ids": list(public_ids),
                "member_ids": list(member_ids),
            })
            return [(row[0], row[1], row[2]) for row in rows]

    return lookup
