"""Rules on keys and numbers (manage/model/rules.py)."""

from __future__ import annotations

import pytest

from flagyard.errors import Invalid
from flagyard.manage.model import rules


@pytest.mark.parametrize("key", ["checkout", "Checkout_2.0-beta", "a", "x" * 200])
def test_check_flag_key__valid_key__is_accepted(key: str) -> None:
    # Given / When
    rules.check_flag_key(key)
    # Then
    assert rules.is_flag_key(key)


@pytest.mark.parametrize("key", ["", "with space", "trailing\n", "\nleading", "slash/key",
                                 "ünïcode", "x" * 201, "tab\tkey"])
def test_check_flag_key__invalid_key__is_refused(key: str) -> None:
    # Given / When
    with pytest.raises(Invalid) as raised:
        rules.check_flag_key(key)
    # Then
    assert raised.value.code == "invalid_key"
    assert not rules.is_flag_key(key)


def test_check_flag_key__field_name__appears_in_the_message() -> None:
    # Given / When
    with pytest.raises(Invalid) as raised:
        rules.check_flag_key("a b", "flagKey")
    # Then
    assert raised.value.message.startswith("flagKey ")


@pytest.mark.parametrize("key", ["on", "control", "Treatment_2-b", "x" * 200, "OFF", "off-2"])
def test_check_variant_key__valid_key__is_accepted(key: str) -> None:
    # Given / When / Then: no error
    rules.check_variant_key(key, "key")


@pytest.mark.parametrize("key", ["", "a.b", "trailing\n", "with space", "x" * 201])
def test_check_variant_key__invalid_key__is_refused(key: str) -> None:
    # Given / When
    with pytest.raises(Invalid) as raised:
        rules.check_variant_key(key, "variants[0].key")
    # Then
    assert raised.value.code == "invalid_variant_key"
    assert raised.value.message.startswith("variants[0].key ")


def test_check_variant_key__off__is_reserved() -> None:
    # Given / When
    with pytest.raises(Invalid) as raised:
        rules.check_variant_key("off", "key")
    # Then
    assert raised.value.code == "reserved_variant_key"
    assert "'off' is reserved" in raised.value.message


@pytest.mark.parametrize("value", [0, 1, 50, 100])
def test_check_percentage__within_bounds__is_accepted(value: int) -> None:
    # Given / When / Then: no error
    rules.check_percentage(value, "rolloutPercentage")


@pytest.mark.parametrize("value", [-1, 101, 1000])
def test_check_percentage__out_of_bounds__is_refused(value: int) -> None:
    # Given / When
    with pytest.raises(Invalid) as raised:
        rules.check_percentage(value, "rolloutPercentage")
    # Then
    assert raised.value.code == "invalid_percentage"
    assert raised.value.message == "rolloutPercentage must be between 0 and 100"


def test_check_weights__zero_weights_for_known_variants__are_accepted() -> None:
    # Given / When / Then: no error
    rules.check_weights({"control": 0, "treatment": 0}, ["control", "treatment"], "rolloutWeights")


def test_check_weights__unknown_variant__is_refused_naming_it() -> None:
    # Given / When
    with pytest.raises(Invalid) as raised:
        rules.check_weights({"ghost": 1}, ["control"], "rolloutWeights")
    # Then
    assert raised.value.code == "unknown_variant"
    assert raised.value.message.startswith("rolloutWeights.ghost ")


def test_check_weights__negative_weight__is_refused() -> None:
    # Given / When
    with pytest.raises(Invalid) as raised:
        rules.check_weights({"control": -1}, ["control"], "rolloutWeights")
    # Then
    assert raised.value.code == "invalid_weight"


def test_check_one_of__unknown_value__is_refused_listing_the_choices() -> None:
    # Given / When
    with pytest.raises(Invalid) as raised:
        rules.check_one_of("edge", rules.EVALUATION_MODES, "evaluationMode")
    # Then
    assert raised.value.message == "evaluationMode must be one of remote, local"


def test_check_bulk_size__hundred_items__is_accepted_and_one_more_refused() -> None:
    # Given
    hundred = [str(i) for i in range(rules.MAX_BULK_REMOVE)]
    # When
    rules.check_bulk_size(hundred, "ids")
    with pytest.raises(Invalid) as raised:
        rules.check_bulk_size([*hundred, "x"], "ids")
    # Then
    assert raised.value.code == "too_many_items"


def test_new_salt__any_call__is_eight_characters_of_the_alphabet() -> None:
    # Given / When
    salt = rules.new_salt()
    # Then
    assert len(salt) == 8
    assert set(salt) <= set(rules.SALT_ALPHABET)
