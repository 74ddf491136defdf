"""Fixtures for the Management API suite: extra keys, a second project, both kinds."""

from __future__ import annotations

import httpx
import pytest

from tests.support.server import Server

KINDS = ("flags", "experiments")
# The two generations mount the same per-item routes under different prefixes.
GENERATIONS = ("/api/1", "")


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=GENERATIONS, ids=("current", "beta"))
def prefix(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def other_project_id(server: Server) -> str:
    return server.create_project("other")


@pytest.fixture(scope="session")
def other_deployment(server: Server, other_project_id: str) -> dict[str, str]:
    return server.create_deployment(other_project_id, "other-production")


@pytest.fixture(scope="session")
def read_only_key(server: Server) -> str:
    return server.create_key("reader@example.com", read_only=True)


@pytest.fixture(scope="session")
def read_only_api(make_client, read_only_key: str) -> httpx.Client:  # type: ignore[no-untyped-def]
    return make_client(read_only_key)


@pytest.fixture(scope="session")
def editor_api(server: Server, make_client) -> httpx.Client:  # type: ignore[no-untyped-def]
    """A second read-write key, to tell who made which change."""
    return make_client(server.create_key("editor@example.com"))


@pytest.fixture(scope="session")
def other_project_api(server: Server, make_client, other_project_id: str) -> httpx.Client:  # type: ignore[no-untyped-def]
    """A read-write key limited to the other project."""
    return make_client(server.create_key("outsider@example.com", projects=(other_project_id,)))


@pytest.fixture(scope="session")
def anonymous(make_client) -> httpx.Client:  # type: ignore[no-untyped-def]
    return make_client(None)
