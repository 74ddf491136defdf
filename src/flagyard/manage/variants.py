"""Variants of a flag or experiment, and their user and cohort inclusions."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from flagyard.clock import Clock, utc_now
from flagyard.errors import Invalid, NotFound
from flagyard.manage.approvals import refuse_unreviewable
from flagyard.manage.changes import load_flag, load_for_write, record_change
from flagyard.manage.model import rules
from flagyard.manage.model.access import Principal
from flagyard.manage.model.flags import Kind, Variant
from flagyard.manage.ports import IdList, UnitOfWork, UnitOfWorkFactory

ListName = Literal["users", "cohorts"]


class VariantService:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._uow = uow_factory
        self._clock = clock

    # --- variants -------------------------------------------------------------------------

    def variants(self, principal: Principal, kind: Kind, flag_id: int) -> list[Variant]:
        with self._uow() as uow:
            return load_flag(uow, principal, kind, flag_id).variants

    def get(self, principal: Principal, kind: Kind, flag_id: int, key: str) -> Variant:
        with self._uow() as uow:
            return load_flag(uow, principal, kind, flag_id).variant(key)

    def create(self, principal: Principal, kind: Kind, flag_id: int, fields: Mapping[str, Any]) -> None:
        now = self._clock()
        with self._uow(write=True) as uow:
            flag = load_for_write(uow, principal, kind, flag_id)
            flag.add_variant(Variant.from_fields(fields))
            record_change(uow, flag, principal, now)

    def edit(self, principal: Principal, kind: Kind, flag_id: int, key: str,
             changes: Mapping[str, Any]) -> None:
        now = self._clock()
        with self._uow(write=True) as uow:
            flag = load_for_write(uow, principal, kind, flag_id)
            flag.edit_variant(key, changes)
            record_change(uow, flag, principal, now)

    def remove(self, principal: Principal, kind: Kind, flag_id: int, key: str) -> None:
        now = self._clock()
        with self._uow(write=True) as uow:
            flag = load_for_write(uow, principal, kind, flag_id)
            flag.remove_variant(key)
            record_change(uow, flag, principal, now)

    # --- inclusions -----------------------------------------------------------------------

    def inclusions(self, principal: Principal, kind: Kind, flag_id: int, key: str,
                   which: ListName) -> list[str]:
        with self._uow() as uow:
            variant = load_flag(uow, principal, kind, flag_id).variant(key)
            return _ids(uow, which).ordered(variant.id)

    def include(self, principal: Principal, kind: Kind, flag_id: int, key: str,
                which: ListName, values: Sequence[str]) -> None:
        self._change_list(principal, kind, flag_id, key,
                          lambda ids, variant_id: ids.add(variant_id, values), which)

    def remove_at(self, principal: Principal, kind: Kind, flag_id: int, key: str, index: int) -> None:
        def remove(ids: IdList, variant_id: int) -> int:
            if not ids.remove_at(variant_id, index):
                raise NotFound(f"no user at index {index} of variant '{key}'", code="user_not_found")
            return 1

        self._change_list(principal, kind, flag_id, key, remove)

    def clear(self, principal: Principal, kind: Kind, flag_id: int, key: str) -> None:
        self._change_list(principal, kind, flag_id, key, lambda ids, variant_id: ids.clear(variant_id))

    def bulk_remove(self, principal: Principal, kind: Kind, flag_id: int, key: str,
                    which: ListName, values: Sequence[str]) -> None:
        rules.check_bulk_size(list(values), "users")

        def remove(ids: IdList, variant_id: int) -> int:
            removed = ids.remove(variant_id, values)
            if removed == 0:
                noun = "users" if which == "users" else "cohorts"
                raise Invalid(f"There are no {noun} for this key: none of the given ids is included",
                              code=f"no_such_{noun}")
            return removed

        self._change_list(principal, kind, flag_id, key, remove, which)

    def _change_list(self, principal: Principal, kind: Kind, flag_id: int, key: str,
                     change: Callable[[IdList, int], int], which: ListName = "users") -> None:
        """Apply `change` (it returns how many ids it added or removed) to one list; a change
        that changed nothing (only duplicates, an empty list cleared) leaves no version."""
        now = self._clock()
        with self._uow(write=True) as uow:
            flag = load_for_write(uow, principal, kind, flag_id)
            variant = flag.variant(key)
            refuse_unreviewable(uow, principal, flag)
            if change(_ids(uow, which), variant.id):
                record_change(uow, flag, principal, now)


def _ids(uow: UnitOfWork, which: ListName) -> IdList:
    return uow.inclusions.users if which == "users" else uow.inclusions.cohorts
