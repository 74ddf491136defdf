"""Flags as code: export a project, import it elsewhere, and get the same project back."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from flagyard import engine
from tests.support.server import Server


def _ok(answer: httpx.Response) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json() if "json" in answer.headers.get("content-type", "") else answer.text


def _deployment(api: httpx.Client, project: str, label: str, type_: str = "server") -> dict[str, Any]:
    created = _ok(api.post("/api/1/deployments", json={"projectId": project, "label": label, "type": type_}))
    return dict(_ok(api.get(f"/api/1/deployments/{created['id']}")))


def _full_project(server: Server, api: httpx.Client) -> tuple[str, dict[str, Any]]:
    """A project using every feature: returns its id and its server deployment."""
    project = server.create_project("as-code source")
    prod = _deployment(api, project, "production")
    _deployment(api, project, "web", "client")
    retired = _deployment(api, project, "retired")
    _ok(api.patch(f"/api/1/deployments/{retired['id']}", json={"archive": True}))
    parent = _ok(api.post("/api/1/flags", json={
        "projectId": project, "key": "new-nav", "name": "New navigation",
        "description": "Line one\nline two", "deployments": [prod["id"]],
        "variants": [{"key": "on", "payload": {"items": ["a", "b"]}}, {"key": "beta"}],
        "rolloutPercentage": 70, "rolloutWeights": {"on": 3, "beta": 1}, "tags": ["nav", "web"],
        "targetSegments": [{"name": "staff", "percentage": 100, "rolloutWeights": {"beta": 1},
                            "conditions": [{"type": "property", "prop": "gp:team", "op": "is",
                                            "values": ["core", "infra"]}]}],
    }))["id"]
    _ok(api.post(f"/api/1/flags/{parent}/variants/on/users", json={"inclusions": ["u-1", "u-2"]}))
    _ok(api.post(f"/api/1/flags/{parent}/variants/beta/cohorts", json={"inclusions": ["c0hort"]}))
    _ok(api.patch(f"/api/1/flags/{parent}", json={"enabled": True}))
    experiment = _ok(api.post("/api/1/experiments", json={
        "projectId": project, "key": "checkout-exp", "deployments": [prod["id"]],
        "variants": [{"key": "control"}, {"key": "treatment", "payload": 1.5, "rolloutWeight": 2}],
        "rolloutPercentage": 100, "bucketingKey": "user_id", "stickyBucketing": True,
        "parentDependencies": {"flags": {parent: ["on"]}, "operator": "all"},
    }))["id"]
    _ok(api.patch(f"/api/1/experiments/{experiment}", json={
        "enabled": True, "startDate": "2026-01-05", "experimentType": "hypothesis-testing",
        "exposureEvent": {"event_type": "checkout viewed", "filters": []}}))
    old = _ok(api.post("/api/1/flags", json={"projectId": project, "key": "old-banner"}))["id"]
    _ok(api.patch(f"/api/1/flags/{old}", json={"archive": True}))
    _ok(api.post("/api/1/flags", json={"projectId": project, "key": "dark-launch",
                                       "evaluationMode": "local", "deployments": [prod["id"]]}))
    return project, prod


def _export(api: httpx.Client, project: str) -> dict[str, Any]:
    return dict(_ok(api.get(f"/api/1/projects/{project}/export")))


def _versions(api: httpx.Client) -> dict[str, int]:
    out = {}
    for kind in ("flags", "experiments"):
        for item in _ok(api.get(f"/api/1/{kind}", params={"limit": 1000}))[kind]:
            out[f"{item['projectId']}/{item['key']}"] = item["version"]
    return out


def _evaluations(server: Server, key: str, count: int) -> list[dict[str, str]]:
    """Variant keys for `count` users, by flagyard's engine over what the deployment serves."""
    served = httpx.get(f"{server.base_url}/sdk/v2/flags", params={"eval_mode": "remote"},
                       headers={"Authorization": f"Api-Key {key}"}).json()
    flags = engine.FlagSet(engine.parse_flags(served))
    out = []
    for index in range(count):
        user = {"user_id": f"user-{index}", "device_id": f"device-{index}",
                "user_properties": {"team": "core" if index % 7 == 0 else "sales"}}
        results = engine.evaluate(engine.user_to_context(user), flags)
        out.append({flag: result.key or "" for flag, result in results.items()})
    return out


@pytest.fixture(scope="module")
def source(server: Server, api: httpx.Client) -> tuple[str, dict[str, Any], dict[str, Any]]:
    project, prod = _full_project(server, api)
    return project, prod, _export(api, project)


