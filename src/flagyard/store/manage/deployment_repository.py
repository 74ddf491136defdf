"""Deployments and projects."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa

from flagyard.manage.model.deployments import Deployment
from flagyard.manage.model.projects import Project
from flagyard.manage.model.versions import Version
from flagyard.store.db import inserted_id
from flagyard.store.long_lists import among_parameter
from flagyard.store.manage.version_repository import INSERT_VERSION, VERSION_COLUMNS, version_row
from flagyard.store.serve.change_feed import CHANNEL, change_notice
from flagyard.store.tables import deployments, projects, versions, webhooks


class DeploymentRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection

    def get(self, deployment_id: int) -> Deployment | None:
        row = self._conn.execute(
            sa.select(deployments).where(deployments.c.id == deployment_id)
        ).mappings().first()
        return _deployment(row) if row else None

    def get_by_key(self, key: str) -> Deployment | None:
        row = self._conn.execute(
            sa.select(deployments).where(deployments.c.key == key)
        ).mappings().first()
        return _deployment(row) if row else None

    def get_by_key_with_revision(self, key: str) -> tuple[Deployment, int] | None:
        # One round trip on the propagation path instead of two.
        row = self._conn.execute(_BY_KEY_WITH_REVISION, {"key": key}).mappings().first()
        return (_deployment(row), int(row["project_revision"] or 0)) if row else None

    def get_many(self, deployment_ids: Collection[int]) -> dict[int, Deployment]:
        if not deployment_ids:
            return {}
        rows = self._conn.execute(_MANY, {"ids": list(deployment_ids)}).mappings()
        return {row["id"]: _deployment(row) for row in rows}

    def labels_requiring_approval(self, deployment_ids: Collection[int]) -> list[str]:
        """The labels, sorted, of those of these deployments that require approval."""
        if not deployment_ids:
            return []
        query = _REQUIRING_APPROVAL_PG if self._conn.dialect.name == "postgresql" else _REQUIRING_APPROVAL
        return sorted(self._conn.execute(query, {"ids": list(deployment_ids)}).scalars())

    def page(
        self, *, project_ids: Collection[int] | None, before_id: int | None, limit: int,
        include_archived: bool = True,
    ) -> list[Deployment]:
        query = sa.select(deployments)
        if project_ids is not None:
            query = query.where(deployments.c.project_id.in_(project_ids))
        if not include_archived:
            query = query.where(deployments.c.deleted.is_(False))
        if before_id is not None:
            query = query.where(deployments.c.id < before_id)
        rows = self._conn.execute(query.order_by(deployments.c.id.desc()).limit(limit)).mappings()
        return [_deployment(row) for row in rows]

    def unarchived_keys(self) -> list[str]:
        """The key of every unarchived deployment of every project (what a process serves)."""
        query = sa.select(deployments.c.key).where(deployments.c.deleted.is_(False)).order_by(deployments.c.id)
        return list(self._conn.execute(query).scalars())

    def add(self, deployment: Deployment) -> int:
        deployment.id = inserted_id(self._conn.execute(
            sa.insert(deployments).values(
                project_id=deployment.project_id,
                label=deployment.label,
                key=deployment.key,
                type=deployment.type,
                deleted=deployment.deleted,
                created_at=deployment.created_at,
                require_approval=deployment.require_approval,
            )
        ))
        return deployment.id

    def save(self, deployment: Deployment) -> None:
        self._conn.execute(
            sa.update(deployments)
            .where(deployments.c.id == deployment.id)
            .values(label=deployment.label, deleted=deployment.deleted,
                    require_approval=deployment.require_approval)
        )

    def set_key(self, deployment_id: int, key: str) -> None:
        self._conn.execute(sa.update(deployments).where(deployments.c.id == deployment_id).values(key=key))


class ProjectRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection
        self.touched: set[int] = set()

    def bump_revision(self, project_id: int, *, appending: Version | None = None) -> bool:
        """Mark that the project's served flags may have changed (see tables.projects).
        True if the project has an enabled webhook: read by the same statement, as a flag's
        write bumps and then raises events only when someone listens.

        With `appending`, also insert that version row after the bump, under the project's lock,
        so its id follows those of every earlier write of the project (`changed_since` reads by
        id). On PostgreSQL that is the bump's own statement: the lock is then held for the
        commit's round trip only, where writers of a project queued (ADR 0111)."""
        # Other processes hear of it at commit; SQLite's watchers see the commit itself.
        postgres = self._conn.dialect.name == "postgresql"
        if appending is not None and postgres:
            values = {**version_row(appending), "project_id": project_id, "channel": CHANNEL}
            hooked = self._conn.execute(_BUMP_APPENDING, values).scalar_one()
        else:
            hooked = self._conn.execute(_BUMP_NOTIFYING if postgres else _BUMP, {"project_id": project_id}).scalar()
            if appending is not None:
                self._conn.execute(INSERT_VERSION, version_row(appending))
        self.touched.add(project_id)
        return bool(hooked)

    def revision(self, project_id: int) -> int:
        value = self._conn.execute(
            sa.select(projects.c.revision).where(projects.c.id == project_id)
        ).scalar()
        return int(value or 0)

    def get(self, project_id: int) -> Project | None:
        row = self._conn.execute(sa.select(projects).where(projects.c.id == project_id)).mappings().first()
        return Project(id=row["id"], name=row["name"], created_at=row["created_at"]) if row else None

    def all(self) -> list[Project]:
        rows = self._conn.execute(sa.select(projects).order_by(projects.c.id)).mappings()
        return [Project(id=r["id"], name=r["name"], created_at=r["created_at"]) for r in rows]

    def add(self, project: Project) -> int:
        project.id = inserted_id(self._conn.execute(
            sa.insert(projects).values(name=project.name, created_at=project.created_at)
        ))
        return project.id


