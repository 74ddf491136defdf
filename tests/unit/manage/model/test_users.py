"""Console users and the sign-in throttle's schedule."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flagyard.errors import Invalid
from flagyard.manage.model.sessions import MAX_LOCK, hash_token, lock_after, new_session
from flagyard.manage.model.users import Role, check_role, normalize_email


def test_email__trimmed_and_lower_cased_and_checked() -> None:
    assert normalize_email("  Ada@Example.COM ") == "ada@example.com"
    for bad in ("", "ada", "a@b@c", "a b@c.d", "x" * 250 + "@e.com"):
        with pytest.raises(Invalid):
            normalize_email(bad)


def test_role__one_of_three() -> None:
    assert check_role("editor") is Role.EDITOR
    with pytest.raises(Invalid, match="admin, editor, viewer"):
        check_role("owner")


def test_lock__free_failures_then_doubling_up_to_the_cap() -> None:
    email = [lock_after("email:a@b.c", n).total_seconds() for n in range(1, 8)]
    assert email == [0, 0, 0, 1, 2, 4, 8]
    assert lock_after("ip:10.0.0.1", 20) == timedelta(0)
    assert lock_after("ip:10.0.0.1", 21) == timedelta(seconds=1)
    assert lock_after("email:a@b.c", 10_000) == MAX_LOCK


def test_session__stores_only_a_hash_of_the_cookie_value() -> None:
    from datetime import UTC, datetime

    issued = new_session(5, datetime(2026, 1, 1, tzinfo=UTC))
    assert issued.session.token_hash == hash_token(issued.token) != issued.token
    assert issued.session.csrf_token != issued.token
    assert issued.session.expires_at - issued.session.created_at == timedelta(hours=12)
