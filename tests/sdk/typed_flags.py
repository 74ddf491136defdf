"""A project whose flags carry each OpenFeature type, for the OFREP and browser suites.

Payloads give a flag its OpenFeature type (docs/openfeature.md): booleans, a string flag
without payloads (its value is the variant key), integers, a float, objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.sdk.conftest import create, enable
from tests.support.server import Server

# key → (kind, create body without projectId/deployments, enabled)
FLAGS: dict[str, tuple[str, dict[str, Any], bool]] = {
    "of-bool": ("flags", {
        "variants": [{"key": "yes", "payload": True}, {"key": "no", "payload": False}],
        "rolloutPercentage": 100, "evaluationMode": "local",
    }, True),
    "of-string": ("flags", {
        "variants": [{"key": "blue"}, {"key": "green"}],
        "rolloutPercentage": 100, "evaluationMode": "local",
        "targetSegments": [{"name": "germany", "percentage": 100, "rolloutWeights": {"green": 1},
                            "conditions": [{"type": "property", "prop": "country", "op": "is",
                                            "values": ["DE"]}]}],
    }, True),
    "of-int": ("flags", {
        "variants": [{"key": "small", "payload": 10}, {"key": "large", "payload": 1000}],
        "rolloutPercentage": 60, "evaluationMode": "local",
    }, True),
    "of-float": ("flags", {
        "variants": [{"key": "rate", "payload": 0.25}], "rolloutPercentage": 100,
        "evaluationMode": "local",
    }, True),
    "of-object": ("experiments", {
        "variants": [{"key": "control", "payload": {"color": "red", "size": 2}},
                     {"key": "treatment", "payload": {"color": "blue", "size": 3}}],
        "rolloutPercentage": 100, "evaluationMode": "local",
    }, True),
    "of-disabled": ("flags", {"variants": [{"key": "on", "payload": True}]}, False),
}
INCLUDED_USER = "vip-user"  # included in of-bool's "yes"


@dataclass(frozen=True)
class TypedProject:
    project_id: str
    server_key: str
    client_key: str


def make_typed_project(server: Server, manage: httpx.Client, name: str) -> TypedProject:
    """`manage` holds a management key for every project (the session's admin key)."""
    project = server.create_project(name)
    deployments = {}
    for label, type_ in (("server", "server"), ("browser", "client")):
        answer = manage.post("/api/1/deployments",
                             json={"projectId": project, "label": label, "type": type_})
        assert answer.status_code == 200, answer.text
        deployments[label] = manage.get(f"/api/1/deployments/{answer.json()['id']}").json()
    ids = {}
    for flag_key, (kind, body, enabled) in FLAGS.items():
        ids[flag_key] = create(manage, kind, {
            **body, "projectId": project, "key": flag_key,
            "deployments": [d["id"] for d in deployments.values()],
        })
        if enabled:
            enable(manage, kind, ids[flag_key])
    manage.post(f"/api/1/flags/{ids['of-bool']}/variants/yes/users",
                json={"inclusions": [INCLUDED_USER]}).raise_for_status()
    return TypedProject(project, deployments["server"]["key"], deployments["browser"]["key"])


def expected_value(variant: dict[str, Any] | None) -> Any:
    """What docs/openfeature.md says OFREP's `value` is for a /sdk/v2/vardata variant;
    None when the answer carries no value (the code default applies)."""
    if not variant or variant.get("metadata", {}).get("default"):
        return None
    return variant["payload"] if "payload" in variant else variant.get("value")


def users(count: int) -> list[dict[str, Any]]:
    """OpenFeature contexts: every fifth from Germany, one included user."""
    contexts: list[dict[str, Any]] = [{"targetingKey": INCLUDED_USER}]
    for index in range(count - 1):
        context: dict[str, Any] = {"targetingKey": f"user-{index}"}
        if index % 5 == 0:
            context["country"] = "DE"
        contexts.append(context)
    return contexts


def as_amplitude_user(context: dict[str, Any]) -> dict[str, Any]:
    """The same person as the SDKs send them (docs/openfeature.md, request side)."""
    user = {"user_id": context["targetingKey"], "device_id": context["targetingKey"]}
    if "country" in context:
        user["country"] = context["country"]
    return user