# Built once: every flag write checks its deployments and bumps its project, and every
# propagation round reads its deployment; building and keying these anew showed in profiles.
_BY_KEY_WITH_REVISION = (
    sa.select(deployments, projects.c.revision.label("project_revision"))
    .join(projects, projects.c.id == deployments.c.project_id)
    .where(deployments.c.key == sa.bindparam("key")))
_MANY = sa.select(deployments).where(deployments.c.id.in_(sa.bindparam("ids", expanding=True)))
_REQUIRING_APPROVAL, _REQUIRING_APPROVAL_PG = (
    sa.select(deployments.c.label)
    .where(among_parameter(deployments.c.id, "ids", postgres), deployments.c.require_approval.is_(True))
    for postgres in (False, True))
# By the parameter, not by `projects.id`: SQLite's RETURNING names columns unqualified, and an
# unqualified `id` inside the subquery is the webhook's.
_HOOKED = sa.exists().where(webhooks.c.project_id == sa.bindparam("project_id"), webhooks.c.enabled.is_(True))
_BUMP = (sa.update(projects).where(projects.c.id == sa.bindparam("project_id"))
         .values(revision=projects.c.revision + 1).returning(_HOOKED))
_BUMP_NOTIFYING = _BUMP.returning(change_notice(projects.c.id))
# `_BUMP_NOTIFYING` and the version's insert as one statement: the insert selects from the
# bump's row, so its id is drawn once the project's row is locked. Written out, as SQLAlchemy's
# form of an UPDATE … RETURNING inside a CTE lost its literal parameters.
_BUMP_APPENDING = sa.text(
    "WITH bumped AS ("
    " UPDATE projects SET revision = revision + 1 WHERE id = :project_id"
    " RETURNING EXISTS (SELECT 1 FROM webhooks WHERE webhooks.project_id = :project_id AND webhooks.enabled)"
    " AS hooked, pg_notify(:channel, CAST(id AS TEXT)) AS notice)"
    f" INSERT INTO versions ({', '.join(VERSION_COLUMNS)})"
    f" SELECT {', '.join(':' + name for name in VERSION_COLUMNS)} FROM bumped WHERE notice IS NOT NULL"
    " RETURNING (SELECT hooked FROM bumped)"
).bindparams(*(sa.bindparam(name, type_=versions.c[name].type) for name in VERSION_COLUMNS))


def _deployment(row: sa.RowMapping) -> Deployment:
    return Deployment(
        id=row["id"],
        project_id=row["project_id"],
        label=row["label"],
        key=row["key"],
        type=row["type"],
        deleted=row["deleted"],
        created_at=row["created_at"],
        require_approval=row["require_approval"],
    )
