"""OFREP over HTTP: the documented values, reasons, errors, ETags and rate limit.

Every OFREP answer these tests receive is checked against the published OFREP 0.3.0 OpenAPI
document on its way in (`tests/support/ofrep_schema.py`): the clients here are made by
`validating_client`, so a body outside the spec fails the test that asked for it.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.flag_evaluation import Reason

from tests.sdk.conftest import create, enable
from tests.sdk.typed_flags import (
    FLAGS,
    INCLUDED_USER,
    TypedProject,
    as_amplitude_user,
    expected_value,
    make_typed_project,
    users,
)
from tests.support.ofrep_schema import (
    BULK,
    SINGLE,
    OfrepAnswerError,
    check_answer,
    check_body,
    check_response,
    validating_client,
)
from tests.support.server import Server, fresh_database_url, running_server

SERVED = [key for key, (_, _, enabled) in FLAGS.items() if enabled]


@pytest.fixture(scope="module")
def typed(server: Server, api: httpx.Client) -> TypedProject:
    return make_typed_project(server, api, "ofrep-http")


@pytest.fixture(scope="module")
def ofrep(server: Server, typed: TypedProject) -> Iterator[httpx.Client]:
    with validating_client(base_url=f"{server.base_url}/ofrep/v1",
                           headers={"Authorization": f"Bearer {typed.server_key}"},
                           timeout=30) as client:
        yield client


def post(url: str, **kwargs: Any) -> httpx.Response:
    """`httpx.post`, with the answer checked against OFREP 0.3.0."""
    with validating_client(timeout=30) as client:
        return client.post(url, **kwargs)


def vardata(server: Server, key: str, user: dict[str, Any]) -> dict[str, Any]:
    encoded = base64.urlsafe_b64encode(json.dumps(user).encode()).decode().rstrip("=")
    answer = httpx.get(f"{server.base_url}/sdk/v2/vardata?v=0",
                       headers={"Authorization": f"Api-Key {key}", "X-Amp-Exp-User": encoded})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_bulk__many_users__values_agree_with_sdk_vardata(
    server: Server, typed: TypedProject, ofrep: httpx.Client
) -> None:
    # Given 50 people, one of them included, some in Germany
    for context in users(50):
        # When both routes evaluate the same person
        bulk = ofrep.post("/evaluate/flags", json={"context": context})
        remote = vardata(server, typed.server_key, as_amplitude_user(context))
        # Then every flag's OFREP value is the documented one for the SDK's variant
        assert bulk.status_code == 200
        answers = {entry["key"]: entry for entry in bulk.json()["flags"]}
        assert set(answers) == set(FLAGS)
        for key in SERVED:
            assert answers[key]["variant"] == remote[key]["key"], (context, key)
            assert answers[key].get("value") == expected_value(remote[key]), (context, key)


def test_single__each_flag__same_answer_as_bulk(typed: TypedProject, ofrep: httpx.Client) -> None:
    for context in users(12):
        bulk = {e["key"]: e for e in ofrep.post("/evaluate/flags", json={"context": context}).json()["flags"]}
        for key in FLAGS:
            # When
            single = ofrep.post(f"/evaluate/flags/{key}", json={"context": context})
            # Then
            assert single.status_code == 200
            assert single.json() == bulk[key]


@pytest.mark.parametrize(("flag", "context", "reason", "variant", "value"), [
    ("of-bool", {"targetingKey": INCLUDED_USER}, "TARGETING_MATCH", "yes", True),
    ("of-string", {"targetingKey": "hans", "country": "DE"}, "TARGETING_MATCH", "green", "green"),
    ("of-float", {"targetingKey": "anyone"}, "STATIC", "rate", 0.25),
    ("of-disabled", {"targetingKey": "anyone"}, "DISABLED", "off", None),
])
def test_single__evaluation_path__documented_reason(
    ofrep: httpx.Client, flag: str, context: dict[str, Any], reason: str, variant: str, value: Any
) -> None:
    # When
    answer = ofrep.post(f"/evaluate/flags/{flag}", json={"context": context}).json()
    # Then
    assert (answer["reason"], answer["variant"], answer.get("value")) == (reason, variant, value)
    assert all(isinstance(v, str | int | float | bool) for v in answer["metadata"].values())


def test_single__bucketed_users__split_with_value_or_code_default(ofrep: httpx.Client) -> None:
    # When a 60 % rollout split over two variants evaluates 60 people
    answers = [ofrep.post("/evaluate/flags/of-int", json={"context": {"targetingKey": f"p{i}"}}).json()
               for i in range(60)]
    # Then the bucketing decided for all of them (SPLIT): those inside get an integer value,
    # the rest no value (the code default) and variant "off"
    assert {a["reason"] for a in answers} == {"SPLIT"}
    inside = [a for a in answers if "value" in a]
    outside = [a for a in answers if "value" not in a]
    assert inside and outside
    assert {a["value"] for a in inside} <= {10, 1000}
    assert all(a["variant"] == "off" and a["metadata"]["default"] is True for a in outside)
    assert all(a["metadata"]["flagType"] == "release" for a in answers)


def test_single__experiment__metadata_names_the_experiment(ofrep: httpx.Client) -> None:
    answer = ofrep.post("/evaluate/flags/of-object", json={"context": {"targetingKey": "u"}}).json()
    assert answer["metadata"]["experimentKey"].startswith("exp-")
    assert answer["value"] in ({"color": "red", "size": 2}, {"color": "blue", "size": 3})


@pytest.mark.parametrize(("body", "status", "code"), [
    (b'{"context": {}}', 400, "TARGETING_KEY_MISSING"),
    (b'{"context": {"targetingKey": ""}}', 400, "TARGETING_KEY_MISSING"),
    (b'{"context": {"targetingKey": 7}}', 400, "INVALID_CONTEXT"),
    (b'{"context": ["a"]}', 400, "INVALID_CONTEXT"),
    (b'{"context": {"targetingKey": "u", "groups": {"org": "acme"}}}', 400, "INVALID_CONTEXT"),
    (b'{}', 400, "INVALID_CONTEXT"),
    (b'{"context": ', 400, "PARSE_ERROR"),
    (b'[1]', 400, "PARSE_ERROR"),
])
def test_single__bad_context__400_with_error_code(
    ofrep: httpx.Client, body: bytes, status: int, code: str
) -> None:
    # When
    answer = ofrep.post("/evaluate/flags/of-bool", content=body)
    # Then
    assert answer.status_code == status
    assert answer.json()["key"] == "of-bool"
    assert answer.json()["errorCode"] == code
    assert answer.json()["errorDetails"]


def test_single__device_only_context__evaluated_as_anonymous_device(ofrep: httpx.Client) -> None:
    answer = ofrep.post("/evaluate/flags/of-float", json={"context": {"device_id": "d-1"}})
    assert answer.status_code == 200 and answer.json()["value"] == 0.25


def test_single__unknown_flag__404_flag_not_found(ofrep: httpx.Client) -> None:
    answer = ofrep.post("/evaluate/flags/no-such-flag", json={"context": {"targetingKey": "u"}})
    assert answer.status_code == 404
    assert answer.json()["errorCode"] == "FLAG_NOT_FOUND" and answer.json()["key"] == "no-such-flag"


def test_bulk__bad_context__400_without_key(ofrep: httpx.Client) -> None:
    answer = ofrep.post("/evaluate/flags", json={"context": {}})
    assert answer.status_code == 400
    assert answer.json() == {"errorCode": "TARGETING_KEY_MISSING",
                             "errorDetails": answer.json()["errorDetails"]}


@pytest.mark.parametrize("form", ["bearer", "x-api-key", "api-key"])
def test_auth__each_header_form__accepted(server: Server, typed: TypedProject, form: str) -> None:
    headers = {"bearer": {"Authorization": f"Bearer {typed.client_key}"},
               "x-api-key": {"X-API-Key": typed.client_key},
               "api-key": {"Authorization": f"Api-Key {typed.client_key}"}}[form]
    answer = post(f"{server.base_url}/ofrep/v1/evaluate/flags/of-float", headers=headers,
                  json={"context": {"targetingKey": "u"}})
    assert answer.status_code == 200


def test_auth__missing_or_unknown_key_401__management_key_403(
    server: Server, admin_key: str
) -> None:
    url = f"{server.base_url}/ofrep/v1/evaluate/flags/of-float"
    body = {"context": {"targetingKey": "u"}}
    assert post(url, json=body).status_code == 401
    assert post(url, json=body, headers={"X-API-Key": "server-nope"}).status_code == 401
    assert post(url, json=body, headers={"Authorization": f"Bearer {admin_key}"}).status_code == 403
    assert post(f"{server.base_url}/ofrep/v1/evaluate/flags", json=body).status_code == 401


def test_bulk__same_context__etag_and_304(ofrep: httpx.Client) -> None:
    # Given a first answer and its ETag
    body = {"context": {"targetingKey": "etag-user"}}
    first = ofrep.post("/evaluate/flags", json=body)
    etag = first.headers["etag"]
    # When the provider asks again with it
    again = ofrep.post("/evaluate/flags", json=body, headers={"If-None-Match": etag})
    # Then: 304, no body, the same ETag
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag


def test_bulk__attributes_change_the_result__new_etag_and_200(ofrep: httpx.Client) -> None:
    # Given an ETag for a person outside Germany (the web provider keeps it on attribute changes)
    first = ofrep.post("/evaluate/flags", json={"context": {"targetingKey": "mover"}})
    before = {e["key"]: e for e in first.json()["flags"]}["of-string"]
    assert before["metadata"]["segmentName"] == "All Other Users"
    # When the same targeting key now comes from Germany
    moved = ofrep.post("/evaluate/flags", json={"context": {"targetingKey": "mover", "country": "DE"}},
                       headers={"If-None-Match": first.headers["etag"]})
    # Then the result changed, so does the ETag, and the answer is a full 200
    assert moved.status_code == 200
    after = {e["key"]: e for e in moved.json()["flags"]}["of-string"]
    assert (after["variant"], after["metadata"]["segmentName"]) == ("green", "germany")
    assert moved.headers["etag"] != first.headers["etag"]


def test_bulk__cross_origin__etag_exposed(ofrep: httpx.Client) -> None:
    answer = ofrep.post("/evaluate/flags", json={"context": {"targetingKey": "u"}},
                        headers={"Origin": "http://app.example"})
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "ETag" in answer.headers["access-control-expose-headers"]


def test_single__array_payload__wrapped_in_an_object(
    server: Server, api: httpx.Client
) -> None:
    # Given a flag whose only variant has an array payload (OFREP values are never arrays)
    project = server.create_project("ofrep-arrays")
    deployment = api.post("/api/1/deployments",
                          json={"projectId": project, "label": "server", "type": "server"})
    assert deployment.status_code == 200, deployment.text
    key = api.get(f"/api/1/deployments/{deployment.json()['id']}").json()["key"]
    flag_id = create(api, "flags", {
        "projectId": project, "key": "of-array", "deployments": [deployment.json()["id"]],
        "variants": [{"key": "list", "payload": ["a", 2, {"b": True}]}],
        "rolloutPercentage": 100, "evaluationMode": "local"})
    enable(api, "flags", flag_id)
    with validating_client(base_url=f"{server.base_url}/ofrep/v1",
                           headers={"X-API-Key": key}, timeout=30) as client:
        # When it is evaluated, alone and in bulk
        single = client.post("/evaluate/flags/of-array", json={"context": {"targetingKey": "u"}})
        bulk = client.post("/evaluate/flags", json={"context": {"targetingKey": "u"}})
    # Then the array comes as the object {"items": [...]}, and the metadata says it was wrapped
    assert single.status_code == 200
    answer = single.json()
    assert answer["value"] == {"items": ["a", 2, {"b": True}]}
    assert answer["metadata"]["arrayWrapped"] is True
    assert bulk.json()["flags"] == [answer]
    # And the payload is the one Amplitude's SDKs get, unwrapped
    assert vardata(server, key, {"user_id": "u", "device_id": "u"})["of-array"]["payload"] == \
        answer["value"]["items"]
    # And OpenFeature's Python provider reads it as an object, the array under "items"
    provider = OFREPProvider(server.base_url, headers_factory=lambda: {"X-API-Key": key})
    try:
        details = provider.resolve_object_details("of-array", {"items": []}, EvaluationContext("u"))
    finally:
        provider.session.close()
    assert (details.value, details.reason, details.error_code) == (
        {"items": ["a", 2, {"b": True}]}, Reason.STATIC, None)


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    url = fresh_database_url(Path(tmp_path_factory.mktemp("ofrep-limited")))
    with running_server(url, env={"FLAGYARD_OFREP_RATE_LIMIT_PER_SECOND": "2"}) as running:
        yield running


@pytest.mark.parametrize("path", ["/evaluate/flags", "/evaluate/flags/any-flag"])
def test_rate_limit__over_the_limit__429_checked_against_the_spec(
    limited: Server, path: str
) -> None:
    # Given a server limiting OFREP to 2 requests per second per deployment key
    key = limited.create_deployment(limited.create_project("limited"), "d")["key"]
    with validating_client(base_url=f"{limited.base_url}/ofrep/v1", headers={"X-API-Key": key},
                           timeout=30) as client:
        # When one key asks faster than that (each answer checked as it comes)
        deadline = time.monotonic() + 10
        answers: list[httpx.Response] = []
        while time.monotonic() < deadline and not any(a.status_code == 429 for a in answers):
            answers.append(client.post(path, json={"context": {"targetingKey": "u"}}))
    # Then it is refused with 429 and a whole-second Retry-After
    refused = [a for a in answers if a.status_code == 429]
    assert refused, [a.status_code for a in answers]
    assert refused[0].headers["retry-after"].isdigit()
    assert refused[0].json()["errorCode"] == "GENERAL"


# The checker itself: it refuses what falls outside OFREP 0.3.0.

GOOD = {"key": "f", "reason": "SPLIT", "variant": "on", "value": 10, "metadata": {"n": 1}}


@pytest.mark.parametrize("body", [
    {"key": "f", "reason": "SPLIT", "variant": "on", "value": True},
    {"key": "f", "reason": "STATIC", "variant": "on", "value": "blue"},
    {"key": "f", "reason": "SPLIT", "variant": "on", "value": 10},
    {"key": "f", "reason": "SPLIT", "variant": "on", "value": 0.25},
    {"key": "f", "reason": "TARGETING_MATCH", "variant": "on", "value": {"items": [1]}},
    {"key": "f", "reason": "SPLIT", "variant": "off", "metadata": {"default": True}},
    {"key": "f", "reason": "DISABLED", "variant": "off", "metadata": {}},
])
def test_checker__each_value_type_and_the_code_default__accepted(body: dict[str, Any]) -> None:
    check_body(SINGLE, "POST", 200, body)
    check_body(BULK, "POST", 200, {"flags": [body]})


@pytest.mark.parametrize(("body", "found"), [
    ({**GOOD, "reason": "DEFAULT"}, "'DEFAULT' is not one of"),
    ({**GOOD, "value": [1, 2]}, "is not valid under any of the given schemas"),
    ({**GOOD, "value": None}, "is not valid under any of the given schemas"),
    ({**GOOD, "metadata": {"nested": {"a": 1}}}, "at metadata/nested"),
    ({"reason": "SPLIT", "value": 1}, "'key' is a required property"),
    ({"key": "f", "value": 1}, "'reason' is a required property"),
])
def test_checker__bad_success__refused(body: dict[str, Any], found: str) -> None:
    with pytest.raises(OfrepAnswerError, match=re.escape(found)):
        check_body(SINGLE, "POST", 200, body)
    with pytest.raises(OfrepAnswerError):
        check_body(BULK, "POST", 200, {"flags": [GOOD, body]})


@pytest.mark.parametrize(("path", "status", "body"), [
    ("/ofrep/v1/evaluate/flags/f", 400, {"key": "f", "errorCode": "FLAG_NOT_FOUND"}),
    ("/ofrep/v1/evaluate/flags/f", 404, {"errorCode": "FLAG_NOT_FOUND"}),
    ("/ofrep/v1/evaluate/flags", 400, {"errorDetails": "no code"}),
    ("/ofrep/v1/evaluate/flags/f", 422, {"key": "f", "errorCode": "GENERAL"}),
    ("/ofrep/v1/evaluate/flags/f", 304, None),
    ("/ofrep/v1/evaluate/flags", 304, {"flags": []}),
    ("/ofrep/v1/evaluate/flags", 200, "not json"),
])
def test_checker__bad_status_or_error_body__refused(path: str, status: int, body: Any) -> None:
    raw = b"" if body is None else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
    with pytest.raises(OfrepAnswerError):
        check_answer("POST", path, status, raw)


def test_checker__published_one_of__why_it_is_read_as_any_of() -> None:
    # As published, an integer matches integerFlag and floatFlag, so `oneOf` refuses it,
    # and an array matches only the code default (which constrains nothing), so it passes
    with pytest.raises(OfrepAnswerError):
        check_body(SINGLE, "POST", 200, GOOD, as_published=True)
    check_body(SINGLE, "POST", 200, {**GOOD, "value": [1, 2]}, as_published=True)


def test_checker__wired_into_the_client__bad_answer_fails_the_request() -> None:
    # Given a validating client whose server answers with OpenFeature's DEFAULT reason
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"key": "f", "reason": "DEFAULT", "variant": "off"})

    with validating_client(base_url="http://flagyard.test/ofrep/v1",
                           transport=httpx.MockTransport(answer)) as client:
        # When a test asks, Then the request itself fails
        with pytest.raises(OfrepAnswerError, match="DEFAULT"):
            client.post("/evaluate/flags/f", json={"context": {"targetingKey": "u"}})
        assert check_response in client.event_hooks["response"]
