"""The management document (manage/model/document.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from flagyard.manage.model.document import flag_document, iso, variant_document
from flagyard.manage.model.flags import Flag, Kind, Variant

CREATED = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
MODIFIED = datetime(2024, 5, 7, 0, 0, 0, tzinfo=UTC)

FIELDS = {
    "id", "projectId", "deployments", "key", "name", "description", "enabled",
    "evaluationMode", "bucketingKey", "bucketingSalt", "bucketingUnit", "variants",
    "rolledOutVariant", "rolloutPercentage", "rolloutWeights", "targetSegments",
    "parentDependencies", "stickyBucketing", "state", "startDate", "endDate",
    "experimentType", "deleted", "tags", "createdBy", "lastModifiedBy", "createdAt",
    "lastModifiedAt", "decision", "decisionReason", "exposureEvent", "deliveryMethod",
    "testInstrumentation", "version",
}


def make_experiment(**fields: Any) -> Flag:
    values: dict[str, Any] = {
        "project_id": 1,
        "kind": Kind.EXPERIMENT,
        "key": "checkout",
        "name": "Checkout",
        "bucketing_salt": "abcdEFGH",
        "created_at": CREATED,
        "created_by": "ada@example.com",
        "last_modified_at": MODIFIED,
        "last_modified_by": "bob@example.com",
        "id": 12,
        "variants": [Variant(key="control", payload={"color": ["red"]}),
                     Variant(key="treatment", rollout_weight=3)],
        "deployments": [3, 4],
        "target_segments": [{"name": "US", "conditions": [], "percentage": 50,
                             "rolloutWeights": {"control": 1}}],
        "parent_dependencies": {"flags": {"7": ["on"]}, "operator": "all"},
        "exposure_event": {"event_type": "seen", "event_properties": {"page": "cart"}},
        "tags": ["web"],
        "experiment_type": "no-harm",
        "version": 5,
    }
    values.update(fields)
    return Flag(**values)


def test_iso__utc_with_microseconds__has_milliseconds_and_z() -> None:
    # Given / When
    text = iso(CREATED)
    # Then
    assert text == "2024-05-06T07:08:09.123Z"


def test_iso__whole_second__still_has_three_digits() -> None:
    # Given / When
    text = iso(MODIFIED)
    # Then
    assert text == "2024-05-07T00:00:00.000Z"


def test_iso__naive_moment__is_read_as_utc() -> None:
    # Given / When
    text = iso(datetime(2024, 1, 2, 3, 4, 5, 6000))
    # Then
    assert text == "2024-01-02T03:04:05.006Z"


def test_iso__other_time_zone__is_converted_to_utc() -> None:
    # Given
    moment = datetime(2024, 1, 1, 1, 30, 0, 999999, tzinfo=timezone(timedelta(hours=2)))
    # When
    text = iso(moment)
    # Then
    assert text == "2023-12-31T23:30:00.999Z"


def test_iso__none__is_none() -> None:
    # Given / When / Then
    assert iso(None) is None


def test_flag_document__experiment__has_every_field_with_its_value() -> None:
    # Given
    experiment = make_experiment()
    # When
    document = flag_document(experiment)
    # Then
    assert set(document) == FIELDS
    assert (document["id"], document["projectId"], document["deployments"]) == ("12", "1", ["3", "4"])
    assert document["createdAt"] == "2024-05-06T07:08:09.123Z"
    assert document["lastModifiedAt"] == "2024-05-07T00:00:00.000Z"
    assert (document["createdBy"], document["lastModifiedBy"]) == ("ada@example.com", "bob@example.com")
    assert document["rolloutWeights"] == {"control": 1, "treatment": 3}
    assert document["variants"][0] == {"key": "control", "name": "", "description": "",
                                       "payload": {"color": ["red"]}, "rolloutWeight": 1}
    assert document["state"] == "planning"
    assert document["experimentType"] == "no-harm"
    assert document["version"] == 5
    assert document["deliveryMethod"] == "feature"
    assert document["testInstrumentation"] is False


def test_flag_document__flag__has_every_field_and_no_experiment_values() -> None:
    # Given
    flag = make_experiment(kind=Kind.FLAG, variants=[Variant(key="on")], target_segments=[])
    # When
    document = flag_document(flag)
    # Then
    assert set(document) == FIELDS
    assert document["state"] is None
    assert document["experimentType"] is None
    assert document["testInstrumentation"] is None


def test_flag_document__mutated__does_not_change_the_flag() -> None:
    # Given
    experiment = make_experiment()
    document = flag_document(experiment)
    # When
    document["variants"][0]["payload"]["color"].append("blue")
    document["variants"].append({"key": "extra"})
    document["targetSegments"][0]["rolloutWeights"]["control"] = 9
    document["parentDependencies"]["flags"]["7"].append("off")
    document["exposureEvent"]["event_properties"]["page"] = "home"
    document["tags"].append("mobile")
    document["deployments"].append("9")
    document["rolloutWeights"]["control"] = 7
    # Then
    assert experiment.variants[0].payload == {"color": ["red"]}
    assert experiment.variant_keys == ["control", "treatment"]
    assert experiment.target_segments[0]["rolloutWeights"] == {"control": 1}
    assert experiment.parent_dependencies == {"flags": {"7": ["on"]}, "operator": "all"}
    assert experiment.exposure_event == {"event_type": "seen", "event_properties": {"page": "cart"}}
    assert experiment.tags == ["web"]
    assert experiment.deployments == [3, 4]
    assert experiment.rollout_weights == {"control": 1, "treatment": 3}
    assert flag_document(experiment) != document


def test_flag_document__flag_changed_later__does_not_change_an_earlier_document() -> None:
    # Given
    experiment = make_experiment()
    document = flag_document(experiment)
    # When
    experiment.variants[0].payload["color"].append("green")
    experiment.target_segments[0]["rolloutWeights"]["control"] = 5
    experiment.tags.append("later")
    # Then
    assert document["variants"][0]["payload"] == {"color": ["red"]}
    assert document["targetSegments"][0]["rolloutWeights"] == {"control": 1}
    assert document["tags"] == ["web"]


def test_variant_document__any_variant__has_the_five_fields_in_camel_case() -> None:
    # Given
    variant = Variant(key="blue", name="Blue", description="b", payload=[1], rollout_weight=2, id=4)
    # When
    document = variant_document(variant)
    # Then
    assert document == {"key": "blue", "name": "Blue", "description": "b", "payload": [1],
                        "rolloutWeight": 2}
