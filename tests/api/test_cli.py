"""The `flagyard` command line: the exact output scripts depend on."""

from __future__ import annotations

import json
import re

import httpx

from tests.support.server import Server


def test_projects_create__prints_only_the_new_id(server: Server) -> None:
    # When
    result = server.cli("projects", "create", "--name", "cli project")
    # Then
    assert re.fullmatch(r"\d+\n", result.stdout)
    assert result.stdout.strip() in server.cli("projects", "list").stdout


def test_deployments_create__prints_one_json_line_with_id_and_key(server: Server, project_id: str) -> None:
    # When
    result = server.cli("deployments", "create", "--project", project_id, "--label", "cli-staging", "--type", "client")
    # Then
    assert result.stdout.count("\n") == 1
    created = json.loads(result.stdout)
    assert set(created) == {"id", "key"}
    assert created["id"].isdigit()
    assert created["key"].startswith("client-")


def test_deployments_create__is_visible_through_the_api(server: Server, api: httpx.Client, project_id: str) -> None:
    # Given
    created = json.loads(server.cli("deployments", "create", "--project", project_id, "--label", "cli-visible").stdout)
    # When
    got = api.get(f"/api/1/deployments/{created['id']}").json()
    # Then
    assert (got["key"], got["label"], got["projectId"]) == (created["key"], "cli-visible", project_id)
    assert got["key"].startswith("server-")


def test_deployments_create__unknown_project__fails_with_nothing_on_stdout(server: Server) -> None:
    # When
    result = server.cli("deployments", "create", "--project", "987654", "--label", "x", check=False)
    # Then
    assert result.returncode != 0
    assert result.stdout == ""
    assert "987654" in result.stderr


def test_keys_create__prints_only_a_working_key(server: Server, make_client) -> None:  # type: ignore[no-untyped-def]
    # When
    result = server.cli("keys", "create", "--name", "cli-user@example.com")
    # Then
    assert re.fullmatch(r"\S+\n", result.stdout)
    assert make_client(result.stdout.strip()).get("/api/1/flags", params={"limit": 1}).status_code == 200


def test_keys_list__shows_the_new_key_without_revealing_it(server: Server) -> None:
    # Given
    key = server.create_key("listed@example.com")
    # When
    listing = server.cli("keys", "list").stdout
    # Then
    line = next(line for line in listing.splitlines() if "listed@example.com" in line)
    assert key not in listing
    assert "active" in line


def test_keys_revoke__by_key__makes_it_401(server: Server, make_client) -> None:  # type: ignore[no-untyped-def]
    # Given
    key = server.create_key("revoke-by-key@example.com")
    client = make_client(key)
    assert client.get("/api/1/flags", params={"limit": 1}).status_code == 200
    # When
    result = server.cli("keys", "revoke", key)
    # Then
    assert result.returncode == 0
    assert client.get("/api/1/flags", params={"limit": 1}).status_code == 401
    line = next(line for line in server.cli("keys", "list").stdout.splitlines() if "revoke-by-key@" in line)
    assert "revoked" in line


def test_keys_revoke__by_id__makes_it_401(server: Server, make_client) -> None:  # type: ignore[no-untyped-def]
    # Given
    key = server.create_key("revoke-by-id@example.com")
    client = make_client(key)
    assert client.get("/api/1/flags", params={"limit": 1}).status_code == 200
    line = next(line for line in server.cli("keys", "list").stdout.splitlines() if "revoke-by-id@" in line)
    key_id = line.split()[0]
    # When
    result = server.cli("keys", "revoke", key_id)
    # Then
    assert result.returncode == 0
    assert client.get("/api/1/flags", params={"limit": 1}).status_code == 401


def test_keys_revoke__unknown__fails(server: Server) -> None:
    # When
    result = server.cli("keys", "revoke", "fy_no-such-key", check=False)
    # Then
    assert result.returncode != 0
    assert result.stdout == ""


def test_keys_create__read_only_and_scoped__is_limited_accordingly(
    server: Server, make_client, project_id: str, other_project_id: str  # type: ignore[no-untyped-def]
) -> None:
    # Given
    key = server.cli("keys", "create", "--name", "scoped-reader", "--project", other_project_id, "--read-only").stdout.strip()
    client = make_client(key)
    # When
    own = client.get("/api/1/flags", params={"projectId": other_project_id})
    foreign = client.get("/api/1/flags", params={"projectId": project_id})
    write = client.post("/api/1/flags", json={"projectId": other_project_id, "key": "never"})
    # Then
    assert own.status_code == 200
    assert foreign.status_code == 403
    assert write.status_code == 403