def test_round_trip__cli_import_into_empty_project__same_document_and_variants(
    server: Server, api: httpx.Client, tmp_path: Path,
    source: tuple[str, dict[str, Any], dict[str, Any]],
) -> None:
    project, prod, document = source
    # Given the source exported by the CLI as YAML (the same document as over HTTP)
    text = server.cli("export", "--project", project).stdout
    assert yaml.safe_load(text) == document
    assert api.get(f"/api/1/projects/{project}/export", params={"format": "yaml"}).text == text
    file = tmp_path / "project.yaml"
    file.write_text(text)
    # When it is imported into an empty project
    target = server.create_project("as-code target")
    imported = server.cli("import", str(file), "--project", target)
    # Then the plan was printed, and exporting the target gives the same document
    assert "+ create flag new-nav" in imported.stdout
    assert "+ create deployment production" in imported.stdout
    assert _export(api, target) == document
    # And 1,000 users get the same variants from both projects
    target_prod = next(d for d in _ok(api.get("/api/1/deployments", params={"limit": 1000}))["deployments"]
                       if d["projectId"] == target and d["label"] == "production")
    before = _evaluations(server, prod["key"], 1000)
    assert before == _evaluations(server, target_prod["key"], 1000)
    assert {"on", "beta"} <= {row["new-nav"] for row in before}
    assert {"control", "treatment"} <= {row["checkout-exp"] for row in before}
    # And a second import changes nothing and appends no version
    versions = _versions(api)
    again = server.cli("import", str(file), "--project", target)
    assert again.stdout.splitlines()[-2:] == [f"= {len(document['flags']) + len(document['experiments'])} unchanged",
                                              "nothing to apply"]
    assert _versions(api) == versions


def test_import__http_dry_run__plan_without_change(
    server: Server, api: httpx.Client, source: tuple[str, dict[str, Any], dict[str, Any]],
) -> None:
    project, _, document = source
    # Given a document that changes a rollout and adds a flag
    edited = copy.deepcopy(document)
    next(f for f in edited["flags"] if f["key"] == "new-nav")["rolloutPercentage"] = 20
    edited["flags"].append({"key": "brand-new", "deployments": ["production"]})
    versions = _versions(api)
    # When it is imported as a dry run (YAML body)
    answer = api.post(f"/api/1/projects/{project}/import", params={"dryRun": "true"},
                      content=yaml.safe_dump(edited), headers={"Content-Type": "application/yaml"})
    # Then the plan lists both changes and nothing changed
    body = _ok(answer)
    assert body["applied"] is False and body["dryRun"] is True
    assert {"action": "update", "kind": "flag", "key": "new-nav", "fields": ["rolloutPercentage"]} in body["changes"]
    assert {"action": "create", "kind": "flag", "key": "brand-new", "fields": []} in body["changes"]
    assert _export(api, project) == document and _versions(api) == versions


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d["flags"][0]["variants"].__setitem__(0, {"key": "bad key"}),
     "flags[0].variants[0].key: "),
    (lambda d: d["experiments"][0].__setitem__("rolloutPercentage", 101),
     "experiments[0].rolloutPercentage: "),
    (lambda d: d["flags"].append({"key": "x", "deployments": ["nowhere"]}),
     "flags[3]: deployments[0]: no deployment labelled 'nowhere'"),
    (lambda d: d["flags"].append({"key": "y", "targetSegments": [
        {"name": "s", "percentage": 5, "rolloutWeights": {"ghost": 1}}]}),
     "flags[3]: targetSegments[0].rolloutWeights"),
    (lambda d: d.__setitem__("cohorts", []), "cohorts: "),
])
def test_import__invalid_document__refused_whole_with_location(
    api: httpx.Client, source: tuple[str, dict[str, Any], dict[str, Any]], edit: Any, message: str,
) -> None:
    project, _, document = source
    # Given a document that also renames a flag (a valid change before the bad one)
    bad = copy.deepcopy(document)
    bad["flags"][0]["name"] = "Renamed"
    edit(bad)
    # When it is imported
    answer = api.post(f"/api/1/projects/{project}/import", json=bad)
    # Then it is refused, naming where, and nothing changed
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["message"].startswith(message), answer.json()
    assert _export(api, project) == document


def test_import__not_yaml__400_naming_the_line(api: httpx.Client, source: tuple[str, Any, Any]) -> None:
    answer = api.post(f"/api/1/projects/{source[0]}/import", content=b"flags: [\n  {key: a,\n")
    assert answer.status_code == 400
    assert "line" in answer.json()["error"]["message"]


def test_import__prune__archives_what_the_document_leaves_out(
    server: Server, api: httpx.Client,
) -> None:
    # Given a project with two flags, and a document listing only one
    project = server.create_project("prune")
    for key in ("keep-me", "drop-me"):
        _ok(api.post("/api/1/flags", json={"projectId": project, "key": key}))
    document = _export(api, project)
    document["flags"] = [f for f in document["flags"] if f["key"] == "keep-me"]
    # When imported without and then with prune
    plain = _ok(api.post(f"/api/1/projects/{project}/import", json=document))
    pruned = _ok(api.post(f"/api/1/projects/{project}/import", params={"prune": "true"}, json=document))
    # Then only the pruning import archived the other flag
    assert plain["changes"] == []
    assert pruned["changes"] == [{"action": "archive", "kind": "flag", "key": "drop-me", "fields": []}]
    archived = {f["key"]: f["archived"] for f in _export(api, project)["flags"]}
    assert archived == {"keep-me": False, "drop-me": True}


