"""Flags as code over HTTP: GET /api/1/projects/{id}/export, POST /api/1/projects/{id}/import."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from flagyard.api.http.deps import PrincipalDep, ServicesDep, path_id
from flagyard.api.schemas.project_files import ImportResultOut, ProjectFile
from flagyard.api.schemas.responses import MANAGEMENT_ERRORS, documented
from flagyard.errors import Invalid
from flagyard.manage import project_file_codec
from flagyard.manage.project_import import ImportResult

router = APIRouter(prefix="/api/1/projects", tags=["Projects as code"], responses=MANAGEMENT_ERRORS)

_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": ProjectFile,
        "description": "The project file (docs/export-format.md)",
        "content": {"application/yaml": {"schema": {"type": "string"}}},
    }
}
_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "description": "A project file, as JSON or YAML (docs/export-format.md)",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ProjectFile"}},
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}


@router.get("/{id}/export", summary="The project as one YAML or JSON document",
            response_model=None, responses=_EXPORT_RESPONSES)
def export_project(id: str, principal: PrincipalDep, services: ServicesDep,
                   format: Literal["json", "yaml"] = "json") -> Response:
    document = services.project_export.export(principal, path_id(id, "Project"))
    if format == "json":
        return JSONResponse(document)
    return Response(project_file_codec.dump(document, "yaml"), media_type="application/yaml")


@router.post("/{id}/import", summary="Apply a project file: create, update, optionally archive",
             openapi_extra=_IMPORT_BODY, **documented(ImportResultOut))
async def import_project(
    id: str,
    request: Request,
    principal: PrincipalDep,
    services: ServicesDep,
    dry_run: Annotated[bool, Query(alias="dryRun")] = False,
    prune: bool = False,
) -> dict[str, Any]:
    project_id = path_id(id, "Project")
    body = await request.body()
    if not body.strip():
        raise Invalid("request body is empty: send a project file (JSON or YAML)",
                      code="invalid_document")
    raw = project_file_codec.load(body)
    result = await to_thread.run_sync(
        lambda: services.project_import.apply(principal, project_id, raw, dry_run=dry_run, prune=prune))
    return result_body(result, dry_run)


def result_body(result: ImportResult, dry_run: bool) -> dict[str, Any]:
    return {
        "dryRun": dry_run,
        "applied": result.applied,
        "changes": [{"action": c.action, "kind": c.kind, "key": c.key, "fields": list(c.fields)}
                    for c in result.changes],
        "unchanged": result.unchanged,
        "plan": result.plan(),
    }
