"""/api/1/flags and /api/1/experiments: list, create, get, edit."""


from typing import cast

from fastapi import APIRouter

from flagyard.api.http.deps import (
    PrincipalDep,
    ServicesDep,
    SettingsDep,
    path_id,
    query_id,
)
from flagyard.api.http.fast_json import FastJSONResponse, JSONBytesResponse
from flagyard.api.http.pagination import page_request
from flagyard.api.schemas.flags import _CreateBase, _PatchBase
from flagyard.api.schemas.responses import (
    MANAGEMENT_ERRORS,
    CreatedOut,
    ExperimentListOut,
    FlagListOut,
    FlagOut,
    documented,
)
from flagyard.manage.flags import FlagFilter
from flagyard.manage.model.access import Principal
from flagyard.manage.model.document import flag_document
from flagyard.manage.model.flags import Kind
from flagyard.manage.services import ManageServices


def list_page(services: ManageServices, principal: Principal, kind: Kind, plural: str, key: str | None,
              project_id: str | None, limit: int | None, cursor: str | None,
              include_archived: bool, *, confirm_key: bool = False) -> JSONBytesResponse:
    """A page of the flag or experiment list; also answered by the list fast path (which asks
    to `confirm_key` for a key it remembered)."""
    filters = FlagFilter(
        project_id=query_id(project_id, "projectId") if project_id is not None else None,
        key=key,
        include_archived=include_archived,
    )
    return JSONBytesResponse(services.listing.answer(principal, kind, filters, page_request(limit, cursor),
                                                     plural, confirm_key=confirm_key))


def edit_answer(services: ManageServices, principal: Principal, kind: Kind, id: str,
                body: _PatchBase, *, confirm_key: bool = False) -> FastJSONResponse:
    """A PATCH of one flag or experiment; also answered by the write fast path, which may
    leave the key's confirmation to the write (`confirm_key`)."""
    # Serialised directly, as `get` is: FastAPI's encoder walking the document was 7% of a
    # write's CPU under load (profiled).
    flag = services.flags.edit(principal, kind, path_id(id, kind.label), body.edits(), confirm_key=confirm_key)
    return FastJSONResponse(flag_document(flag))


def collection_router(
    kind: Kind, plural: str, create_in: type[_CreateBase], patch_in: type[_PatchBase]
) -> APIRouter:
    router = APIRouter(prefix=f"/api/1/{plural}", tags=[plural.title()], responses=MANAGEMENT_ERRORS)
    list_out = FlagListOut if kind is Kind.FLAG else ExperimentListOut
    label = kind.label

    @router.get("", summary=f"List {plural}, newest first", **documented(list_out))
    def list_items(
        principal: PrincipalDep,
        services: ServicesDep,
        key: str | None = None,
        projectId: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        includeArchived: bool = False,
    ) -> JSONBytesResponse:
        return list_page(services, principal, kind, plural, key, projectId, limit, cursor, includeArchived)

    @router.post("", summary=f"Create a {kind.value}", **documented(CreatedOut))
    def create(body: create_in, principal: PrincipalDep, services: ServicesDep,  # type: ignore[valid-type]
               settings: SettingsDep) -> dict[str, str]:
        flag = services.flags.create(principal, kind, cast(_CreateBase, body).fields())
        return {"id": str(flag.id), "url": f"{settings.base_url()}/api/1/{plural}/{flag.id}"}

    @router.get("/{id}", summary=f"Get a {kind.value}", **documented(FlagOut))
    def get(id: str, principal: PrincipalDep, services: ServicesDep) -> FastJSONResponse:
        return FastJSONResponse(flag_document(services.flags.get(principal, kind, path_id(id, label))))

    @router.patch("/{id}", summary=f"Edit a {kind.value}", **documented(FlagOut, held=True))
    def edit(id: str, body: patch_in, principal: PrincipalDep,  # type: ignore[valid-type]
             services: ServicesDep) -> FastJSONResponse:
        return edit_answer(services, principal, kind, id, cast(_PatchBase, body))

    return router
