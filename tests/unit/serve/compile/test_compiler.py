"""Evaluation compiler: golden cases, then behaviour checked through the SDK's own engine."""

from __future__ import annotations

import copy
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from amplitude_experiment import User
from amplitude_experiment.evaluation.engine import EvaluationEngine
from amplitude_experiment.evaluation.topological_sort import topological_sort
from amplitude_experiment.evaluation.types import EvaluationFlag
from amplitude_experiment.util.user import user_to_evaluation_context

from flagyard.serve.compile.compiler import CompileInput, CompileResult, compile_flags

CASES_DIR = Path(__file__).resolve().parents[3] / "data" / "compile"
CASES = sorted(CASES_DIR.glob("*.json"))
N = 10_000


def _document(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": "12",
        "projectId": "1",
        "deployments": ["3"],
        "key": "checkout-redesign",
        "name": "Checkout redesign",
        "description": "",
        "enabled": True,
        "evaluationMode": "remote",
        "bucketingKey": "device_id",
        "bucketingSalt": "abcdEFGH",
        "bucketingUnit": "User",
        "variants": [
            {"key": "control", "payload": None, "rolloutWeight": 1},
            {"key": "treatment", "payload": {"color": "blue"}, "rolloutWeight": 1},
        ],
        "rolledOutVariant": None,
        "rolloutPercentage": 0,
        "rolloutWeights": {"control": 1, "treatment": 1},
        "targetSegments": [],
        "parentDependencies": None,
        "stickyBucketing": False,
        "deleted": False,
        "version": 3,
    }
    document.update(copy.deepcopy(changes))
    return document


def _flag(**changes: Any) -> CompileInput:
    return CompileInput(document=_document(**changes), kind="flag")


def _sdk_flags(result: CompileResult) -> list[EvaluationFlag]:
    flags: list[EvaluationFlag] = EvaluationFlag.schema().load(result.flags, many=True)
    ordered: list[EvaluationFlag] = topological_sort({flag.key: flag for flag in flags})
    return ordered


def _evaluate(result: CompileResult, user: User) -> dict[str, Any]:
    variants = EvaluationEngine().evaluate(user_to_evaluation_context(user), _sdk_flags(result))
    return {key: variant.key for key, variant in variants.items()}


def _segment_of(result: CompileResult, user: User, flag_key: str) -> str:
    variants = EvaluationEngine().evaluate(user_to_evaluation_context(user), _sdk_flags(result))
    metadata = variants[flag_key].metadata or {}
    return str(metadata["segmentName"])


def _counts(result: CompileResult, flag_key: str, **user_fields: Any) -> Counter[str]:
    flags = _sdk_flags(result)
    engine = EvaluationEngine()
    counts: Counter[str] = Counter()
    for i in range(N):
        user = User(device_id=f"device-{i}", **user_fields)
        variants = engine.evaluate(user_to_evaluation_context(user), flags)
        counts[variants[flag_key].key] += 1
    return counts


def _within_3_sd(count: int, p: float) -> bool:
    return abs(count - N * p) <= 3 * math.sqrt(N * p * (1 - p))


# ---------------------------------------------------------------- golden cases


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_compile_flags__golden_case__matches_expected_flags_and_warnings(path: Path) -> None:
    # Given
    case = json.loads(path.read_text())
    inputs = [
        CompileInput(
            document=item["document"],
            kind=item["kind"],
            user_inclusions=item["user_inclusions"],
            cohort_inclusions=item["cohort_inclusions"],
        )
        for item in case["inputs"]
    ]

    # When
    result = compile_flags(inputs)

    # Then
    assert result.flags == case["expected"]
    actual_warnings = [{"flag_key": w.flag_key, "message": w.message} for w in result.warnings]
    assert actual_warnings == case.get("warnings", [])


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_golden_expected__sdk_strict_parser__accepts_every_flag(path: Path) -> None:
    # Given
    expected = json.loads(path.read_text())["expected"]

    # When
    parsed = EvaluationFlag.schema().load(expected, many=True)

    # Then
    assert [flag.key for flag in parsed] == [flag["key"] for flag in expected]


def test_golden_cases__directory__holds_one_case_per_rule() -> None:
    # Given / When
    names = {path.stem for path in CASES}

    # Then
    assert len(names) >= 15


# ---------------------------------------------------------------- behaviour via the SDK engine


def test_compile_flags__user_included__gets_variant_by_user_or_device_id() -> None:
    # Given
    result = compile_flags(
        [CompileInput(_document(), "flag", user_inclusions={"treatment": ["u-1", "dev-7"]})]
    )

    # When
    by_user_id = _evaluate(result, User(user_id="u-1", device_id="other"))
    by_device_id = _evaluate(result, User(user_id="someone", device_id="dev-7"))
    not_included = _evaluate(result, User(user_id="u-2", device_id="dev-2"))

    # Then
    assert by_user_id["checkout-redesign"] == "treatment"
    assert by_device_id["checkout-redesign"] == "treatment"
    assert not_included["checkout-redesign"] == "off"


