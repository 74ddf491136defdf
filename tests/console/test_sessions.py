"""Signing in and out over plain HTTP: the form, the cookie, the throttle, CSRF."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.console.conftest import Browserless, Person
from tests.console.support import csrf_token, sign_in
from tests.support.server import Server


def test_front_door__signed_out__shows_a_sign_in_form_with_email_and_password(server: Server) -> None:
    answer = httpx.get(f"{server.base_url}/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert 'name="email"' in answer.text and 'name="password"' in answer.text
    assert '<label for="email">' in answer.text and '<label for="password">' in answer.text


def test_console_page__signed_out__sends_the_browser_to_sign_in(server: Server) -> None:
    answer = httpx.get(f"{server.base_url}/console/p/1/flags")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/?next=/console/p/1/flags"


def test_sign_in__right_password__http_only_same_site_session_then_sign_out_ends_it(
    server: Server, people: Callable[[str], Person]
) -> None:
    person = people("editor")
    with httpx.Client(base_url=server.base_url) as client:
        # When
        answer = sign_in(client, person.email.upper(), person.password)
        # Then: a session cookie the page scripts cannot read, not sent by other sites' posts
        assert answer.status_code == 303 and answer.headers["location"] == "/console"
        cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("fy_session="))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        token = client.cookies["fy_session"]
        home = client.get("/", follow_redirects=True)
        assert home.url.path.startswith("/console/p/") and person.email in home.text
        # When signing out
        out = client.post("/console/sign-out", data={"csrf_token": csrf_token(home.text)})
        assert out.status_code == 303 and out.headers["location"] == "/"
    # Then the old cookie opens nothing
    with httpx.Client(base_url=server.base_url, cookies={"fy_session": token}) as stale:
        assert stale.get("/console").status_code == 303
        assert 'name="password"' in stale.get("/").text


def test_sign_in__wrong_password_or_unknown_email__401_and_no_session(
    server: Server, people: Callable[[str], Person]
) -> None:
    person = people("viewer")
    with httpx.Client(base_url=server.base_url) as client:
        for email, password in ((person.email, "not the password"), ("nobody@example.com", "whatever1")):
            answer = sign_in(client, email, password)
            assert answer.status_code == 401
            assert "email or password is wrong" in answer.text
            assert "fy_session" not in client.cookies


def test_sign_in__repeated_failures_for_one_email__slowed_down_even_for_the_right_password(
    server: Server, people: Callable[[str], Person]
) -> None:
    person = people("viewer")
    with httpx.Client(base_url=server.base_url, headers={"X-Forwarded-For": "198.51.100.7"}) as client:
        statuses = [sign_in(client, person.email, "wrong password").status_code for _ in range(4)]
        assert statuses == [401, 401, 401, 401]
        # The fourth failure locked the email for a while: the right password waits too
        locked = sign_in(client, person.email, person.password)
        assert locked.status_code == 429
        assert int(locked.headers["retry-after"]) >= 1
        assert "too many failed sign-ins" in locked.text
        assert "fy_session" not in client.cookies


def test_sign_in__repeated_failures_from_one_address__slowed_down_for_every_email(
    server: Server, people: Callable[[str], Person]
) -> None:
    person = people("viewer")
    address = {"X-Forwarded-For": "203.0.113.99"}
    with httpx.Client(base_url=server.base_url, headers=address) as client:
        # Twenty-one failures, each for a different email (so no email is locked)
        for index in range(21):
            assert sign_in(client, f"guess{index}@example.com", "wrong password").status_code == 401
        # Then this address waits, even with a right password for another account
        assert sign_in(client, person.email, person.password).status_code == 429
    # Another address signs in at once
    with httpx.Client(base_url=server.base_url, headers={"X-Forwarded-For": "203.0.113.100"}) as client:
        assert sign_in(client, person.email, person.password).status_code == 303


def test_sign_in__without_the_form_token__403(server: Server, people: Callable[[str], Person]) -> None:
    person = people("viewer")
    with httpx.Client(base_url=server.base_url) as client:
        answer = client.post("/console/sign-in", data={"email": person.email, "password": person.password})
        assert answer.status_code == 403
        assert "fy_session" not in client.cookies


def test_write__without_or_with_a_wrong_csrf_token__403_and_nothing_changes(
    editor: Browserless, server: Server, project_id: str
) -> None:
    created = editor.client.post(f"/console/p/{project_id}/flags",
                                 data={"csrf_token": editor.csrf, "key": "csrf-target"})
    assert created.status_code == 303
    page = created.headers["location"].split("?")[0]
    for data, headers in (({}, {}), ({"csrf_token": "forged"}, {}), ({}, {"X-CSRF-Token": "forged"})):
        answer = editor.client.post(f"{page}/settings", data={**data, "name": "hijacked", "rolloutPercentage": "50"},
                                    headers=headers)
        assert answer.status_code == 403, answer.text
        assert "CSRF" in answer.text
    assert "hijacked" not in editor.client.get(page).text
    # The header form of the token works, as scripts would send it
    ok = editor.client.post(f"{page}/settings", data={"name": "renamed", "rolloutPercentage": "50",
                                                      "bucketingKey": "amplitude_id"},
                            headers={"X-CSRF-Token": editor.csrf})
    assert ok.status_code == 303


def test_disabling_a_user__ends_their_sessions_at_once(
    server: Server, admin: Browserless, people: Callable[[str], Person]
) -> None:
    person = people("editor")
    with httpx.Client(base_url=server.base_url) as client:
        assert sign_in(client, person.email, person.password).status_code == 303
        assert client.get("/console").status_code == 303
        assert client.get("/console", follow_redirects=True).url.path.startswith("/console/p/")
        answer = admin.client.post(f"/console/users/{person.email}/disabled",
                                   data={"csrf_token": admin.csrf, "disabled": "true"})
        assert answer.status_code == 303
        assert client.get("/console", follow_redirects=True).url.path == "/"
        assert sign_in(client, person.email, person.password).status_code == 401


def test_session_cookie__opens_no_management_api_route(editor: Browserless) -> None:
    # The API stays key-only: a browser session is not a management key
    answer = editor.client.get("/api/1/flags")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "missing_key"
    assert editor.client.post("/api/1/flags", json={"projectId": "1", "key": "x"},
                              headers={"X-CSRF-Token": editor.csrf}).status_code == 401
