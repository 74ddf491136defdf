"""The single sign-on flow between the redirect to the identity provider and its callback: the
state, nonce and PKCE verifier Authlib keeps, and where to go afterwards. They travel in a
short-lived signed cookie, never in the URL, so any process can take the callback."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from joserfc.jwt import JWTClaimsRegistry
from starlette.requests import Request
from starlette.responses import Response

from flagyard.api.console.session import secure_request

FLOW_COOKIE = "fy_oidc_flow"
FLOW_PATH = "/console/sign-in/oidc"  # sent to the start and the callback only
FLOW_SECONDS = 600  # time to sign in at the provider


@dataclass
class Flow:
    # Authlib's own record of the flow (state → nonce, code verifier, redirect URI).
    authlib: dict[str, Any] = field(default_factory=dict)
    next: str = "/console"


class FlowCookie:
    def __init__(self, client_secret: str, clock: Any = time.time) -> None:
        # A key of its own, derived from the secret every process of this flagyard shares.
        digest = hmac.new(client_secret.encode(), b"flagyard console: oidc flow cookie",
                          hashlib.sha256).digest()
        self._key = OctKey.import_key(digest)
        self._clock = clock

    def write(self, response: Response, request: Request, flow: Flow) -> None:
        claims = {"authlib": flow.authlib, "next": flow.next,
                  "exp": int(self._clock()) + FLOW_SECONDS}
        value = jwt.encode({"alg": "HS256"}, claims, self._key)
        response.set_cookie(FLOW_COOKIE, value, max_age=FLOW_SECONDS, httponly=True,
                            samesite="lax", secure=secure_request(request), path=FLOW_PATH)

    def read(self, request: Request) -> Flow:
        """The flow this browser started; an empty one when missing, forged or expired."""
        value = request.cookies.get(FLOW_COOKIE, "")
        if not value:
            return Flow()
        try:
            token = jwt.decode(value, self._key, algorithms=["HS256"])
            JWTClaimsRegistry(now=int(self._clock()), exp={"essential": True}).validate(token.claims)
        except (JoseError, ValueError):
            return Flow()
        authlib, next_ = token.claims.get("authlib"), token.claims.get("next")
        if not isinstance(authlib, dict) or not isinstance(next_, str):
            return Flow()
        return Flow(authlib, next_)

    @staticmethod
    def clear(response: Response) -> None:
        # One flow, one callback: a replayed callback finds no state to match.
        response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
