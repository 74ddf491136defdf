"""Randomised parity with the Python SDK's engine (amplitude-experiment 1.13.0).

Hypothesis draws flag configs and users; flagyard's result must equal the SDK's
for every flag (key, value, payload, metadata), in the same order.
"""

from __future__ import annotations

import json
import re
from typing import Any

from amplitude_experiment.evaluation.engine import EvaluationEngine
from amplitude_experiment.evaluation.semantic_version import SemanticVersion
from amplitude_experiment.evaluation.topological_sort import CycleException, topological_sort
from amplitude_experiment.evaluation.types import (
    EvaluationAllocation,
    EvaluationBucket,
    EvaluationCondition,
    EvaluationDistribution,
    EvaluationFlag,
    EvaluationSegment,
)
from amplitude_experiment.user import User
from amplitude_experiment.util.user import user_to_evaluation_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flagyard.engine import CycleError, FlagSet, evaluate, parse_flags, user_to_context
from flagyard.engine import operators as ops
from flagyard.engine.bucketing import compile_bucket
from flagyard.engine.conditions import compile_condition
from flagyard.engine.semver import parse_version

VOCAB = [
    "a", "b", "A", "ab", "abc", "B", "true", "True", "TRUE", "false", "False", "1", "1.0", "2",
    "10", "-3.5", "0", "1e3", "nan", "inf", "1.2.3", "1.2", "1.10.0", "1.2.3-beta",
    "1.2.3-alpha.1", "2.0.0", "(none)", "", '["a", "b"]', "[1, 2]", "[]", "[null]", '["true"]',
    "x.*", "^a", "b$", "é", "Straße", " 1 ", "1_0", "[not json", "on", "off", "control", "c1",
    "dev-1", "user-1",
]
# A small shared vocabulary makes property values and filter values collide often.
SMALL = [
    "a", "A", "ab", "true", "TRUE", "True", "false", "1", "1.0", "2", "10", "1.2.3", "1.10.0",
    "1.2.3-beta", "1.2.3-alpha", "1.2", "(none)", "", '["a", "true"]', "[]", "^a", "on",
]


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


FLAG_KEYS = ["f0", "f1", "f2", "f3"]
VARIANT_NAMES = ["on", "off", "control", "treatment"]
ALL_OPS = sorted(ops.ALL_OPS) + ["glob match"]

HOT_SELECTORS = [
    ["context", "user", "user_properties", "p1"],
    ["context", "user", "user_properties", "p2"],
    ["context", "user", "user_id"],
    ["context", "user", "cohort_ids"],
    ["result", "f0", "key"],
]
SELECTORS = [
    ["context", "user", "user_id"],
    ["context", "user", "device_id"],
    ["context", "user", "version"],
    ["context", "user", "country"],
    ["context", "user", "user_properties", "p1"],
    ["context", "user", "user_properties", "p2"],
    ["context", "user", "user_properties", "p3"],
    ["context", "user", "user_properties", "p1", "nested"],
    ["context", "user", "cohort_ids"],
    ["context", "user"],
    ["context", "groups", "org", "group_name"],
    ["context", "groups", "org", "group_properties", "gp"],
    ["context", "groups", "org", "cohort_ids"],
    ["result", "f0", "key"],
    ["result", "f1", "value"],
    ["result", "f0", "payload"],
    ["result", "f1", "metadata"],
    ["result", "f1", "metadata", "segmentName"],
    ["result", "f2", "metadata", "default"],
    [],
    ["context", ""],
    ["nope"],
]
BUCKET_SELECTORS = [
    ["context", "user", "device_id"],
    ["context", "user", "user_id"],
    ["context", "user", "user_properties", "p1"],
    ["context", "groups", "org", "group_name"],
    ["context", "user", "cohort_ids"],
    ["result", "f0", "key"],
]

