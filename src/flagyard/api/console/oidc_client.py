"""The console's OpenID Connect client, all of it Authlib's: discovery, the authorization code
flow with PKCE (S256), state and nonce, and the ID token's checks (signature by the provider's
JWKS, issuer, audience, expiry, nonce). What it hands on is validated claims; a failure is a
DomainError whose message the sign-in page shows."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx2
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.starlette_client import OAuth
from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import Response

from flagyard.api.console.oidc_flow import Flow
from flagyard.config import Settings
from flagyard.errors import Invalid, Unauthenticated, Unavailable

CALLBACK_PATH = "/console/sign-in/oidc/callback"
_NAME = "oidc"  # the name Authlib files the flow's state under


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    redirect_uri: str  # register this at the provider

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcConfig:
        issuer = settings.oidc_issuer.strip()
        if not settings.oidc_client_id.strip() or not settings.oidc_client_secret:
            raise Invalid("FLAGYARD_OIDC_CLIENT_ID and FLAGYARD_OIDC_CLIENT_SECRET must be set "
                          "with FLAGYARD_OIDC_ISSUER", code="invalid_setting")
        if not _secure_issuer(issuer):
            raise Invalid("FLAGYARD_OIDC_ISSUER must be an https URL (http only on a loopback "
                          "address, as in tests)", code="invalid_setting")
        if "openid" not in settings.oidc_scopes.split():
            raise Invalid("FLAGYARD_OIDC_SCOPES must include openid", code="invalid_setting")
        return cls(issuer=issuer, client_id=settings.oidc_client_id.strip(),
                   client_secret=settings.oidc_client_secret, scopes=settings.oidc_scopes,
                   redirect_uri=settings.base_url() + CALLBACK_PATH)


def _secure_issuer(issuer: str) -> bool:
    parts = urlsplit(issuer)
    if not parts.hostname or parts.query or parts.fragment:
        return False
    if parts.scheme == "https":
        return True
    if parts.scheme != "http":
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


class OidcClient:
    def __init__(self, config: OidcConfig, **http_options: Any) -> None:
        """`http_options` go to Authlib's HTTP client (tests pass a transport)."""
        self._config = config
        self._claims_options = {"iss": {"essential": True, "value": config.issuer},
                                "aud": {"essential": True, "value": config.client_id}}
        self._app: Any = OAuth().register(
            _NAME, client_id=config.client_id, client_secret=config.client_secret,
            server_metadata_url=config.issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={"scope": config.scopes, "code_challenge_method": "S256",
                           "timeout": 10, **http_options})

    async def redirect(self, request: Request, flow: Flow) -> Response:
        """The redirect to the provider; Authlib records the state, nonce and code verifier
        in `flow`, which the caller keeps in its cookie."""
        await self._discover()
        # Authlib keeps a flow in `request.session`; the flow cookie stands in for a session.
        request.scope["session"] = flow.authlib
        response: Response = await self._app.authorize_redirect(request, self._config.redirect_uri)
        return response

    async def claims(self, request: Request, flow: Flow) -> dict[str, Any]:
        """The person's claims from the callback's code: the ID token's, checked, and the
        UserInfo endpoint's for what the ID token leaves out."""
        request.scope["session"] = flow.authlib
        await self._check_answer(request, flow)
        try:
            await self._discover()
            token = await self._app.authorize_access_token(
                request, claims_options=self._claims_options)
            if "userinfo" not in token:
                raise Unauthenticated("the identity provider sent no ID token",
                                      code="sso_token_invalid")
            return await self._with_userinfo(token)
        except MismatchingStateError:
            raise _state_mismatch() from None
        except OAuthError as error:
            detail = f"{error.error}: {error.description}" if error.description else str(error.error)
            raise Unauthenticated(f"the identity provider refused the sign-in ({detail})",
                                  code="sso_provider_error") from None
        except JoseError as error:
            raise Unauthenticated(
                f"the identity provider's ID token failed validation ({error.error}"
                f"{': ' + error.description if error.description else ''}); sign in again",
                code="sso_token_invalid") from None
        except (httpx2.HTTPError, ValueError):  # ValueError: an answer that is not JSON
            raise _unreachable() from None

    async def _check_answer(self, request: Request, flow: Flow) -> None:
        """Before anything else, even the provider's own error: is this the answer to a flow
        this browser started, from this provider?"""
        state = request.query_params.get("state", "")
        if not state or await self._app.framework.get_state_data(flow.authlib, state) is None:
            raise _state_mismatch()
        sent_issuer = request.query_params.get("iss")
        if sent_issuer is not None and sent_issuer != self._config.issuer:  # RFC 9207: mix-up
            raise Unauthenticated("the answer came from another identity provider than this "
                                  "flagyard's; sign in again", code="sso_wrong_issuer")

    async def _discover(self) -> None:
        try:
            metadata = await self._app.load_server_metadata()
        except (httpx2.HTTPError, ValueError):
            raise _unreachable() from None
        if metadata.get("issuer") != self._config.issuer:
            # OpenID Connect Discovery §4.3: a provider must name itself as configured.
            self._app.server_metadata.clear()
            raise Unavailable(f"the identity provider's discovery document names the issuer "
                              f"{metadata.get('issuer')!r}, not {self._config.issuer!r}; check "
                              "FLAGYARD_OIDC_ISSUER", code="sso_misconfigured")

    async def _with_userinfo(self, token: dict[str, Any]) -> dict[str, Any]:
        id_claims = dict(token["userinfo"])
        metadata = await self._app.load_server_metadata()
        if not metadata.get("userinfo_endpoint"):
            return id_claims
        userinfo = dict(await self._app.userinfo(token=token))
        if userinfo.get("sub") != id_claims.get("sub"):
            # OpenID Connect Core §5.3.2: otherwise the answer must not be used.
            raise Unauthenticated("the identity provider's UserInfo names another person than "
                                  "its ID token", code="sso_token_invalid")
        return {**userinfo, **id_claims}  # the signed ID token wins where both speak


def _state_mismatch() -> Unauthenticated:
    return Unauthenticated("this sign-in does not match one started in this browser (its state "
                           "is missing, wrong or expired); sign in again", code="sso_state_mismatch")


def _unreachable() -> Unavailable:
    return Unavailable("the identity provider could not be reached or gave no usable answer; "
                       "try again in a moment", code="sso_provider_unreachable")
