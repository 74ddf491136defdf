"""The append-only version history."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from flagyard.manage.model.versions import Version
from flagyard.store.tables import versions

# Pairs per IN list: two bound parameters each, well under SQLite's limit.
_CHUNK = 5_000
_IDS = postgresql.ARRAY(sa.Integer)

# Built once: every write reads the previous version and appends one, and every propagation
# round asks what changed; building and keying each statement anew showed in their profiles.
INSERT_VERSION = sa.insert(versions)
VERSION_COLUMNS = ("flag_id", "project_id", "version", "created_at", "created_by", "flag_config", "approved_by",
                   "change_request_id")


def version_row(version: Version) -> dict[str, Any]:
    """A new version's values, by column, as `INSERT_VERSION` takes them."""
    return {name: getattr(version, name) for name in VERSION_COLUMNS}


_ONE = sa.select(versions).where(versions.c.flag_id == sa.bindparam("flag_id"),
                                 versions.c.version == sa.bindparam("number"))
_NEWEST = sa.select(sa.func.max(versions.c.id)).where(versions.c.project_id == sa.bindparam("project_id"))
_CHANGED = sa.select(versions.c.flag_id).where(
    versions.c.id > sa.bindparam("after"), versions.c.id <= sa.bindparam("newest"),
    versions.c.project_id == sa.bindparam("project_id"))


class VersionRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection

    def add(self, version: Version) -> None:
        self._conn.execute(INSERT_VERSION, version_row(version))

    def add_many(self, added: Sequence[Version]) -> None:
        """`add` for the versions of many flags, in one batched statement."""
        if added:
            self._conn.execute(INSERT_VERSION, [version_row(v) for v in added])

    def configs_of(self, wanted: Collection[tuple[int, int]]) -> dict[tuple[int, int], dict[str, Any]]:
        """The flagConfig of each (flag id, version) that exists, by that pair."""
        found: dict[tuple[int, int], dict[str, Any]] = {}
        pairs = list(wanted)
        columns = sa.select(versions.c.flag_id, versions.c.version, versions.c.flag_config)
        for start in range(0, len(pairs), _CHUNK):
            chunk = pairs[start:start + _CHUNK]
            if self._conn.dialect.name == "postgresql":  # two array parameters (store/long_lists.py)
                given = sa.func.unnest(*(sa.bindparam(None, [pair[i] for pair in chunk], type_=_IDS)
                                         for i in (0, 1))).table_valued("flag_id", "version").render_derived()
                query = columns.join(given, sa.and_(versions.c.flag_id == given.c.flag_id,
                                                    versions.c.version == given.c.version))
            else:
                query = columns.where(sa.tuple_(versions.c.flag_id, versions.c.version).in_(chunk))
            for flag_id, number, config in self._conn.execute(query):
                found[(flag_id, number)] = config
        return found

    def changed_since(self, project_id: int, after: int | None) -> tuple[int, set[int]]:
        """(the newest version row id of the project, ids of flags with a version after `after`).

        Writers append versions after taking the project's row lock (the revision bump), so
        within a project row ids follow commit order: a reader that remembers the newest id
        misses no later change. `after=None` reads only the newest id.
        """
        newest = self._conn.execute(_NEWEST, {"project_id": project_id}).scalar()
        if after is None or newest is None or newest <= after:
            return (newest or 0), set()
        rows = self._conn.execute(_CHANGED, {"after": after, "newest": newest, "project_id": project_id})
        return newest, {flag_id for (flag_id,) in rows}

    def for_flag(self, flag_id: int) -> list[Version]:
        rows = self._conn.execute(
            sa.select(versions).where(versions.c.flag_id == flag_id).order_by(versions.c.version.desc())
        ).mappings()
        return [_version(row) for row in rows]

    def get(self, flag_id: int, number: int) -> Version | None:
        row = self._conn.execute(_ONE, {"flag_id": flag_id, "number": number}).mappings().first()
        return _version(row) if row else None

    def page(
        self,
        *,
        project_ids: Collection[int] | None,
        start: datetime | None,
        end: datetime | None,
        before_id: int | None,
        limit: int,
    ) -> list[Version]:
        """Newest first across every flag; keyset on the row id."""
        query = sa.select(versions)
        if project_ids is not None:
            query = query.where(versions.c.project_id.in_(project_ids))
        if start is not None:
            query = query.where(versions.c.created_at >= start)
        if end is not None:
            query = query.where(versions.c.created_at < end)
        if before_id is not None:
            query = query.where(versions.c.id < before_id)
        rows = self._conn.execute(query.order_by(versions.c.id.desc()).limit(limit)).mappings()
        return [_version(row) for row in rows]


def _version(row: sa.RowMapping) -> Version:
    return Version(
        id=row["id"],
        flag_id=row["flag_id"],
        project_id=row["project_id"],
        version=row["version"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        flag_config=row["flag_config"],
        approved_by=row["approved_by"],
        change_request_id=row["change_request_id"],
    )
