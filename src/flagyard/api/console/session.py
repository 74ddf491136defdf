"""Cookie sessions and CSRF checks for the console.

The session cookie holds a random token; the database holds only its hash. Every
state-changing request carries the session's CSRF token (a hidden form field, or the
X-CSRF-Token header) and is refused with 403 without it. Sign-in, which has no session yet,
uses a double-submit token: a cookie and a hidden field that must match.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from flagyard.api.console.services import ConsoleServices
from flagyard.errors import Forbidden, Unauthenticated
from flagyard.manage.model.sessions import SESSION_LIFETIME
from flagyard.manage.users import SignedIn

SESSION_COOKIE = "fy_session"
SIGN_IN_COOKIE = "fy_sign_in"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class SignInRequired(Exception):
    """A page needs a session and there is none: the handler sends the browser to sign in."""


def console(request: Request) -> ConsoleServices:
    return request.app.state.console


ConsoleDep = Annotated[ConsoleServices, Depends(console)]


def signed_in(request: Request, services: ConsoleDep) -> SignedIn:
    token = request.cookies.get(SESSION_COOKIE, "")
    try:
        return services.users.session(token)
    except Unauthenticated:
        raise SignInRequired from None


SignedInDep = Annotated[SignedIn, Depends(signed_in)]


async def checked_form(request: Request, current: SignedInDep) -> FormData:
    """The submitted form, after its CSRF token matched the session's."""
    form = await request.form()
    sent = request.headers.get(CSRF_HEADER) or str(form.get(CSRF_FIELD) or "")
    if not sent or not hmac.compare_digest(sent.encode(), current.session.csrf_token.encode()):
        raise Forbidden("the form's CSRF token is missing or wrong; reload the page and try again",
                        code="csrf_failed")
    return form


FormDep = Annotated[FormData, Depends(checked_form)]


def writer_form(current: SignedInDep, form: FormDep) -> FormData:
    """A form that changes something: refused before anything is read from it for a viewer."""
    current.user.require_write()
    return form


WriterFormDep = Annotated[FormData, Depends(writer_form)]


def secure_request(request: Request) -> bool:
    """Cookies set for this request carry Secure: it came over HTTPS."""
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=int(SESSION_LIFETIME.total_seconds()),
                        httponly=True, samesite="lax", secure=secure_request(request), path="/")


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def sign_in_token(request: Request) -> str:
    return request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(24)


def set_sign_in_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(SIGN_IN_COOKIE, token, httponly=True, samesite="strict",
                        secure=secure_request(request), path="/")


def check_sign_in_token(request: Request, form: FormData) -> None:
    cookie = request.cookies.get(SIGN_IN_COOKIE, "")
    sent = str(form.get(CSRF_FIELD) or "")
    if not cookie or not sent or not hmac.compare_digest(cookie.encode(), sent.encode()):
        raise Forbidden("the sign-in form's CSRF token is missing or wrong; reload the page",
                        code="csrf_failed")


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
