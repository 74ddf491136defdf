"""A flag that targets a cohort gives each user the same variant on every edge.

Cohorts are made through the management API and no edge is sent cohort ids: remote
evaluation (SDK and REST), OFREP (single and bulk) and the console's debugger must find the
memberships on the server, and the local-evaluation SDK from its cohort download.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from amplitude_experiment import (
    LocalEvaluationClient,
    LocalEvaluationConfig,
    RemoteEvaluationClient,
    RemoteEvaluationConfig,
    User,
)
from amplitude_experiment.cohort.cohort_sync_config import CohortSyncConfig

from tests.console.conftest import create_user
from tests.console.support import signed_in_client
from tests.sdk.conftest import create, enable, release
from tests.support.server import Server

FLAGS = ("beta-colour", "beta-checkout")
BETA = {"ann", "bob", "dora", *(f"member-{i}" for i in range(6))}
BLOCKED = {"bob"}


@dataclass(frozen=True)
class Visitor:
    user_id: str | None
    device_id: str

    def __str__(self) -> str:
        return self.user_id or f"(device {self.device_id})"

    def amplitude(self) -> dict[str, str]:
        """The user as Amplitude's endpoints and the debugger's form take it."""
        user = {"device_id": self.device_id}
        if self.user_id:
            user["user_id"] = self.user_id
        return user


VISITORS = [
    Visitor("ann", "ann-phone"),          # in beta: blue, treatment
    Visitor("bob", "bob-laptop"),         # in beta and blocked: off, still treatment
    Visitor("carl", "carl-phone"),        # in no cohort
    Visitor("dora", "dora"),              # in beta, device id equal to the user id
    *(Visitor(f"member-{i}", f"member-device-{i}") for i in range(6)),
    *(Visitor(f"outsider-{i}", f"outsider-device-{i}") for i in range(6)),
    Visitor(None, "ann"),                 # anonymous: a device id is never a cohort member
    Visitor(None, "tablet-7"),
]

Answers = dict[str, str]  # flag key -> variant key


@dataclass(frozen=True)
class Setup:
    base_url: str
    project_id: str
    deployment_id: str
    deployment_key: str
    reader_key: str


def in_cohort(cohort_id: str, op: str = "set contains any") -> dict[str, object]:
    return {"type": "property", "prop": "cohort_ids", "op": op, "values": [cohort_id]}


@pytest.fixture(scope="module")
def setup(server: Server, manage: httpx.Client, sdk_project: str,
          sdk_deployment: dict[str, str]) -> Setup:
    ids = {}
    for name, members in (("beta testers", BETA), ("blocked", BLOCKED)):
        response = manage.post("/api/1/cohorts", json={
            "projectId": sdk_project, "name": name, "memberIds": sorted(members)})
        assert response.status_code == 200, response.text
        ids[name] = response.json()["id"]
    deployments = [sdk_deployment["id"]]
    # A segment: beta testers who are not blocked get blue, everyone else the default.
    colour = create(manage, "flags", {
        "projectId": sdk_project, "key": "beta-colour", "deployments": deployments,
        "evaluationMode": "local", "rolloutPercentage": 0, "variants": [{"key": "blue"}],
        "targetSegments": [{"name": "beta not blocked", "percentage": 100, "rolloutWeights": {"blue": 1},
                            "conditions": [in_cohort(ids["beta testers"]),
                                           in_cohort(ids["blocked"], "set does not contain any")]}],
    })
    # A variant's cohort inclusion: beta testers get treatment, the rest are bucketed.
    checkout = create(manage, "experiments", {
        "projectId": sdk_project, "key": "beta-checkout", "deployments": deployments,
        "evaluationMode": "local", "rolloutPercentage": 50,
    })
    manage.post(f"/api/1/experiments/{checkout}/variants/treatment/cohorts",
                json={"inclusions": [ids["beta testers"]]}).raise_for_status()
    enable(manage, "flags", colour)
    enable(manage, "experiments", checkout)
    reader_key = server.create_key("cohort-agreement", projects=(sdk_project,), read_only=True)
    return Setup(server.base_url, sdk_project, str(sdk_deployment["id"]), sdk_deployment["key"],
                 reader_key)


@pytest.fixture(scope="module")
def remote_client(setup: Setup) -> Iterator[RemoteEvaluationClient]:
    client = RemoteEvaluationClient(setup.deployment_key, RemoteEvaluationConfig(server_url=setup.base_url))
    yield client
    release(client)


@pytest.fixture(scope="module")
def local_client(setup: Setup) -> Iterator[LocalEvaluationClient]:
    sync = CohortSyncConfig(setup.deployment_key, setup.reader_key, cohort_server_url=setup.base_url)
    config = LocalEvaluationConfig(server_url=setup.base_url, cohort_sync_config=sync,
                                   logger=logging.getLogger("flagyard.tests.cohort_agreement"))
    client = LocalEvaluationClient(setup.deployment_key, config)
    client.start()  # downloads the flags and both cohorts before returning
    yield client
    release(client)


@pytest.fixture(scope="module")
def console(server: Server) -> Iterator[httpx.Client]:
    person = create_user(server, "admin")
    client, _ = signed_in_client(server.base_url, person.email, person.password)
    yield client
    client.close()


# --- one function per edge: the variant key of each flag in FLAGS ------------------------------


def _sdk_user(visitor: Visitor) -> User:
    # A fresh User each time: the local SDK writes the cohort ids it found into it.
    return User(user_id=visitor.user_id, device_id=visitor.device_id)


def via_remote_sdk(client: RemoteEvaluationClient, visitor: Visitor) -> Answers:
    found = client.fetch_v2(_sdk_user(visitor))
    return {key: str(found[key].key) if key in found else "(missing)" for key in FLAGS}


def via_local_sdk(client: LocalEvaluationClient, visitor: Visitor) -> Answers:
    found = client.evaluate_v2(_sdk_user(visitor))
    return {key: str(found[key].key) if key in found else "(missing)" for key in FLAGS}


def via_sdk_vardata_get(setup: Setup, visitor: Visitor) -> Answers:
    encoded = base64.urlsafe_b64encode(json.dumps(visitor.amplitude()).encode()).decode().rstrip("=")
    response = httpx.get(f"{setup.base_url}/sdk/v2/vardata", headers={
        "Authorization": f"Api-Key {setup.deployment_key}", "X-Amp-Exp-User": encoded})
    assert response.status_code == 200, response.text
    return {key: response.json().get(key, {}).get("key", "(missing)") for key in FLAGS}


def via_v1_vardata(setup: Setup, visitor: Visitor) -> Answers:
    response = httpx.get(f"{setup.base_url}/v1/vardata", params=visitor.amplitude(),
                         headers={"Authorization": f"Api-Key {setup.deployment_key}"})
    assert response.status_code == 200, response.text
    # v1 leaves default variants out: a flag not in the answer gave its default, "off".
    return {key: response.json().get(key, {}).get("key", "off") for key in FLAGS}


def _ofrep_context(visitor: Visitor) -> dict[str, str]:
    context = {"device_id": visitor.device_id}
    if visitor.user_id:
        context["targetingKey"] = visitor.user_id
    return context


def _ofrep(setup: Setup, path: str, visitor: Visitor) -> httpx.Response:
    response = httpx.post(f"{setup.base_url}/ofrep/v1/evaluate/{path}",
                          json={"context": _ofrep_context(visitor)},
                          headers={"Authorization": f"Bearer {setup.deployment_key}"})
    assert response.status_code == 200, response.text
    return response


def via_ofrep_single(setup: Setup, visitor: Visitor) -> Answers:
    return {key: _ofrep(setup, f"flags/{key}", visitor).json()["variant"] for key in FLAGS}


def via_ofrep_bulk(setup: Setup, visitor: Visitor) -> Answers:
    flags = {entry["key"]: entry for entry in _ofrep(setup, "flags", visitor).json()["flags"]}
    return {key: flags[key]["variant"] if key in flags else "(missing)" for key in FLAGS}


# One row of debugger.html's results table: the flag key and the variant in its badge.
_ROW = re.compile(
    r'<tr data-flag="([^"]*)">.*?<td class="variant"><span class="badge [^"]*">([^<]*)</span>', re.DOTALL)


def via_debugger(setup: Setup, console: httpx.Client, visitor: Visitor) -> Answers:
    params = {"deployment": setup.deployment_id, **visitor.amplitude()}
    response = console.get(f"/console/p/{setup.project_id}/debugger", params=params)
    assert response.status_code == 200, response.text
    shown = {html.unescape(flag): html.unescape(variant).strip()
             for flag, variant in _ROW.findall(response.text)}
    return {key: shown.get(key, "(missing)") for key in FLAGS}


@dataclass(frozen=True)
class Clients:
    setup: Setup
    local: LocalEvaluationClient
    console: httpx.Client


EDGES: dict[str, Callable[[Clients, Visitor], Answers]] = {
    "GET /sdk/v2/vardata": lambda c, v: via_sdk_vardata_get(c.setup, v),
    "GET /v1/vardata": lambda c, v: via_v1_vardata(c.setup, v),
    "local SDK with cohort sync": lambda c, v: via_local_sdk(c.local, v),
    "OFREP single": lambda c, v: via_ofrep_single(c.setup, v),
    "OFREP bulk": lambda c, v: via_ofrep_bulk(c.setup, v),
    "console debugger": lambda c, v: via_debugger(c.setup, c.console, v),
}


@pytest.fixture(scope="module")
def reference(remote_client: RemoteEvaluationClient) -> dict[Visitor, Answers]:
    """What the remote SDK (POST /sdk/v2/vardata) answers: the edge the others must match."""
    return {visitor: via_remote_sdk(remote_client, visitor) for visitor in VISITORS}


@pytest.fixture(scope="module")
def clients(setup: Setup, local_client: LocalEvaluationClient, console: httpx.Client) -> Clients:
    return Clients(setup, local_client, console)


def expected_colour(visitor: Visitor) -> str:
    return "blue" if visitor.user_id in BETA - BLOCKED else "off"


def cohorts_of(visitor: Visitor) -> str:
    names = [name for name, members in (("beta", BETA), ("blocked", BLOCKED)) if visitor.user_id in members]
    return ", ".join(names) or "no cohort"


# --- tests ----------------------------------------------------------------------------------------


def test_remote_sdk__no_cohort_ids_sent__variants_as_the_cohort_lists_say(
    reference: dict[Visitor, Answers]
) -> None:
    # Given users sending no cohort ids, When the remote SDK fetches their variants
    wrong = {
        str(visitor): answers for visitor, answers in reference.items()
        if answers["beta-colour"] != expected_colour(visitor)
        or (visitor.user_id in BETA and answers["beta-checkout"] != "treatment")
    }
    # Then members get the cohort's variants and nobody else gets blue
    assert wrong == {}, f"remote SDK, user → answers, against the cohort lists: {wrong}"
    # and the agreement below is not everyone agreeing on "off"
    assert {answers["beta-colour"] for answers in reference.values()} == {"blue", "off"}


@pytest.mark.parametrize("edge", list(EDGES))
def test_edge__every_user__same_variants_as_the_remote_sdk(
    edge: str, clients: Clients, reference: dict[Visitor, Answers]
) -> None:
    # Given the remote SDK's answers, When the edge evaluates the same users
    answers = {visitor: EDGES[edge](clients, visitor) for visitor in VISITORS}
    # Then every user gets the same variant of every flag
    differing = [
        f"{visitor} ({cohorts_of(visitor)}): remote SDK {reference[visitor]}, {edge} {answers[visitor]}"
        for visitor in VISITORS if answers[visitor] != reference[visitor]
    ]
    assert differing == [], (
        f"{edge} disagrees with the remote SDK for {len(differing)} of {len(VISITORS)} users:\n"
        + "\n".join(differing))
