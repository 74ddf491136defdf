"""Console fixtures: people with each role, on the session's shared server."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.console.browser import browser, shots  # noqa: F401 - the browser tests' fixtures
from tests.console.support import signed_in_client
from tests.support.server import Server, cli_env

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Person:
    email: str
    password: str
    role: str


def create_user(server: Server, role: str, email: str | None = None,
                password: str = PASSWORD) -> Person:
    email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    result = subprocess.run(
        [sys.executable, "-m", "flagyard", "users", "create", "--email", email, "--role", role,
         "--password-stdin"],
        input=password + "\n", env=cli_env(server.database_url), capture_output=True, text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return Person(email, password, role)


@dataclass
class Browserless:
    """A signed-in HTTP client and its session's CSRF token."""

    client: httpx.Client
    csrf: str
    person: Person


def _signed_in(server: Server, person: Person) -> Browserless:
    client, csrf = signed_in_client(server.base_url, person.email, person.password)
    return Browserless(client, csrf, person)


@pytest.fixture(scope="session")
def admin(server: Server) -> Iterator[Browserless]:
    session = _signed_in(server, create_user(server, "admin"))
    yield session
    session.client.close()


@pytest.fixture(scope="session")
def people(admin: Browserless) -> Callable[[str], Person]:
    """Make a person with a role, as an admin does in the console (quicker than the CLI)."""

    def make(role: str) -> Person:
        person = Person(f"{role}-{uuid.uuid4().hex[:8]}@example.com", PASSWORD, role)
        answer = admin.client.post("/console/users", data={
            "csrf_token": admin.csrf, "email": person.email, "role": role, "password": PASSWORD})
        assert answer.status_code == 303, answer.text
        return person

    return make


@pytest.fixture(scope="session")
def editor(server: Server, people: Callable[[str], Person]) -> Iterator[Browserless]:
    session = _signed_in(server, people("editor"))
    yield session
    session.client.close()


@pytest.fixture(scope="session")
def viewer(server: Server, people: Callable[[str], Person]) -> Iterator[Browserless]:
    session = _signed_in(server, people("viewer"))
    yield session
    session.client.close()
