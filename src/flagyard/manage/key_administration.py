"""Management keys as the console manages them: admins only."""

from __future__ import annotations

from collections.abc import Sequence

from flagyard.manage.keys import IssuedKey, KeyService
from flagyard.manage.model.access import ManagementKey
from flagyard.manage.model.projects import Project
from flagyard.manage.model.users import User


class KeyAdministration:
    def __init__(self, keys: KeyService) -> None:
        self._keys = keys

    def projects(self) -> list[Project]:
        """Every project; names are not secret to anyone signed in."""
        return self._keys.projects()

    def all(self, actor: User) -> list[ManagementKey]:
        actor.require_admin()
        return self._keys.all_keys()

    def create(self, actor: User, name: str, project_ids: Sequence[int], read_only: bool,
               bypass_approvals: bool = False) -> IssuedKey:
        actor.require_admin()
        return self._keys.create(name, project_ids, read_only, actor=actor.email, bypass_approvals=bypass_approvals)

    def revoke(self, actor: User, key_id: int) -> ManagementKey:
        actor.require_admin()
        return self._keys.revoke(str(key_id), actor=actor.email)
