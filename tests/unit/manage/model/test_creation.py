"""Building a new flag or experiment from a create request (manage/model/creation.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from flagyard.errors import Invalid
from flagyard.manage.model.creation import new_flag
from flagyard.manage.model.flags import Kind
from flagyard.manage.model.rules import SALT_ALPHABET

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def create(kind: Kind = Kind.FLAG, **fields: Any) -> Any:
    return new_flag(kind, 1, {"key": "checkout", **fields}, actor="ada@example.com", now=NOW)


def test_new_flag__only_a_key__takes_the_flag_defaults() -> None:
    # Given / When
    flag = create(Kind.FLAG)
    # Then
    assert flag.kind is Kind.FLAG
    assert (flag.project_id, flag.key, flag.name, flag.description) == (1, "checkout", "checkout", "")
    assert flag.variant_keys == ["on"]
    assert flag.rollout_weights == {"on": 1}
    assert flag.enabled is False
    assert flag.evaluation_mode == "remote"
    assert (flag.bucketing_key, flag.bucketing_unit) == ("amplitude_id", "User")
    assert flag.rollout_percentage == 0
    assert flag.experiment_type is None
    assert flag.delivery_method == "feature"
    assert flag.target_segments == [] and flag.deployments == [] and flag.tags == []
    assert flag.parent_dependencies is None
    assert flag.sticky_bucketing is False
    assert flag.state is None
    assert (flag.created_at, flag.last_modified_at) == (NOW, NOW)
    assert (flag.created_by, flag.last_modified_by) == ("ada@example.com", "ada@example.com")
    assert flag.id == 0 and flag.version == 0


def test_new_flag__only_a_key_for_an_experiment__takes_the_experiment_defaults() -> None:
    # Given / When
    experiment = create(Kind.EXPERIMENT)
    # Then
    assert experiment.kind is Kind.EXPERIMENT
    assert experiment.variant_keys == ["control", "treatment"]
    assert experiment.rollout_weights == {"control": 1, "treatment": 1}
    assert experiment.experiment_type == "a-b-test"
    assert experiment.state == "planning"
    assert experiment.enabled is False


def test_new_flag__no_salt__gets_eight_random_alphanumerics() -> None:
    # Given / When
    salts = {create().bucketing_salt for _ in range(5)}
    # Then
    assert all(len(s) == 8 and set(s) <= set(SALT_ALPHABET) for s in salts)
    assert len(salts) > 1


def test_new_flag__given_fields__are_kept() -> None:
    # Given
    fields = {
        "name": "Checkout", "description": "new flow", "bucketing_salt": "s4lt",
        "bucketing_key": "device_id", "bucketing_unit": "Org", "evaluation_mode": "local",
        "rollout_percentage": 30, "sticky_bucketing": True, "tags": ["web"],
        "parent_dependencies": {"flags": {"7": ["on"]}, "operator": "all"},
    }
    # When
    flag = create(Kind.FLAG, **fields)
    # Then
    assert (flag.name, flag.description, flag.bucketing_salt) == ("Checkout", "new flow", "s4lt")
    assert (flag.bucketing_key, flag.bucketing_unit) == ("device_id", "Org")
    assert (flag.evaluation_mode, flag.rollout_percentage) == ("local", 30)
    assert flag.sticky_bucketing is True
    assert flag.tags == ["web"]
    assert flag.parent_dependencies == {"flags": {"7": ["on"]}, "operator": "all"}


def test_new_flag__experiment_type_for_an_experiment__is_kept() -> None:
    # Given / When
    experiment = create(Kind.EXPERIMENT, experiment_type="multi-arm-bandit")
    # Then
    assert experiment.experiment_type == "multi-arm-bandit"


def test_new_flag__given_variants__replace_the_defaults_in_order() -> None:
    # Given
    variants = [{"key": "blue", "payload": {"c": "b"}, "rollout_weight": 3}, {"key": "green"}]
    # When
    experiment = create(Kind.EXPERIMENT, variants=variants)
    # Then
    assert experiment.variant_keys == ["blue", "green"]
    assert experiment.rollout_weights == {"blue": 3, "green": 1}
    assert experiment.variant("blue").payload == {"c": "b"}


def test_new_flag__duplicate_variant_keys__are_refused_as_bad_input() -> None:
    # Given
    variants = [{"key": "blue"}, {"key": "green"}, {"key": "blue"}]
    # When
    with pytest.raises(Invalid) as raised:
        create(Kind.EXPERIMENT, variants=variants)
    # Then
    assert raised.value.code == "duplicate_variant"
    assert "variants[2].key" in raised.value.message


def test_new_flag__reserved_variant_key__is_refused_naming_its_index() -> None:
    # Given
    variants = [{"key": "blue"}, {"key": "off"}]
    # When
    with pytest.raises(Invalid) as raised:
        create(Kind.FLAG, variants=variants)
    # Then
    assert raised.value.code == "reserved_variant_key"
    assert raised.value.message.startswith("variants[1].key")


def test_new_flag__web_delivery__is_refused() -> None:
    # Given / When
    with pytest.raises(Invalid) as raised:
        create(Kind.EXPERIMENT, delivery_method="web")
    # Then
    assert raised.value.code == "web_not_supported"


def test_new_flag__unknown_delivery_method__is_refused() -> None:
    # Given / When
    with pytest.raises(Invalid) as raised:
        create(Kind.FLAG, delivery_method="email")
    # Then
    assert raised.value.code == "invalid_value"


def test_new_flag__rollout_weights__replace_the_default_weights() -> None:
    # Given / When
    experiment = create(Kind.EXPERIMENT, rollout_weights={"treatment": 4})
    # Then
    assert experiment.rollout_weights == {"control": 0, "treatment": 4}


def test_new_flag__weights_naming_an_unknown_variant__are_refused() -> None:
    # Given / When
    with pytest.raises(Invalid) as raised:
        create(Kind.EXPERIMENT, rollout_weights={"control": 1, "on": 1})
    # Then
    assert raised.value.code == "unknown_variant"


def test_new_flag__segment_weights_naming_an_unknown_variant__are_refused() -> None:
    # Given
    segments = [{"name": "US", "conditions": [], "percentage": 100, "rolloutWeights": {"on": 1}}]
    # When
    with pytest.raises(Invalid) as raised:
        create(Kind.EXPERIMENT, target_segments=segments)
    # Then
    assert raised.value.code == "unknown_variant"
    assert "targetSegments[0].rolloutWeights" in raised.value.message


def test_new_flag__segments_naming_given_variants__are_kept() -> None:
    # Given
    segments = [{"name": "US", "conditions": [], "percentage": 50, "rolloutWeights": {"blue": 1}}]
    # When
    flag = create(Kind.FLAG, variants=[{"key": "blue"}], target_segments=segments)
    # Then
    assert flag.target_segments == segments


@pytest.mark.parametrize(
    ("field", "value"),
    [("experiment_type", "a-b-test"), ("start_date", "2024-01-01"), ("end_date", "2024-02-01"),
     ("exposure_event", {"event_type": "seen"}), ("decision", "rollout"),
     ("decision_reason", "won"), ("rolled_out_variant", "on")],
)
def test_new_flag__experiment_only_field_on_a_flag__is_refused(field: str, value: Any) -> None:
    # Given / When
    with pytest.raises(Invalid) as raised:
        create(Kind.FLAG, **{field: value})
    # Then
    assert raised.value.code == "not_allowed"


def test_new_flag__experiment_only_field_sent_as_null_on_a_flag__is_accepted() -> None:
    # Given / When
    flag = create(Kind.FLAG, experiment_type=None, decision=None)
    # Then
    assert flag.experiment_type is None


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"key": "bad key"}, "invalid_key"),
        ({"key": ""}, "invalid_key"),
        ({"evaluation_mode": "edge"}, "invalid_value"),
        ({"experiment_type": "split"}, "invalid_value"),
        ({"bucketing_key": ""}, "invalid_value"),
        ({"bucketing_unit": ""}, "invalid_value"),
        ({"rollout_percentage": 101}, "invalid_percentage"),
    ],
)
def test_new_flag__bad_value__is_refused(fields: dict[str, Any], code: str) -> None:
    # Given / When
    with pytest.raises(Invalid) as raised:
        create(Kind.EXPERIMENT, **fields)
    # Then
    assert raised.value.code == code


def test_new_flag__repeated_deployments__are_linked_once_in_order() -> None:
    # Given / When
    flag = create(Kind.FLAG, deployments=[4, 3, 4])
    # Then
    assert flag.deployments == [4, 3]


def test_new_flag__tags__are_copied_from_the_request() -> None:
    # Given
    tags = ["web"]
    flag = create(Kind.FLAG, tags=tags)
    # When
    tags.append("mobile")
    # Then
    assert flag.tags == ["web"]
