"""SingleSignOnService over a real database: the users it makes and updates, its refusals."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy.engine import Engine

from flagyard.errors import Forbidden, Unauthenticated
from flagyard.manage.audit import AuditService
from flagyard.manage.model.access import OPERATOR
from flagyard.manage.model.audit import AuditQuery
from flagyard.manage.model.single_sign_on import parse_policy
from flagyard.manage.model.users import Role
from flagyard.manage.single_sign_on import SingleSignOnService
from flagyard.manage.users import UsersService
from flagyard.store.db import make_engine
from flagyard.store.manage.unit_of_work import unit_of_work_factory
from flagyard.store.migrate import upgrade
from tests.support.server import fresh_database_url

MAP = "flagyard-admins=admin,flagyard-editors=editor"
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # tests need no real cost


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(fresh_database_url(tmp_path))
    upgrade(engine)
    yield engine
    engine.dispose()


def service(engine: Engine, claim: str = "groups", domains: str = "company.com") -> SingleSignOnService:
    return SingleSignOnService(unit_of_work_factory(engine),
                               parse_policy(domains, claim, MAP, "viewer"), hasher=CHEAP)


def users(engine: Engine) -> UsersService:
    return UsersService(unit_of_work_factory(engine), hasher=CHEAP)


def person(*groups: str, **extra: Any) -> dict[str, Any]:
    email = extra.pop("email", f"p-{uuid.uuid4().hex[:6]}@company.com")
    return {"sub": email, "email": email, "email_verified": True, "groups": list(groups), **extra}


def test_first_sign_in__makes_an_sso_user_with_the_groups_role_and_a_session(engine: Engine) -> None:
    claims = person("flagyard-editors")
    user, issued = service(engine).sign_in(claims)
    assert (user.email, user.role, user.sso) == (claims["email"], Role.EDITOR, True)
    # The session is a console session like any other
    current = users(engine).session(issued.token)
    assert current.user.id == user.id and current.session.csrf_token == issued.session.csrf_token
    # Its password is no one's: password sign-in fails as for a wrong password
    with pytest.raises(Unauthenticated, match="email or password is wrong"):
        users(engine).sign_in(claims["email"], "", "127.0.0.1")


def test_each_sign_in__sets_the_role_from_the_groups(engine: Engine) -> None:
    sso = service(engine)
    claims = person("flagyard-admins")
    sso.sign_in(person("flagyard-admins"))  # another admin, so this one may be demoted
    assert sso.sign_in(claims)[0].role is Role.ADMIN
    assert sso.sign_in({**claims, "groups": ["flagyard-editors"]})[0].role is Role.EDITOR
    assert sso.sign_in({**claims, "groups": []})[0].role is Role.VIEWER
    assert [u.role for u in users(engine).all(None) if u.email == claims["email"]] == [Role.VIEWER]


def test_without_a_role_claim__a_known_users_role_is_left_as_an_admin_set_it(engine: Engine) -> None:
    claims = person()
    sso = service(engine, claim="")
    assert sso.sign_in(claims)[0].role is Role.VIEWER
    users(engine).set_role(None, claims["email"], "editor")
    assert sso.sign_in(claims)[0].role is Role.EDITOR


def test_a_password_user__keeps_the_password_and_is_marked_sso(engine: Engine) -> None:
    email = f"pw-{uuid.uuid4().hex[:6]}@company.com"
    users(engine).create(None, email, "viewer", "a long password")
    user, _ = service(engine).sign_in(person("flagyard-editors", email=email))
    assert (user.role, user.sso) == (Role.EDITOR, True)
    assert users(engine).sign_in(email, "a long password", "127.0.0.1")[0].id == user.id


def test_the_last_admin__is_not_demoted_by_the_provider(engine: Engine) -> None:
    claims = person("flagyard-admins")
    sso = service(engine)
    sso.sign_in(claims)
    with pytest.raises(Forbidden, match="gives you the role editor, but you are the last active admin"):
        sso.sign_in({**claims, "groups": ["flagyard-editors"]})
    assert [u.role for u in users(engine).all(None)] == [Role.ADMIN]


def test_a_disabled_user__is_refused(engine: Engine) -> None:
    claims = person("flagyard-editors")
    sso = service(engine)
    sso.sign_in(claims)
    users(engine).set_disabled(None, claims["email"], True)
    with pytest.raises(Unauthenticated, match="disabled") as refused:
        sso.sign_in(claims)
    assert refused.value.code == "user_disabled"


@pytest.mark.parametrize("claims, code", [
    (person("flagyard-admins", email="eve@evil.example"), "sso_domain_not_allowed"),
    (person("flagyard-admins", email_verified=False), "sso_email_unverified"),
])
def test_refusals__make_no_user(engine: Engine, claims: dict[str, Any], code: str) -> None:
    with pytest.raises(Forbidden) as refused:
        service(engine).sign_in(claims)
    assert refused.value.code == code
    assert users(engine).all(None) == []


def test_the_audit_log__has_each_sso_sign_in_the_user_made_the_role_changed_and_refusals(
    engine: Engine,
) -> None:
    sso = service(engine)
    claims = person("flagyard-editors")
    sso.sign_in(claims)
    sso.sign_in({**claims, "groups": []})
    with pytest.raises(Forbidden):
        sso.sign_in(person(email="eve@evil.example"))
    records = AuditService(unit_of_work_factory(engine)).page(OPERATOR, AuditQuery(), None)
    assert [(r.action, r.actor, r.after) for r in reversed(records)] == [
        ("user.created", claims["email"], {"role": "editor", "method": "sso"}),
        ("user.signed_in", claims["email"], {"method": "sso"}),
        ("user.role_changed", claims["email"], {"role": "viewer"}),
        ("user.signed_in", claims["email"], {"method": "sso"}),
        ("user.sign_in_failed", "eve@evil.example",
         {"reason": "email addresses at evil.example may not sign in to this flagyard", "method": "sso"}),
    ]
