"""Evaluation compiler over generated documents: the SDK always accepts and evaluates the output."""

from __future__ import annotations

from typing import Any

from amplitude_experiment import User
from amplitude_experiment.evaluation.engine import EvaluationEngine
from amplitude_experiment.evaluation.topological_sort import topological_sort
from amplitude_experiment.evaluation.types import EvaluationFlag
from amplitude_experiment.util.user import user_to_evaluation_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flagyard.serve.compile.compiler import CompileInput, compile_flags

VARIANT_KEYS = ["control", "treatment", "on", "slot-1", "b_2"]
PROPS = [
    "country",
    "city",
    "version",
    "platform",
    "cohort_ids",
    "user_id",
    "gp:plan",
    "plan",
    "gp:tags",
    "gp:age",
]
OPS = [
    "is",
    "is not",
    "contains",
    "does not contain",
    "less",
    "less or equal",
    "greater",
    "greater or equal",
    "set is",
    "set is not",
    "set contains",
    "set does not contain",
    "glob match",
    "glob does not match",
    "set contains any",
    "set does not contain any",
    "version less",
    "version less or equal",
    "version greater",
    "version greater or equal",
    "regex match",
    "regex does not match",
]
SAMPLE_VALUES = ["(none)", "US", "1.2.3", "*a?", "acme", "true"]
BUCKETING_KEYS = ["amplitude_id", "user_id", "device_id", "account"]
UNITS = ["User", "User", "org name"]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

texts = st.text(max_size=12)
json_scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | texts
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=8,
)


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "type": "property",
        "prop": draw(st.sampled_from(PROPS)),
        "op": draw(st.sampled_from(OPS)),
        "values": draw(st.lists(texts | st.sampled_from(SAMPLE_VALUES), max_size=3)),
    }
    if draw(st.booleans()):
        condition["group_type"] = draw(st.sampled_from(["User", "org name"]))
    return condition


def weight_maps(keys: list[str]) -> st.SearchStrategy[dict[str, int]]:
    return st.fixed_dictionaries({}, optional={key: st.integers(0, 5) for key in keys})


@st.composite
def segments(draw: st.DrawFn, keys: list[str]) -> dict[str, Any]:
    segment: dict[str, Any] = {
        "name": draw(texts),
        "conditions": draw(st.lists(conditions(), max_size=3)),
        "percentage": draw(st.integers(0, 100)),
        "rolloutWeights": draw(weight_maps(keys)),
    }
    if draw(st.booleans()):
        segment["bucketingKey"] = draw(st.sampled_from(BUCKETING_KEYS))
    return segment


@st.composite
def inputs(draw: st.DrawFn, index: int, ids: list[str]) -> CompileInput:
    keys = draw(st.lists(st.sampled_from(VARIANT_KEYS), min_size=1, max_size=4, unique=True))
    parent_ids = draw(st.lists(st.sampled_from(ids), max_size=2, unique=True))
    allowed = st.lists(st.sampled_from([*keys, "on", "off"]), max_size=3)
    document = {
        "id": ids[index],
        "key": f"flag-{index}",
        "enabled": draw(st.booleans() | st.just(True)),
        "deleted": draw(st.booleans().map(lambda b: b and draw(st.booleans()))),
        "evaluationMode": draw(st.sampled_from(["remote", "local"])),
        "bucketingKey": draw(st.sampled_from(BUCKETING_KEYS)),
        "bucketingSalt": draw(st.text(min_size=0, max_size=8)),
        "bucketingUnit": draw(st.sampled_from(UNITS)),
        "variants": [{"key": key, "payload": draw(json_values)} for key in keys],
        "rolloutPercentage": draw(st.integers(0, 100)),
        "rolloutWeights": draw(weight_maps(keys)),
        "targetSegments": draw(st.lists(segments(keys), max_size=3)),
        "parentDependencies": (
            {"flags": {pid: draw(allowed) for pid in parent_ids}, "operator": "all"}
            if parent_ids
            else None
        ),
        "stickyBucketing": draw(st.booleans()),
        "version": draw(st.integers(1, 50)),
    }
    inclusion_lists = st.dictionaries(
        st.sampled_from(keys), st.lists(texts, max_size=3), max_size=2
    )
    return CompileInput(
        document=document,
        kind=draw(st.sampled_from(["flag", "experiment"])),
        user_inclusions=draw(inclusion_lists),
        cohort_inclusions=draw(inclusion_lists),
    )


