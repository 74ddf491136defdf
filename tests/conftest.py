"""Shared fixtures: one real flagyard server per test session, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import Server, drop_test_databases, fresh_database_url, running_server


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    drop_test_databases()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    database_url = fresh_database_url(tmp_path_factory.mktemp("db"))
    # The shared server has no rate limit: the suite sends hundreds of requests a second with
    # one key. tests/api/test_rate_limit.py runs a server with a limit of its own. Flag usage is
    # written every half second, so the pages that show it need not wait the default 10 s.
    env = {"FLAGYARD_RATE_LIMIT_PER_SECOND": "0", "FLAGYARD_USAGE_FLUSH_SECONDS": "0.5"}
    with running_server(database_url, env=env) as running:
        yield running


@pytest.fixture(scope="session")
def project_id(server: Server) -> str:
    return server.create_project("main")


@pytest.fixture(scope="session")
def deployment(server: Server, project_id: str) -> dict[str, str]:
    return server.create_deployment(project_id, "production")


@pytest.fixture(scope="session")
def admin_key(server: Server) -> str:
    return server.create_key("admin@example.com")


def _client(server: Server, key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=30)


@pytest.fixture(scope="session")
def api(server: Server, admin_key: str) -> Iterator[httpx.Client]:
    """A client holding a read-write key for every project."""
    with _client(server, admin_key) as client:
        yield client


@pytest.fixture(scope="session")
def make_client(server: Server) -> Iterator[object]:
    clients: list[httpx.Client] = []

    def make(key: str | None) -> httpx.Client:
        client = _client(server, key)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return Path(__file__).parent / "data"
