"""Management keys and what a caller holding one may do."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from flagyard.errors import Forbidden

KEY_PREFIX = "fy_"


@dataclass
class ManagementKey:
    name: str
    key_hash: str
    hint: str  # the first characters, so a person can tell keys apart in a list
    read_only: bool
    created_at: datetime
    project_ids: list[int] = field(default_factory=list)  # empty: every project
    id: int = 0
    revoked_at: datetime | None = None
    bypass_approvals: bool = False  # automation with its own review (flags as code)


@dataclass(frozen=True)
class Principal:
    """Who is calling: resolved from a management key for every request."""

    key_id: int
    name: str
    project_ids: frozenset[int] | None  # None: every project
    read_only: bool
    # Writes straight to flags on deployments that require approval (keys made with
    # --bypass-approvals, and the system's own writers); everyone else opens a change request.
    bypasses_approval: bool = False

    def can_see(self, project_id: int) -> bool:
        return self.project_ids is None or project_id in self.project_ids

    def require_project(self, project_id: int) -> None:
        if not self.can_see(project_id):
            raise Forbidden(f"this key has no access to project {project_id}",
                            code="project_forbidden")

    def require_write(self) -> None:
        if self.read_only:
            raise Forbidden("this key is read-only", code="read_only_key")


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(raw: str) -> str:
    # Keys carry 256 bits of randomness, so a plain SHA-256 is enough to keep them unusable
    # if the database leaks; a slow KDF would only cost every request.
    return hashlib.sha256(raw.encode()).hexdigest()


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


# The operator at the command line: every project, full rights.
OPERATOR = Principal(key_id=0, name="cli", project_ids=None, read_only=False, bypasses_approval=True)