@st.composite
def deployments(draw: st.DrawFn) -> list[CompileInput]:
    count = draw(st.integers(1, 5))
    ids = [str(100 + i) for i in range(count)] + ["999"]  # "999" is never an input
    return [draw(inputs(i, ids)) for i in range(count)]


property_names = st.sampled_from(["plan", "tags", "age", "[Experiment] flag-0"])


@st.composite
def users(draw: st.DrawFn) -> User:
    return User(
        user_id=draw(st.none() | texts),
        device_id=draw(st.none() | texts),
        country=draw(st.none() | st.sampled_from(["US", "FR", ""])),
        version=draw(st.none() | st.sampled_from(["1.2.3", "2.0", "x"])),
        user_properties=draw(st.none() | st.dictionaries(property_names, json_values, max_size=3)),
        groups=draw(st.none() | st.just({"org name": ["acme"]})),
        cohort_ids=draw(st.none() | st.lists(texts, max_size=2)),
    )


def _evaluate_all(flags_json: list[dict[str, Any]], user: User) -> dict[str, Any]:
    flags = EvaluationFlag.schema().load(flags_json, many=True)
    ordered = topological_sort({flag.key: flag for flag in flags})
    variants: dict[str, Any] = EvaluationEngine().evaluate(
        user_to_evaluation_context(user), ordered
    )
    return variants


@SETTINGS
@given(deployment=deployments(), user=users())
def test_compile_flags__generated_documents__sdk_parses_and_evaluates_every_flag(
    deployment: list[CompileInput], user: User
) -> None:
    # Given / When
    result = compile_flags(deployment)
    variants = _evaluate_all(result.flags, user)

    # Then
    keys = [flag["key"] for flag in result.flags]
    assert len(keys) == len(set(keys))
    assert set(variants) == set(keys)  # every served flag ends in a segment that always answers
    for position, flag in enumerate(result.flags):
        assert set(flag.get("dependencies") or []) <= set(keys[:position])


@SETTINGS
@given(deployment=deployments())
def test_compile_flags__generated_documents__disabled_and_archived_never_served(
    deployment: list[CompileInput],
) -> None:
    # Given
    hidden = {
        item.document["key"]
        for item in deployment
        if not item.document["enabled"] or item.document["deleted"]
    }

    # When
    result = compile_flags(deployment)

    # Then
    assert hidden.isdisjoint(flag["key"] for flag in result.flags)


FIELDS = [
    "id",
    "key",
    "enabled",
    "deleted",
    "evaluationMode",
    "bucketingKey",
    "bucketingSalt",
    "bucketingUnit",
    "variants",
    "rolloutPercentage",
    "rolloutWeights",
    "targetSegments",
    "parentDependencies",
    "stickyBucketing",
    "version",
]


@st.composite
def damaged_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A valid document with a few fields (or a segment) replaced by arbitrary JSON."""
    document = dict(draw(inputs(0, ["1", "2"])).document, id="0")
    for name in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True)):
        document[name] = draw(json_values)
    if draw(st.booleans()):
        document["targetSegments"] = draw(st.lists(json_values, max_size=2))
    return document


@SETTINGS
@given(
    documents=st.lists(damaged_documents(), max_size=4),
    inclusions=st.dictionaries(texts, st.lists(json_values, max_size=2), max_size=2),
    user=users(),
)
def test_compile_flags__arbitrary_documents__never_raise_and_output_parses(
    documents: list[dict[str, Any]], inclusions: dict[str, Any], user: User
) -> None:
    # Given
    items = [CompileInput(document, "flag", inclusions, inclusions) for document in documents]

    # When
    result = compile_flags(items)

    # Then
    _evaluate_all(result.flags, user)
