"""Signing in to the console over plain HTTP, as a browser would."""

from __future__ import annotations

import re

import httpx

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(client: httpx.Client, email: str, password: str) -> httpx.Response:
    """Open the sign-in form, then send it; the response is the (unfollowed) answer."""
    form = client.get("/")
    return client.post("/console/sign-in", data={
        "email": email, "password": password, "csrf_token": csrf_token(form.text)})


def signed_in_client(base_url: str, email: str, password: str) -> tuple[httpx.Client, str]:
    """A client with a session cookie, and the session's CSRF token."""
    client = httpx.Client(base_url=base_url, timeout=30)
    answer = sign_in(client, email, password)
    assert answer.status_code == 303, answer.text
    home = client.get("/console", follow_redirects=True)
    return client, csrf_token(home.text)
