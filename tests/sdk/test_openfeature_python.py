"""OpenFeature's Python SDK with `openfeature-provider-ofrep`, against a live flagyard,
agreeing with Amplitude's own Python SDK on the same flags."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from amplitude_experiment import RemoteEvaluationClient, RemoteEvaluationConfig, User
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from tests.sdk.conftest import release
from tests.sdk.typed_flags import TypedProject, make_typed_project, users
from tests.support.server import Server

# flag → (the OpenFeature getter, the code default)
TYPED = {
    "of-bool": ("get_boolean_details", False),
    "of-string": ("get_string_details", "none"),
    "of-int": ("get_integer_details", -1),
    "of-float": ("get_float_details", -1.0),
    "of-object": ("get_object_details", {}),
}


@pytest.fixture(scope="module")
def typed(server: Server, api: httpx.Client) -> TypedProject:
    return make_typed_project(server, api, "ofrep-python")


def _client(server: Server, key: str, domain: str) -> OpenFeatureClient:
    provider = OFREPProvider(server.base_url, headers_factory=lambda: {"Authorization": f"Bearer {key}"})
    api.set_provider(provider, domain=domain)
    return api.get_client(domain)


@pytest.fixture(scope="module")
def openfeature(server: Server, typed: TypedProject) -> Iterator[OpenFeatureClient]:
    yield _client(server, typed.server_key, "flagyard")
    api.clear_providers()


@pytest.fixture(scope="module")
def amplitude(server: Server, typed: TypedProject) -> Iterator[RemoteEvaluationClient]:
    client = RemoteEvaluationClient(typed.server_key, RemoteEvaluationConfig(server_url=server.base_url))
    yield client
    release(client)


def _documented(variant: Any, default: Any) -> Any:
    """docs/openfeature.md: the payload, else the variant's value; the default for off."""
    if variant is None or variant.key is None or (variant.metadata or {}).get("default"):
        return default
    return variant.payload if variant.payload is not None else variant.value


def test_typed_flags__many_users__values_agree_with_amplitude_sdk(
    openfeature: OpenFeatureClient, amplitude: RemoteEvaluationClient
) -> None:
    seen: dict[str, set[str]] = {key: set() for key in TYPED}
    for context in users(40):
        # Given the same person for Amplitude's SDK and for OpenFeature
        attributes = {k: v for k, v in context.items() if k != "targetingKey"}
        key = context["targetingKey"]
        variants = amplitude.fetch_v2(User(user_id=key, device_id=key, country=context.get("country")))
        of_context = EvaluationContext(targeting_key=key, attributes=attributes)
        for flag, (getter, default) in TYPED.items():
            # When OpenFeature resolves the flag
            details = getattr(openfeature, getter)(flag, default, of_context)
            # Then it has the documented value, without error
            assert details.error_code is None, (flag, context, details.error_message)
            assert details.value == _documented(variants.get(flag), default), (flag, context)
            assert type(details.value) is type(default)
            seen[flag].add(str(details.reason))
    # And the evaluation paths gave their reasons
    assert seen["of-bool"] >= {Reason.SPLIT, Reason.TARGETING_MATCH}
    assert seen["of-int"] == {Reason.SPLIT}
    assert seen["of-float"] == {Reason.STATIC}


def test_disabled_flag__code_default_with_reason_disabled(openfeature: OpenFeatureClient) -> None:
    details = openfeature.get_boolean_details("of-disabled", True, EvaluationContext("u"))
    assert (details.value, details.reason, details.error_code) == (True, Reason.DISABLED, None)


def test_unknown_flag__flag_not_found(openfeature: OpenFeatureClient) -> None:
    details = openfeature.get_boolean_details("no-such-flag", False, EvaluationContext("u"))
    assert (details.value, details.error_code) == (False, ErrorCode.FLAG_NOT_FOUND)


def test_wrong_type__type_mismatch(openfeature: OpenFeatureClient) -> None:
    details = openfeature.get_integer_details("of-string", 7, EvaluationContext("u"))
    assert (details.value, details.error_code) == (7, ErrorCode.TYPE_MISMATCH)


def test_missing_targeting_key__targeting_key_missing(openfeature: OpenFeatureClient) -> None:
    details = openfeature.get_boolean_details("of-bool", False, EvaluationContext())
    assert (details.value, details.error_code) == (False, ErrorCode.TARGETING_KEY_MISSING)


def test_bad_key__general_error_and_code_default(server: Server) -> None:
    client = _client(server, "client-not-a-key", "bad-key")
    details = client.get_boolean_details("of-bool", True, EvaluationContext("u"))
    assert (details.value, details.error_code) == (True, ErrorCode.GENERAL)
    assert "unauthorized" in (details.error_message or "")
