"""Signing in and out, and the console's front door."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from flagyard.api.console.context import ConsoleRoute
from flagyard.api.console.render import page, refusal
from flagyard.api.console.session import (
    SESSION_COOKIE,
    ConsoleDep,
    FormDep,
    SignedInDep,
    check_sign_in_token,
    clear_session_cookie,
    client_ip,
    set_session_cookie,
    set_sign_in_cookie,
    sign_in_token,
)
from flagyard.api.console.sign_in_options import SignInOptionsDep, sign_in_options
from flagyard.errors import DomainError, Unauthenticated

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)


def safe_next(raw: str | None) -> str:
    # Only a path inside the console: never an open redirect to another site.
    if raw and raw.startswith("/console") and "//" not in raw and "\\" not in raw:
        return raw
    return "/console"


@router.get("/")
def front_door(request: Request, services: ConsoleDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        try:
            services.users.session(token)
            return RedirectResponse("/console", status_code=303)
        except Unauthenticated:
            pass
    return sign_in_page(request)


def sign_in_page(request: Request, error: DomainError | None = None, email: str = "", *,
                 form: str = "sign-in", next_: str | None = None) -> Response:
    """The sign-in page; `error` is shown atop `form` ("sign-in": the password form, "sso":
    the single sign-on button)."""
    token = sign_in_token(request)
    options = sign_in_options(request)
    response = page(request, "sign_in.html", None, sign_in_token=token, email=email,
                    next=safe_next(next_ if next_ is not None else request.query_params.get("next")),
                    password_sign_in=options.password,
                    sso_label=options.oidc.provider_name if options.oidc else None,
                    error=refusal(form, error) if error else None)
    if error is not None and error.code == "sign_in_throttled":
        response.headers["Retry-After"] = str(getattr(error, "retry_after", 1))
    set_sign_in_cookie(response, request, token)
    return response


@router.post("/console/sign-in")
async def sign_in(request: Request, services: ConsoleDep, options: SignInOptionsDep) -> Response:
    form = await request.form()
    email = str(form.get("email") or "")
    try:
        options.require_password()
        check_sign_in_token(request, form)
        _, issued = await run_in_threadpool(services.users.sign_in, email,
                                            str(form.get("password") or ""), client_ip(request))
    except DomainError as error:
        return sign_in_page(request, error, email)
    response = RedirectResponse(safe_next(str(form.get("next") or "")), status_code=303)
    set_session_cookie(response, request, issued.token)
    return response


@router.post("/console/sign-out")
def sign_out(request: Request, services: ConsoleDep, current: SignedInDep, form: FormDep) -> Response:
    services.users.sign_out(request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/", status_code=303)
    clear_session_cookie(response)
    return response


@router.get("/console")
def home(services: ConsoleDep, current: SignedInDep) -> Response:
    projects = services.keys.projects()
    if not projects:
        return RedirectResponse("/console/p/0/flags", status_code=303)
    return RedirectResponse(f"/console/p/{projects[0].id}/flags", status_code=303)


@router.get("/console/switch")
def switch_project(request: Request, current: SignedInDep) -> Response:
    project = request.query_params.get("project", "")
    if not (project.isascii() and project.isdigit() and len(project) <= 10):
        return RedirectResponse("/console", status_code=303)
    return RedirectResponse(f"/console/p/{project}/flags", status_code=303)
