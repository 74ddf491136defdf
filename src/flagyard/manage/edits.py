"""A PATCH applied to a loaded flag: the steps every edit takes, whoever makes it.

`FlagService.edit` (a person, now) and `ScheduleService` (a schedule, at its time) both edit
through here, so a scheduled patch meets exactly the checks and records of a direct one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flagyard.manage.changes import append_version
from flagyard.manage.dependencies import check_parent_dependencies
from flagyard.manage.membership import changed_parents, parents_of, version_groups
from flagyard.manage.model.access import Principal
from flagyard.manage.model.flags import Flag
from flagyard.manage.ports import UnitOfWork


def apply_edit(uow: UnitOfWork, flag: Flag, changes: Mapping[str, Any]) -> set[int]:
    """`Flag.edit` and the checks that need the store; the groups whose member lists changed.
    Writes nothing."""
    parents_before = parents_of(flag)
    flag.edit(changes)
    if ("parent_dependencies" in changes or "evaluation_mode" in changes) \
            and flag.parent_dependencies is not None:
        check_parent_dependencies(uow, flag)
    return changed_parents(parents_before, parents_of(flag))


def edit_flag(uow: UnitOfWork, principal: Principal, flag: Flag, changes: Mapping[str, Any],
              now: datetime) -> None:
    """Apply the patch to the flag (loaded for update), save it and append its version; a group
    whose member list changed records it too. The caller commits."""
    changed_groups = apply_edit(uow, flag, changes)
    append_version(uow, flag, principal, now)
    version_groups(uow, principal, now, changed_groups)

