from __future__ import annotations

from typing import Any

from amplitude_experiment.user import User
from amplitude_experiment.util.user import user_to_evaluation_context

from flagyard.engine import user_to_context

SDK_BODY: dict[str, Any] = {
    "device_id": "dev-1", "user_id": "u-control", "country": None, "city": None, "region": None,
    "dma": None, "language": None, "platform": None, "version": None, "os": None,
    "device_manufacturer": None, "device_brand": None, "device_model": None, "carrier": None,
    "library": "experiment-python-server/1.13.0", "ip_address": None,
    "user_properties": {"plan": "pro"}, "groups": {"org name": ["amplitude", "other"]},
    "group_properties": {"org name": {"amplitude": {"plan": "ent"}}},
    "group_cohort_ids": {"org name": {"amplitude": ["gc1"]}}, "cohort_ids": None,
}


def test_user_to_context__captured_sdk_body__builds_user_and_groups() -> None:
    # Given / When
    context = user_to_context(SDK_BODY)

    # Then
    assert context == {
        "user": {
            "device_id": "dev-1",
            "user_id": "u-control",
            "library": "experiment-python-server/1.13.0",
            "user_properties": {"plan": "pro"},
        },
        "groups": {
            "org name": {
                "group_name": "amplitude",
                "group_properties": {"plan": "ent"},
                "cohort_ids": ["gc1"],
            }
        },
    }


def test_user_to_context__captured_sdk_body__equals_sdk_conversion() -> None:
    # Given
    expected = user_to_evaluation_context(User(**SDK_BODY))

    # When / Then
    assert user_to_context(SDK_BODY) == expected


def test_user_to_context__all_null__is_empty() -> None:
    # Given / When / Then
    assert user_to_context({"user_id": None, "groups": None}) == {}


def test_user_to_context__empty_or_bad_group_lists__skipped_but_groups_kept() -> None:
    # Given
    user = {"groups": {"org": [], "team": "not-a-list"}}

    # When / Then
    assert user_to_context(user) == {"groups": {}}


def test_user_to_context__extra_fields__kept_in_user() -> None:
    # Given / When / Then
    assert user_to_context({"amplitude_id": 7}) == {"user": {"amplitude_id": 7}}


def test_user_to_context__malformed_group_tables__ignored() -> None:
    # Given
    user = {"groups": {"org": [{"unhashable": 1}]}, "group_properties": {"org": "x"}}

    # When
    context = user_to_context(user)

    # Then
    assert context == {"groups": {"org": {"group_name": {"unhashable": 1}}}}