versions = st.from_regex(r"\d{1,2}\.\d{1,2}(\.\d{1,2}(-[a-z0-9.\-]{0,4})?)?", fullmatch=True)
words = st.one_of(st.sampled_from(VOCAB), versions, st.text(max_size=6))
small = st.sampled_from(SMALL)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 20),
    st.sampled_from([0.0, 1.5, 2.0, -1.0, 1e16]),
    st.sampled_from(VOCAB),
)
prop_values = st.one_of(
    small,
    st.booleans(),
    st.lists(st.one_of(small, st.booleans(), st.none()), max_size=3),
    words,
    json_scalars,
    st.lists(json_scalars, max_size=3),
    st.dictionaries(st.sampled_from(["nested", "k"]), json_scalars, max_size=2),
)


filter_values = st.lists(
    st.one_of(small, small, small, st.sampled_from(VOCAB), versions), max_size=3
)
regex_values = st.lists(st.sampled_from([v for v in VOCAB + SMALL if _compiles(v)]), max_size=3)
selectors = st.one_of(st.sampled_from(HOT_SELECTORS), st.sampled_from(SELECTORS))
ops_drawn = st.sampled_from(ALL_OPS)


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(ops_drawn)
    values = draw(regex_values if "regex" in op else filter_values)
    return {"selector": draw(selectors), "op": op, "values": values}


ranges_100 = st.tuples(st.integers(0, 100), st.integers(0, 100)).map(lambda p: sorted(p))
ranges_dist = st.one_of(
    st.just([0, 42949673]),
    st.tuples(st.integers(0, 42949673), st.integers(0, 42949673)).map(lambda p: sorted(p)),
)
buckets = st.fixed_dictionaries(
    {
        "selector": st.sampled_from(BUCKET_SELECTORS),
        "salt": st.sampled_from(["abc12345", "s", ""]),
        "allocations": st.lists(
            st.fixed_dictionaries(
                {
                    "range": st.one_of(st.just([0, 100]), ranges_100),
                    "distributions": st.lists(
                        st.fixed_dictionaries(
                            {
                                "variant": st.sampled_from(VARIANT_NAMES + ["missing"]),
                                "range": ranges_dist,
                            }
                        ),
                        max_size=3,
                    ),
                }
            ),
            min_size=1,
            max_size=2,
        ),
    }
)
metadata = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(["segmentName", "default", "deployed", "x"]), json_scalars, max_size=3
    ),
)
condition_lists = st.one_of(
    st.lists(st.lists(conditions(), min_size=1, max_size=2), min_size=1, max_size=3),
    st.lists(st.lists(conditions(), max_size=2), max_size=3),
)


@st.composite
def segments(draw: st.DrawFn) -> dict[str, Any]:
    segment: dict[str, Any] = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "bucket": st.one_of(st.none(), buckets),
                "variant": st.sampled_from(VARIANT_NAMES + ["missing", None]),
                "metadata": metadata,
            },
        )
    )
    # Most segments carry conditions; some have none, null or an empty list.
    shape = draw(st.integers(0, 9))
    if shape < 7:
        segment["conditions"] = draw(condition_lists)
    elif shape == 7:
        segment["conditions"] = None
    elif shape == 8:
        segment["conditions"] = []
    return segment


variants = st.fixed_dictionaries(
    {},
    optional={
        "key": st.sampled_from(VARIANT_NAMES + [None]),
        "value": st.one_of(st.none(), st.sampled_from(VARIANT_NAMES), st.integers(0, 3)),
        "payload": st.one_of(st.none(), st.dictionaries(st.just("k"), json_scalars), words),
        "metadata": metadata,
    },
)


@st.composite
def flag_configs(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(1, len(FLAG_KEYS)))
    flags = []
    for index, key in enumerate(FLAG_KEYS[:count]):
        flag: dict[str, Any] = {
            "key": key,
            "variants": draw(
                st.dictionaries(st.sampled_from(VARIANT_NAMES), variants, min_size=1, max_size=4)
            ),
            "segments": draw(st.lists(segments(), min_size=1, max_size=4)),
        }
        if draw(st.booleans()):
            # Mostly earlier flags (a valid order exists); rarely any flag, making cycles.
            parents = FLAG_KEYS[:index] + ["missing"]
            if draw(st.integers(0, 9)) == 0:
                parents = FLAG_KEYS
            flag["dependencies"] = draw(st.lists(st.sampled_from(parents), max_size=2))
        flag_metadata = draw(metadata)
        if flag_metadata is not None:
            flag["metadata"] = flag_metadata
        flags.append(flag)
    return flags


