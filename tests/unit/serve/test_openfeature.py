"""The OpenFeature mapping: contexts to Amplitude users, variants to OFREP evaluations.

Every evaluation built here is also checked against the published OFREP 0.3.0 schema.
"""

from __future__ import annotations

from typing import Any

import pytest

from flagyard import engine
from flagyard.errors import Invalid
from flagyard.serve.openfeature import context_to_user, disabled, evaluation
from tests.support.ofrep_schema import BULK, SINGLE, check_body


def _checked(answer: dict[str, Any]) -> dict[str, Any]:
    """`answer`, once OFREP 0.3.0 accepts it alone and in a bulk answer."""
    check_body(SINGLE, "POST", 200, answer)
    check_body(BULK, "POST", 200, {"flags": [answer]})
    return answer


def test_context__targeting_key__user_and_device_id() -> None:
    assert context_to_user({"targetingKey": "u-1"}) == {"user_id": "u-1", "device_id": "u-1"}


def test_context__attributes__user_fields_and_properties() -> None:
    # Given predefined user fields, an explicit device, properties and groups
    user = context_to_user({"targetingKey": "u", "device_id": "d", "country": "DE", "version": 3,
                            "plan": "pro", "seats": 5, "user_properties": {"beta": True},
                            "groups": {"org": ["acme"]}})
    # Then fields stay fields, everything else is a user property
    assert user == {"user_id": "u", "device_id": "d", "country": "DE", "version": "3",
                    "groups": {"org": ["acme"]},
                    "user_properties": {"plan": "pro", "seats": 5, "beta": True}}


@pytest.mark.parametrize(("context", "code"), [
    ({}, "targeting_key_missing"),
    ({"targetingKey": ""}, "targeting_key_missing"),
    ({"targetingKey": 5}, "invalid_context"),
    ("u", "invalid_context"),
    ({"targetingKey": "u", "user_properties": []}, "invalid_context"),
    ({"targetingKey": "u", "groups": {"org": "acme"}}, "invalid_context"),
    ({"targetingKey": "u", "user_id": "v"}, "invalid_context"),
    ({"targetingKey": "u", "country": {"a": 1}}, "invalid_context"),
])
def test_context__bad__refused_with_ofrep_code(context: Any, code: str) -> None:
    with pytest.raises(Invalid) as refused:
        context_to_user(context)
    assert refused.value.code == code


def test_context__device_only__anonymous_device() -> None:
    assert context_to_user({"device_id": "d"}) == {"device_id": "d"}


def _flag(*segments: dict[str, Any]) -> engine.Flag:
    return engine.parse_flag({
        "key": "f", "variants": {"a": {"key": "a", "value": "a"}, "off": {"key": "off"}},
        "segments": list(segments)})


BUCKET = {"selector": ["context", "user", "device_id"], "salt": "s",
          "allocations": [{"range": [0, 100], "distributions": [{"variant": "a", "range": [0, 42949673]}]}]}
ROLLOUT = {**BUCKET, "allocations": [{"range": [0, 60],
                                      "distributions": [{"variant": "a", "range": [0, 42949673]}]}]}


@pytest.mark.parametrize(("segments", "segment_name", "reason"), [
    ([{"variant": "a", "metadata": {"segmentName": "All Other Users"}}], "All Other Users", "STATIC"),
    ([{"variant": "a", "metadata": {"segmentName": "individual-inclusions"}},
      {"variant": "a", "metadata": {"segmentName": "All Other Users"}}], "All Other Users",
     "TARGETING_MATCH"),
    ([{"variant": "a", "metadata": {"segmentName": "individual-inclusions"}}],
     "individual-inclusions", "TARGETING_MATCH"),
    ([{"variant": "a", "metadata": {"segmentName": "sticky-bucketing"}}], "sticky-bucketing",
     "TARGETING_MATCH"),
    ([{"variant": "a", "metadata": {"segmentName": "pro users"}}], "pro users", "TARGETING_MATCH"),
    ([{"bucket": BUCKET, "variant": "off", "metadata": {"segmentName": "pro users"}}], "pro users",
     "SPLIT"),
])
def test_evaluation__segment_that_served__reason(
    segments: list[dict[str, Any]], segment_name: str, reason: str
) -> None:
    variant = {"key": "a", "value": "a", "metadata": {"segmentName": segment_name, "flagVersion": 3}}
    answer = _checked(evaluation("f", variant, _flag(*segments)))
    assert answer == {"key": "f", "reason": reason, "variant": "a", "value": "a",
                      "metadata": {"segmentName": segment_name, "flagVersion": 3}}


