"""Operating flagyard: deployments and their SDK keys, management keys, users."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from flagyard.api.console.context import ConsoleRoute, project_context
from flagyard.api.console.render import FormError, done, page, refusal
from flagyard.api.console.services import ConsoleServices
from flagyard.api.console.session import ConsoleDep, SignedInDep, WriterFormDep
from flagyard.api.http.deps import path_id
from flagyard.errors import DomainError
from flagyard.manage.users import SignedIn

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)


# --- deployments --------------------------------------------------------------------------

def deployments_page(request: Request, services: ConsoleServices, current: SignedIn, project: str,
                     error: FormError | None = None) -> Response:
    return page(request, "deployments.html", current, error=error,
                **project_context(services, current, project))


@router.get("/console/p/{project}/deployments")
def deployments(request: Request, services: ConsoleDep, current: SignedInDep, project: str) -> Response:
    return deployments_page(request, services, current, project)


@router.post("/console/p/{project}/deployments")
def create_deployment(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                      project: str) -> Response:
    ctx = project_context(services, current, project)
    try:
        deployment = services.deployments.create(current.user.principal(), ctx["project"].id,
                                                 str(form.get("label") or ""),
                                                 str(form.get("type") or "server"),
                                                 form.get("requireApproval") == "true")
    except DomainError as error:
        return deployments_page(request, services, current, project, refusal("deployment-new", error))
    return done(f"/console/p/{project}/deployments", f"Deployment {deployment.label} created")


@router.post("/console/p/{project}/deployments/{id}/rotate")
def rotate(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep, project: str,
           id: str) -> Response:
    deployment_id = path_id(id, "Deployment")
    try:
        deployment = services.deployments.rotate_key(current.user.principal(), deployment_id)
    except DomainError as error:
        return deployments_page(request, services, current, project, refusal(f"deployment-{id}", error))
    return done(f"/console/p/{project}/deployments",
                f"New SDK key for {deployment.label}; the old key no longer works")


@router.post("/console/p/{project}/deployments/{id}/approval")
def require_approval(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                     project: str, id: str) -> Response:
    """Turn on or off whether changes to the flags it serves wait for approval."""
    deployment_id = path_id(id, "Deployment")
    required = form.get("requireApproval") == "true"
    try:
        deployment = services.deployments.edit(current.user.principal(), deployment_id,
                                               {"require_approval": required})
    except DomainError as error:
        return deployments_page(request, services, current, project, refusal(f"deployment-{id}", error))
    return done(f"/console/p/{project}/deployments",
                f"Changes to flags on {deployment.label} now need approval" if required else
                f"Changes to flags on {deployment.label} no longer need approval")


# --- management keys (admins) -------------------------------------------------------------

def keys_page(request: Request, services: ConsoleServices, current: SignedIn,
              error: FormError | None = None, secret: str | None = None) -> Response:
    return page(request, "keys.html", current, error=error, secret=secret,
                keys=services.keys.all(current.user), **_header(services, current))


@router.get("/console/keys")
def keys(request: Request, services: ConsoleDep, current: SignedInDep) -> Response:
    return keys_page(request, services, current)


@router.post("/console/keys")
def create_key(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep) -> Response:
    try:
        issued = services.keys.create(current.user, str(form.get("name") or ""),
                                      [path_id(str(p), "Project") for p in form.getlist("projects")],
                                      form.get("readOnly") == "true", form.get("bypassApprovals") == "true")
    except DomainError as error:
        return keys_page(request, services, current, refusal("key-new", error))
    # The key is shown once, in this answer, and never again.
    return keys_page(request, services, current, secret=issued.secret)


@router.post("/console/keys/{id}/revoke")
def revoke_key(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep, id: str) -> Response:
    try:
        key = services.keys.revoke(current.user, path_id(id, "Key"))
    except DomainError as error:
        return keys_page(request, services, current, refusal(f"key-{id}", error))
    return done("/console/keys", f"Key {key.name} revoked")


# --- users (admins) -----------------------------------------------------------------------

def users_page(request: Request, services: ConsoleServices, current: SignedIn,
               error: FormError | None = None) -> Response:
    return page(request, "users.html", current, error=error, people=services.users.all(current.user),
                **_header(services, current))


def _header(services: ConsoleServices, current: SignedIn) -> dict[str, Any]:
    """Pages outside a project still show the project navigation (of the first project)."""
    projects = services.keys.projects()
    if not projects:
        return {"projects": projects}
    return project_context(services, current, projects[0].id)


@router.get("/console/users")
def users(request: Request, services: ConsoleDep, current: SignedInDep) -> Response:
    return users_page(request, services, current)


@router.post("/console/users")
def create_user(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep) -> Response:
    try:
        user = services.users.create(current.user, str(form.get("email") or ""),
                                     str(form.get("role") or ""), str(form.get("password") or ""))
    except DomainError as error:
        return users_page(request, services, current, refusal("user-new", error))
    return done("/console/users", f"User {user.email} created")


@router.post("/console/users/{email}/role")
def set_role(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep, email: str) -> Response:
    try:
        user = services.users.set_role(current.user, email, str(form.get("role") or ""))
    except DomainError as error:
        return users_page(request, services, current, refusal(f"user-{email}", error))
    return done("/console/users", f"{user.email} is now {user.role.value}")


@router.post("/console/users/{email}/disabled")
def set_disabled(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                 email: str) -> Response:
    try:
        user = services.users.set_disabled(current.user, email, form.get("disabled") == "true")
    except DomainError as error:
        return users_page(request, services, current, refusal(f"user-{email}", error))
    return done("/console/users", f"{user.email} {'disabled' if user.disabled else 'enabled'}")
