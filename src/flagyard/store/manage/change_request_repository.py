"""Change requests and their comments."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa

from flagyard.manage.model.change_requests import ChangeRequest, Comment, ProposalType, Status
from flagyard.store.db import inserted_id
from flagyard.store.tables import change_request_comments, change_requests


class ChangeRequestRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection

    def add(self, request: ChangeRequest) -> int:
        request.id = inserted_id(self._conn.execute(sa.insert(change_requests).values(
            project_id=request.project_id, flag_id=request.flag_id, flag_key=request.flag_key,
            kind=request.kind, type=request.type.value, base_version=request.base_version,
            proposed=request.proposed, deployments=request.deployments,
            author=request.author, author_identity=request.author_identity, created_at=request.created_at,
            **_state(request))))
        return request.id

    def save(self, request: ChangeRequest) -> None:
        """Its state and its proposal (a rebase moves both)."""
        self._conn.execute(sa.update(change_requests).where(change_requests.c.id == request.id).values(
            base_version=request.base_version, proposed=request.proposed, **_state(request)))

    def get(self, request_id: int, *, for_update: bool = False) -> ChangeRequest | None:
        query = sa.select(change_requests).where(change_requests.c.id == request_id)
        if for_update and self._conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = self._conn.execute(query).mappings().first()
        if row is None:
            return None
        request = _request(row)
        request.comments = [
            Comment(id=c["id"], author=c["author"], body=c["body"], created_at=c["created_at"])
            for c in self._conn.execute(
                sa.select(change_request_comments)
                .where(change_request_comments.c.change_request_id == request_id)
                .order_by(change_request_comments.c.id)).mappings()]
        return request

    def page(self, *, project_ids: Collection[int] | None, flag_id: int | None, statuses: Collection[str],
             before_id: int | None, limit: int) -> list[ChangeRequest]:
        """Newest first, without comments."""
        query = sa.select(change_requests)
        if project_ids is not None:
            query = query.where(change_requests.c.project_id.in_(project_ids))
        if flag_id is not None:
            query = query.where(change_requests.c.flag_id == flag_id)
        if statuses:
            query = query.where(change_requests.c.status.in_(list(statuses)))
        if before_id is not None:
            query = query.where(change_requests.c.id < before_id)
        rows = self._conn.execute(query.order_by(change_requests.c.id.desc()).limit(limit)).mappings()
        return [_request(row) for row in rows]

    def add_comment(self, request_id: int, comment: Comment) -> None:
        comment.id = inserted_id(self._conn.execute(sa.insert(change_request_comments).values(
            change_request_id=request_id, author=comment.author, body=comment.body,
            created_at=comment.created_at)))


def _state(request: ChangeRequest) -> dict[str, object]:
    return {
        "status": request.status.value, "reviewed_by": request.reviewed_by, "reviewed_at": request.reviewed_at,
        "applied_by": request.applied_by, "applied_at": request.applied_at,
        "applied_version": request.applied_version, "schedule_id": request.schedule_id,
    }


def _request(row: sa.RowMapping) -> ChangeRequest:
    return ChangeRequest(
        id=row["id"], project_id=row["project_id"], flag_id=row["flag_id"], flag_key=row["flag_key"],
        kind=row["kind"], type=ProposalType(row["type"]), base_version=row["base_version"],
        proposed=row["proposed"], deployments=list(row["deployments"]),
        author=row["author"], author_identity=row["author_identity"], created_at=row["created_at"],
        status=Status(row["status"]), reviewed_by=row["reviewed_by"], reviewed_at=row["reviewed_at"],
        applied_by=row["applied_by"], applied_at=row["applied_at"], applied_version=row["applied_version"],
        schedule_id=row["schedule_id"])