def test_compile_flags__user_in_included_cohort__gets_variant() -> None:
    # Given
    result = compile_flags(
        [CompileInput(_document(), "flag", cohort_inclusions={"control": ["coh-1"]})]
    )

    # When
    member = _evaluate(result, User(user_id="u-1", cohort_ids=["coh-1", "coh-2"]))
    outsider = _evaluate(result, User(user_id="u-2", cohort_ids=["coh-2"]))

    # Then
    assert member["checkout-redesign"] == "control"
    assert outsider["checkout-redesign"] == "off"


def test_compile_flags__group_in_included_cohort__gets_variant_for_group_unit() -> None:
    # Given
    document = _document(bucketingUnit="org name")
    result = compile_flags([CompileInput(document, "flag", cohort_inclusions={"control": ["g-1"]})])
    user = User(user_id="u-1", groups={"org name": ["acme"]})
    user.add_group_cohort_ids("org name", "acme", ["g-1"])

    # When
    variants = _evaluate(result, user)

    # Then
    assert variants["checkout-redesign"] == "control"


def test_compile_flags__segment_match_at_100_percent__follows_segment_weights() -> None:
    # Given
    segment = {
        "name": "US",
        "conditions": [{"type": "property", "prop": "country", "op": "is", "values": ["US"]}],
        "percentage": 100,
        "rolloutWeights": {"control": 1, "treatment": 3},
    }
    result = compile_flags([_flag(targetSegments=[segment], rolloutPercentage=0)])

    # When
    matching = _counts(result, "checkout-redesign", country="US")
    other = _evaluate(result, User(device_id="device-1", country="FR"))

    # Then
    assert matching["off"] == 0
    assert _within_3_sd(matching["control"], 0.25)
    assert _within_3_sd(matching["treatment"], 0.75)
    assert other["checkout-redesign"] == "off"


def test_compile_flags__all_other_users_at_30_percent__split_matches_percent_and_weights() -> None:
    # Given
    result = compile_flags([_flag(rolloutPercentage=30)])

    # When
    counts = _counts(result, "checkout-redesign")

    # Then
    assert _within_3_sd(counts["off"], 0.70)
    assert _within_3_sd(counts["control"], 0.15)
    assert _within_3_sd(counts["treatment"], 0.15)


def test_compile_flags__50_50_weights_at_100_percent__split_within_3_sd() -> None:
    # Given
    result = compile_flags([_flag(rolloutPercentage=100)])

    # When
    counts = _counts(result, "checkout-redesign")

    # Then
    assert counts["off"] == 0
    assert _within_3_sd(counts["control"], 0.5)
    assert _within_3_sd(counts["treatment"], 0.5)


def test_compile_flags__child_of_parent_with_disallowed_variant__gets_off() -> None:
    # Given
    parent = _flag(
        id="1",
        key="parent",
        variants=[{"key": "on"}, {"key": "holdout"}],
        rolloutPercentage=100,
        rolloutWeights={"on": 0, "holdout": 1},
    )
    child = _flag(
        id="2",
        key="child",
        rolloutPercentage=100,
        parentDependencies={"flags": {"1": ["on"]}, "operator": "all"},
    )
    result = compile_flags([child, parent])

    # When
    variants = _evaluate(result, User(device_id="d-1"))

    # Then
    assert variants["parent"] == "holdout"
    assert variants["child"] == "off"
    assert _segment_of(result, User(device_id="d-1"), "child") == "flag-dependencies"


def test_compile_flags__child_of_parent_with_allowed_variant__is_evaluated() -> None:
    # Given
    parent = _flag(
        id="1",
        key="parent",
        variants=[{"key": "on"}],
        rolloutPercentage=100,
        rolloutWeights={"on": 1},
    )
    child = _flag(
        id="2",
        key="child",
        rolloutPercentage=100,
        rolloutWeights={"control": 0, "treatment": 1},
        parentDependencies={"flags": {"1": ["on"]}, "operator": "all"},
    )
    result = compile_flags([child, parent])

    # When
    variants = _evaluate(result, User(device_id="d-1"))

    # Then
    assert variants == {"parent": "on", "child": "treatment"}


def test_compile_flags__parent_missing__child_served_always_off_with_warning() -> None:
    # Given
    child = _flag(key="child", rolloutPercentage=100, parentDependencies={"flags": {"42": ["on"]}})

    # When
    result = compile_flags([child])

    # Then
    assert _evaluate(result, User(device_id="d-1"))["child"] == "off"
    assert [w.message for w in result.warnings] == [
        "parent flag 42 is not served; the flag always returns off"
    ]


def test_compile_flags__dependency_cycle__drops_cycle_without_raising() -> None:
    # Given
    a = _flag(id="1", key="a", parentDependencies={"flags": {"2": ["on"]}})
    b = _flag(id="2", key="b", parentDependencies={"flags": {"1": ["on"]}})
    c = _flag(id="3", key="c")

    # When
    result = compile_flags([a, b, c])

    # Then
    assert [flag["key"] for flag in result.flags] == ["c"]
    assert {w.flag_key for w in result.warnings} == {"a", "b"}


