"""Restore: append a new version whose configuration equals an older one's."""

from __future__ import annotations

from flagyard.clock import Clock, utc_now
from flagyard.errors import NotFound
from flagyard.manage.changes import load_for_write, record_change
from flagyard.manage.dependencies import check_parent_dependencies
from flagyard.manage.linking import check_linkable_deployments
from flagyard.manage.model.access import Principal
from flagyard.manage.model.flags import Kind
from flagyard.manage.model.restore import restore
from flagyard.manage.model.versions import Version
from flagyard.manage.ports import UnitOfWorkFactory


class RestoreService:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._uow = uow_factory
        self._clock = clock

    def restore(self, principal: Principal, kind: Kind, flag_id: int, number: int) -> Version:
        """The new version. Refused (and nothing written) when the old configuration no longer
        fits: a deployment since archived, a parent flag since gone, the flag archived."""
        now = self._clock()
        with self._uow(write=True) as uow:
            flag = load_for_write(uow, principal, kind, flag_id)
            old = uow.versions.get(flag_id, number)
            if old is None:
                raise NotFound(f"version {number} of {kind.value} {flag_id} not found",
                               code="version_not_found")
            restore(flag, old.flag_config)
            check_linkable_deployments(uow, flag.project_id, flag.deployments, "deployments")
            if flag.parent_dependencies is not None:
                check_parent_dependencies(uow, flag)
            record_change(uow, flag, principal, now)
        with self._uow() as uow:
            restored = uow.versions.get(flag_id, flag.version)
        assert restored is not None
        return restored
