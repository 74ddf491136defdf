"""The flag aggregate (manage/model/flags.py): edits, states, variants, weights and deployments."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from flagyard.errors import AlreadyExists, Invalid, NotFound
from flagyard.manage.model.document import flag_document
from flagyard.manage.model.flags import Flag, Kind, Variant

NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def make_flag(kind: Kind = Kind.FLAG, **fields: Any) -> Flag:
    keys = ("on",) if kind is Kind.FLAG else ("control", "treatment")
    values: dict[str, Any] = {
        "project_id": 1,
        "kind": kind,
        "key": "checkout",
        "bucketing_salt": "abcdEFGH",
        "created_at": NOW,
        "created_by": "ada@example.com",
        "id": 12,
        "variants": [Variant(key=k) for k in keys],
    }
    values.update(fields)
    return Flag(**values)


def make_experiment(**fields: Any) -> Flag:
    return make_flag(Kind.EXPERIMENT, **fields)


def segment(weights: dict[str, int], percentage: int = 100) -> dict[str, Any]:
    return {"name": "US", "conditions": [], "percentage": percentage, "rolloutWeights": weights}


# --- edit ------------------------------------------------------------------------------------


def test_edit__plain_fields__are_applied() -> None:
    # Given
    flag = make_flag()
    # When
    flag.edit({"name": "Checkout", "description": "new flow", "rollout_percentage": 40,
               "evaluation_mode": "local", "tags": ["web"]})
    # Then
    assert (flag.name, flag.description, flag.rollout_percentage) == ("Checkout", "new flow", 40)
    assert flag.evaluation_mode == "local"
    assert flag.tags == ["web"]


def test_edit__archive_alone__archives() -> None:
    # Given
    flag = make_flag()
    # When
    flag.edit({"archive": True})
    # Then
    assert flag.deleted is True


def test_edit__archive_false_on_archived_flag__unarchives() -> None:
    # Given
    flag = make_flag(deleted=True)
    # When
    flag.edit({"archive": False})
    # Then
    assert flag.deleted is False


def test_edit__archive_with_another_field__is_refused_and_changes_nothing() -> None:
    # Given
    flag = make_flag()
    # When
    with pytest.raises(Invalid) as raised:
        flag.edit({"archive": True, "name": "other"})
    # Then
    assert raised.value.code == "archive_not_alone"
    assert flag.deleted is False
    assert flag.name == ""


def test_edit__archived_flag__is_refused() -> None:
    # Given
    flag = make_flag(deleted=True)
    # When
    with pytest.raises(Invalid) as raised:
        flag.edit({"name": "other"})
    # Then
    assert raised.value.code == "archived"
    assert flag.name == ""


def test_ensure_editable__archived_experiment__names_the_kind() -> None:
    # Given
    experiment = make_experiment(deleted=True)
    # When
    with pytest.raises(Invalid) as raised:
        experiment.ensure_editable()
    # Then
    assert "archived experiment" in raised.value.message


def test_edit__enable_without_deployments__is_refused() -> None:
    # Given
    flag = make_flag()
    # When
    with pytest.raises(Invalid) as raised:
        flag.edit({"enabled": True})
    # Then
    assert raised.value.code == "no_deployments"


def test_edit__enable_with_a_deployment__enables_and_marks_started() -> None:
    # Given
    flag = make_flag(deployments=[3])
    # When
    flag.edit({"enabled": True})
    # Then
    assert flag.enabled is True
    assert flag.started is True


def test_edit__disable_without_deployments__is_allowed() -> None:
    # Given
    flag = make_flag(enabled=True, started=True)
    # When
    flag.edit({"enabled": False})
    # Then
    assert flag.enabled is False


@pytest.mark.parametrize(
    ("field", "value", "label"),
    [
        ("experiment_type", "a-b-test", "experimentType"),
        ("start_date", "2024-01-01", "startDate"),
        ("end_date", "2024-02-01", "endDate"),
        ("exposure_event", {"event_type": "viewed"}, "exposureEvent"),
        ("decision", "rollout", "decision"),
        ("decision_reason", "it won", "decisionReason"),
        ("rolled_out_variant", "on", "rolledOutVariant"),
    ],
)
def test_edit__experiment_only_field_on_a_flag__is_refused(field: str, value: Any, label: str) -> None:
    # Given
    flag = make_flag()
    # When
    with pytest.raises(Invalid) as raised:
        flag.edit({field: value})
    # Then
    assert raised.value.code == "not_allowed"
    assert raised.value.message == f"{label} is not allowed for flags"


def test_edit__experiment_only_fields_on_an_experiment__are_applied() -> None:
    # Given
    experiment = make_experiment()
    # When
    experiment.edit({"experiment_type": "no-harm", "start_date": "2024-01-01",
                     "decision": "rollout", "decision_reason": "it won",
                     "rolled_out_variant": "treatment", "exposure_event": {"event_type": "seen"}})
    # Then
    assert experiment.experiment_type == "no-harm"
    assert experiment.start_date == "2024-01-01"
    assert (experiment.decision, experiment.decision_reason) == ("rollout", "it won")
    assert experiment.rolled_out_variant == "treatment"
    assert experiment.exposure_event == {"event_type": "seen"}


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"rollout_percentage": 101}, "invalid_percentage"),
        ({"rollout_percentage": -1}, "invalid_percentage"),
        ({"evaluation_mode": "edge"}, "invalid_value"),
        ({"experiment_type": "split"}, "invalid_value"),
        ({"decision": "ship-it"}, "invalid_value"),
        ({"rolled_out_variant": "nobody"}, "unknown_variant"),
        ({"bucketing_key": ""}, "invalid_value"),
        ({"bucketing_salt": ""}, "invalid_value"),
        ({"bucketing_unit": ""}, "invalid_value"),
        ({"target_segments": [segment({"ghost": 1})]}, "unknown_variant"),
        ({"target_segments": [segment({"control": 1}, percentage=101)]}, "invalid_percentage"),
        ({"target_segments": [segment({"control": -1})]}, "invalid_weight"),
    ],
)
def test_edit__bad_value__is_refused(changes: dict[str, Any], code: str) -> None:
    # Given
    experiment = make_experiment()
    # When
    with pytest.raises(Invalid) as raised:
        experiment.edit(changes)
    # Then
    assert raised.value.code == code


def test_edit__decision_none__clears_the_decision() -> None:
    # Given
    experiment = make_experiment(decision="rollout", rolled_out_variant="treatment")
    # When
    experiment.edit({"decision": None, "rolled_out_variant": None})
    # Then
    assert experiment.decision is None
    assert experiment.rolled_out_variant is None


def test_edit__segments_naming_known_variants__are_stored() -> None:
    # Given
    experiment = make_experiment()
    segments = [segment({"control": 1, "treatment": 3}, percentage=50)]
    # When
    experiment.edit({"target_segments": segments})
    # Then
    assert experiment.target_segments == segments


# --- states ----------------------------------------------------------------------------------


def test_state__flag__is_none() -> None:
    # Given
    flag = make_flag(enabled=True, deployments=[3])
    # When
    state = flag.state
    # Then
    assert state is None


def test_state__new_experiment__is_planning() -> None:
    # Given
    experiment = make_experiment()
    # When
    state = experiment.state
    # Then
    assert state == "planning"


def test_state__experiment_enabled_then_disabled__goes_running_then_stopped() -> None:
    # Given
    experiment = make_experiment(deployments=[3])
    # When
    experiment.set_enabled(True)
    running = experiment.state
    experiment.set_enabled(False)
    # Then
    assert running == "running"
    assert experiment.state == "stopped"


def test_state__experiment_enabled_through_edit__never_returns_to_planning() -> None:
    # Given
    experiment = make_experiment(deployments=[3])
    # When
    experiment.edit({"enabled": True})
    experiment.edit({"enabled": False})
    # Then
    assert experiment.state == "stopped"


def test_state__decision_made__is_decision_made_even_while_running() -> None:
    # Given
    experiment = make_experiment(deployments=[3])
    experiment.set_enabled(True)
    # When
    experiment.edit({"decision": "rollout", "rolled_out_variant": "treatment"})
    # Then
    assert experiment.state == "decision-made"


def test_state__archived_experiment__is_archived_whatever_else() -> None:
    # Given
    experiment = make_experiment(deployments=[3], decision="rollout")
    experiment.set_enabled(True)
    # When
    experiment.edit({"archive": True})
    # Then
    assert experiment.state == "archived"


def test_set_enabled__without_deployments__is_refused() -> None:
    # Given
    experiment = make_experiment()
    # When
    with pytest.raises(Invalid) as raised:
        experiment.set_enabled(True)
    # Then
    assert raised.value.code == "no_deployments"
    assert experiment.enabled is False
    assert experiment.state == "planning"


def test_set_enabled__archived__is_refused() -> None:
    # Given
    experiment = make_experiment(deployments=[3], deleted=True)
    # When
    with pytest.raises(Invalid) as raised:
        experiment.set_enabled(True)
    # Then
    assert raised.value.code == "archived"
    assert experiment.enabled is False


# --- variants --------------------------------------------------------------------------------


def test_add_variant__new_key__is_appended() -> None:
    # Given
    experiment = make_experiment()
    # When
    experiment.add_variant(Variant(key="treatment-2", rollout_weight=2))
    # Then
    assert experiment.variant_keys == ["control", "treatment", "treatment-2"]
    assert experiment.rollout_weights["treatment-2"] == 2


def test_add_variant__existing_key__is_refused() -> None:
    # Given
    experiment = make_experiment()
    # When
    with pytest.raises(AlreadyExists) as raised:
        experiment.add_variant(Variant(key="control"))
    # Then
    assert raised.value.code == "variant_exists"
    assert experiment.variant_keys == ["control", "treatment"]


@pytest.mark.parametrize(("key", "code"), [("off", "reserved_variant_key"),
                                           ("a.b", "invalid_variant_key"),
                                           ("", "invalid_variant_key")])
def test_add_variant__bad_key__is_refused(key: str, code: str) -> None:
    # Given
    flag = make_flag()
    # When
    with pytest.raises(Invalid) as raised:
        flag.add_variant(Variant(key=key))
    # Then
    assert raised.value.code == code
    assert flag.variant_keys == ["on"]


def test_add_variant__negative_weight__is_refused() -> None:
    # Given
    flag = make_flag()
    # When
    with pytest.raises(Invalid) as raised:
        flag.add_variant(Variant(key="blue", rollout_weight=-1))
    # Then
    assert raised.value.code == "invalid_weight"
    assert flag.variant_keys == ["on"]


def test_variant__unknown_key__is_not_found() -> None:
    # Given
    flag = make_flag()
    # When
    with pytest.raises(NotFound) as raised:
        flag.variant("ghost")
    # Then
    assert raised.value.code == "variant_not_found"


def test_edit_variant__rename__renames_weights_in_segments_and_rolled_out_variant() -> None:
    # Given
    experiment = make_experiment(
        target_segments=[segment({"control": 1, "treatment": 3}), segment({"control": 2})],
        rolled_out_variant="control",
    )
    # When
    experiment.edit_variant("control", {"key": "baseline"})
    # Then
    assert experiment.variant_keys == ["baseline", "treatment"]
    assert list(experiment.target_segments[0]["rolloutWeights"].items()) == [
        ("baseline", 1), ("treatment", 3)]
    assert experiment.target_segments[1]["rolloutWeights"] == {"baseline": 2}
    assert experiment.rolled_out_variant == "baseline"


def test_edit_variant__rename__keeps_the_variant_identity_and_fields() -> None:
    # Given
    experiment = make_experiment(variants=[Variant(key="control", id=7, payload={"a": 1}),
                                           Variant(key="treatment", id=8)])
    # When
    experiment.edit_variant("control", {"key": "baseline"})
    # Then
    renamed = experiment.variant("baseline")
    assert (renamed.id, renamed.payload) == (7, {"a": 1})


def test_edit_variant__rename_to_existing_key__is_refused_and_changes_nothing() -> None:
    # Given
    experiment = make_experiment(target_segments=[segment({"control": 1})])
    # When
    with pytest.raises(AlreadyExists):
        experiment.edit_variant("control", {"key": "treatment"})
    # Then
    assert experiment.variant_keys == ["control", "treatment"]
    assert experiment.target_segments[0]["rolloutWeights"] == {"control": 1}


def test_edit_variant__rename_to_off__is_refused() -> None:
    # Given
    experiment = make_experiment()
    # When
    with pytest.raises(Invalid) as raised:
        experiment.edit_variant("control", {"key": "off"})
    # Then
    assert raised.value.code == "reserved_variant_key"
    assert experiment.variant_keys == ["control", "treatment"]


def test_edit_variant__fields__are_applied() -> None:
    # Given
    experiment = make_experiment()
    # When
    experiment.edit_variant("treatment", {"name": "Blue", "description": "blue button",
                                          "payload": {"color": "blue"}, "rollout_weight": 4})
    # Then
    variant = experiment.variant("treatment")
    assert (variant.name, variant.description, variant.payload, variant.rollout_weight) == (
        "Blue", "blue button", {"color": "blue"}, 4)


def test_edit_variant__negative_weight__is_refused() -> None:
    # Given
    experiment = make_experiment()
    # When
    with pytest.raises(Invalid) as raised:
        experiment.edit_variant("treatment", {"rollout_weight": -2})
    # Then
    assert raised.value.code == "invalid_weight"
    assert experiment.variant("treatment").rollout_weight == 1


def test_edit_variant__unknown_key__is_not_found() -> None:
    # Given
    experiment = make_experiment()
    # When / Then
    with pytest.raises(NotFound):
        experiment.edit_variant("ghost", {"name": "x"})


def test_remove_variant__named_in_segments_and_rollout__drops_it_everywhere() -> None:
    # Given
    experiment = make_experiment(
        target_segments=[segment({"control": 1, "treatment": 3})],
        rolled_out_variant="treatment",
    )
    # When
    experiment.remove_variant("treatment")
    # Then
    assert experiment.variant_keys == ["control"]
    assert experiment.target_segments[0]["rolloutWeights"] == {"control": 1}
    assert experiment.rolled_out_variant is None


def test_remove_variant__other_variant_rolled_out__keeps_the_rollout() -> None:
    # Given
    experiment = make_experiment(rolled_out_variant="control")
    # When
    experiment.remove_variant("treatment")
    # Then
    assert experiment.rolled_out_variant == "control"


def test_remove_variant__unknown_key__is_not_found() -> None:
    # Given
    experiment = make_experiment()
    # When
    with pytest.raises(NotFound):
        experiment.remove_variant("ghost")
    # Then
    assert experiment.variant_keys == ["control", "treatment"]


# --- rollout weights -------------------------------------------------------------------------


def test_set_rollout_weights__partial_map__replaces_and_zeroes_the_rest() -> None:
    # Given
    experiment = make_experiment(variants=[Variant(key="control", rollout_weight=5),
                                           Variant(key="treatment", rollout_weight=5)])
    # When
    experiment.set_rollout_weights({"treatment": 2})
    # Then
    assert experiment.rollout_weights == {"control": 0, "treatment": 2}


def test_set_rollout_weights__unknown_variant__is_refused_and_changes_nothing() -> None:
    # Given
    experiment = make_experiment()
    # When
    with pytest.raises(Invalid) as raised:
        experiment.set_rollout_weights({"control": 3, "ghost": 1})
    # Then
    assert raised.value.code == "unknown_variant"
    assert experiment.rollout_weights == {"control": 1, "treatment": 1}


def test_set_rollout_weights__negative_weight__is_refused() -> None:
    # Given
    experiment = make_experiment()
    # When
    with pytest.raises(Invalid) as raised:
        experiment.set_rollout_weights({"control": -1})
    # Then
    assert raised.value.code == "invalid_weight"
    assert experiment.rollout_weights == {"control": 1, "treatment": 1}


# --- deployments -----------------------------------------------------------------------------


def test_link_deployments__some_already_linked__appends_only_new_ones_in_order() -> None:
    # Given
    flag = make_flag(deployments=[3])
    # When
    flag.link_deployments([5, 3, 4, 5])
    # Then
    assert flag.deployments == [3, 5, 4]


def test_unlink_deployment__linked__removes_it() -> None:
    # Given
    flag = make_flag(deployments=[3, 4])
    # When
    flag.unlink_deployment(3)
    # Then
    assert flag.deployments == [4]


def test_unlink_deployment__not_linked__is_not_found() -> None:
    # Given
    flag = make_flag(deployments=[3])
    # When
    with pytest.raises(NotFound) as raised:
        flag.unlink_deployment(9)
    # Then
    assert raised.value.code == "deployment_not_linked"


def test_unlink_deployment__last_of_an_enabled_flag__is_refused() -> None:
    # Given
    flag = make_flag(deployments=[3], enabled=True, started=True)
    # When
    with pytest.raises(Invalid) as raised:
        flag.unlink_deployment(3)
    # Then
    assert raised.value.code == "last_deployment"
    assert flag.deployments == [3]


def test_unlink_deployment__last_of_a_disabled_flag__is_allowed() -> None:
    # Given
    flag = make_flag(deployments=[3])
    # When
    flag.unlink_deployment(3)
    # Then
    assert flag.deployments == []


def test_unlink_deployment__one_of_two_of_an_enabled_flag__is_allowed() -> None:
    # Given
    flag = make_flag(deployments=[3, 4], enabled=True, started=True)
    # When
    flag.unlink_deployment(4)
    # Then
    assert flag.deployments == [3]


def test_edit__valid_field_then_invalid_one__flag_unchanged() -> None:
    # Given
    flag = make_flag()
    before = flag_document(flag)
    # When
    with pytest.raises(Invalid):
        flag.edit({"name": "renamed", "rollout_percentage": 150})
    # Then
    assert flag_document(flag) == before


# --- served to everyone (a candidate for removal) --------------------------------------------

def test_served_to_everyone__an_enabled_flag_at_100_percent_to_its_one_variant() -> None:
    # Given / When
    flag = make_flag(enabled=True, rollout_percentage=100)
    # Then
    assert flag.served_to_everyone == "on"


@pytest.mark.parametrize("fields", [
    {"enabled": False, "rollout_percentage": 100},
    {"enabled": True, "rollout_percentage": 99},
    {"enabled": True, "rollout_percentage": 100, "deleted": True},
    {"enabled": True, "rollout_percentage": 100, "parent_dependencies": {"flags": {"7": ["on"]}, "operator": "all"}},
])
def test_served_to_everyone__not_when_off_partial_archived_or_behind_a_prerequisite(fields: dict[str, Any]) -> None:
    assert make_flag(**fields).served_to_everyone is None


def test_served_to_everyone__an_experiment_needs_all_weight_on_one_variant() -> None:
    # Given an experiment split 1:1, then all weight on treatment
    experiment = make_experiment(enabled=True, rollout_percentage=100)
    assert experiment.served_to_everyone is None
    # When
    experiment.set_rollout_weights({"treatment": 1})
    # Then
    assert experiment.served_to_everyone == "treatment"


def test_served_to_everyone__every_targeted_segment_must_serve_the_same_variant() -> None:
    # Given all users get treatment
    experiment = make_experiment(enabled=True, rollout_percentage=100)
    experiment.set_rollout_weights({"treatment": 1})
    # When a segment gives control to some, or covers only half of its users
    for segments in ([segment({"control": 1})], [segment({"treatment": 1}, percentage=50)]):
        experiment.target_segments = segments
        # Then
        assert experiment.served_to_everyone is None
    experiment.target_segments = [segment({"treatment": 2, "control": 0})]
    assert experiment.served_to_everyone == "treatment"
