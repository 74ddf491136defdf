"""OFREP over HTTP: the documented values, reasons, errors, ETags and rate limit."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.sdk.typed_flags import (
    FLAGS,
    INCLUDED_USER,
    TypedProject,
    as_amplitude_user,
    expected_value,
    make_typed_project,
    users,
)
from tests.support.server import Server

SERVED = [key for key, (_, _, enabled) in FLAGS.items() if enabled]


@pytest.fixture(scope="module")
def typed(server: Server, api: httpx.Client) -> TypedProject:
    return make_typed_project(server, api, "ofrep-http")


@pytest.fixture(scope="module")
def ofrep(server: Server, typed: TypedProject) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.base_url}/ofrep/v1",
                      headers={"Authorization": f"Bearer {typed.server_key}"}, timeout=30) as client:
        yield client


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


def test_single__bucketed_users__split_or_default_without_value(ofrep: httpx.Client) -> None:
    # When a 60 % rollout split over two variants evaluates 60 people
    answers = [ofrep.post("/evaluate/flags/of-int", json={"context": {"targetingKey": f"p{i}"}}).json()
               for i in range(60)]
    # Then those inside it are SPLIT with an integer value, the rest DEFAULT with none
    inside = [a for a in answers if a["reason"] == "SPLIT"]
    outside = [a for a in answers if a["reason"] == "DEFAULT"]
    assert inside and outside and len(inside) + len(outside) == 60
    assert {a["value"] for a in inside} <= {10, 1000}
    assert all("value" not in a and a["variant"] == "off" for a in outside)
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
    answer = httpx.post(f"{server.base_url}/ofrep/v1/evaluate/flags/of-float", headers=headers,
                        json={"context": {"targetingKey": "u"}})
    assert answer.status_code == 200


def test_auth__missing_or_unknown_key_401__management_key_403(
    server: Server, admin_key: str
) -> None:
    url = f"{server.base_url}/ofrep/v1/evaluate/flags/of-float"
    body = {"context": {"targetingKey": "u"}}
    assert httpx.post(url, json=body).status_code == 401
    assert httpx.post(url, json=body, headers={"X-API-Key": "server-nope"}).status_code == 401
    assert httpx.post(url, json=body, headers={"Authorization": f"Bearer {admin_key}"}).status_code == 403


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