@pytest.mark.parametrize("payload", [True, False, "x", 0, 7, -2.5, 0.25, {"n": 1.5}, {}])
def test_evaluation__payload__is_the_value(payload: Any) -> None:
    answer = _checked(evaluation("f", {"key": "a", "value": "a", "payload": payload}, None))
    assert answer["value"] == payload
    assert "arrayWrapped" not in answer["metadata"]


@pytest.mark.parametrize("payload", [[], [1, "two", {"three": 3}], [[1], [2]]])
def test_evaluation__array_payload__wrapped_as_items_and_marked(payload: list[Any]) -> None:
    answer = _checked(evaluation("f", {"key": "a", "value": "a", "payload": payload,
                                       "metadata": {"flagVersion": 2}}, None))
    assert answer == {"key": "f", "reason": "TARGETING_MATCH", "variant": "a",
                      "value": {"items": payload},
                      "metadata": {"flagVersion": 2, "arrayWrapped": True}}


# The default (off): no value, so the code default; the reason is that of the path that led to it.
OFF_SEGMENT = {"variant": "off", "metadata": {"segmentName": "All Other Users"}}


@pytest.mark.parametrize(("segments", "segment_name", "reason"), [
    # outside a percentage rollout: the bucketing decided
    ([{"bucket": ROLLOUT, "variant": "off", "metadata": {"segmentName": "All Other Users"}}],
     "All Other Users", "SPLIT"),
    # outside a target segment's rollout
    ([{"bucket": ROLLOUT, "variant": "off", "metadata": {"segmentName": "pro users"}},
      OFF_SEGMENT], "pro users", "SPLIT"),
    # a parent flag's gate closed
    ([{"variant": "off", "metadata": {"segmentName": "flag-dependencies"}},
      {"variant": "a", "metadata": {"segmentName": "All Other Users"}}], "flag-dependencies",
     "TARGETING_MATCH"),
    # no variant for "All Other Users" (0 %), after a rule that did not match
    ([{"variant": "a", "metadata": {"segmentName": "individual-inclusions"}}, OFF_SEGMENT],
     "All Other Users", "TARGETING_MATCH"),
    # no variant for anyone: a 0 % rollout and no other rule (or a flag that did not compile)
    ([OFF_SEGMENT], "All Other Users", "STATIC"),
])
def test_evaluation__default_variant__reason_of_its_path_and_no_value(
    segments: list[dict[str, Any]], segment_name: str, reason: str
) -> None:
    variant = {"key": "off", "metadata": {"default": True, "segmentName": segment_name}}
    answer = _checked(evaluation("f", variant, _flag(*segments)))
    assert answer == {"key": "f", "reason": reason, "variant": "off",
                      "metadata": {"default": True, "segmentName": segment_name}}


def test_evaluation__no_variant_at_all__code_default_targeting_match() -> None:
    # No segment yielded a variant: the rules were checked and gave nothing
    answer = _checked(evaluation("f", None, _flag(OFF_SEGMENT)))
    assert answer == {"key": "f", "reason": "TARGETING_MATCH", "variant": "off",
                      "metadata": {"default": True}}


def test_evaluation__nested_metadata__left_out() -> None:
    answer = _checked(evaluation("f", {"key": "a", "value": "a",
                                       "metadata": {"deep": {"x": 1}, "n": 1}}, None))
    assert answer["metadata"] == {"n": 1}


def test_disabled__no_value() -> None:
    assert _checked(disabled("f")) == {"key": "f", "reason": "DISABLED", "variant": "off",
                                       "metadata": {}}
