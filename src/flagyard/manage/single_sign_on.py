"""Single sign-on: a person the identity provider vouches for becomes a console user with a
session. The console's OpenID Connect client (api/console/oidc_client.py) validates the ID
token; this use case only reads its claims, so it knows nothing of HTTP or tokens."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher

from flagyard.clock import Clock, utc_now
from flagyard.errors import Forbidden, Invalid, Unauthenticated
from flagyard.manage.audit import record as audit
from flagyard.manage.model.sessions import IssuedSession, new_session
from flagyard.manage.model.single_sign_on import Claims, SsoPolicy
from flagyard.manage.model.users import MAX_EMAIL_LENGTH, Role, User
from flagyard.manage.ports import UnitOfWork, UnitOfWorkFactory
from flagyard.manage.users import password_hasher

METHOD = {"method": "sso"}  # how the audit log tells these sign-ins from password ones


class SingleSignOnService:
    def __init__(self, uow_factory: UnitOfWorkFactory, policy: SsoPolicy, clock: Clock = utc_now,
                 hasher: PasswordHasher | None = None) -> None:
        self._uow = uow_factory
        self._policy = policy
        self._clock = clock
        self._hasher = hasher or password_hasher()

    def sign_in(self, claims: Claims) -> tuple[User, IssuedSession]:
        """The user the claims name, created on the first sign-in and given the provider's role
        on every one, with a new session. A refusal changes nothing but the audit log."""
        try:
            return self._sign_in(claims)
        except (Unauthenticated, Forbidden, Invalid) as refusal:
            self._record_refusal(claims, refusal.message)
            raise

    def _sign_in(self, claims: Claims) -> tuple[User, IssuedSession]:
        email = self._policy.verified_email(claims)
        role = self._policy.role_of(claims)
        now = self._clock()
        with self._uow(write=True) as uow:
            user = uow.users.by_email(email)
            if user is None:
                user = User(email=email, password_hash=self._unusable_password(), role=role,
                            created_at=now, sso=True)
                uow.users.add(user)
                audit(uow, email, "user.created", "user", email, None, now, None,
                      {"role": role.value, **METHOD})
            else:
                self._update(uow, user, role)
            issued = new_session(user.id, now)
            uow.sessions.remove_expired(now)
            uow.sessions.add(issued.session)
            audit(uow, email, "user.signed_in", "user", email, None, now, None, METHOD)
            uow.commit()
        return user, issued

    def _update(self, uow: UnitOfWork, user: User, role: Role) -> None:
        if user.disabled:
            raise Unauthenticated("this account is disabled; ask an admin", code="user_disabled")
        if self._policy.roles_follow_provider and role is not user.role:
            if user.role is Role.ADMIN and uow.users.count_admins() <= 1:
                raise Forbidden(
                    f"the identity provider gives you the role {role.value}, but you are the last "
                    "active admin; make another admin first", code="last_admin")
            audit(uow, user.email, "user.role_changed", "user", user.email, None, self._clock(),
                  {"role": user.role.value}, {"role": role.value})
            user.role = role
        user.sso = True
        uow.users.save(user)

    def _record_refusal(self, claims: Claims, reason: str) -> None:
        who = str(claims.get("email") or claims.get("sub") or "unknown")[:MAX_EMAIL_LENGTH]
        with self._uow(write=True) as uow:
            audit(uow, who, "user.sign_in_failed", "user", who, None, self._clock(), None,
                  {"reason": reason, **METHOD})
            uow.commit()

    def _unusable_password(self) -> str:
        # A hash of a secret nobody keeps: password sign-in fails for this user as slowly as
        # for any wrong password, so the sign-in form does not tell who uses single sign-on.
        return self._hasher.hash(secrets.token_urlsafe(32))
