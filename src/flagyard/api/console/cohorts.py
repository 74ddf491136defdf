"""A project's cohorts: the list with each cohort's size, last change and the flags that target
it, a create form; and one cohort's page: its members uploaded from a file (added, removed or
replacing them all), downloaded, renamed, archived.

An upload is an ordinary multipart form (console.js sends it with a progress bar). Starlette
spools the file to disk as it arrives; `CohortService.upload` checks every line, then applies
the whole file in one transaction (ADR 0102). A refusal names the bad lines by the file field.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.responses import Response, StreamingResponse

from flagyard.api.console.context import ConsoleRoute, project_context
from flagyard.api.console.dependency_view import NOUNS
from flagyard.api.console.render import FormError, done, page, refusal
from flagyard.api.console.services import ConsoleServices
from flagyard.api.console.session import ConsoleDep, SignedInDep, WriterFormDep
from flagyard.api.schemas.cohorts import CohortCreateIn, CohortPatchIn
from flagyard.errors import DomainError, Invalid
from flagyard.manage.model.cohort_uses import CohortUse
from flagyard.manage.model.cohorts import Cohort, cohort_document
from flagyard.manage.model.member_file import FileFormat, MemberFile, Uploaded, UploadMode
from flagyard.manage.model.paging import PageRequest
from flagyard.manage.users import SignedIn

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

# The upload's path, for the body limit that lets a file of members past the usual one.
UPLOAD_PATH = r"/console/cohorts/[A-Za-z0-9]{1,32}/members"
LISTED = 100  # cohorts per page of the list
SHOWN_MEMBERS = 20  # the first members, on the cohort's page
BLANK_UPLOAD = {"mode": UploadMode.ADD.value, "format": FileFormat.TEXT.value, "header": False}
_PATHS = {"flag": "flags", "experiment": "experiments"}


def uses_shown(uses: list[CohortUse]) -> list[dict[str, Any]]:
    return [{"noun": NOUNS[u.kind], "url": f"/console/{_PATHS[u.kind.value]}/{u.flag_id}", "key": u.key,
             "name": u.name, "deleted": u.deleted, "ways": u.ways} for u in uses]


# --- the project's cohorts ----------------------------------------------------------------------

def cohorts_page(request: Request, services: ConsoleServices, current: SignedIn, project: str,
                 error: FormError | None = None, typed: dict[str, str] | None = None) -> Response:
    ctx = project_context(services, current, project)
    principal = current.user.principal()
    archived = request.query_params.get("archived") == "yes"
    cursor = request.query_params.get("cursor", "")
    listed = services.cohorts.page(principal, ctx["project"].id, archived,
                                   PageRequest(limit=LISTED, cursor=int(cursor) if cursor.isdigit() else None))
    uses = services.cohorts.uses(principal, ctx["project"].id)
    rows = [{"cohort": cohort_document(c), "uses": uses_shown(uses.get(c.public_id, []))} for c in listed.items]
    return page(request, "cohorts.html", current, error=error, rows=rows, archived=archived,
                next_cursor=listed.next_cursor, typed=typed or {"name": "", "description": "", "groupType": "User"},
                **ctx)


@router.get("/console/p/{project}/cohorts")
def cohorts(request: Request, services: ConsoleDep, current: SignedInDep, project: str) -> Response:
    return cohorts_page(request, services, current, project)


@router.post("/console/p/{project}/cohorts")
def create(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
           project: str) -> Response:
    project_id = project_context(services, current, project)["project"].id
    typed = {name: str(form.get(name) or "") for name in ("name", "description", "groupType")}
    try:
        body = CohortCreateIn.model_validate({"projectId": project_id, "name": typed["name"],
                                              "description": typed["description"],
                                              "groupType": typed["groupType"] or "User"})
        cohort = services.cohorts.create(current.user.principal(), body.project_id, body.name,
                                         description=body.description, group_type=body.group_type)
    except (DomainError, ValidationError) as error:
        return cohorts_page(request, services, current, project, refusal("cohort-new", error), typed)
    return done(f"/console/cohorts/{cohort.public_id}", f"Cohort {cohort.name} created: upload its members")


# --- one cohort ---------------------------------------------------------------------------------

def cohort_page(request: Request, services: ConsoleServices, current: SignedIn, public_id: str,
                error: FormError | None = None, upload: dict[str, Any] | None = None,
                settings: dict[str, str] | None = None) -> Response:
    principal = current.user.principal()
    cohort = services.cohorts.get(principal, public_id)
    first = next(islice(services.cohorts.member_chunks(principal, public_id, SHOWN_MEMBERS), 1), [])
    uses = services.cohorts.uses(principal, cohort.project_id).get(cohort.public_id, [])
    return page(request, "cohort.html", current, error=error, cohort=cohort_document(cohort), members=first,
                uses=uses_shown(uses), upload=upload or BLANK_UPLOAD,
                settings=settings or {"name": cohort.name, "description": cohort.description},
                modes=[m.value for m in UploadMode], **project_context(services, current, cohort.project_id))


@router.get("/console/cohorts/{id}")
def show(request: Request, services: ConsoleDep, current: SignedInDep, id: str) -> Response:
    return cohort_page(request, services, current, id)


@router.post("/console/cohorts/{id}/members")
def upload_members(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                   id: str) -> Response:
    typed: dict[str, Any] = {"mode": str(form.get("mode") or ""), "format": str(form.get("format") or ""),
             "header": form.get("header") == "yes"}
    file = form.get("file")
    try:
        mode = _choice(UploadMode, typed["mode"], "mode")
        file_format = _choice(FileFormat, typed["format"], "format")
        if not isinstance(file, UploadFile):
            raise Invalid("file: choose a file of member ids", code="invalid_field")
        result = services.cohorts.upload(current.user.principal(), id, mode,
                                         MemberFile(file.file, file_format, bool(typed["header"])))
    except DomainError as error:
        return cohort_page(request, services, current, id, refusal("upload", error), upload=typed)
    return done(f"/console/cohorts/{id}", _uploaded(result, file.filename or "the file"))


def _choice(kind: type[UploadMode] | type[FileFormat], raw: str, field: str) -> Any:
    try:
        return kind(raw)
    except ValueError:
        raise Invalid(f"{field} must be one of {', '.join(kind)}", code="invalid_field") from None


def _uploaded(result: Uploaded, filename: str) -> str:
    name = filename if len(filename) <= 60 else filename[:59] + "…"
    ids = f"{result.ids:,} id{'s' if result.ids != 1 else ''}"
    if result.mode is UploadMode.REMOVE:
        what = f"{name}: {result.changed:,} of its {ids} removed"
    elif result.mode is UploadMode.REPLACE:
        what = f"Members replaced by the {ids} of {name}"
    else:
        what = f"{name}: {result.changed:,} of its {ids} added (the others were members already)" \
            if result.changed != result.ids else f"{name}: {ids} added"
    return f"{what}; the cohort has {result.size:,} members"


@router.get("/console/cohorts/{id}/download")
def download(services: ConsoleDep, current: SignedInDep, id: str) -> Response:
    chunks = services.cohorts.member_chunks(current.user.principal(), id)

    def lines() -> Iterator[bytes]:
        for chunk in chunks:
            yield ("\n".join(chunk) + "\n").encode()

    return StreamingResponse(lines(), media_type="text/plain; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="cohort-{id}.txt"'})


@router.post("/console/cohorts/{id}/settings")
def edit(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep, id: str) -> Response:
    typed = {"name": str(form.get("name") or ""), "description": str(form.get("description") or "")}
    try:
        body = CohortPatchIn.model_validate(typed)
        services.cohorts.edit(current.user.principal(), id, body.changes())
    except (DomainError, ValidationError) as error:
        return cohort_page(request, services, current, id, refusal("settings", error), settings=typed)
    return done(f"/console/cohorts/{id}", "Cohort saved")


@router.post("/console/cohorts/{id}/archive")
def archive(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
            id: str) -> Response:
    archived = form.get("archive") == "true"
    try:
        cohort: Cohort = services.cohorts.edit(current.user.principal(), id, {"archive": archived})
    except DomainError as error:
        return cohort_page(request, services, current, id, refusal("archive", error))
    return done(f"/console/cohorts/{id}", f"Cohort {cohort.name} {'archived' if archived else 'restored'}")

