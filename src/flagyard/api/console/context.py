"""What every console page shares: the route class that turns errors into pages, the
current project and its deployments."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.responses import RedirectResponse, Response

from flagyard.api.console.render import page, refusal
from flagyard.api.console.services import ConsoleServices
from flagyard.api.console.session import SESSION_COOKIE, SignInRequired
from flagyard.errors import DomainError, NotFound
from flagyard.manage.model.flags import Kind
from flagyard.manage.model.paging import PageRequest
from flagyard.manage.users import SignedIn

PLURALS = {"flags": Kind.FLAG, "experiments": Kind.EXPERIMENT}


class ConsoleRoute(APIRoute):
    """A console route answers pages, not JSON: no session sends the browser to sign in, and a
    refusal (403 for a missing CSRF token or a viewer's write, 404 ...) is an error page."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                target = request.url.path if request.method == "GET" else "/console"
                return RedirectResponse(f"/?next={quote(target)}", status_code=303)
            except DomainError as error:
                return page(request, "error.html", _current(request), error=refusal("page", error))

        return route


def _current(request: Request) -> SignedIn | None:
    """The signed-in person, if any, so an error page still shows the header."""
    try:
        return request.app.state.console.users.session(request.cookies.get(SESSION_COOKIE, ""))
    except DomainError:
        return None


def plural_kind(plural: str) -> Kind:
    kind = PLURALS.get(plural)
    if kind is None:
        raise NotFound("no such page", code="not_found")
    return kind


def project_context(services: ConsoleServices, current: SignedIn, raw_project: str | int) -> dict[str, Any]:
    projects = services.keys.projects()
    project = next((p for p in projects if str(p.id) == str(raw_project)), None)
    if project is None:
        raise NotFound(
            f"project {raw_project} not found" if projects else
            "there is no project yet: create one with `flagyard projects create --name NAME`",
            code="project_not_found")
    deployments = [
        d for d in services.deployments.page(current.user.principal(), PageRequest(limit=1000)).items
        if d.project_id == project.id
    ]
    return {"projects": projects, "project": project, "deployments": deployments}
