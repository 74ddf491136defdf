"""/api/1/holdouts and /api/1/mutexes: list, create, get, edit, archive; mutex slots."""


from typing import Any, cast

from fastapi import APIRouter
from pydantic import BaseModel

from flagyard.api.http.deps import PrincipalDep, ServicesDep, SettingsDep, path_id
from flagyard.api.http.pagination import envelope, page_request
from flagyard.api.schemas.groups import (
    HoldoutCreateIn,
    HoldoutPatchIn,
    MutexCreateIn,
    MutexPatchIn,
    SlotPatchIn,
)
from flagyard.api.schemas.responses import (
    MANAGEMENT_ERRORS,
    CreatedOut,
    HoldoutListOut,
    HoldoutOut,
    MutexListOut,
    MutexOut,
    documented,
)
from flagyard.errors import NotFound
from flagyard.manage.model.document import flag_document
from flagyard.manage.model.flags import Kind

_SHAPES: dict[Kind, tuple[str, type[BaseModel], type[BaseModel], type[Any], type[Any]]] = {
    Kind.HOLDOUT: ("holdouts", HoldoutOut, HoldoutListOut, HoldoutCreateIn, HoldoutPatchIn),
    Kind.MUTEX: ("mutexes", MutexOut, MutexListOut, MutexCreateIn, MutexPatchIn),
}


def group_router(kind: Kind) -> APIRouter:
    plural, item_out, list_out, create_in, patch_in = _SHAPES[kind]
    router = APIRouter(prefix=f"/api/1/{plural}", tags=[plural.title()], responses=MANAGEMENT_ERRORS)
    label = kind.label

    @router.get("", summary=f"List {plural}, newest first", **documented(list_out))
    def list_items(principal: PrincipalDep, services: ServicesDep, limit: int | None = None,
                   cursor: str | None = None, includeArchived: bool = False) -> dict[str, Any]:
        page = services.groups.page(principal, kind, includeArchived, page_request(limit, cursor))
        return envelope(plural, page, flag_document)

    @router.post("", summary=f"Create a {kind.value}", **documented(CreatedOut))
    def create(body: create_in, principal: PrincipalDep, services: ServicesDep,  # type: ignore[valid-type]
               settings: SettingsDep) -> dict[str, str]:
        group = services.groups.create(principal, kind, cast(HoldoutCreateIn, body).fields())
        return {"id": str(group.id), "url": f"{settings.base_url()}/api/1/{plural}/{group.id}"}

    @router.get("/{id}", summary=f"Get a {kind.value}", **documented(item_out))
    def get(id: str, principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
        return flag_document(services.groups.get(principal, kind, path_id(id, label)))

    @router.patch("/{id}", summary=f"Edit or archive a {kind.value}", **documented(item_out))
    def edit(id: str, body: patch_in, principal: PrincipalDep,  # type: ignore[valid-type]
             services: ServicesDep) -> dict[str, Any]:
        changes = cast(HoldoutPatchIn, body).changes()
        return flag_document(services.groups.edit(principal, kind, path_id(id, label), changes))

    if kind is Kind.MUTEX:

        @router.patch("/{id}/slots/{slotIndex}", summary="Edit a slot of a mutex",
                      **documented(MutexOut))
        def edit_slot(id: str, slotIndex: str, body: SlotPatchIn, principal: PrincipalDep,
                      services: ServicesDep) -> dict[str, Any]:
            group_id = path_id(id, label)
            if not (slotIndex.isascii() and slotIndex.isdigit() and len(slotIndex) <= 2):
                raise NotFound(f"slot {slotIndex[:20]} of mutex {group_id} not found",
                               code="slot_not_found")
            group = services.groups.edit_slot(principal, group_id, int(slotIndex), body.changes())
            return flag_document(group)

    return router
