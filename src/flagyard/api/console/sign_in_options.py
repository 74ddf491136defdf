"""How people may sign in to the console: with a password, through the identity provider, or
both. Built once from the settings; the sign-in page and routes read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from flagyard.api.console.oidc_client import OidcClient, OidcConfig
from flagyard.api.console.oidc_flow import FlowCookie
from flagyard.config import Settings
from flagyard.errors import Forbidden, NotFound


@dataclass(frozen=True)
class OidcSignIn:
    client: OidcClient
    flow_cookie: FlowCookie
    provider_name: str  # as the sign-in button names it

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcSignIn:
        config = OidcConfig.from_settings(settings)
        return cls(OidcClient(config), FlowCookie(config.client_secret),
                   settings.oidc_provider_name.strip() or "your identity provider")


@dataclass(frozen=True)
class SignInOptions:
    password: bool
    oidc: OidcSignIn | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInOptions:
        if not settings.oidc_issuer.strip():
            return cls(password=True)  # without single sign-on, passwords are the only way in
        return cls(password=settings.password_sign_in, oidc=OidcSignIn.from_settings(settings))

    def require_oidc(self) -> OidcSignIn:
        if self.oidc is None:
            raise NotFound("single sign-on is not set up on this flagyard", code="sso_off")
        return self.oidc

    def require_password(self) -> None:
        if not self.password:
            name = self.oidc.provider_name if self.oidc else "single sign-on"
            raise Forbidden(f"password sign-in is turned off here; sign in with {name}",
                            code="password_sign_in_off")


def sign_in_options(request: Request) -> SignInOptions:
    options: SignInOptions = request.app.state.sign_in_options  # set by setup.install
    return options


SignInOptionsDep = Annotated[SignInOptions, Depends(sign_in_options)]