ids = st.sampled_from(["dev-1", "dev-2", "dev-3", "user-1", "a", "", None])
group_names = st.sampled_from(["acme", "globex", ""])
users = st.fixed_dictionaries(
    {},
    optional={
        "user_id": ids,
        "device_id": ids,
        "country": st.one_of(st.none(), words),
        "version": st.one_of(st.none(), versions, words),
        "user_properties": st.one_of(
            st.fixed_dictionaries({"p1": prop_values, "p2": prop_values}),
            st.fixed_dictionaries({"p1": prop_values, "p2": prop_values}),
            st.dictionaries(st.sampled_from(["p1", "p2", "p3"]), prop_values, max_size=3),
            st.none(),
        ),
        "cohort_ids": st.one_of(st.none(), st.lists(st.sampled_from(["c1", "c2", "c3"]))),
        "groups": st.one_of(
            st.none(),
            st.dictionaries(
                st.sampled_from(["org", "team"]), st.lists(group_names, max_size=2), max_size=2
            ),
        ),
        "group_properties": st.one_of(
            st.none(),
            st.dictionaries(
                st.sampled_from(["org", "team"]),
                st.dictionaries(
                    group_names, st.dictionaries(st.just("gp"), prop_values), max_size=2
                ),
                max_size=2,
            ),
        ),
        "group_cohort_ids": st.one_of(
            st.none(),
            st.dictionaries(
                st.just("org"),
                st.dictionaries(group_names, st.lists(st.sampled_from(["c1", "c2"])), max_size=2),
            ),
        ),
    },
)
requested = st.one_of(st.none(), st.lists(st.sampled_from(FLAG_KEYS + ["missing"]), max_size=3))

_SDK_SCHEMA = EvaluationFlag.schema()


def _sdk_results(
    flags_json: list[dict[str, Any]], user: dict[str, Any], flag_keys: list[str] | None
) -> dict[str, tuple[Any, ...]] | type[CycleError]:
    sdk_flags = _SDK_SCHEMA.load(flags_json, many=True)
    try:
        ordered = topological_sort({f.key: f for f in sdk_flags}, flag_keys)
    except CycleException:
        return CycleError
    context = user_to_evaluation_context(User(**user))
    results = EvaluationEngine().evaluate(context, ordered)
    return {k: (v.key, v.value, v.payload, v.metadata) for k, v in results.items()}


def _our_results(
    flags: Any, user: dict[str, Any], flag_keys: list[str] | None
) -> dict[str, tuple[Any, ...]] | type[CycleError]:
    try:
        results = evaluate(user_to_context(user), flags, flag_keys)
    except CycleError:
        return CycleError
    return {k: tuple(v) for k, v in results.items()}


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(flags_json=flag_configs(), user=users, flag_keys=requested)
def test_evaluate__random_flags_and_users__equals_python_sdk(
    flags_json: list[dict[str, Any]], user: dict[str, Any], flag_keys: list[str] | None
) -> None:
    # Given
    flags = parse_flags(flags_json)
    expected = _sdk_results(flags_json, user, flag_keys)

    # When
    from_list = _our_results(flags, user, flag_keys)
    from_flag_set = _our_results(FlagSet(flags), user, flag_keys)

    # Then
    assert from_list == expected
    assert from_flag_set == expected
    if isinstance(expected, dict):
        assert isinstance(from_list, dict)
        assert list(from_list) == list(expected)


