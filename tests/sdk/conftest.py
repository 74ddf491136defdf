"""A project of its own for the SDK suite, so flags made by other suites are not served here."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.server import Server


@pytest.fixture(scope="module")
def sdk_project(server: Server) -> str:
    return server.create_project("sdk")


@pytest.fixture(scope="module")
def sdk_deployment(server: Server, sdk_project: str) -> dict[str, str]:
    return server.create_deployment(sdk_project, "sdk-server")


@pytest.fixture(scope="module")
def manage(server: Server, sdk_project: str) -> Iterator[httpx.Client]:
    key = server.create_key("sdk-suite", projects=(sdk_project,))
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"},
                      timeout=30) as client:
        yield client


def create(manage: httpx.Client, kind: str, body: dict[str, Any]) -> str:
    response = manage.post(f"/api/1/{kind}", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def enable(manage: httpx.Client, kind: str, flag_id: str) -> None:
    response = manage.patch(f"/api/1/{kind}/{flag_id}", json={"enabled": True})
    assert response.status_code == 200, response.text


def release(client: Any) -> None:
    """Stop an SDK client and collect what it leaves behind now, not in some later test.

    The SDK's own connection pools drop sockets without closing them; collecting here, with
    their ResourceWarning silenced, keeps that out of unrelated tests' warnings.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        if hasattr(client, "stop"):
            client.stop()
        else:
            client.close()
        gc.collect()
