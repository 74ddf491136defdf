"""The console's OpenID Connect client against a provider faked at the HTTP level, so that each
check of the ID token can be failed on purpose (a real provider always signs correctly), and the
signed flow cookie that carries the flow between the redirect and the callback."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.requests import Request
from starlette.responses import Response

from flagyard.api.console.oidc_client import OidcClient, OidcConfig
from flagyard.api.console.oidc_flow import FLOW_COOKIE, Flow, FlowCookie
from flagyard.config import Settings
from flagyard.errors import DomainError, Invalid, Unauthenticated, Unavailable

ISSUER = "https://idp.example"
CLIENT_ID = "flagyard"
CONFIG = OidcConfig(issuer=ISSUER, client_id=CLIENT_ID, client_secret="s3cret",
                    scopes="openid email profile", redirect_uri="https://flags.example/console/sign-in/oidc/callback")
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})


@dataclass
class FakeProvider:
    """Discovery, JWKS, token and UserInfo endpoints; each test bends one answer."""

    discovery: dict[str, Any] = field(default_factory=lambda: {
        "issuer": ISSUER, "authorization_endpoint": f"{ISSUER}/auth", "token_endpoint": f"{ISSUER}/token",
        "jwks_uri": f"{ISSUER}/jwks", "userinfo_endpoint": f"{ISSUER}/me",
        "id_token_signing_alg_values_supported": ["RS256"]})
    id_token: dict[str, Any] = field(default_factory=dict)  # claims to add or (None) to leave out
    signing_key: RSAKey = field(default_factory=lambda: KEY)
    userinfo: dict[str, Any] = field(default_factory=lambda: {
        "sub": "ada", "email": "ada@company.com", "email_verified": True, "groups": ["eng"]})
    token_requests: list[dict[str, list[str]]] = field(default_factory=list)
    nonce: str = ""
    sent: dict[str, str] = field(default_factory=dict)  # what the redirect asked for

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            return httpx2.Response(200, json=self.discovery)
        if path == "/jwks":
            return httpx2.Response(200, json=KeySet([KEY]).as_dict(private=False))
        if path == "/token":
            self.token_requests.append(parse_qs(request.content.decode()))
            return httpx2.Response(200, json={"access_token": "at", "token_type": "Bearer",
                                              "expires_in": 3600, "id_token": self._signed()})
        if path == "/me":
            return httpx2.Response(200, json=self.userinfo)
        return httpx2.Response(404)

    def _signed(self) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": "ada", "aud": CLIENT_ID, "exp": now + 300, "iat": now,
                  "nonce": self.nonce, **self.id_token}
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.signing_key)


def request(path: str, **query: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": path, "headers": [],
                    "query_string": urlencode(query).encode(), "scheme": "https",
                    "server": ("flags.example", 443)})


def sign_in(provider: FakeProvider, *, state: str | None = None, **extra: str) -> dict[str, Any]:
    """Start a flow, answer it as the provider would, and hand the callback to the client."""
    client = OidcClient(CONFIG, transport=httpx2.MockTransport(provider.handle))
    flow = Flow()

    async def run() -> dict[str, Any]:
        start = await client.redirect(request("/console/sign-in/oidc"), flow)
        sent = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["location"]).query).items()}
        provider.nonce = provider.nonce or sent["nonce"]
        provider.sent = sent
        answer = {"code": "the-code", "state": sent["state"] if state is None else state, **extra}
        return await client.claims(request("/console/sign-in/oidc/callback", **answer), flow)

    return asyncio.run(run())


def refusal(provider: FakeProvider, **kwargs: Any) -> DomainError:
    with pytest.raises(DomainError) as refused:
        sign_in(provider, **kwargs)
    return refused.value


def test_a_good_answer__gives_the_id_tokens_claims_with_userinfos() -> None:
    provider = FakeProvider(id_token={"email": "ada@company.com"})
    claims = sign_in(provider)
    assert claims["sub"] == "ada" and claims["email"] == "ada@company.com"
    assert claims["groups"] == ["eng"]  # from UserInfo


def test_the_redirect__asks_for_the_code_with_pkce_s256_a_state_and_a_nonce() -> None:
    provider = FakeProvider()
    sign_in(provider)
    sent = provider.sent
    assert sent["response_type"] == "code" and sent["client_id"] == CLIENT_ID
    assert sent["redirect_uri"] == CONFIG.redirect_uri and sent["scope"] == "openid email profile"
    assert sent["code_challenge_method"] == "S256" and sent["state"] and sent["nonce"]
    # The token request proves the verifier behind the challenge
    verifier = provider.token_requests[0]["code_verifier"][0]
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert digest == sent["code_challenge"]


@pytest.mark.parametrize("id_token, check", [
    ({"nonce": "another-nonce"}, "nonce"),
    ({"aud": "another-client"}, "aud"),
    ({"aud": ["another-client", "a-third"], "azp": CLIENT_ID}, "aud"),
    ({"iss": "https://other-idp.example"}, "iss"),
    ({"exp": int(time.time()) - 600}, "exp"),
    ({"iat": "ten minutes from now"}, "issued in the future"),  # set when the test runs
    ({"exp": None}, "exp"),
])
def test_an_id_token_failing_a_check__is_refused(id_token: dict[str, Any], check: str) -> None:
    # Collected long before it runs in a full suite: a time "from now" is taken now.
    if id_token.get("iat") == "ten minutes from now":
        id_token = {**id_token, "iat": int(time.time()) + 600}
    error = refusal(FakeProvider(id_token=id_token))
    assert isinstance(error, Unauthenticated) and error.code == "sso_token_invalid"
    assert "ID token failed validation" in error.message and check in error.message


def test_a_replayed_id_token_for_another_flow__fails_on_its_nonce() -> None:
    error = refusal(FakeProvider(nonce="the nonce of an earlier sign-in"))
    assert error.code == "sso_token_invalid" and "nonce" in error.message


def test_an_id_token_signed_by_another_key__is_refused() -> None:
    error = refusal(FakeProvider(signing_key=RSAKey.generate_key(2048, parameters={"kid": "k1"})))
    assert error.code == "sso_token_invalid" and "signature" in error.message


def test_a_wrong_or_missing_state__is_refused_before_the_code_is_used() -> None:
    for state in ("not-the-state", ""):
        provider = FakeProvider()
        error = refusal(provider, state=state)
        assert error.code == "sso_state_mismatch" and "sign in again" in error.message
        assert provider.token_requests == []


def test_the_providers_error__is_refused_with_its_words() -> None:
    error = refusal(FakeProvider(), error="access_denied", error_description="no thanks")
    assert error.code == "sso_provider_error"
    assert error.message == "the identity provider refused the sign-in (access_denied: no thanks)"


def test_an_answer_naming_another_issuer__is_refused() -> None:
    assert refusal(FakeProvider(), iss="https://evil.example").code == "sso_wrong_issuer"


def test_a_discovery_document_for_another_issuer__is_refused() -> None:
    provider = FakeProvider()
    provider.discovery["issuer"] = "https://evil.example"
    error = refusal(provider)
    assert isinstance(error, Unavailable) and error.code == "sso_misconfigured"


def test_userinfo_about_someone_else__is_refused() -> None:
    provider = FakeProvider()
    provider.userinfo["sub"] = "mallory"
    assert refusal(provider).code == "sso_token_invalid"


def test_an_unreachable_provider__is_unavailable() -> None:
    def down(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused", request=request)

    client = OidcClient(CONFIG, transport=httpx2.MockTransport(down))
    with pytest.raises(Unavailable, match="could not be reached"):
        asyncio.run(client.redirect(request("/console/sign-in/oidc"), Flow()))


# --- settings ---------------------------------------------------------------------------------


def settings(**values: Any) -> Settings:
    base = {"oidc_issuer": ISSUER, "oidc_client_id": CLIENT_ID, "oidc_client_secret": "s"}
    return Settings(**{**base, **values})


def test_config__the_redirect_uri_is_under_the_public_url() -> None:
    config = OidcConfig.from_settings(settings(public_url="https://flags.example/"))
    assert config.redirect_uri == "https://flags.example/console/sign-in/oidc/callback"


@pytest.mark.parametrize("issuer", ["http://127.0.0.1:9000", "http://localhost:9000/realms/x",
                                    "http://[::1]:9000", "https://idp.example/tenant/"])
def test_config__https_or_a_loopback_http_issuer(issuer: str) -> None:
    assert OidcConfig.from_settings(settings(oidc_issuer=issuer)).issuer == issuer


@pytest.mark.parametrize("values, message", [
    ({"oidc_issuer": "http://idp.example"}, "must be an https URL"),
    ({"oidc_issuer": "https://idp.example?x=1"}, "must be an https URL"),
    ({"oidc_client_secret": ""}, "FLAGYARD_OIDC_CLIENT_SECRET must be set"),
    ({"oidc_client_id": " "}, "FLAGYARD_OIDC_CLIENT_ID"),
    ({"oidc_scopes": "email profile"}, "must include openid"),
])
def test_config__refuses_what_cannot_work_safely(values: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid, match=message):
        OidcConfig.from_settings(settings(**values))


# --- the flow cookie --------------------------------------------------------------------------


def cookie_request(value: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "scheme": "https",
                    "server": ("flags.example", 443),
                    "headers": [(b"cookie", f"{FLOW_COOKIE}={value}".encode())]})


def written(cookie: FlowCookie, flow: Flow) -> tuple[str, str]:
    response = Response()
    cookie.write(response, request("/console/sign-in/oidc"), flow)
    header = response.headers["set-cookie"]
    return header.split(";", 1)[0].split("=", 1)[1], header


def test_flow_cookie__round_trips_and_is_scoped_short_and_http_only() -> None:
    cookie = FlowCookie("s3cret")
    flow = Flow({"_state_oidc_abc": {"data": {"nonce": "n"}}}, "/console/flags/7")
    value, header = written(cookie, flow)
    assert cookie.read(cookie_request(value)) == flow
    assert "Path=/console/sign-in/oidc" in header and "Max-Age=600" in header
    assert "HttpOnly" in header and "SameSite=lax" in header and "Secure" in header


def test_flow_cookie__forged_altered_or_expired__reads_as_no_flow() -> None:
    cookie = FlowCookie("s3cret")
    value, _ = written(cookie, Flow({"k": 1}, "/console"))
    head, body, signature = value.split(".")
    forged_body = base64.urlsafe_b64encode(json.dumps(
        {"authlib": {}, "next": "/console/keys", "exp": 9999999999}).encode()).rstrip(b"=").decode()
    for bad in (f"{head}.{forged_body}.{signature}", value[:-2], "garbage", ""):
        assert cookie.read(cookie_request(bad)) == Flow()
    assert FlowCookie("another secret").read(cookie_request(value)) == Flow()
    later = FlowCookie("s3cret", clock=lambda: time.time() + 601)
    assert later.read(cookie_request(value)) == Flow()
