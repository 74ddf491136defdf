"""Golden evaluation vectors: tests/data/evaluation/*.json are the engine's spec.

Each file holds `flags` (Amplitude flag JSON) and `cases` of `context`, optional
`flag_keys` and `expected` results. The same cases are replayed through the
Python SDK's engine, so the vectors themselves stay honest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from amplitude_experiment.evaluation.engine import EvaluationEngine
from amplitude_experiment.evaluation.topological_sort import topological_sort
from amplitude_experiment.evaluation.types import EvaluationFlag

from flagyard.engine import FlagSet, evaluate, parse_flags

DATA = Path(__file__).resolve().parents[2] / "data" / "evaluation"


def _load_cases() -> list[Any]:
    params = []
    for path in sorted(DATA.glob("*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        for case in document["cases"]:
            params.append(pytest.param(document["flags"], case, id=f"{path.stem}: {case['name']}"))
    return params


CASES = _load_cases()


def _as_wire(key: str | None, value: Any, payload: Any, metadata: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key}
    if value is not None:
        out["value"] = value
    if payload is not None:
        out["payload"] = payload
    out["metadata"] = metadata
    return out


def test_vectors__data_directory__holds_cases() -> None:
    # Given / When
    files = sorted(p.name for p in DATA.glob("*.json"))

    # Then
    assert {"operators.json", "null_handling.json", "bucketing.json", "dependencies.json"} <= set(files)
    assert len(CASES) >= 40


@pytest.mark.parametrize(("flags_json", "case"), CASES)
def test_evaluate__golden_case__returns_expected(flags_json: list[Any], case: dict[str, Any]) -> None:
    # Given
    flags = FlagSet(parse_flags(flags_json))

    # When
    results = evaluate(case["context"], flags, case.get("flag_keys"))

    # Then
    assert {k: _as_wire(*v) for k, v in results.items()} == case["expected"]


@pytest.mark.parametrize(("flags_json", "case"), CASES)
def test_sdk_engine__golden_case__returns_expected(flags_json: list[Any], case: dict[str, Any]) -> None:
    # Given
    sdk_flags = EvaluationFlag.schema().load(flags_json, many=True)
    ordered = topological_sort({f.key: f for f in sdk_flags}, case.get("flag_keys"))

    # When
    results = EvaluationEngine().evaluate(case["context"], ordered)

    # Then
    assert {
        k: _as_wire(v.key, v.value, v.payload, v.metadata) for k, v in results.items()
    } == case["expected"]
