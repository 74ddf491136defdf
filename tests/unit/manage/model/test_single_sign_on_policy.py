"""Single sign-on's rules: whose email may sign in, and which role a provider's groups give."""

from __future__ import annotations

from typing import Any

import pytest

from flagyard.errors import Forbidden, Invalid, Unauthenticated
from flagyard.manage.model.single_sign_on import groups_in, parse_policy
from flagyard.manage.model.users import Role

MAP = "flagyard-admins=admin,flagyard-editors=editor,readers=viewer"


def policy(domains: str = "", claim: str = "groups", role_map: str = MAP, default: str = "viewer") -> Any:
    return parse_policy(domains, claim, role_map, default)


def claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "1", "email": "Ada@Company.com", "email_verified": True, **extra}


# --- the email --------------------------------------------------------------------------------


def test_email__verified_and_in_an_allowed_domain__is_lower_cased() -> None:
    assert policy("company.com, @Other.org").verified_email(claims()) == "ada@company.com"


def test_email__any_domain_when_none_are_listed() -> None:
    assert policy("").verified_email(claims(email="x@anywhere.example")) == "x@anywhere.example"


def test_email__a_domain_not_listed__is_refused_naming_it() -> None:
    with pytest.raises(Forbidden, match="email addresses at evil.com may not sign in") as refused:
        policy("company.com").verified_email(claims(email="ada@evil.com"))
    assert refused.value.code == "sso_domain_not_allowed"


def test_email__a_subdomain_is_another_domain() -> None:
    with pytest.raises(Forbidden):
        policy("company.com").verified_email(claims(email="ada@eu.company.com"))
    with pytest.raises(Forbidden):  # nor does a look-alike suffix pass
        policy("company.com").verified_email(claims(email="ada@evilcompany.com"))


@pytest.mark.parametrize("verified", [False, None, "false", 1, "yes"])
def test_email__not_verified__is_refused(verified: Any) -> None:
    with pytest.raises(Forbidden, match="has not verified the email address ada@company.com") as refused:
        policy().verified_email(claims(email_verified=verified))
    assert refused.value.code == "sso_email_unverified"


def test_email__verified_as_the_string_true__passes() -> None:
    assert policy().verified_email(claims(email_verified="True")) == "ada@company.com"


def test_email__missing__is_refused() -> None:
    with pytest.raises(Unauthenticated, match="sent no email address") as refused:
        policy().verified_email({"sub": "1", "email_verified": True})
    assert refused.value.code == "sso_no_email"
    with pytest.raises(Invalid):
        policy().verified_email(claims(email="not an address"))


# --- the role ---------------------------------------------------------------------------------


def test_role__the_mapped_group() -> None:
    assert policy().role_of(claims(groups=["staff", "flagyard-editors"])) is Role.EDITOR


def test_role__several_mapped_groups_give_the_highest_whatever_their_order() -> None:
    assert policy().role_of(claims(groups=["readers", "flagyard-admins", "flagyard-editors"])) is Role.ADMIN
    assert policy("", "groups", "readers=viewer,eds=editor").role_of(claims(groups=["eds", "readers"])) is Role.EDITOR


def test_role__no_mapped_group__the_default() -> None:
    assert policy().role_of(claims(groups=["staff"])) is Role.VIEWER
    assert policy(default="editor").role_of(claims()) is Role.EDITOR


def test_role__default_none__refuses_people_in_no_mapped_group() -> None:
    with pytest.raises(Forbidden, match="no group that has a role") as refused:
        policy(default="none").role_of(claims(groups=["staff"]))
    assert refused.value.code == "sso_no_role"
    assert policy(default="none").role_of(claims(groups=["flagyard-editors"])) is Role.EDITOR


def test_role__group_names_match_exactly() -> None:
    assert policy().role_of(claims(groups=["Flagyard-Admins", "flagyard-admins "])) is Role.VIEWER


def test_role__a_single_string_claim_and_a_nested_claim() -> None:
    assert policy(claim="role").role_of(claims(role="flagyard-admins")) is Role.ADMIN
    keycloak = claims(realm_access={"roles": ["offline_access", "flagyard-editors"]})
    assert policy(claim="realm_access.roles").role_of(keycloak) is Role.EDITOR


def test_role__without_a_role_claim_roles_stay_in_flagyard() -> None:
    unmanaged = policy(claim="", role_map="")
    assert not unmanaged.roles_follow_provider and policy().roles_follow_provider
    assert unmanaged.role_of(claims(groups=["flagyard-admins"])) is Role.VIEWER


def test_groups_in__ignores_what_is_not_a_string() -> None:
    assert groups_in({"groups": ["a", 1, None, {"b": 2}, "c"]}, "groups") == ["a", "c"]
    assert groups_in({"groups": {"a": 1}}, "groups") == []
    assert groups_in({}, "a.b") == []


# --- the settings -----------------------------------------------------------------------------


def test_parse__role_map_keeps_order_and_allows_equals_signs_in_group_names() -> None:
    parsed = parse_policy("", "groups", " team=core = admin , eds=EDITOR,", "viewer")
    assert parsed.role_map == (("team=core", Role.ADMIN), ("eds", Role.EDITOR))


@pytest.mark.parametrize("role_map, message", [
    ("flagyard-admins", "'flagyard-admins' is not group=role"),
    ("=admin", "'=admin' is not group=role"),
    ("admins=owner", "the role of 'admins' must be one of admin, editor, viewer"),
])
def test_parse__a_bad_role_map_names_the_setting(role_map: str, message: str) -> None:
    with pytest.raises(Invalid, match=f"FLAGYARD_OIDC_ROLE_MAP: {message}"):
        parse_policy("", "groups", role_map, "viewer")


def test_parse__default_role() -> None:
    assert parse_policy("", "", "", " None ").default_role is None
    assert parse_policy("", "", "", "Admin").default_role is Role.ADMIN
    with pytest.raises(Invalid, match="FLAGYARD_OIDC_DEFAULT_ROLE must be one of"):
        parse_policy("", "", "", "guest")
