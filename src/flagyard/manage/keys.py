"""Management keys and projects: created from the CLI, checked on every management request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flagyard.clock import Clock, utc_now
from flagyard.errors import Invalid, NotFound, Unauthenticated
from flagyard.manage.audit import record
from flagyard.manage.model.access import (
    OPERATOR,
    ManagementKey,
    Principal,
    generate_key,
    hash_key,
    same_hash,
)
from flagyard.manage.model.projects import Project, new_project
from flagyard.manage.ports import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True)
class IssuedKey:
    key: ManagementKey
    secret: str  # shown once, never stored


# Keys remembered by one process: far above the keys a deployment has in use.
MAX_REMEMBERED = 10_000


def revoked_key() -> Unauthenticated:
    return Unauthenticated("API key has been revoked", code="revoked_key")


def confirm_unrevoked(uow: UnitOfWork, principal: Principal, flag_id: int | None = None) -> None:
    """Raise `revoked_key()` if the principal's key has been revoked, read in `uow`'s
    transaction: a write by a remembered key confirms it where it writes. The read of flag
    `flag_id` for update answered it already, if it ran."""
    read = uow.flags.read_for_update(flag_id) if flag_id is not None else None
    if read is not None and read.key_id == principal.key_id:
        unrevoked = read.key_unrevoked
    else:
        unrevoked = uow.keys.unrevoked(principal.key_id)
    if not unrevoked:
        raise revoked_key()


class KeyService:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._uow = uow_factory
        self._clock = clock
        # The principals of keys this process authenticated, by hash. A key never changes but
        # for its revocation, so only a read that confirms the key is unrevoked may use one
        # (the list: `RenderedFlags.answer(..., confirm_key=True)`).
        self._remembered: dict[str, Principal] = {}

    def create_project(self, name: str, actor: str = OPERATOR.name) -> Project:
        project = new_project(name, self._clock())
        with self._uow(write=True) as uow:
            uow.projects.add(project)
            record(uow, actor, "project.created", "project", project.id, project.id, project.created_at,
                   None, {"name": project.name})
            uow.commit()
        return project

    def projects(self) -> list[Project]:
        with self._uow() as uow:
            return uow.projects.all()

    def create(self, name: str, project_ids: Sequence[int] = (), read_only: bool = False,
               actor: str = OPERATOR.name, bypass_approvals: bool = False) -> IssuedKey:
        """A new key; `actor` is who asked (the CLI's operator, or a console admin).
        `bypass_approvals`: its writes skip change requests (automation with its own review)."""
        name = name.strip()
        if not name:
            raise Invalid("name must not be empty", code="invalid_name")
        secret = generate_key()
        key = ManagementKey(
            name=name,
            key_hash=hash_key(secret),
            hint=secret[:8],
            read_only=read_only,
            created_at=self._clock(),
            project_ids=sorted(set(project_ids)),
            bypass_approvals=bypass_approvals,
        )
        with self._uow(write=True) as uow:
            for project_id in key.project_ids:
                if uow.projects.get(project_id) is None:
                    raise NotFound(f"project {project_id} not found", code="project_not_found")
            uow.keys.add(key)
            record(uow, actor, "key.created", "key", key.id, None, key.created_at, None,
                   {"name": key.name, "hint": key.hint, "readOnly": key.read_only, "projectIds": key.project_ids,
                    "bypassApprovals": key.bypass_approvals})
            uow.commit()
        return IssuedKey(key, secret)

    def all_keys(self) -> list[ManagementKey]:
        with self._uow() as uow:
            return uow.keys.all()

    def revoke(self, key_or_id: str, actor: str = OPERATOR.name) -> ManagementKey:
        with self._uow(write=True) as uow:
            key = uow.keys.by_hash(hash_key(key_or_id))
            if key is None and key_or_id.isdigit():
                key = uow.keys.get(int(key_or_id))
            if key is None:
                raise NotFound("no such key", code="key_not_found")
            if key.revoked_at is None:
                self._remembered.clear()
                key.revoked_at = self._clock()
                uow.keys.revoke(key.id, key.revoked_at)
                record(uow, actor, "key.revoked", "key", key.id, None, key.revoked_at,
                       {"name": key.name, "revoked": False}, {"name": key.name, "revoked": True})
                uow.commit()
        return key

    def authenticate(self, secret: str) -> Principal:
        digest = hash_key(secret)
        with self._uow(transaction=False) as uow:  # one statement
            key = uow.keys.by_hash(digest)
        if key is None or not same_hash(key.key_hash, digest):
            raise Unauthenticated("Invalid API key", code="invalid_key")
        if key.revoked_at is not None:
            raise revoked_key()
        principal = Principal(
            key_id=key.id,
            name=key.name,
            project_ids=frozenset(key.project_ids) if key.project_ids else None,
            read_only=key.read_only,
            bypasses_approval=key.bypass_approvals,
        )
        if len(self._remembered) >= MAX_REMEMBERED:
            self._remembered.clear()
        self._remembered[digest] = principal
        return principal

    def remembered(self, secret: str) -> Principal | None:
        """The principal `authenticate` gave for this key, unconfirmed: it may have been
        revoked since, by any process."""
        return self._remembered.get(hash_key(secret))

    def forget(self, secret: str) -> None:
        self._remembered.pop(hash_key(secret), None)
