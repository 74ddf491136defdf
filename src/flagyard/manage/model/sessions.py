"""Console sessions and the sign-in throttle. Pure rules; the tokens live in the store hashed."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

SESSION_LIFETIME = timedelta(hours=12)
# Failures allowed before any wait; then each further failure doubles the wait, up to the cap.
# An address gets more: many people may sign in from behind one NAT or proxy.
FREE_FAILURES_PER_EMAIL = 3
FREE_FAILURES_PER_IP = 20
FIRST_LOCK = timedelta(seconds=1)
MAX_LOCK = timedelta(minutes=15)


@dataclass(frozen=True)
class Session:
    user_id: int
    token_hash: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    id: int = 0


@dataclass(frozen=True)
class IssuedSession:
    session: Session
    token: str  # the cookie value, never stored


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # 256 random bits: a fast hash keeps a leaked table useless without slowing every request.
    return hashlib.sha256(token.encode()).hexdigest()


def new_session(user_id: int, now: datetime) -> IssuedSession:
    token = new_token()
    return IssuedSession(
        Session(user_id=user_id, token_hash=hash_token(token), csrf_token=new_token(),
                created_at=now, expires_at=now + SESSION_LIFETIME),
        token,
    )


@dataclass
class FailureRecord:
    """Failed sign-ins for one subject (`email:<address>` or `ip:<address>`)."""

    subject: str
    failures: int
    locked_until: datetime | None


def lock_after(subject: str, failures: int) -> timedelta:
    """How long a subject waits after its `failures`-th failure since its last success."""
    free = FREE_FAILURES_PER_IP if subject.startswith("ip:") else FREE_FAILURES_PER_EMAIL
    if failures <= free:
        return timedelta(0)
    return min(FIRST_LOCK * 2 ** min(failures - free - 1, 20), MAX_LOCK)
