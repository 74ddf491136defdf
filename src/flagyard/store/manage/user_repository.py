"""Console users, their sessions and the failed sign-in counters."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from flagyard.manage.model.sessions import FailureRecord, Session
from flagyard.manage.model.users import Role, User
from flagyard.store.db import inserted_id
from flagyard.store.tables import console_sessions, sign_in_failures, users


class UserRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection

    def add(self, user: User) -> int:
        user.id = inserted_id(self._conn.execute(sa.insert(users).values(
            email=user.email, password_hash=user.password_hash, role=user.role.value,
            disabled=user.disabled, created_at=user.created_at, sso=user.sso,
        )))
        return user.id

    def save(self, user: User) -> None:
        self._conn.execute(sa.update(users).where(users.c.id == user.id).values(
            password_hash=user.password_hash, role=user.role.value, disabled=user.disabled,
            sso=user.sso,
        ))

    def get(self, user_id: int) -> User | None:
        row = self._conn.execute(sa.select(users).where(users.c.id == user_id)).mappings().first()
        return _user(row) if row else None

    def by_email(self, email: str) -> User | None:
        row = self._conn.execute(sa.select(users).where(users.c.email == email)).mappings().first()
        return _user(row) if row else None

    def all(self) -> list[User]:
        rows = self._conn.execute(sa.select(users).order_by(users.c.id)).mappings().all()
        return [_user(row) for row in rows]

    def count_admins(self) -> int:
        query = sa.select(sa.func.count()).select_from(users).where(
            users.c.role == Role.ADMIN.value, users.c.disabled.is_(False))
        return int(self._conn.execute(query).scalar_one())


class SessionRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection

    def add(self, session: Session) -> int:
        return inserted_id(self._conn.execute(sa.insert(console_sessions).values(
            user_id=session.user_id, token_hash=session.token_hash, csrf_token=session.csrf_token,
            created_at=session.created_at, expires_at=session.expires_at,
        )))

    def by_hash(self, token_hash: str) -> Session | None:
        row = self._conn.execute(
            sa.select(console_sessions).where(console_sessions.c.token_hash == token_hash)
        ).mappings().first()
        if row is None:
            return None
        return Session(id=row["id"], user_id=row["user_id"], token_hash=row["token_hash"],
                       csrf_token=row["csrf_token"], created_at=row["created_at"],
                       expires_at=row["expires_at"])

    def remove(self, token_hash: str) -> None:
        self._conn.execute(sa.delete(console_sessions).where(console_sessions.c.token_hash == token_hash))

    def remove_for_user(self, user_id: int) -> None:
        self._conn.execute(sa.delete(console_sessions).where(console_sessions.c.user_id == user_id))

    def remove_expired(self, now: datetime) -> None:
        self._conn.execute(sa.delete(console_sessions).where(console_sessions.c.expires_at <= now))


class FailureRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection

    def get(self, subject: str) -> FailureRecord | None:
        row = self._conn.execute(
            sa.select(sign_in_failures).where(sign_in_failures.c.subject == subject)
        ).mappings().first()
        if row is None:
            return None
        return FailureRecord(subject=row["subject"], failures=row["failures"],
                             locked_until=row["locked_until"])

    def put(self, record: FailureRecord) -> None:
        updated = self._conn.execute(
            sa.update(sign_in_failures).where(sign_in_failures.c.subject == record.subject)
            .values(failures=record.failures, locked_until=record.locked_until)
        ).rowcount
        if not updated:
            self._conn.execute(sa.insert(sign_in_failures).values(
                subject=record.subject, failures=record.failures, locked_until=record.locked_until))

    def clear(self, subject: str) -> None:
        self._conn.execute(sa.delete(sign_in_failures).where(sign_in_failures.c.subject == subject))


def _user(row: sa.RowMapping) -> User:
    return User(id=row["id"], email=row["email"], password_hash=row["password_hash"],
                role=Role(row["role"]), disabled=row["disabled"], created_at=row["created_at"],
                sso=row["sso"])
