"""Console users: create and manage them, sign in and out, and the sessions in between."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from flagyard.clock import Clock, utc_now
from flagyard.errors import AlreadyExists, Invalid, NotFound, RateLimited, Unauthenticated
from flagyard.manage.audit import record as audit
from flagyard.manage.model.access import OPERATOR
from flagyard.manage.model.sessions import (
    FailureRecord,
    IssuedSession,
    Session,
    hash_token,
    lock_after,
    new_session,
)
from flagyard.manage.model.users import Role, User, check_password, check_role, normalize_email
from flagyard.manage.ports import UnitOfWork, UnitOfWorkFactory

WRONG_CREDENTIALS = "email or password is wrong"


def password_hasher() -> PasswordHasher:
    """argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): about 0.05 s a
    check on one idle core, cheap for the server and costly for a guesser."""
    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


@dataclass(frozen=True)
class SignedIn:
    user: User
    session: Session


class UsersService:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock = utc_now,
                 hasher: PasswordHasher | None = None) -> None:
        self._uow = uow_factory
        self._clock = clock
        self._hasher = hasher or password_hasher()
        # Checked when the email is unknown, so a miss takes as long as a wrong password.
        self._decoy = self._hasher.hash("decoy password, never valid")

    # --- administration (the CLI acts as an admin; the console passes the signed-in user) ---

    def create(self, actor: User | None, email: str, role: str, password: str) -> User:
        _require_admin(actor)
        check_password(password)
        user = User(email=normalize_email(email), password_hash=self._hasher.hash(password),
                    role=check_role(role), created_at=self._clock())
        with self._uow(write=True) as uow:
            if uow.users.by_email(user.email) is not None:
                raise AlreadyExists(f"a user with email {user.email} already exists", code="user_exists")
            uow.users.add(user)
            audit(uow, _actor(actor), "user.created", "user", user.email, None, user.created_at, None,
                  {"role": user.role.value})
            uow.commit()
        return user

    def all(self, actor: User | None) -> list[User]:
        _require_admin(actor)
        with self._uow() as uow:
            return uow.users.all()

    def any_user(self) -> bool:
        with self._uow() as uow:
            return bool(uow.users.all())

    def set_role(self, actor: User | None, email: str, role: str) -> User:
        _require_admin(actor)
        new_role = check_role(role)
        with self._uow(write=True) as uow:
            user = _by_email(uow, email)
            if user.role is Role.ADMIN and new_role is not Role.ADMIN and not user.disabled:
                _keep_an_admin(uow)
            before = {"role": user.role.value}
            user.role = new_role
            uow.users.save(user)
            audit(uow, _actor(actor), "user.role_changed", "user", user.email, None, self._clock(), before,
                  {"role": user.role.value})
            uow.commit()
        return user

    def set_disabled(self, actor: User | None, email: str, disabled: bool) -> User:
        _require_admin(actor)
        with self._uow(write=True) as uow:
            user = _by_email(uow, email)
            if disabled and user.role is Role.ADMIN and not user.disabled:
                _keep_an_admin(uow)
            before = {"disabled": user.disabled}
            user.disabled = disabled
            uow.users.save(user)
            if disabled:
                uow.sessions.remove_for_user(user.id)  # signed out everywhere, at once
            audit(uow, _actor(actor), "user.disabled" if disabled else "user.enabled", "user", user.email, None,
                  self._clock(), before, {"disabled": user.disabled})
            uow.commit()
        return user

    # --- signing in and out -----------------------------------------------------------------

    def sign_in(self, email: str, password: str, client_ip: str) -> tuple[User, IssuedSession]:
        """A new session, or Unauthenticated; RateLimited while the email or the address
        is locked out after repeated failures (the lock is stored, so it holds across processes)."""
        now = self._clock()
        address = email.strip().lower()[:254]
        subjects = (f"email:{address}", f"ip:{client_ip}")
        with self._uow() as uow:
            self._check_unlocked(uow, subjects)
            user = uow.users.by_email(address)
        if not self._verify(user.password_hash if user else self._decoy, password) or user is None:
            self._record_failure(subjects, address, "wrong credentials")
            raise Unauthenticated(WRONG_CREDENTIALS, code="wrong_credentials")
        if user.disabled:
            self._record_failure((), address, "account disabled")
            raise Unauthenticated("this account is disabled; ask an admin", code="user_disabled")
        issued = new_session(user.id, now)
        with self._uow(write=True) as uow:
            uow.sign_in_failures.clear(subjects[0])
            uow.sessions.remove_expired(now)
            uow.sessions.add(issued.session)
            audit(uow, user.email, "user.signed_in", "user", user.email, None, now, None, {"method": "password"})
            uow.commit()
        return user, issued

    def session(self, token: str) -> SignedIn:
        """The user behind a session cookie; Unauthenticated when expired, unknown or disabled."""
        now = self._clock()
        with self._uow() as uow:
            session = uow.sessions.by_hash(hash_token(token)) if token else None
            user = uow.users.get(session.user_id) if session else None
        if session is None or user is None or session.expires_at <= now or user.disabled:
            raise Unauthenticated("sign in to continue", code="no_session")
        return SignedIn(user, session)

    def sign_out(self, token: str) -> None:
        with self._uow(write=True) as uow:
            uow.sessions.remove(hash_token(token))
            uow.commit()

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _check_unlocked(self, uow: UnitOfWork, subjects: tuple[str, ...]) -> None:
        now = self._clock()
        for subject in subjects:
            record = uow.sign_in_failures.get(subject)
            if record is not None and record.locked_until is not None and record.locked_until > now:
                wait = math.ceil((record.locked_until - now).total_seconds())
                raise RateLimited(
                    f"too many failed sign-ins; try again in {wait} second{'s' if wait != 1 else ''}",
                    retry_after=wait, code="sign_in_throttled")

    def _record_failure(self, subjects: tuple[str, ...], email: str, reason: str) -> None:
        """Count the failure toward the lock-outs, and put it on the record."""
        now = self._clock()
        with self._uow(write=True) as uow:
            audit(uow, email, "user.sign_in_failed", "user", email, None, now, None, {"reason": reason})
            for subject in subjects:
                record = uow.sign_in_failures.get(subject) or FailureRecord(subject, 0, None)
                failures = record.failures + 1
                wait = lock_after(subject, failures)
                uow.sign_in_failures.put(replace(record, failures=failures,
                                                 locked_until=now + wait if wait else None))
            uow.commit()


def _actor(actor: User | None) -> str:
    return actor.email if actor is not None else OPERATOR.name  # None: the CLI's operator


def _require_admin(actor: User | None) -> None:
    if actor is not None:
        actor.require_admin()


def _by_email(uow: UnitOfWork, email: str) -> User:
    user = uow.users.by_email(normalize_email(email))
    if user is None:
        raise NotFound(f"no user with email {email.strip()}", code="user_not_found")
    return user


def _keep_an_admin(uow: UnitOfWork) -> None:
    if uow.users.count_admins() <= 1:
        raise Invalid("this is the last active admin; make another admin first", code="last_admin")
