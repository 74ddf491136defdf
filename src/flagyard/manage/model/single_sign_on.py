"""Who may sign in through the identity provider, and with which role. Pure rules over the
claims of an ID token that the console has already validated (signature, issuer, audience,
expiry, nonce)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flagyard.errors import Forbidden, Invalid, Unauthenticated
from flagyard.manage.model.users import Role, normalize_email

Claims = Mapping[str, object]

# Several mapped groups give the highest of their roles.
_RANK = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2}
NO_ROLE = "none"  # as the default role: people in no mapped group may not sign in


@dataclass(frozen=True)
class SsoPolicy:
    allowed_domains: frozenset[str]  # empty: any domain
    role_claim: str  # empty: roles are managed in flagyard, not by the provider
    role_map: tuple[tuple[str, Role], ...]  # (group, role), in the order configured
    default_role: Role | None  # None: refuse people in no mapped group

    @property
    def roles_follow_provider(self) -> bool:
        return bool(self.role_claim)

    def verified_email(self, claims: Claims) -> str:
        """The person's email address, refused unless verified and in an allowed domain."""
        raw = claims.get("email")
        if not isinstance(raw, str) or not raw.strip():
            raise Unauthenticated(
                "the identity provider sent no email address; it must release the `email` claim "
                "(scope `email`)", code="sso_no_email")
        email = normalize_email(raw)
        if not _is_true(claims.get("email_verified")):
            raise Forbidden(f"the identity provider has not verified the email address {email}",
                            code="sso_email_unverified")
        domain = email.rsplit("@", 1)[1]
        if self.allowed_domains and domain not in self.allowed_domains:
            raise Forbidden(f"email addresses at {domain} may not sign in to this flagyard",
                            code="sso_domain_not_allowed")
        return email

    def role_of(self, claims: Claims) -> Role:
        """The role the provider's groups give: the highest mapped one, else the default."""
        groups = set(groups_in(claims, self.role_claim)) if self.role_claim else set()
        matched = [role for group, role in self.role_map if group in groups]
        if matched:
            return max(matched, key=_RANK.__getitem__)
        if self.default_role is None:
            raise Forbidden("your account at the identity provider is in no group that has a "
                            "role in flagyard; ask an admin to add you to one", code="sso_no_role")
        return self.default_role


def groups_in(claims: Claims, name: str) -> list[str]:
    """The claim's values: a list of strings or one string. A dotted name reaches into nested
    objects when no claim has the whole name (Keycloak's `realm_access.roles`)."""
    value: object = claims.get(name)
    if value is None and "." in name:
        value = claims
        for part in name.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, str)]
    return []


def parse_policy(allowed_domains: str, role_claim: str, role_map: str, default_role: str) -> SsoPolicy:
    """The policy from its settings' text; Invalid names the setting that is wrong."""
    domains = frozenset(d.strip().lower().lstrip("@") for d in allowed_domains.split(",") if d.strip())
    return SsoPolicy(allowed_domains=domains, role_claim=role_claim.strip(),
                     role_map=_parse_role_map(role_map), default_role=_parse_default(default_role))


def _parse_role_map(text: str) -> tuple[tuple[str, Role], ...]:
    entries: list[tuple[str, Role]] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        group, separator, role = entry.rpartition("=")  # group names may hold "="; roles never
        if not separator or not group.strip():
            raise Invalid(f"FLAGYARD_OIDC_ROLE_MAP: {entry!r} is not group=role",
                          code="invalid_setting")
        try:
            entries.append((group.strip(), Role(role.strip().lower())))
        except ValueError:
            raise Invalid(f"FLAGYARD_OIDC_ROLE_MAP: the role of {group.strip()!r} must be one of "
                          "admin, editor, viewer", code="invalid_setting") from None
    return tuple(entries)


def _parse_default(text: str) -> Role | None:
    value = text.strip().lower()
    if value == NO_ROLE:
        return None
    try:
        return Role(value)
    except ValueError:
        raise Invalid("FLAGYARD_OIDC_DEFAULT_ROLE must be one of admin, editor, viewer, none",
                      code="invalid_setting") from None


def _is_true(value: object) -> bool:
    # Some providers (Amazon Cognito) send the boolean as the string "true".
    return value is True or (isinstance(value, str) and value.lower() == "true")
