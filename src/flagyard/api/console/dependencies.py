"""A flag's prerequisites changed from its page, and a project's dependency graph.

Each form becomes the `parentDependencies` the flag's PATCH takes, checked by the API's schema
and applied by the same `FlagService.edit`, which refuses an unknown parent or variant and a
cycle; the refusal is shown by the form's field with the API's words, and nothing changes.
Holdouts and mutual exclusion groups stay as they are: their pages add and remove members.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from flagyard.api.console.context import ConsoleRoute, plural_kind, project_context
from flagyard.api.console.dependency_drawing import draw
from flagyard.api.console.dependency_view import project_dependencies
from flagyard.api.console.item import item_page
from flagyard.api.console.render import done, page, refusal
from flagyard.api.console.services import ConsoleServices
from flagyard.api.console.session import ConsoleDep, SignedInDep, WriterFormDep
from flagyard.api.http.deps import path_id
from flagyard.api.schemas.flags import ExperimentPatchIn, FlagPatchIn
from flagyard.errors import DomainError, Invalid, NotFound
from flagyard.manage.model.flags import Flag, Kind
from flagyard.manage.users import SignedIn

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

# The change to a flag's parents ({parent id: allowed variants}) a form asks for.
ParentsChange = Callable[[dict[str, list[str]]], tuple[dict[str, list[str]], str]]


@router.get("/console/p/{project}/dependencies")
def project_graph(request: Request, services: ConsoleDep, current: SignedInDep, project: str) -> Response:
    ctx = project_context(services, current, project)
    graph = services.dependency_graph.graph(current.user.principal(), ctx["project"].id).linked()
    return page(request, "dependencies.html", current, rows=project_dependencies(graph),
                drawing=draw(graph, None, f"Dependencies in {ctx['project'].name}"), **ctx)


@router.post("/console/{plural}/{id}/prerequisites")
def add(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep, plural: str,
        id: str) -> Response:
    chosen = str(form.get("parent") or "")
    request.state.chosen_prerequisite = chosen  # shown chosen again if refused

    def change(parents: dict[str, list[str]]) -> tuple[dict[str, list[str]], str]:
        parent, _, variant = chosen.partition(":")
        if not parent or not variant:
            raise Invalid("parent: choose a flag and the variant it must serve", code="invalid_field")
        allowed = parents.get(parent, [])
        return {**parents, parent: [*allowed, variant] if variant not in allowed else allowed}, \
            "Prerequisite added"

    return _edit(request, services, current, plural, id, "prerequisite-new", change)


@router.post("/console/{plural}/{id}/prerequisites/{parent}")
def save(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep, plural: str,
         id: str, parent: str) -> Response:
    ticked = [str(v) for v in form.getlist("variants")]

    def change(parents: dict[str, list[str]]) -> tuple[dict[str, list[str]], str]:
        _known(parents, parent)
        if not ticked:
            raise Invalid("variants: tick at least one, or remove the prerequisite", code="invalid_field")
        return {**parents, parent: ticked}, "Prerequisite saved"

    return _edit(request, services, current, plural, id, f"prerequisite-{parent}", change, field="variants")


@router.post("/console/{plural}/{id}/prerequisites/{parent}/remove")
def remove(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep, plural: str,
           id: str, parent: str) -> Response:
    def change(parents: dict[str, list[str]]) -> tuple[dict[str, list[str]], str]:
        _known(parents, parent)
        return {k: v for k, v in parents.items() if k != parent}, "Prerequisite removed"

    return _edit(request, services, current, plural, id, f"prerequisite-{parent}", change, field="variants")


def _known(parents: dict[str, list[str]], parent: str) -> None:
    if parent not in parents:
        raise NotFound(f"this flag does not depend on {parent}", code="not_found")


def _edit(request: Request, services: ConsoleServices, current: SignedIn, plural: str, id: str,
          form_id: str, change: ParentsChange, field: str = "parent") -> Response:
    kind = plural_kind(plural)
    flag_id = path_id(id, kind.label)
    principal = current.user.principal()
    try:
        flag = services.flags.get(principal, kind, flag_id)
        parents, message = change(_parents(flag))
        schema = FlagPatchIn if kind is Kind.FLAG else ExperimentPatchIn
        body = {"parentDependencies": {"flags": parents, "operator": "all"} if parents else None}
        services.flags.edit(principal, kind, flag_id, schema.model_validate(body).edits())
    except (DomainError, ValidationError) as error:
        shown = refusal(form_id, error)
        # The API names parentDependencies (or its part); the form shows it by its own field.
        if isinstance(error, ValidationError) or shown.field in ("parentDependencies", "flags", "operator"):
            shown = dataclasses.replace(shown, field=field)
        return item_page(request, services, current, plural, flag_id, shown)
    answer = done(f"/console/{plural}/{flag_id}", message)
    answer.headers["location"] += "#dependencies"  # back to the section the form is in
    return answer


def _parents(flag: Flag) -> dict[str, list[str]]:
    deps = flag.parent_dependencies or {}
    return {str(k): list(v) for k, v in (deps.get("flags") or {}).items()}

