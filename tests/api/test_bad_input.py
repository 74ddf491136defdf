"""A battery of bad input against every management write route of both generations.

The routes come from the server's own /openapi.json. Every bad input must get a 4xx with the
error envelope (naming the field where there is one) and must leave everything as it was.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import (
    assert_error,
    create_cohort,
    create_flag,
    create_holdout,
    create_mutex,
    segment_for,
    snapshot,
    unique_key,
)
from tests.support.server import Server

MANAGEMENT = re.compile(r"^/(api/1/|flags/|experiments/|deployments/)")
WRITE_METHODS = ("post", "patch", "put", "delete")
MIB = 1 << 20
DEEP = 10_000

# How many bad inputs each test sent, summed up by the last test of the module.
TRIED: Counter[str] = Counter()


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    body_schema: str | None  # the component name of the JSON body, None for a route without one
    body_optional: bool = False  # no body (empty, or JSON null) is a request like any other

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class BadInput:
    what: str
    raw: bytes
    field: str | None  # the field the error message must name, when there is one
    statuses: tuple[int, ...] = (400,)


# --- what the server says about itself ------------------------------------------------------

@pytest.fixture(scope="module")
def spec(server: Server) -> dict[str, Any]:
    response = httpx.get(f"{server.base_url}/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def write_routes(spec: dict[str, Any]) -> list[Route]:
    routes = []
    for path, operations in spec["paths"].items():
        if not MANAGEMENT.match(path):
            continue
        for method, operation in operations.items():
            if method not in WRITE_METHODS:
                continue
            schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            # An optional body is "anyOf: [its schema, null]".
            ref = next((s["$ref"] for s in schema.get("anyOf", []) if "$ref" in s), None) if schema else None
            ref = schema.get("$ref", ref) if schema else None
            name = ref.rsplit("/", 1)[-1] if ref else None
            optional = bool(schema) and not operation["requestBody"].get("required", False)
            routes.append(Route(method.upper(), path, name, optional))
    return sorted(routes, key=str)


@pytest.fixture(scope="module")
def read_routes_with_query(spec: dict[str, Any]) -> list[tuple[str, dict[str, dict[str, Any]]]]:
    routes = []
    for path, operations in spec["paths"].items():
        # List routes only: a route under an item's id ({id}) needs a real id to be reached.
        if MANAGEMENT.match(path) and "get" in operations and "{" not in path:
            query = {p["name"]: p["schema"] for p in operations["get"].get("parameters", []) if p["in"] == "query"}
            if query:
                routes.append((path, query))
    return sorted(routes)


# --- the things a refused request must leave alone ------------------------------------------

@dataclass(frozen=True)
class Targets:
    project_id: str
    flag: str
    experiment: str
    parent: str
    deployment: str
    holdout: str
    mutex: str
    cohort: str
    webhook: str
    change_request: str


@pytest.fixture(scope="module")
def targets(api: httpx.Client, project_id: str) -> Targets:
    deployment = api.post("/api/1/deployments", json={"projectId": project_id, "label": unique_key("bad-input")})
    assert deployment.status_code == 200, deployment.text
    deployment_id = deployment.json()["id"]
    flag = create_flag(api, project_id, "flags", deployments=[deployment_id], tags=["t"],
                       targetSegments=[segment_for("flags")])
    experiment = create_flag(api, project_id, "experiments", deployments=[deployment_id])
    for kind, item, variant in (("flags", flag, "on"), ("experiments", experiment, "control")):
        base = f"/api/1/{kind}/{item}/variants/{variant}"
        assert api.post(f"{base}/users", json={"inclusions": ["u1", "u2"]}).status_code == 200
        assert api.post(f"{base}/cohorts", json={"inclusions": ["c1"]}).status_code == 200
    parent = create_flag(api, project_id, "flags")
    holdout = create_holdout(api, project_id, individualInclusion=["u1"])
    mutex = create_mutex(api, project_id, slots=[{"percentage": 40, "individuals": ["u1"]}, {"percentage": 60}])
    cohort = create_cohort(api, project_id)
    webhook = api.post("/api/1/webhooks", json={"projectId": project_id, "url": "https://hooks.example.com/bad-input",
                                                "events": ["flag.enabled"]})
    assert webhook.status_code == 200, webhook.text
    guarded = api.post("/api/1/deployments", json={"projectId": project_id, "label": unique_key("bad-guarded"),
                                                  "requireApproval": True}).json()["id"]
    held = api.patch(f"/api/1/flags/{create_flag(api, project_id, 'flags', deployments=[guarded])}",
                     json={"name": "held"})
    assert held.status_code == 202, held.text
    return Targets(project_id, flag, experiment, parent, deployment_id, holdout, mutex, cohort,
                   webhook.json()["id"], held.json()["changeRequestId"])


def state(api: httpx.Client, targets: Targets) -> dict[str, Any]:
    return {
        "flag": snapshot(api, "flags", targets.flag),
        "experiment": snapshot(api, "experiments", targets.experiment),
        "deployment": api.get(f"/api/1/deployments/{targets.deployment}").json(),
        "deployments": api.get("/api/1/deployments").json(),
        # Lists are newest first: anything created by mistake shows up at the top.
        "flags": api.get("/api/1/flags", params={"limit": 3, "includeArchived": "true"}).json(),
        "experiments": api.get("/api/1/experiments", params={"limit": 3, "includeArchived": "true"}).json(),
        "versions": api.get("/api/1/versions", params={"limit": 3}).json(),
        "holdout": api.get(f"/api/1/holdouts/{targets.holdout}").json(),
        "mutex": api.get(f"/api/1/mutexes/{targets.mutex}").json(),
        "holdouts": api.get("/api/1/holdouts", params={"limit": 3, "includeArchived": "true"}).json(),
        "mutexes": api.get("/api/1/mutexes", params={"limit": 3, "includeArchived": "true"}).json(),
        "cohort": api.get(f"/api/1/cohorts/{targets.cohort}").json(),
        "cohorts": api.get("/api/1/cohorts", params={"limit": 3, "includeArchived": "true"}).json(),
        "analysis": api.get(f"/api/1/experiments/{targets.experiment}/analysis").json(),
        "metrics": api.get(f"/api/1/experiments/{targets.experiment}/metrics").json(),
        "webhook": api.get(f"/api/1/webhooks/{targets.webhook}").json(),
        "webhooks": api.get("/api/1/webhooks").json(),
        "change_request": api.get(f"/api/1/change-requests/{targets.change_request}").json(),
    }


# --- a valid body per schema, to put one bad value into -------------------------------------

def kind_of(path: str) -> str:
    if path.startswith("/api/1/cohorts"):
        return "cohorts"
    if path.startswith("/api/1/webhooks"):
        return "webhooks"
    if path.startswith("/api/1/change-requests"):
        return "change-requests"
    for kind in ("flags", "experiments", "holdouts", "mutexes"):
        if kind in path:
            return kind
    return "deployments"


def fill(path: str, targets: Targets, **overrides: str) -> str:
    kind = kind_of(path)
    item = {"flags": targets.flag, "experiments": targets.experiment, "deployments": targets.deployment,
            "holdouts": targets.holdout, "mutexes": targets.mutex, "cohorts": targets.cohort,
            "webhooks": targets.webhook, "change-requests": targets.change_request}[kind]
    values = {"id": item, "variantKey": "on" if kind == "flags" else "control", "userIndex": "0", "versionId": "1",
              "deploymentId": targets.deployment, "slotIndex": "1", "scheduleId": "1", **overrides}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def examples(targets: Targets, kind: str) -> dict[str, dict[str, Any]]:
    """A valid value of every body schema, and of every object nested in one."""
    variant = "on" if kind == "flags" else "control"
    condition = {"type": "property", "prop": "country", "op": "is", "values": ["US"]}
    segment = {"name": "US", "conditions": [condition], "percentage": 50, "rolloutWeights": {variant: 1},
               "bucketingKey": "device_id"}
    variant_in = {"key": "newvariant", "name": "New", "description": "d", "payload": {"a": [1]}, "rolloutWeight": 1}
    parent = {"flags": {targets.parent: ["on"]}, "operator": "all"}
    create = {
        "projectId": targets.project_id, "key": "never-created", "name": "n", "description": "d",
        "variants": [variant_in], "bucketingKey": "amplitude_id", "bucketingSalt": "salt1234",
        "bucketingUnit": "User", "rolloutWeights": {"newvariant": 1}, "rolloutPercentage": 10,
        "targetSegments": [segment], "deployments": [targets.deployment], "evaluationMode": "remote",
        "tags": ["t"], "parentDependencies": parent, "stickyBucketing": False, "deliveryMethod": "feature",
    }
    patch = {
        "name": "n", "description": "d", "bucketingKey": "amplitude_id", "bucketingSalt": "salt1234",
        "bucketingUnit": "User", "evaluationMode": "remote", "rolloutPercentage": 10,
        "targetSegments": [segment], "enabled": False, "archive": False, "tags": ["t"],
        "parentDependencies": parent, "stickyBucketing": False,
    }
    ramp_step = {"at": "2099-01-01T00:00:00Z", "rolloutPercentage": 5}
    exposure_filter = {"group_type": "User", "subprop_key": "country", "subprop_op": "is",
                       "subprop_type": "user", "subprop_value": ["US"]}
    group = {"projectId": targets.project_id, "name": "g", "key": "never-created-group", "description": "d",
             "evaluationMode": "remote", "bucketingKey": "device_id", "bucketingSalt": "salt1234"}
    slot = {"percentage": 100, "experiments": [targets.experiment], "holdouts": [targets.holdout],
            "individuals": ["u7"]}
    return {
        "HoldoutCreateIn": {**group, "holdoutPercentage": 10, "experiments": [targets.experiment],
                            "individualInclusion": ["u7"], "individualExclusion": ["u8"]},
        "HoldoutPatchIn": {"name": "n", "description": "d", "experiments": [targets.experiment],
                           "individualInclusion": ["u7"], "individualExclusion": ["u8"], "archive": False},
        "MutexCreateIn": {**group, "slots": [slot]},
        "MutexPatchIn": {"name": "n", "description": "d", "archive": False},
        "SlotIn": slot,
        "SlotPatchIn": {"experiments": [targets.experiment], "holdouts": [targets.holdout], "individuals": ["u7"]},
        "FlagCreateIn": create,
        "ExperimentCreateIn": {**create, "experimentType": "a-b-test"},
        "FlagPatchIn": patch,
        "ExperimentPatchIn": {
            **patch, "experimentType": "a-b-test", "startDate": "2024-05-01", "endDate": "2024-06-01",
            "exposureEvent": {"event_type": "view", "filters": [exposure_filter]}, "decision": "rollout",
            "decisionReason": "won", "rolledOutVariant": variant,
        },
        "VariantIn": variant_in,
        "VariantPatchIn": {"key": "renamed", "name": "n", "description": "d", "payload": 1, "rolloutWeight": 2},
        "InclusionsIn": {"inclusions": ["u9"]},
        "BulkRemoveIn": {"users": ["u1"]},
        "DeploymentLinksIn": {"deployments": [targets.deployment]},
        "RolloutWeightsIn": {"rolloutWeights": {"control": 1}},
        "DeploymentCreateIn": {"projectId": targets.project_id, "label": "l", "type": "server",
                               "requireApproval": False},
        "DeploymentPatchIn": {"label": "l", "archive": False, "requireApproval": False},
        "ReviewIn": {"comment": "looks right"},
        "CommentIn": {"body": "a comment"},
        "DecisionIn": {"decision": "rollout", "variant": variant, "reason": "won"},
        "NewRunIn": {"key": "never-run", "name": "n", "newBucketingSalt": False},
        "ProjectFile": {"formatVersion": 1, "deployments": [], "flags": [], "experiments": []},
        # Nested objects
        "TargetSegmentIn": segment,
        "ConditionIn": condition,
        "ParentDependenciesIn": parent,
        "ExposureEventIn": {"event_type": "view", "filters": [exposure_filter]},
        "ExposureFilterIn": exposure_filter,
        "CohortCreateIn": {"projectId": targets.project_id, "name": "c", "description": "d",
                           "groupType": "User", "memberIds": ["u7"]},
        "CohortPatchIn": {"name": "n", "description": "d", "archive": False},
        "MembersIn": {"memberIds": ["u7"]},
        "MetricsIn": {"metrics": [{"eventType": "purchase", "property": "revenue", "kind": "mean",
                                   "name": "revenue", "filters": [exposure_filter]}]},
        "MetricIn": {"eventType": "purchase", "property": "revenue", "kind": "mean", "name": "revenue",
                     "filters": [exposure_filter]},
        # Every field at once (a change and a ramp together is refused too, after the schema)
        "FlagScheduleIn": {"name": "n", "at": "2099-01-01T00:00:00Z", "patch": patch, "ramp": [ramp_step]},
        "ExperimentScheduleIn": {"name": "n", "at": "2099-01-01T00:00:00Z", "patch": patch, "ramp": [ramp_step]},
        "RampStepIn": ramp_step,
        "AnalysisIn": {"testType": "ttest", "confidenceLevel": 0.9, "multipleTesting": "holm", "cuped": True,
                       "cupedWindowDays": 14, "sequentialEffect": 0.1, "allocation": "fixed",
                       "reallocation": "hourly"},
        "WebhookCreateIn": {"projectId": targets.project_id, "url": "https://hooks.example.com/x",
                            "events": ["flag.enabled"], "filters": {"flagKeys": ["k"]}, "format": "standard",
                            "name": "n", "enabled": True},
        "WebhookPatchIn": {"url": "https://hooks.example.com/y", "events": ["flag.disabled"],
                           "filters": {"flagKeys": ["k"]}, "format": "slack", "name": "n", "enabled": False},
    }


# --- turning a schema into bad values --------------------------------------------------------

SAMPLES: dict[str, Any] = {
    "string": "some text", "integer": 7, "number": 7.5, "boolean": True,
    "array": [1], "object": {"a": 1}, "null": None,
}


def resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for key in ("anyOf", "oneOf", "allOf") for b in schema.get(key, [])] or [schema]


def allowed_types(schema: dict[str, Any], components: dict[str, Any]) -> set[str] | None:
    """JSON types a field takes, or None when it takes any JSON value."""
    types: set[str] = set()
    for branch in branches(schema):
        branch = resolve(branch, components)
        if "type" in branch:
            types.add(branch["type"])
        elif "enum" in branch or "const" in branch:
            types.add("string")
        elif "properties" in branch:
            types.add("object")
        else:
            return None
    if "integer" in types:
        types.add("number")  # 7.5 is still refused: only integral numbers pass
    return types


def wrong_values(schema: dict[str, Any], components: dict[str, Any]) -> list[tuple[str, Any]]:
    types = allowed_types(schema, components)
    if types is None:
        return []
    wrong = [(f"a {name}", value) for name, value in SAMPLES.items() if name not in types]
    if "integer" in types:
        wrong.append(("a fraction", 7.5))
    if any("enum" in resolve(b, components) or "const" in resolve(b, components) for b in branches(schema)):
        wrong.append(("an unlisted value", "some text"))
    return wrong


def children(schema: dict[str, Any], example: Any, components: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], Any, Any]]:
    """(path suffix, schema, example value, how to rebuild the parent with a new value) of nested fields."""
    for branch in branches(schema):
        branch = resolve(branch, components)
        if branch.get("type") == "array" and isinstance(example, list) and example:
            yield "[0]", branch["items"], example[0], lambda v, e=example: [v, *e[1:]]
        elif branch.get("type") == "object" and isinstance(example, dict) and "additionalProperties" in branch:
            if isinstance(branch["additionalProperties"], dict) and example:
                key = next(iter(example))
                yield f".{key}", branch["additionalProperties"], example[key], lambda v, e=example, k=key: {**e, k: v}
        elif "properties" in branch and isinstance(example, dict):
            for prop, sub in branch["properties"].items():
                if prop in example:
                    yield f".{prop}", sub, example[prop], lambda v, e=example, p=prop: {**e, p: v}


def field_mutations(body_name: str, components: dict[str, Any], values: dict[str, dict[str, Any]]
                    ) -> Iterator[tuple[str, dict[str, Any]]]:
    """(field path, body) pairs where exactly one field, at any depth, holds a value of a wrong type."""
    schema = components[body_name]
    example = values[body_name]

    def walk(path: str, sub: dict[str, Any], value: Any, rebuild: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        for what, wrong in wrong_values(sub, components):
            yield f"{path} as {what}", path, rebuild(wrong)
        for suffix, child, child_value, child_rebuild in children(sub, value, components):
            yield from walk(path + suffix, child, child_value, lambda v, r=rebuild, c=child_rebuild: r(c(v)))

    for prop, sub in schema["properties"].items():
        assert prop in example, f"no example value for {body_name}.{prop}"
        yield from ((what, path, body) for what, path, body in
                    walk(prop, sub, example[prop], lambda v, p=prop: {**example, p: v}))


def dumps(body: Any) -> bytes:
    return json.dumps(body).encode()


def raw_with(example: dict[str, Any], prop: str, literal: bytes) -> bytes:
    """The example body with prop set to raw JSON text (which json.dumps would never write)."""
    rest = dumps({k: v for k, v in example.items() if k != prop})[:-1]
    return rest + (b", " if rest != b"{" else b"") + dumps(prop) + b": " + literal + b"}"


def body_inputs(route: Route, components: dict[str, Any], targets: Targets) -> list[BadInput]:
    assert route.body_schema is not None
    values = examples(targets, kind_of(route.path))
    example = values[route.body_schema]
    schema = components[route.body_schema]
    inputs = [
        BadInput("malformed JSON", b'{"key": "x",, }', None),
        BadInput("single quotes", b"{'key': 'x'}", None),
        BadInput("truncated JSON", dumps(example)[: len(dumps(example)) // 2], None),
        BadInput("truncated after a key", b'{"' + next(iter(example)).encode() + b'": ', None),
        BadInput("a JSON array", b"[{}]", None),
        BadInput("a JSON string", b'"{}"', None),
        BadInput("a JSON number", b"42", None),
        BadInput("JSON null", b"null", None),
        BadInput("NaN as the body", b"NaN", None),
        BadInput("an empty body", b"", None),
        BadInput("10,000-deep nesting as the body", b"[" * DEEP + b"]" * DEEP, None),
        BadInput("an unknown field", dumps({**example, "surpriseField": 1}), "surpriseField"),
        BadInput("an unknown field with a NUL", dumps({**example, "na\x00me": 1}), None),
        BadInput("an unknown field with RTL override", dumps({**example, "\u202ename": 1}), None),
        BadInput("an unknown emoji field", dumps({**example, "\U0001f680": 1}), None),
        BadInput("a snake_case alias", dumps({**example, "x_y_z": 1}), "x_y_z"),
    ]
    for prop, sub in schema["properties"].items():
        types = allowed_types(sub, components)
        if prop in schema.get("required", []):
            inputs.append(BadInput(f"{prop} missing", dumps({k: v for k, v in example.items() if k != prop}), prop))
        elif types is not None and "null" not in types:
            inputs.append(BadInput(f"{prop} null", dumps({**example, prop: None}), prop))
        for literal in (b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", str(10**40).encode()):
            inputs.append(BadInput(f"{prop} = {literal.decode()[:12]}", raw_with(example, prop, literal), prop))
        inputs.append(BadInput(f"{prop} nested {DEEP} deep", raw_with(example, prop, b"[" * DEEP + b"]" * DEEP), None))
        over = dumps({**example, prop: "x" * MIB})
        inputs.append(BadInput(f"{prop} a 1 MiB string", over, None, (413,)))
        under = dumps({**example, prop: "x" * (MIB - len(dumps(example)) - 1000)})
        inputs.append(BadInput(f"{prop} a string just under the body limit", under, prop))
        if types is not None and "string" in types:
            for what, text in (("a NUL", "a\x00b"), ("an unpaired surrogate", "\ud800")):
                raw = json.dumps({**example, prop: text}, ensure_ascii=True).encode()
                inputs.append(BadInput(f"{prop} with {what}", raw, prop))
    for what, path, body in field_mutations(route.body_schema, components, values):
        inputs.append(BadInput(f"{what}", dumps(body), path))
    inputs += key_inputs(route, example)
    if route.body_optional:
        inputs = [bad for bad in inputs if bad.raw not in (b"", b"null")]
    return inputs


NAME_FIELDS = ("name", "description", "label", "decisionReason")
BAD_KEYS = {
    "a NUL": "ke\x00y", "an RTL override": "ke\u202ey", "an emoji": "key-\U0001f680", "a space": "a key",
    "a newline": "key\n", "a tab": "ke\ty", "a slash": "a/b", "a bell": "ke\x07y", "nothing": "",
    "201 characters": "k" * 201,
}


def key_inputs(route: Route, example: dict[str, Any]) -> list[BadInput]:
    """Unicode and control characters in keys (refused) and NULs in names (refused)."""
    inputs = []
    if "key" in example:
        for what, key in BAD_KEYS.items():
            inputs.append(BadInput(f"key with {what}", dumps({**example, "key": key}), "key"))
    if "variants" in example:
        for what, key in BAD_KEYS.items():
            variants = [{**example["variants"][0], "key": key}]
            inputs.append(BadInput(f"variant key with {what}", dumps({**example, "variants": variants}),
                                   "variants[0].key"))
    for field in NAME_FIELDS:
        if field in example:
            inputs.append(BadInput(f"{field} with a NUL", dumps({**example, field: "na\x00me"}), field))
    return inputs


BAD_PATH_VALUES = {
    "letters": "abc", "negative": "-1", "zero": "0", "1e400": "1e400", "10**40": str(10**40),
    "a NUL": "%00", "an RTL override": "%E2%80%AE", "an emoji": "%F0%9F%9A%80", "a broken UTF-8 byte": "%FF",
    "5,000 characters": "9" * 5000,
}


def path_inputs(route: Route) -> list[tuple[str, str]]:
    # userIndex 0 is an index like any other: it would remove a user, so it is not a bad value.
    return [(param, what) for param in re.findall(r"\{(\w+)\}", route.path) for what in BAD_PATH_VALUES
            if (param, what) != ("userIndex", "zero")]


# --- the battery -----------------------------------------------------------------------------

def test_write_routes__enumerated_from_openapi__cover_both_generations(write_routes: list[Route]) -> None:
    # Then
    names = {str(r) for r in write_routes}
    assert {"POST /api/1/flags", "POST /flags/new", "PATCH /experiments/{id}", "POST /api/1/deployments",
            "POST /experiments/{id}/activate", "DELETE /flags/{id}/variants/{variantKey}/users/{userIndex}"} <= names
    assert len(write_routes) >= 48, names


def send(api: httpx.Client, method: str, path: str, raw: bytes) -> httpx.Response:
    return api.request(method, path, content=raw, headers={"Content-Type": "application/json"})


def check(response: httpx.Response, bad: BadInput, failures: list[str], label: str) -> None:
    """Collect, rather than stop at, the first answer that is not the expected refusal."""
    try:
        assert_error(response, response.status_code)
        assert response.status_code in bad.statuses, f"status {response.status_code}"
        if bad.field is not None:
            assert bad.field in response.json()["error"]["message"], f"message does not name {bad.field}"
    except AssertionError as error:
        failures.append(f"{label} [{bad.what}] → {response.status_code} {response.text[:200]}: {error}")


def test_every_write_route_with_a_body__bad_bodies__are_refused_with_4xx_and_change_nothing(
    api: httpx.Client, spec: dict[str, Any], write_routes: list[Route], targets: Targets
) -> None:
    components = spec["components"]["schemas"]
    failures: list[str] = []
    for route in (r for r in write_routes if r.body_schema is not None):
        # Given
        before = state(api, targets)
        path = fill(route.path, targets)
        inputs = body_inputs(route, components, targets)
        # When
        for bad in inputs:
            check(send(api, route.method, path, bad.raw), bad, failures, str(route))
        TRIED["bodies"] += len(inputs)
        # Then
        after = state(api, targets)
        if after != before:
            failures.append(f"{route}: state changed")
    assert failures == [], "\n".join(failures[:40]) + f"\n({len(failures)} failures)"


def test_every_write_route__bad_path_values__are_refused_with_4xx_and_change_nothing(
    api: httpx.Client, spec: dict[str, Any], write_routes: list[Route], targets: Targets
) -> None:
    # Given
    before = state(api, targets)
    failures: list[str] = []
    tried = 0
    # When
    for route in write_routes:
        valid = dumps(examples(targets, kind_of(route.path))[route.body_schema]) if route.body_schema else b""
        if route.body_schema in ("FlagCreateIn", "ExperimentCreateIn", "DeploymentCreateIn",
                                 "HoldoutCreateIn", "MutexCreateIn", "CohortCreateIn"):
            continue  # no path parameters
        for param, what in path_inputs(route):
            path = fill(route.path, targets, **{param: BAD_PATH_VALUES[what]})
            bad = BadInput(f"{param} as {what}", valid, None, (400, 404))
            check(send(api, route.method, path, valid), bad, failures, str(route))
            tried += 1
    TRIED["path values"] += tried
    # Then
    assert failures == [], "\n".join(failures[:40]) + f"\n({len(failures)} failures)"
    assert state(api, targets) == before


BAD_QUERY_VALUES: dict[str, list[str]] = {
    "integer": ["abc", "1.5", "1e400", "-1", "0", "%00", "\u202e1"],
    "boolean": ["maybe", "2", "yes please", "%00", "\U0001f680"],
}
BAD_BY_NAME: dict[str, list[str]] = {
    "cursor": ["-1", "abc", "0", str(10**40), "1.5", "%00", "\U0001f680"],
    "projectId": ["abc", "-1", "0", str(10**40), "1e400", "%00", "\u202e1"],
    "start": ["abc", "2024-13-45", "%00", "\U0001f680", "9" * 5000],
    "end": ["abc", "2024-02-30", "%00", "yesterday"],
    "format": ["xml", "%00", "YAML"],
}
# Free text filters take any text: odd values must find nothing rather than fail.
FREE_TEXT = ["%00", "\u202e", "\U0001f680", "%FF", "k" * 5000]


def test_every_list_route__query_values_of_the_wrong_type__are_400_naming_the_parameter(
    api: httpx.Client, read_routes_with_query: list[tuple[str, dict[str, dict[str, Any]]]]
) -> None:
    # Given
    failures: list[str] = []
    tried = 0
    assert {path for path, _ in read_routes_with_query} >= {"/api/1/flags", "/flags/list", "/api/1/versions"}
    # When
    for path, query in read_routes_with_query:
        for name, schema in query.items():
            types = allowed_types(schema, {}) or set()
            if name in BAD_BY_NAME:
                values = BAD_BY_NAME[name]
            elif "integer" in types:
                values = BAD_QUERY_VALUES["integer"]
            elif "boolean" in types:
                values = BAD_QUERY_VALUES["boolean"]
            else:
                for value in FREE_TEXT:
                    response = api.get(f"{path}?{name}={value}")
                    if response.status_code != 200:
                        failures.append(f"GET {path}?{name}={value[:20]} → {response.status_code}")
                continue
            for value in values:
                response = api.get(f"{path}?{name}={value}")
                check(response, BadInput(f"{name}={value[:20]}", b"", name), failures, f"GET {path}")
                tried += 1
    TRIED["query values"] += tried
    # Then
    assert failures == [], "\n".join(failures)


# --- property-based: random JSON for each field ----------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
PROPERTY_SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                             suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def subject(api: httpx.Client, project_id: str) -> str:
    return create_flag(api, project_id, "flags", variants=[{"key": "on"}, {"key": "b"}])


def accepted_or_refused(api: httpx.Client, method: str, path: str, body: dict[str, Any], read: str,
                        field: str) -> tuple[int, Any, Any]:
    """Send one value; answer the status, the value read back, and whether a refusal changed anything."""
    before = api.get(read).json()
    response = api.request(method, path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    assert response.status_code < 500, response.text
    after = api.get(read).json()
    if response.status_code != 200:
        TRIED["refused random values"] += 1
        assert_error(response, 400, field)
        assert after == before
    return response.status_code, after, before


FLAG_FIELDS = ("name", "description", "bucketingKey", "bucketingSalt", "bucketingUnit", "evaluationMode",
               "rolloutPercentage", "tags", "stickyBucketing", "enabled", "targetSegments", "parentDependencies")


@pytest.mark.parametrize("field", FLAG_FIELDS)
def test_edit_flag__any_json_value_for_a_field__is_kept_exactly_or_refused_with_400(
    api: httpx.Client, subject: str, field: str
) -> None:
    @PROPERTY_SETTINGS
    @given(value=json_values)
    def property_(value: Any) -> None:
        # When
        status, after, _ = accepted_or_refused(api, "PATCH", f"/api/1/flags/{subject}", {field: value},
                                               f"/api/1/flags/{subject}", field)
        # Then
        if status == 200 and field not in ("enabled", "parentDependencies", "targetSegments"):
            assert after[field] == value

    property_()


@pytest.mark.parametrize("field", ("name", "description", "payload", "rolloutWeight"))
def test_edit_variant__any_json_value_for_a_field__is_kept_exactly_or_refused_with_400(
    api: httpx.Client, subject: str, field: str
) -> None:
    @PROPERTY_SETTINGS
    @given(value=json_values)
    def property_(value: Any) -> None:
        # When
        status, after, _ = accepted_or_refused(api, "PATCH", f"/api/1/flags/{subject}/variants/b", {field: value},
                                               f"/api/1/flags/{subject}/variants/b", field)
        # Then
        if status == 200:
            assert after[field] == value

    property_()


@pytest.mark.parametrize("field", ("inclusions",))
def test_include_users__any_json_list__is_appended_exactly_or_refused_with_400(
    api: httpx.Client, subject: str, field: str
) -> None:
    @PROPERTY_SETTINGS
    @given(value=st.lists(json_values, max_size=5) | json_values)
    def property_(value: Any) -> None:
        # When
        status, after, before = accepted_or_refused(
            api, "POST", f"/api/1/flags/{subject}/variants/b/users", {field: value},
            f"/api/1/flags/{subject}/variants/b/users", field)
        # Then
        if status == 200:
            assert after == before + [v for v in dict.fromkeys(value) if v not in before]

    property_()


def test_bad_input__all_batteries__tried_at_least_a_thousand() -> None:
    # Given the batteries above ran in this session (they count what they send)
    if not TRIED:
        pytest.skip("run with the batteries above; alone there is nothing to count")
    # Then
    total = sum(TRIED.values())
    print(f"\nbad inputs tried: {total} ({dict(TRIED)})")
    assert total >= 1000, f"only {total} bad inputs tried: {dict(TRIED)}"
