"""Data survives a restart of the server on the same database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.factories import assert_ok, create_flag, snapshot
from tests.support.server import fresh_database_url, running_server


def _everything(client: httpx.Client, ids: dict[str, str]) -> dict[str, Any]:
    return {
        "flag": snapshot(client, "flags", ids["flag"]),
        "experiment": snapshot(client, "experiments", ids["experiment"]),
        "archived": client.get(f"/api/1/flags/{ids['archived']}").json(),
        "flags": client.get("/api/1/flags", params={"includeArchived": "true"}).json(),
        "experiments": client.get("/api/1/experiments").json(),
        "deployments": client.get("/api/1/deployments").json(),
        "versions": client.get("/api/1/versions").json(),
        "flag_deployments": client.get(f"/api/1/flags/{ids['flag']}/deployments").json(),
    }


def test_restart__same_database__serves_everything_written_before(tmp_path: Path) -> None:
    # Given
    database_url = fresh_database_url(tmp_path)
    with running_server(database_url) as first:
        project_id = first.create_project("persisted")
        deployment = first.create_deployment(project_id, "production")
        key = first.create_key("keeper@example.com")
        with httpx.Client(base_url=first.base_url, headers={"Authorization": f"Bearer {key}"}) as api:
            ids = {
                "flag": create_flag(api, project_id, "flags", deployments=[deployment["id"]],
                                    variants=[{"key": "on", "payload": {"deep": [1, {"x": None}]}}, {"key": "b"}]),
                "experiment": create_flag(api, project_id, "experiments"),
                "archived": create_flag(api, project_id, "flags"),
            }
            assert_ok(api.post(f"/api/1/flags/{ids['flag']}/variants/on/users", json={"inclusions": ["z", "a", "m"]}))
            assert_ok(api.post(f"/api/1/flags/{ids['flag']}/variants/b/cohorts", json={"inclusions": ["c1"]}))
            assert api.patch(f"/api/1/flags/{ids['flag']}", json={"enabled": True, "tags": ["t"]}).status_code == 200
            assert api.patch(f"/api/1/experiments/{ids['experiment']}", json={"decision": "rollout"}).status_code == 200
            assert api.patch(f"/api/1/flags/{ids['archived']}", json={"archive": True}).status_code == 200
            before = _everything(api, ids)
    # When
    with (
        running_server(database_url) as second,
        httpx.Client(base_url=second.base_url, headers={"Authorization": f"Bearer {key}"}) as api,
    ):
        after = _everything(api, ids)
        newer = create_flag(api, project_id, "flags")
        next_version = api.patch(f"/api/1/flags/{ids['flag']}", json={"name": "after restart"}).json()["version"]
    # Then
    assert after == before
    assert int(newer) > max(int(i) for i in ids.values())
    assert next_version == before["flag"]["item"]["version"] + 1
