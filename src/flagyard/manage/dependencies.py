"""Checks on parentDependencies: parents exist in the project, name real variants, no cycles."""

from __future__ import annotations

from collections.abc import Mapping

from flagyard.errors import Invalid
from flagyard.manage.model.flags import Flag, parent_ids
from flagyard.manage.model.groups import check_member, check_one_group_per_kind
from flagyard.manage.ports import UnitOfWork


def check_parent_dependencies(uow: UnitOfWork, flag: Flag, known: Mapping[int, Flag] | None = None) -> None:
    """`known`: flags of the project as this unit of work has saved them, read instead of the
    database (a project import checks thousands of flags); groups are always read, for their
    members."""
    deps = flag.parent_dependencies or {}
    groups: dict[int, Flag] = {}
    for raw_id, allowed in (deps.get("flags") or {}).items():
        where = f"parentDependencies.flags.{raw_id}"
        parent_id = int(raw_id)
        if parent_id == flag.id:
            raise Invalid(f"{where}: a flag cannot depend on itself", code="dependency_cycle")
        parent = _flag(uow, parent_id, known)
        if parent is None or parent.project_id != flag.project_id:
            raise Invalid(f"{where} names no flag or experiment in this project",
                          code="unknown_parent")
        unknown = [key for key in allowed if key not in parent.variant_keys]
        if unknown:
            raise Invalid(f"{where} names variants the parent does not have: {', '.join(unknown)}",
                          code="unknown_variant")
        if parent.kind.is_group:
            check_member(parent, flag, allowed, where)
            groups[parent_id] = parent
    check_one_group_per_kind(groups)
    _check_no_cycle(uow, flag, known)


def _flag(uow: UnitOfWork, flag_id: int, known: Mapping[int, Flag] | None) -> Flag | None:
    found = known.get(flag_id) if known is not None else None
    return found if found is not None and not found.kind.is_group else uow.flags.get(flag_id)


def _check_no_cycle(uow: UnitOfWork, flag: Flag, known: Mapping[int, Flag] | None) -> None:
    # Walk up from the new parents; meeting the flag itself again means a cycle.
    seen: set[int] = set()
    frontier = parent_ids(flag)
    while frontier:
        current = frontier.pop()
        if current == flag.id and flag.id:
            raise Invalid("parentDependencies would create a dependency cycle", code="dependency_cycle")
        if current in seen:
            continue
        seen.add(current)
        parent = _flag(uow, current, known)
        if parent is not None:
            frontier.extend(parent_ids(parent))
