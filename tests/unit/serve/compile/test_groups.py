"""Holdout and mutex groups compiled, then evaluated by the SDK's own engine."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

from amplitude_experiment import User
from amplitude_experiment.evaluation.engine import EvaluationEngine
from amplitude_experiment.evaluation.topological_sort import topological_sort
from amplitude_experiment.evaluation.types import EvaluationFlag
from amplitude_experiment.util.user import user_to_evaluation_context

from flagyard.serve.compile.compiler import CompileInput, compile_flags

CASES_DIR = Path(__file__).resolve().parents[3] / "data" / "compile"
N = 5_000


def inputs(case: str) -> list[CompileInput]:
    data = json.loads((CASES_DIR / f"{case}.json").read_text())
    return [CompileInput(document=item["document"], kind=item["kind"]) for item in data["inputs"]]


def evaluate_many(items: list[CompileInput], users: list[User]) -> list[dict[str, Any]]:
    parsed = EvaluationFlag.schema().load(compile_flags(items).flags, many=True)
    flags = topological_sort({flag.key: flag for flag in parsed})
    engine = EvaluationEngine()
    results = []
    for user in users:
        variants = engine.evaluate(user_to_evaluation_context(user), flags)
        results.append({key: variant.key for key, variant in variants.items()})
    return results


def within_3_sd(count: int, p: float) -> bool:
    return abs(count - N * p) <= 3 * math.sqrt(N * p * (1 - p))


def test_holdout__held_out_users__never_get_a_member_variant() -> None:
    # Given a 1 % holdout over a 50/50 experiment
    users = [User(device_id=f"device-{i}") for i in range(N)]
    # When
    results = evaluate_many(inputs("holdout_group"), users)
    # Then
    groups = Counter(r["holdout-q3"] for r in results)
    assert within_3_sd(groups["holdout"], 0.01)
    assert all(r["checkout"] == "off" for r in results if r["holdout-q3"] == "holdout")
    assert all(r["checkout"] in ("control", "treatment") for r in results if r["holdout-q3"] == "on")


def test_holdout__inclusion_and_exclusion__win_over_bucketing() -> None:
    # Given "u-held" is always held out and "u-free" never, whatever their device hashes to
    users = [User(user_id="u-held", device_id=f"device-{i}") for i in range(200)]
    users += [User(user_id="u-free", device_id=f"device-{i}") for i in range(200)]
    # When
    results = evaluate_many(inputs("holdout_group"), users)
    # Then
    assert {r["holdout-q3"] for r in results[:200]} == {"holdout"}
    assert {r["checkout"] for r in results[:200]} == {"off"}
    assert {r["holdout-q3"] for r in results[200:]} == {"on"}


def test_mutex__each_user_sees_at_most_the_experiment_of_their_slot() -> None:
    # Given slots of 30/30/40 % with exp-a, exp-b, and a 50 % holdout over exp-c in slot 3
    users = [User(device_id=f"device-{i}") for i in range(N)]
    # When
    results = evaluate_many(inputs("mutex_group"), users)
    # Then
    slots = Counter(r["mutex-checkout"] for r in results)
    assert within_3_sd(slots["slot-1"], 0.3) and within_3_sd(slots["slot-2"], 0.3)
    assert within_3_sd(slots["slot-3"], 0.4)
    for r in results:
        live = {key for key in ("exp-a", "exp-b", "exp-c") if r[key] != "off"}
        expected = {"slot-1": {"exp-a"}, "slot-2": {"exp-b"}}.get(r["mutex-checkout"], set())
        if r["mutex-checkout"] == "slot-3" and r["holdout-in-slot"] == "on":
            expected = {"exp-c"}
        assert live == expected, r
    assert all(r["holdout-in-slot"] == "off" for r in results if r["mutex-checkout"] != "slot-3")


def test_mutex__slot_individual__lands_in_that_slot() -> None:
    users = [User(user_id="u-1", device_id=f"device-{i}") for i in range(200)]
    results = evaluate_many(inputs("mutex_group"), users)
    assert {r["mutex-checkout"] for r in results} == {"slot-1"}
    assert {r["exp-b"] for r in results} == {"off"}