@settings(max_examples=300, deadline=None)
@given(user=users)
def test_user_to_context__random_users__equals_python_sdk(user: dict[str, Any]) -> None:
    # Given
    expected = user_to_evaluation_context(User(**user))

    # When
    context = user_to_context(user)

    # Then
    assert context == expected


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(versions, st.text(alphabet="0123456789.-ab_\n", max_size=12)))
def test_parse_version__random_text__accepts_what_python_sdk_accepts(text: str) -> None:
    # Given
    theirs = SemanticVersion.parse(text)

    # When
    mine = parse_version(text)

    # Then
    assert (mine is None) == (theirs is None)
    if mine is not None and theirs is not None:
        assert mine[:3] == (theirs.major, theirs.minor, theirs.patch)
        assert (mine[4] or None) == theirs.pre_release


# -- operator and bucketing level: many more cases per second than whole flags ----------

_SDK_ENGINE = EvaluationEngine()
json_text_lists = st.lists(st.one_of(small, st.integers(0, 3), st.booleans(), st.none())).map(
    json.dumps
)
any_prop = st.one_of(
    small,
    st.lists(small, min_size=1, max_size=3),
    prop_values,
    json_text_lists, st.floats(allow_nan=False), st.integers(), st.text(max_size=8)
)


@st.composite
def property_and_condition(draw: st.DrawFn) -> tuple[Any, str, list[str]]:
    prop = draw(any_prop)
    op = draw(ops_drawn)
    values = draw(regex_values if "regex" in op else filter_values)
    # Often add a filter value derived from the property (same text, other case, a
    # prefix, a pre-release of it, a duplicate) so near-misses and folding get exercised.
    texts = [str(p) for p in (prop if isinstance(prop, list) else [prop]) if p is not None]
    if texts and "regex" not in op and draw(st.integers(0, 2)) > 0:
        text = draw(st.sampled_from(texts))
        derived = draw(
            st.sampled_from(
                [text, text.upper(), text.lower(), text.title(), text[:1], text + "-rc", text[:-2]]
            )
        )
        values.extend([derived] * draw(st.integers(1, 2)))
    return prop, op, draw(st.permutations(values))


@settings(max_examples=2500, deadline=None)
@given(case=property_and_condition())
def test_condition__random_property_and_filter__matches_like_python_sdk(
    case: tuple[Any, str, list[str]],
) -> None:
    # Given
    prop, op, values = case
    selector = ["context", "user", "user_properties", "p"]
    target = {"context": {"user": {"user_properties": {"p": prop}}}, "result": {}}
    expected = _SDK_ENGINE.match_condition(target, EvaluationCondition(selector, op, values))

    # When
    matched = compile_condition(selector, op, values)(target)

    # Then
    assert matched == expected


bucketing_values = st.one_of(
    st.sampled_from(["dev-1", "dev-2", "dev-3", "", "user-1"]),
    st.text(max_size=10),
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.lists(st.one_of(small, st.integers()), max_size=2),
    st.dictionaries(st.just("k"), small, max_size=1),
    st.none(),
)


@settings(max_examples=2000, deadline=None)
@given(value=bucketing_values, salt=st.sampled_from(["abc12345", "", "s/x"]), bucket=buckets)
def test_bucket__random_value_and_allocations__picks_like_python_sdk(
    value: Any, salt: str, bucket: dict[str, Any]
) -> None:
    # Given
    target = {"context": {"user": {"device_id": value}}, "result": {}}
    selector = ["context", "user", "device_id"]
    sdk_segment = EvaluationSegment(
        bucket=EvaluationBucket(
            selector,
            salt,
            [
                EvaluationAllocation(
                    a["range"],
                    [EvaluationDistribution(d["variant"], d["range"]) for d in a["distributions"]],
                )
                for a in bucket["allocations"]
            ],
        ),
        variant="fallback",
    )
    expected = _SDK_ENGINE.bucket(target, sdk_segment)
    specs = [
        (tuple(a["range"]), [(d["variant"], tuple(d["range"])) for d in a["distributions"]])
        for a in bucket["allocations"]
    ]

    # When
    picked = compile_bucket(selector, salt, specs)(target)

    # Then
    assert (picked or "fallback") == expected