def test_access__read_only_key_exports_but_cannot_import(
    server: Server, make_client: Any, source: tuple[str, Any, Any],
) -> None:
    project, _, document = source
    reader = make_client(server.create_key("as-code reader", read_only=True))
    assert reader.get(f"/api/1/projects/{project}/export").json() == document
    assert reader.post(f"/api/1/projects/{project}/import", json=document).status_code == 403


def test_export__yaml_format_over_http__same_document(
    api: httpx.Client, source: tuple[str, Any, Any],
) -> None:
    project, _, document = source
    answer = api.get(f"/api/1/projects/{project}/export", params={"format": "yaml"})
    assert answer.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(answer.text) == document
    assert json.loads(json.dumps(document)) == document


def test_export__unknown_project__404(api: httpx.Client) -> None:
    assert api.get("/api/1/projects/999999/export").status_code == 404


def _many_flags(count: int) -> dict[str, Any]:
    """A document of `count` flags: every fifth depends on the one before, each includes users."""
    return {"formatVersion": 1, "deployments": [{"label": "production"}], "flags": [{
        "key": f"bulk-{i:03d}", "enabled": True, "deployments": ["production"], "rolloutPercentage": 40,
        "parentDependencies": {"flags": {f"bulk-{i - 1:03d}": ["treatment"]}} if i % 5 == 1 else None,
        "variants": [{"key": "control"},
                     {"key": "treatment", "payload": {"n": i}, "users": [f"u{i}-{j}" for j in range(3)]}],
    } for i in range(count)]}


def _audit(client: httpx.Client, action: str) -> list[dict[str, Any]]:
    return list(_ok(client.get("/api/1/audit", params={"action": action, "limit": 1000}))["records"])


def test_import__many_flags__each_gets_one_version_and_one_audit_record(server: Server, make_client: Any) -> None:
    # Given a key for a project of its own, and a document of 60 flags
    project = server.create_project("bulk import")
    client = make_client(server.create_key("bulk-importer", projects=(project,)))
    document = _many_flags(60)
    # When it is imported, and then again with three flags changed
    _ok(client.post(f"/api/1/projects/{project}/import", json=document))
    changed = copy.deepcopy(document)
    changed["flags"][7]["rolloutPercentage"] = 90
    changed["flags"][11]["variants"][1]["users"] = ["u11-2", "u11-0", "someone-else"]
    changed["flags"][20]["variants"].append({"key": "third"})
    _ok(client.post(f"/api/1/projects/{project}/import", json=changed))
    # Then every flag has its created version and record, and only the changed ones a second
    flags = {f["key"]: f for f in _ok(client.get("/api/1/flags", params={"limit": 1000}))["flags"]}
    assert len(flags) == 60
    histories = {key: _ok(client.get(f"/api/1/flags/{flag['id']}/versions")) for key, flag in flags.items()}
    again = {"bulk-007", "bulk-011", "bulk-020"}
    assert {key: [v["version"] for v in history] for key, history in histories.items()} == {
        key: [2, 1] if key in again else [1] for key in flags}
    assert all(history[0]["flagConfig"] == flags[key] for key, history in histories.items())
    assert {v["createdBy"] for history in histories.values() for v in history} == {"bulk-importer"}
    created = _audit(client, "flag.created")
    assert sorted(r["subjectId"] for r in created) == sorted(f["id"] for f in flags.values())
    assert all(r["actor"] == "bulk-importer" and r["before"] is None for r in created)
    updated = {r["subjectId"]: r for r in _audit(client, "flag.updated")}
    assert set(updated) == {flags[key]["id"] for key in again}
    assert updated[flags["bulk-007"]["id"]]["after"] == {"rolloutPercentage": 90}
    # And parents, inclusions and variants are what the document says
    assert _ok(client.post(f"/api/1/projects/{project}/import", json=changed))["changes"] == []
    parent = flags["bulk-020"]["id"]
    assert flags["bulk-021"]["parentDependencies"] == {"operator": "all", "flags": {parent: ["treatment"]}}
    users = client.get(f"/api/1/flags/{flags['bulk-011']['id']}/variants/treatment/users").json()
    assert users == ["u11-2", "u11-0", "someone-else"]


def test_import__change_to_a_flag_a_protected_deployment_serves__409_and_nothing_changes(
    server: Server, api: httpx.Client,
) -> None:
    # Given flags imported into a project whose deployment requires approval
    project = server.create_project("guarded import")
    _ok(api.post("/api/1/deployments", json={"projectId": project, "label": "production", "requireApproval": True}))
    document = _many_flags(5)
    _ok(api.post(f"/api/1/projects/{project}/import", json=document))
    before = _export(api, project)
    # When a document changing one of them is imported
    changed = copy.deepcopy(document)
    changed["flags"][3]["rolloutPercentage"] = 75
    answer = api.post(f"/api/1/projects/{project}/import", json=changed)
    # Then it is refused as any change to several flags is, and nothing changed
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == "approval_required"
    assert _export(api, project) == before