def test_compile_flags__disabled_or_archived__absent_from_flags_and_results() -> None:
    # Given
    disabled = _flag(id="1", key="disabled", enabled=False, rolloutPercentage=100)
    archived = _flag(id="2", key="archived", deleted=True, rolloutPercentage=100)

    # When
    result = compile_flags([disabled, archived])

    # Then
    assert result.flags == []
    assert _evaluate(result, User(device_id="d-1")) == {}


def test_compile_flags__glob_match__matches_whole_value_only() -> None:
    # Given
    segment = {
        "name": "Staff",
        "conditions": [
            {"type": "property", "prop": "gp:email", "op": "glob match", "values": ["*@acme.com"]}
        ],
        "percentage": 100,
        "rolloutWeights": {"control": 0, "treatment": 1},
    }
    result = compile_flags([_flag(targetSegments=[segment])])

    def variant_for(email: str) -> str:
        user = User(device_id="d-1", user_properties={"email": email})
        return str(_evaluate(result, user)["checkout-redesign"])

    # When / Then
    assert variant_for("jo@acme.com") == "treatment"
    assert variant_for("jo@acme.com.evil.org") == "off"
    assert variant_for("jo@acmexcom") == "off"


def test_compile_flags__glob_does_not_match__excludes_matching_values() -> None:
    # Given
    segment = {
        "name": "Not SF",
        "conditions": [
            {
                "type": "property",
                "prop": "city",
                "op": "glob does not match",
                "values": ["San ?rancisco"],
            }
        ],
        "percentage": 100,
        "rolloutWeights": {"control": 1, "treatment": 0},
    }
    result = compile_flags([_flag(targetSegments=[segment])])

    # When
    in_sf = _evaluate(result, User(device_id="d-1", city="San Francisco"))
    in_la = _evaluate(result, User(device_id="d-1", city="Los Angeles"))

    # Then
    assert in_sf["checkout-redesign"] == "off"
    assert in_la["checkout-redesign"] == "control"


def test_compile_flags__sticky_user_property__returns_named_variant() -> None:
    # Given
    result = compile_flags([_flag(stickyBucketing=True, rolloutPercentage=0)])
    sticky = "[Experiment] checkout-redesign"

    # When
    stuck = User(device_id="d-1", user_properties={sticky: "treatment"})
    unknown = User(device_id="d-1", user_properties={sticky: "not-a-variant"})

    # Then
    assert _evaluate(result, stuck)["checkout-redesign"] == "treatment"
    assert _segment_of(result, stuck, "checkout-redesign") == "sticky-bucketing"
    assert _evaluate(result, unknown)["checkout-redesign"] == "off"
    assert _segment_of(result, unknown, "checkout-redesign") == "All Other Users"


def test_compile_flags__group_bucketing_unit__buckets_on_group_name() -> None:
    # Given
    result = compile_flags([_flag(bucketingUnit="org name", rolloutPercentage=100)])

    # When
    first = _evaluate(result, User(device_id="d-1", groups={"org name": ["acme"]}))
    second = _evaluate(result, User(device_id="d-2", groups={"org name": ["acme"]}))
    no_group = _evaluate(result, User(device_id="d-3"))

    # Then
    assert first == second
    assert first["checkout-redesign"] in {"control", "treatment"}
    assert no_group["checkout-redesign"] == "off"


@pytest.mark.parametrize("mode", ["local", "remote"])
def test_compile_flags__flag_bucketed_by_amplitude_id__buckets_by_device_id(mode: str) -> None:
    # Given
    result = compile_flags(
        [_flag(evaluationMode=mode, bucketingKey="amplitude_id", rolloutPercentage=100)]
    )

    # When
    variants = _evaluate(result, User(device_id="d-1"))

    # Then
    assert variants["checkout-redesign"] in {"control", "treatment"}
    assert result.warnings == []


def test_compile_flags__weights_name_unknown_variant__served_off_with_warning() -> None:
    # Given
    broken = _flag(rolloutPercentage=100, rolloutWeights={"control": 1, "ghost": 1})

    # When
    result = compile_flags([broken])

    # Then
    assert _evaluate(result, User(device_id="d-1", user_id="u-1"))["checkout-redesign"] == "off"
    assert "ghost" in result.warnings[0].message


def test_compile_flags__invalid_regex__served_off_with_warning() -> None:
    # Given
    segment = {
        "name": "S",
        "conditions": [{"type": "property", "prop": "city", "op": "regex match", "values": ["(["]}],
        "percentage": 100,
    }

    # When
    result = compile_flags([_flag(targetSegments=[segment], rolloutPercentage=100)])

    # Then
    assert _evaluate(result, User(device_id="d-1", city="x"))["checkout-redesign"] == "off"
    assert "regex" in result.warnings[0].message


def test_compile_flags__input_document__is_not_modified() -> None:
    # Given
    document = _document(rolloutPercentage=50)
    before = copy.deepcopy(document)

    # When
    result = compile_flags([CompileInput(document, "flag")])
    result.flags[0]["variants"]["treatment"]["payload"]["color"] = "red"

    # Then
    assert document == before
