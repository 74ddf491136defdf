"""POST /api/1/{flags|experiments}/{id}/versions/{version}/restore."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import assert_error, create_linked, first_variant, segment_for

# What a restore may legitimately change besides the configuration.
BOOKKEEPING = ("version", "lastModifiedAt", "lastModifiedBy", "state")


def _config(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in BOOKKEEPING}


def test_restore__appends_a_version_equal_to_the_old_configuration(
    api: httpx.Client, project_id: str, deployment: dict[str, str], kind: str
) -> None:
    # Given an item changed three times after version 2
    item = create_linked(api, project_id, deployment["id"], kind)
    base = f"/api/1/{kind}/{item}"
    assert api.post(f"{base}/variants", json={"key": "blue", "payload": {"color": "#00f"}}).status_code == 200
    old = api.get(base).json()  # version 2
    assert old["version"] == 2
    api.patch(base, json={"targetSegments": [segment_for(kind)], "rolloutPercentage": 40, "tags": ["t1"]})
    api.patch(base, json={"enabled": True})
    api.delete(f"{base}/variants/blue")

    # When version 2 is restored
    answer = api.post(f"{base}/versions/2/restore")

    # Then a new version 6 holds version 2's configuration, and GET shows it
    assert answer.status_code == 200, answer.text
    restored = answer.json()
    assert restored["version"] == 6 and restored["createdBy"] == "admin@example.com"
    now = api.get(base).json()
    assert now["version"] == 6
    assert _config(now) == _config(old)
    assert restored["flagConfig"] == now
    versions = api.get(f"{base}/versions").json()
    assert [v["version"] for v in versions][:2] == [6, 5]


def test_restore__keeps_inclusions_of_variants_kept_by_key(
    api: httpx.Client, project_id: str, deployment: dict[str, str]
) -> None:
    item = create_linked(api, project_id, deployment["id"], "flags")
    base = f"/api/1/flags/{item}"
    variant = first_variant("flags")
    api.post(f"{base}/variants/{variant}/users", json={"inclusions": ["alice"]})
    api.patch(base, json={"name": "renamed"})

    assert api.post(f"{base}/versions/1/restore").status_code == 200

    assert api.get(f"{base}/variants/{variant}/users").json() == ["alice"]
    assert api.get(base).json()["name"] != "renamed"


def test_restore__unknown_version_or_item__404_and_nothing_written(
    api: httpx.Client, project_id: str, deployment: dict[str, str]
) -> None:
    item = create_linked(api, project_id, deployment["id"], "flags")
    base = f"/api/1/flags/{item}"
    assert_error(api.post(f"{base}/versions/9/restore"), 404, "version 9", code="version_not_found")
    assert_error(api.post(f"{base}/versions/x/restore"), 404)
    assert_error(api.post("/api/1/flags/999999/versions/1/restore"), 404)
    # A flag is not an experiment
    assert_error(api.post(f"/api/1/experiments/{item}/versions/1/restore"), 404)
    assert api.get(base).json()["version"] == 1


def test_restore__archived_item_or_read_only_key__refused(
    api: httpx.Client, make_client: Any, read_only_key: str, project_id: str, deployment: dict[str, str]
) -> None:
    item = create_linked(api, project_id, deployment["id"], "flags")
    base = f"/api/1/flags/{item}"
    api.patch(base, json={"name": "second"})
    assert_error(make_client(read_only_key).post(f"{base}/versions/1/restore"), 403, code="read_only_key")
    api.patch(base, json={"archive": True})
    assert_error(api.post(f"{base}/versions/1/restore"), 400, "archived", code="archived")
    assert api.get(base).json()["version"] == 3


def test_restore__a_version_whose_deployment_was_archived_since__refused(
    api: httpx.Client, server: Any, project_id: str
) -> None:
    # Given a flag enabled on a deployment, then moved to another one, the first archived
    first = server.create_deployment(project_id)
    second = server.create_deployment(project_id)
    item = create_linked(api, project_id, first["id"], "flags")
    base = f"/api/1/flags/{item}"
    api.patch(base, json={"enabled": True})
    api.post(f"{base}/deployments", json={"deployments": [second["id"]]})
    api.delete(f"{base}/deployments/{first['id']}")
    assert api.patch(f"/api/1/deployments/{first['id']}", json={"archive": True}).status_code == 200

    # When version 2 (linked to the archived deployment) is restored: refused, nothing written
    assert_error(api.post(f"{base}/versions/2/restore"), 400, "archived")
    assert api.get(base).json()["version"] == 4


def test_restore__documented_in_openapi(server: Any) -> None:
    schema = httpx.get(f"{server.base_url}/openapi.json").json()
    for plural in ("flags", "experiments"):
        operation = schema["paths"][f"/api/1/{plural}/{{id}}/versions/{{versionId}}/restore"]["post"]
        assert operation["security"] == [{"managementKey": []}]
        assert "200" in operation["responses"] and "404" in operation["responses"]
