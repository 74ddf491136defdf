"""People who sign in to the console: an email, a password hash (or single sign-on) and a role."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from flagyard.errors import Forbidden, Invalid
from flagyard.manage.model.access import Principal

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
MAX_EMAIL_LENGTH = 254
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1000


class Role(StrEnum):
    ADMIN = "admin"  # everything, users and keys included
    EDITOR = "editor"  # flags, experiments, deployments
    VIEWER = "viewer"  # read only


@dataclass
class User:
    email: str
    password_hash: str
    role: Role
    created_at: datetime
    id: int = 0
    disabled: bool = False
    # Signs in through the identity provider (single sign-on), whose groups set the role.
    sso: bool = False

    @property
    def can_write(self) -> bool:
        return self.role is not Role.VIEWER

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def principal(self) -> Principal:
        """The user as the services see any caller: versions record the email as the author."""
        return Principal(key_id=0, name=self.email, project_ids=None,
                         read_only=not self.can_write)

    def require_write(self) -> None:
        if not self.can_write:
            raise Forbidden("a viewer may look but not change anything", code="viewer_read_only")

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("only an admin may manage users and keys", code="admin_only")


def normalize_email(raw: str) -> str:
    email = raw.strip().lower()
    if not email:
        raise Invalid("email must not be empty", code="invalid_email")
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(email):
        raise Invalid("email must be an address such as name@example.com", code="invalid_email")
    return email


def check_role(raw: str) -> Role:
    try:
        return Role(raw)
    except ValueError:
        raise Invalid("role must be one of admin, editor, viewer", code="invalid_role") from None


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"password must be at least {MIN_PASSWORD_LENGTH} characters",
                      code="weak_password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Invalid(f"password must be at most {MAX_PASSWORD_LENGTH} characters",
                      code="invalid_password")
