"""Single sign-on end to end: a real OpenID provider (npm `oidc-provider`, its login and consent
pages), a flagyard set up for it, and a person in headless Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa

from tests.console.conftest import create_user
from tests.console.support import csrf_token, sign_in
from tests.support.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, running_provider
from tests.support.server import Server, free_port, fresh_database_url, running_server

PROVIDER_NAME = "Company SSO"
SSO_LINK = f"Sign in with {PROVIDER_NAME}"
CALLBACK = "/console/sign-in/oidc/callback"


@dataclass
class SsoSetup:
    server: Server
    provider: Provider

    def users(self) -> dict[str, tuple[str, bool]]:
        """email → (role, sso), read from the database."""
        engine = sa.create_engine(self.server.database_url)
        try:
            with engine.connect() as connection:
                rows = connection.execute(sa.text("SELECT email, role, sso FROM users")).all()
        finally:
            engine.dispose()
        return {email: (role, bool(sso)) for email, role, sso in rows}


def oidc_env(issuer: str, **extra: str) -> dict[str, str]:
    return {
        "FLAGYARD_RATE_LIMIT_PER_SECOND": "0",
        "FLAGYARD_OIDC_ISSUER": issuer,
        "FLAGYARD_OIDC_CLIENT_ID": CLIENT_ID,
        "FLAGYARD_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "FLAGYARD_OIDC_PROVIDER_NAME": PROVIDER_NAME,
        "FLAGYARD_OIDC_SCOPES": "openid email profile groups",
        "FLAGYARD_OIDC_ALLOWED_DOMAINS": "company.com",
        "FLAGYARD_OIDC_ROLE_CLAIM": "groups",
        "FLAGYARD_OIDC_ROLE_MAP": "flagyard-admins=admin,flagyard-editors=editor",
        **extra,
    }


@pytest.fixture(scope="module")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SsoSetup]:
    work = tmp_path_factory.mktemp("sso")
    # The server learns the provider's address now and asks it nothing until the first sign-in,
    # so it can start first and tell the provider its redirect URI.
    provider_port = free_port()
    env = oidc_env(f"http://127.0.0.1:{provider_port}")
    with running_server(fresh_database_url(work), env=env, log_path=work / "server.log") as server, \
            running_provider(server.base_url + CALLBACK, work, provider_port) as provider:
        server.create_project("sso")
        yield SsoSetup(server, provider)




def _new_page(browser: Any, sso: SsoSetup) -> Any:
    context = browser.new_context(base_url=sso.server.base_url)
    return context.new_page()


def _log_in_at_provider(page: Any, sso: SsoSetup, email: str) -> None:
    """At the provider's own pages: its login form, then its consent."""
    page.wait_for_url(f"{sso.provider.issuer}/**")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill("the provider checks this, not flagyard")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


def _who(page: Any) -> str:
    return " ".join(page.locator(".who").inner_text().split())


def test_a_person_signs_in_with_the_provider__gets_the_role_of_their_group__and_the_next_sign_in_updates_it(
    browser: Any, sso: SsoSetup,
) -> None:
    email = "alice@company.com"
    sso.provider.set_account(email, groups=["staff", "flagyard-editors"])
    page = _new_page(browser, sso)

    # The sign-in page offers the provider beside the password form
    page.goto("/")
    assert page.get_by_label("Password").is_visible()
    page.get_by_role("link", name=SSO_LINK).click()
    _log_in_at_provider(page, sso, email)

    # Back in the console, signed in as an editor (the group's role)
    page.wait_for_url(re.compile(r"/console/p/\d+/flags"))
    assert _who(page) == f"{email} editor"
    assert sso.users()[email] == ("editor", True)
    session = next(c for c in page.context.cookies() if c["name"] == "fy_session")
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    assert not [c for c in page.context.cookies() if c["name"] == "fy_oidc_flow"]

    # The session works as a password session does: a form with its CSRF token changes things
    create = page.locator("form#create")
    create.get_by_label("Key", exact=True).fill("sso-made-flag")
    create.get_by_label("Name", exact=True).fill("Made by single sign-on")
    create.get_by_role("button", name="Create flag").click()
    page.wait_for_url(re.compile(r"/console/flags/\d+"))

    # The provider moves Alice to the admins; her next sign-in says so
    sso.provider.set_account(email, groups=["flagyard-admins", "flagyard-editors"])
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/$"))
    page.get_by_role("link", name=SSO_LINK).click()  # the provider remembers her: no prompts
    page.wait_for_url(re.compile(r"/console/p/\d+/flags"))
    assert _who(page) == f"{email} admin"
    page.get_by_role("link", name="Users").click()
    row = page.locator("tr", has_text=email)
    assert "single sign-on" in row.inner_text()
    assert sso.users()[email] == ("admin", True)
    page.context.close()


def test_an_email_domain_not_allowed__is_refused_with_a_message_and_no_user_is_made(
    browser: Any, sso: SsoSetup,
) -> None:
    email = "mallory@elsewhere.example"
    sso.provider.set_account(email, groups=["flagyard-admins"])
    page = _new_page(browser, sso)
    page.goto("/")
    page.get_by_role("link", name=SSO_LINK).click()
    _log_in_at_provider(page, sso, email)

    page.wait_for_url(re.compile(re.escape(CALLBACK)))
    alert = page.locator("#sso [role=alert]")
    assert alert.inner_text() == "email addresses at elsewhere.example may not sign in to this flagyard"
    assert page.get_by_role("link", name=SSO_LINK).is_visible()  # free to try another account
    assert email not in sso.users()
    assert not [c for c in page.context.cookies() if c["name"] == "fy_session"]
    page.context.close()


