"""Console fixtures: people with each role, on the session's shared server."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

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
def editor(server: Server) -> Iterator[Browserless]:
    session = _signed_in(server, create_user(server, "editor"))
    yield session
    session.client.close()


@pytest.fixture(scope="session")
def viewer(server: Server) -> Iterator[Browserless]:
    session = _signed_in(server, create_user(server, "viewer"))
    yield session
    session.client.close()
