from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from flagyard.engine import InvalidFlag, flag_to_dict, flags_to_list, parse_flag, parse_flags

DATA = Path(__file__).resolve().parents[2] / "data" / "evaluation"

FLAG: dict[str, Any] = {
    "key": "exp",
    "variants": {"on": {"key": "on", "value": "on", "payload": {"a": 1}}, "off": {"key": "off"}},
    "segments": [
        {
            "conditions": [[{"selector": ["context", "user", "user_id"], "op": "is", "values": ["u"]}]],
            "variant": "on",
            "metadata": {"segmentName": "inclusions"},
        },
        {
            "bucket": {
                "selector": ["context", "user", "device_id"],
                "salt": "abc12345",
                "allocations": [
                    {"range": [0, 100], "distributions": [{"variant": "on", "range": [0, 42949673]}]}
                ],
            },
            "variant": "off",
        },
    ],
    "dependencies": ["parent"],
    "metadata": {"deployed": True},
}


def _with(path: list[Any], value: Any) -> dict[str, Any]:
    flag = copy.deepcopy(FLAG)
    node = flag
    for step in path[:-1]:
        node = node[step]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return flag


def test_parse_flags__full_flag__round_trips_to_same_json() -> None:
    # Given / When
    flags = parse_flags([FLAG])

    # Then
    assert flags_to_list(flags) == [FLAG]


def test_parse_flags__golden_vector_files__round_trip() -> None:
    # Given
    documents = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(DATA.glob("*.json"))]

    # When / Then
    for document in documents:
        expected = [
            {**f, "segments": [{k: v for k, v in s.items() if v not in (None, [])} for s in f["segments"]]}
            for f in document["flags"]
        ]
        assert flags_to_list(parse_flags(document["flags"])) == expected


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["segments", 1, "bucket", "salt"], KeyError, r"flags\[0\].segments\[1\].bucket.salt is required"),
        (["key"], KeyError, r"flags\[0\].key is required"),
        (["colour"], "red", r"flags\[0\].colour is not an allowed key"),
        (["variants", "on", "extra"], 1, r'flags\[0\].variants\["on"\].extra is not an allowed key'),
        (["segments", 0, "conditions", 0, 0, "values"], [1], r"values\[0\] must be a string"),
        (["segments", 0, "conditions", 0, 0, "op"], None, r"conditions\[0\]\[0\].op is required"),
        (["segments", 1, "bucket", "allocations", 0, "range"], [0], "must be a list of two integers"),
        (["segments", 1, "bucket", "allocations", 0, "range"], [0, 1.5], r"range\[1\] must be an integer"),
        (["segments", 1, "bucket", "allocations", 0, "range"], [True, 1], r"range\[0\] must be an integer"),
        (["segments"], {}, r"flags\[0\].segments must be a list"),
        (["variants"], [], r"flags\[0\].variants must be an object"),
        (["metadata"], "x", r"flags\[0\].metadata must be an object"),
        (["dependencies"], "parent", r"flags\[0\].dependencies must be a list of strings"),
        (["segments", 0, "variant"], 3, r"segments\[0\].variant must be a string"),
        (
            ["segments", 0, "conditions", 0, 0],
            {"selector": ["a"], "op": "regex match", "values": ["("]},
            r"conditions\[0\]\[0\].values\[0\] is not a valid regular expression",
        ),
    ],
)
def test_parse_flags__invalid_flag__raises_with_path(path: list[Any], value: Any, message: str) -> None:
    # Given
    data = [_with(path, value)]

    # When / Then
    with pytest.raises(InvalidFlag, match=message):
        parse_flags(data)


def test_parse_flags__not_a_list__raises() -> None:
    # Given / When / Then
    with pytest.raises(InvalidFlag, match="flags must be a list"):
        parse_flags({"key": "x"})


def test_parse_flag__nulls_for_optional_keys__accepted_and_omitted_on_output() -> None:
    # Given
    data = {
        "key": "k",
        "variants": {"on": {"key": None, "value": None, "payload": None, "metadata": None}},
        "segments": [{"bucket": None, "conditions": None, "variant": None, "metadata": None}],
        "dependencies": None,
        "metadata": None,
    }

    # When
    out = flag_to_dict(parse_flag(data))

    # Then
    assert out == {"key": "k", "variants": {"on": {}}, "segments": [{}]}


def test_flag_to_dict__empty_conditions__never_emitted() -> None:
    # Given
    flag = parse_flag({"key": "k", "variants": {}, "segments": [{"conditions": [], "variant": "on"}]})

    # When
    out = flag_to_dict(flag)

    # Then
    assert out["segments"] == [{"variant": "on"}]


def test_parse_flag__integral_float_range__coerced_to_int() -> None:
    # Given
    data = _with(["segments", 1, "bucket", "allocations", 0, "range"], [0.0, 100.0])

    # When
    flag = parse_flag(data)

    # Then
    bucket = flag.segments[1].bucket
    assert bucket is not None and bucket.allocations[0].range == (0, 100)
