"""Management keys: stored as hashes only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from flagyard.manage.model.access import ManagementKey
from flagyard.store.db import inserted_id
from flagyard.store.tables import management_key_projects, management_keys

# Built once: it runs on every management request.
_KEY_BY_HASH = (
    sa.select(management_keys, management_key_projects.c.project_id)
    .select_from(management_keys.outerjoin(
        management_key_projects, management_key_projects.c.key_id == management_keys.c.id))
    .where(management_keys.c.key_hash == sa.bindparam("key_hash"))
    .order_by(management_key_projects.c.project_id)
)
# Whether the key named by the parameter `key_id` exists unrevoked; other reads that confirm a
# remembered key (a list's revision, a flag read for its write) carry it as a column.
KEY_UNREVOKED = sa.exists().where(management_keys.c.id == sa.bindparam("key_id"),
                                  management_keys.c.revoked_at.is_(None))
_UNREVOKED = sa.select(KEY_UNREVOKED)


class KeyRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection

    def add(self, key: ManagementKey) -> int:
        key.id = inserted_id(self._conn.execute(
            sa.insert(management_keys).values(
                name=key.name,
                key_hash=key.key_hash,
                hint=key.hint,
                read_only=key.read_only,
                bypass_approvals=key.bypass_approvals,
                created_at=key.created_at,
            )
        ))
        if key.project_ids:
            self._conn.execute(
                sa.insert(management_key_projects),
                [{"key_id": key.id, "project_id": p} for p in key.project_ids],
            )
        return key.id

    def by_hash(self, key_hash: str) -> ManagementKey | None:
        """Read on every management request: the key and its projects in one query."""
        rows = self._conn.execute(_KEY_BY_HASH, {"key_hash": key_hash}).mappings().all()
        if not rows:
            return None
        return _key(rows[0], [row["project_id"] for row in rows if row["project_id"] is not None])

    def unrevoked(self, key_id: int) -> bool:
        """True while key `key_id` exists and is not revoked."""
        return bool(self._conn.execute(_UNREVOKED, {"key_id": key_id}).scalar())

    def get(self, key_id: int) -> ManagementKey | None:
        row = self._conn.execute(
            sa.select(management_keys).where(management_keys.c.id == key_id)
        ).mappings().first()
        return self._with_projects([row])[0] if row else None

    def all(self) -> list[ManagementKey]:
        rows = self._conn.execute(sa.select(management_keys).order_by(management_keys.c.id)).mappings().all()
        return self._with_projects(rows)

    def revoke(self, key_id: int, when: datetime) -> None:
        self._conn.execute(
            sa.update(management_keys).where(management_keys.c.id == key_id).values(revoked_at=when)
        )

    def _with_projects(self, rows: Sequence[sa.RowMapping]) -> list[ManagementKey]:
        ids = [row["id"] for row in rows]
        scopes: dict[int, list[int]] = {i: [] for i in ids}
        if ids:
            for link in self._conn.execute(
                sa.select(management_key_projects)
                .where(management_key_projects.c.key_id.in_(ids))
                .order_by(management_key_projects.c.project_id)
            ).mappings():
                scopes[link["key_id"]].append(link["project_id"])
        return [_key(row, scopes[row["id"]]) for row in rows]


def _key(row: sa.RowMapping, project_ids: list[int]) -> ManagementKey:
    return ManagementKey(
        id=row["id"],
        name=row["name"],
        key_hash=row["key_hash"],
        hint=row["hint"],
        read_only=row["read_only"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        project_ids=project_ids,
        bypass_approvals=row["bypass_approvals"],
    )
