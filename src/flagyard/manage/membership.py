"""Group membership, written where it lives: in the members' parentDependencies.

Every change of membership, made through the group or through the experiment, appends a
version to both sides in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flagyard.errors import Invalid
from flagyard.manage.changes import append_version
from flagyard.manage.model.access import Principal
from flagyard.manage.model.flags import Flag, Kind
from flagyard.manage.model.groups import check_member
from flagyard.manage.ports import UnitOfWork


def parents_of(flag: Flag) -> dict[int, tuple[str, ...]]:
    deps = flag.parent_dependencies or {}
    return {int(pid): tuple(allowed) for pid, allowed in (deps.get("flags") or {}).items()}


def changed_parents(before: dict[int, tuple[str, ...]], after: dict[int, tuple[str, ...]]) -> set[int]:
    return {pid for pid in before.keys() | after.keys() if before.get(pid) != after.get(pid)}


def version_groups(uow: UnitOfWork, principal: Principal, now: datetime, ids: Iterable[int]) -> None:
    """Append a version to each group among `ids`: its member list changed."""
    for group in uow.flags.get_many(set(ids)):
        if group.kind.is_group:
            append_version(uow, group, principal, now)


def join(uow: UnitOfWork, principal: Principal, now: datetime, group: Flag, member_id: int,
         allowed: list[str], where: str) -> None:
    """Make `member_id` depend on `group` with `allowed`; 400 naming `where` if it may not."""
    member = uow.flags.get(member_id, for_update=True)
    kinds = (Kind.EXPERIMENT,) if group.kind is Kind.HOLDOUT else (Kind.EXPERIMENT, Kind.HOLDOUT)
    if member is None or member.project_id != group.project_id or member.kind not in kinds:
        what = " or ".join(kind.value for kind in kinds)
        raise Invalid(f"{where}: {member_id} names no {what} in this project", code="unknown_member")
    if member.deleted:
        raise Invalid(f"{where}: {member.kind.value} {member_id} is archived", code="archived")
    parents = parents_of(member)
    if parents.get(group.id) == tuple(allowed):
        return
    if group.id in parents:
        raise Invalid(f"{where}: {member.kind.value} {member_id} is already in "
                      f"{', '.join(parents[group.id])} of this mutex; remove it there first",
                      code="already_member")
    check_member(group, member, allowed, where)
    for other in uow.flags.get_many([pid for pid in parents if pid != group.id]):
        if other.kind is group.kind:
            raise Invalid(f"{where}: {member.kind.value} {member_id} is already in "
                          f"{other.kind.value} {other.id}; a flag can be in one only",
                          code="already_member")
    deps = member.parent_dependencies or {"flags": {}, "operator": "all"}
    member.parent_dependencies = {**deps, "flags": {**deps["flags"], str(group.id): list(allowed)}}
    append_version(uow, member, principal, now)


def leave(uow: UnitOfWork, principal: Principal, now: datetime, group: Flag, member_id: int) -> None:
    member = uow.flags.get(member_id, for_update=True)
    if member is None or str(group.id) not in (member.parent_dependencies or {}).get("flags", {}):
        return
    deps = member.parent_dependencies or {}
    rest = {pid: allowed for pid, allowed in deps["flags"].items() if pid != str(group.id)}
    member.parent_dependencies = {**deps, "flags": rest} if rest else None
    append_version(uow, member, principal, now)
