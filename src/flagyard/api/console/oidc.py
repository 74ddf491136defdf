"""Signing in through the identity provider (OpenID Connect): the start of the flow and its
callback. The callback ends the way a password sign-in does: a console session and its
cookie, or the sign-in page with what went wrong."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from flagyard.api.console.auth import safe_next, sign_in_page
from flagyard.api.console.context import ConsoleRoute
from flagyard.api.console.oidc_flow import Flow
from flagyard.api.console.session import ConsoleDep, set_session_cookie
from flagyard.api.console.sign_in_options import SignInOptionsDep
from flagyard.errors import DomainError, NotFound

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)


@router.get("/console/sign-in/oidc")
async def start(request: Request, options: SignInOptionsDep) -> Response:
    oidc = options.require_oidc()
    flow = Flow(next=safe_next(request.query_params.get("next")))
    try:
        response = await oidc.client.redirect(request, flow)
    except DomainError as error:
        return sign_in_page(request, error, form="sso", next_=flow.next)
    oidc.flow_cookie.write(response, request, flow)
    return response


@router.get("/console/sign-in/oidc/callback")
async def callback(request: Request, services: ConsoleDep, options: SignInOptionsDep) -> Response:
    oidc = options.require_oidc()
    flow = oidc.flow_cookie.read(request)
    response: Response
    try:
        claims = await oidc.client.claims(request, flow)
        if services.single_sign_on is None:
            raise NotFound("single sign-on is not set up on this flagyard", code="sso_off")
        _, issued = await run_in_threadpool(services.single_sign_on.sign_in, claims)
    except DomainError as error:
        response = sign_in_page(request, error, form="sso", next_=flow.next)
    else:
        response = RedirectResponse(safe_next(flow.next), status_code=303)
        set_session_cookie(response, request, issued.token)
    oidc.flow_cookie.clear(response)
    return response
