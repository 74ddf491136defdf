"""The OpenFeature mapping: contexts to Amplitude users, variants to OFREP evaluations."""

from __future__ import annotations

from typing import Any

import pytest

from flagyard import engine
from flagyard.domain.openfeature import context_to_user, disabled, evaluation
from flagyard.errors import Invalid


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


@pytest.mark.parametrize(("segments", "segment_name", "reason"), [
    ([{"variant": "a", "metadata": {"segmentName": "All Other Users"}}], "All Other Users", "STATIC"),
    ([{"variant": "a", "metadata": {"segmentName": "individual-inclusions"}},
      {"variant": "a", "metadata": {"segmentName": "All Other Users"}}], "All Other Users", "DEFAULT"),
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
    answer = evaluation("f", variant, _flag(*segments))
    assert answer == {"key": "f", "reason": reason, "variant": "a", "value": "a",
                      "metadata": {"segmentName": segment_name, "flagVersion": 3}}


def test_evaluation__payload__is_the_value() -> None:
    answer = evaluation("f", {"key": "a", "value": "a", "payload": {"n": 1.5}}, None)
    assert answer["value"] == {"n": 1.5}


def test_evaluation__default_variant__default_reason_and_no_value() -> None:
    answer = evaluation("f", {"key": "off", "metadata": {"default": True, "segmentName": "x"}}, None)
    assert answer == {"key": "f", "reason": "DEFAULT", "variant": "off",
                      "metadata": {"default": True, "segmentName": "x"}}


def test_evaluation__nested_metadata__left_out() -> None:
    answer = evaluation("f", {"key": "a", "value": "a", "metadata": {"deep": {"x": 1}, "n": 1}}, None)
    assert answer["metadata"] == {"n": 1}


def test_disabled__no_value() -> None:
    assert disabled("f") == {"key": "f", "reason": "DISABLED", "variant": "off", "metadata": {}}