def test_an_unverified_email__is_refused(browser: Any, sso: SsoSetup) -> None:
    email = "unverified@company.com"
    sso.provider.set_account(email, email_verified=False, groups=["flagyard-editors"])
    page = _new_page(browser, sso)
    page.goto("/")
    page.get_by_role("link", name=SSO_LINK).click()
    _log_in_at_provider(page, sso, email)

    page.wait_for_url(re.compile(re.escape(CALLBACK)))
    assert page.locator("#sso [role=alert]").inner_text() == (
        f"the identity provider has not verified the email address {email}")
    assert email not in sso.users()
    page.context.close()


def test_a_callback_with_a_tampered_state_is_refused__and_a_replayed_one_too(
    browser: Any, sso: SsoSetup,
) -> None:
    email = "carol@company.com"
    sso.provider.set_account(email, groups=["flagyard-editors"])
    page = _new_page(browser, sso)
    start = re.compile(r"/console/sign-in/oidc\?")

    def tamper_with_the_state(route: Any) -> None:
        # flagyard's redirect reaches the browser (and its flow cookie is kept), but the state
        # it carries to the provider, and so back, is not the one flagyard sent
        answer = route.fetch(max_redirects=0)
        location = answer.headers["location"]
        state = parse_qs(urlsplit(location).query)["state"][0]
        route.fulfill(response=answer, headers={
            **answer.headers, "location": location.replace(f"state={state}", f"state={state[:-4]}AAAA")})

    page.route(start, tamper_with_the_state)
    page.goto("/")
    page.get_by_role("link", name=SSO_LINK).click()
    _log_in_at_provider(page, sso, email)

    page.wait_for_url(re.compile(re.escape(CALLBACK)))
    assert "does not match one started in this browser" in page.locator("#sso [role=alert]").inner_text()
    assert email not in sso.users()
    assert not [c for c in page.context.cookies() if c["name"] == "fy_session"]

    # A genuine answer signs in once; sent again, it finds no flow to match
    page.unroute(start)
    answers: list[str] = []
    page.on("request", lambda request: answers.append(request.url) if CALLBACK in request.url else None)
    page.get_by_role("link", name=SSO_LINK).click()  # the provider remembers carol: no prompts
    page.wait_for_url(re.compile(r"/console/p/\d+/flags"))
    assert sso.users()[email] == ("editor", True)
    assert not [c for c in page.context.cookies() if c["name"] == "fy_oidc_flow"]
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/$"))
    page.goto(answers[-1])
    assert "does not match one started in this browser" in page.locator("#sso [role=alert]").inner_text()
    assert not [c for c in page.context.cookies() if c["name"] == "fy_session"]
    page.context.close()


def test_the_providers_error__is_shown_on_the_sign_in_page(sso: SsoSetup) -> None:
    with httpx.Client(base_url=sso.server.base_url, timeout=30) as client:
        start = client.get("/console/sign-in/oidc")
        assert start.status_code == 302
        location = urlsplit(start.headers["location"])
        assert f"{location.scheme}://{location.netloc}" == sso.provider.issuer
        sent = parse_qs(location.query)
        assert sent["code_challenge_method"] == ["S256"] and sent["nonce"] and sent["state"]
        assert "code_verifier" not in sent  # the verifier stays in the signed flow cookie
        assert client.cookies.get("fy_oidc_flow", path="/console/sign-in/oidc")

        answer = client.get(CALLBACK, params={
            "error": "access_denied", "error_description": "End-User aborted interaction",
            "state": sent["state"][0]})
    assert answer.status_code == 401
    assert ("the identity provider refused the sign-in (access_denied: End-User aborted "
            "interaction)") in answer.text


def test_a_password_user_signing_in_through_the_provider__keeps_the_account(
    browser: Any, sso: SsoSetup,
) -> None:
    email = "dave@company.com"
    create_user(sso.server, "viewer", email)
    sso.provider.set_account(email, groups=["flagyard-editors"])
    page = _new_page(browser, sso)
    page.goto("/")
    page.get_by_role("link", name=SSO_LINK).click()
    _log_in_at_provider(page, sso, email)
    page.wait_for_url(re.compile(r"/console/p/\d+/flags"))
    assert _who(page) == f"{email} editor"
    assert sso.users()[email] == ("editor", True)
    page.context.close()


def test_password_sign_in_turned_off__hides_the_form_and_refuses_its_post(
    tmp_path: Path, sso: SsoSetup,
) -> None:
    env = oidc_env(sso.provider.issuer, FLAGYARD_PASSWORD_SIGN_IN="false")
    with running_server(fresh_database_url(tmp_path), env=env) as server:
        admin = create_user(server, "admin", "erin@company.com")
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            page = client.get("/")
            assert SSO_LINK in page.text
            assert 'type="password"' not in page.text and "/console/sign-in\"" not in page.text
            # Given the form's own CSRF pair, the right password is still refused
            client.cookies.set("fy_sign_in", "a-token")
            refused = client.post("/console/sign-in", data={
                "email": admin.email, "password": admin.password, "csrf_token": "a-token"})
            assert refused.status_code == 403
            assert ("password sign-in is turned off here; sign in with Company SSO"
                    in refused.text)
            assert "fy_session" not in refused.cookies


def test_without_single_sign_on__the_sign_in_page_is_as_before(server: Server) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        page = client.get("/")
        assert "Sign in with" not in page.text and 'type="password"' in page.text
        assert csrf_token(page.text)
        assert client.get("/console/sign-in/oidc").status_code == 404
        assert sign_in(client, "nobody@example.com", "wrong password").status_code == 401
