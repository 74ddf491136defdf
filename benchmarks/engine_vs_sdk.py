"""Evaluation throughput: flagyard's engine against the Python SDK's engine.

Builds a realistic flag set (inclusions, several targeting segments using most
operators, uneven variant weights, a holdout dependency) and N users, evaluates
every flag for every user with both engines, checks that they agree, and prints
flag evaluations per second.

    .venv/bin/python benchmarks/engine_vs_sdk.py [--users N] [--repeat R]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any

from amplitude_experiment.evaluation.engine import EvaluationEngine
from amplitude_experiment.evaluation.topological_sort import topological_sort
from amplitude_experiment.evaluation.types import EvaluationFlag
from amplitude_experiment.user import User
from amplitude_experiment.util.user import user_to_evaluation_context

from flagyard.engine import FlagSet, evaluate, parse_flags, user_to_context

FULL = 42949673
COUNTRIES = ["US", "CA", "GB", "DE", "FR", "JP", "BR", "IN"]
PLANS = ["free", "starter", "pro", "enterprise"]


def _distributions(weights: dict[str, int]) -> list[dict[str, Any]]:
    """Contiguous ranges over [0, FULL) proportional to the weights."""
    total = sum(weights.values())
    out, start, cumulative = [], 0, 0
    for variant, weight in weights.items():
        cumulative += weight
        end = -(-cumulative * FULL // total)
        out.append({"variant": variant, "range": [start, end]})
        start = end
    return out


def _bucket(salt: str, percent: int, weights: dict[str, int], unit: str = "device_id") -> dict[str, Any]:
    return {
        "selector": ["context", "user", unit],
        "salt": salt,
        "allocations": [{"range": [0, percent], "distributions": _distributions(weights)}],
    }


def _cond(selector: list[str], op: str, values: list[str]) -> dict[str, Any]:
    return {"selector": selector, "op": op, "values": values}


def _prop(name: str) -> list[str]:
    return ["context", "user", "user_properties", name]


def _flag(key: str, index: int, rng: random.Random) -> dict[str, Any]:
    variants = ["control", "treatment", "treatment-b"][: 2 + index % 2]
    weights = {v: rng.choice([1, 2, 3, 5, 7]) for v in variants}
    inclusions = [f"user-{rng.randrange(100_000)}" for _ in range(40)]
    segments: list[dict[str, Any]] = [
        {
            "conditions": [
                [_cond(["context", "user", "user_id"], "is", inclusions)],
                [_cond(["context", "user", "device_id"], "is", [f"device-{i}" for i in range(10)])],
            ],
            "metadata": {"segmentName": "individual-inclusions"},
            "variant": variants[1],
        },
        {
            "conditions": [
                [
                    _cond(["context", "user", "country"], "is", ["US", "CA", "GB"]),
                    _cond(["context", "user", "platform"], "is not", ["Android"]),
                    _cond(["context", "user", "version"], "version greater or equal", ["2.3.0"]),
                ]
            ],
            "bucket": _bucket(f"s{index}a", 80, weights),
            "metadata": {"segmentName": "North America on recent apps"},
            "variant": "off",
        },
        {
            "conditions": [
                [
                    _cond(_prop("plan"), "is", ["pro", "enterprise"]),
                    _cond(_prop("email"), "contains", ["@acme", "@globex"]),
                ],
                [_cond(_prop("seats"), "greater or equal", ["50"])],
            ],
            "bucket": _bucket(f"s{index}b", 50, weights, "user_id"),
            "metadata": {"segmentName": "Paying teams"},
            "variant": "off",
        },
        {
            "conditions": [
                [
                    _cond(["context", "user", "cohort_ids"], "set contains any", ["coh-1", "coh-7"]),
                    _cond(_prop("email"), "regex match", [r"@(example|test)\.com$"]),
                    _cond(_prop("beta"), "is", ["true"]),
                ]
            ],
            "metadata": {"segmentName": "Beta cohort"},
            "variant": variants[-1],
        },
        {
            "bucket": _bucket(f"s{index}c", 20 + index % 60, weights),
            "metadata": {"segmentName": "All Other Users"},
            "variant": "off",
        },
    ]
    flag: dict[str, Any] = {
        "key": key,
        "metadata": {
            "deployed": True,
            "evaluationMode": "local",
            "flagType": "experiment",
            "flagVersion": index + 1,
            "experimentKey": f"exp-{index}",
        },
        "variants": {
            **{v: {"key": v, "value": v, "payload": {"index": index}} for v in variants},
            "off": {"key": "off", "metadata": {"default": True}},
        },
        "segments": segments,
    }
    return flag


def build_flags(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    holdout = {
        "key": "holdout-group",
        "metadata": {"deployed": False, "flagType": "holdout-group", "flagVersion": 1},
        "variants": {
            "holdout": {"key": "holdout", "payload": {"flagIds": []}},
            "on": {"key": "on", "payload": {"flagIds": []}},
        },
        "segments": [
            {
                "bucket": {
                    "selector": ["context", "user", "device_id"],
                    "salt": "holdout1",
                    "allocations": [
                        {
                            "range": [0, 100],
                            "distributions": [
                                {"variant": "holdout", "range": [0, 4294968]},
                                {"variant": "on", "range": [4294967, FULL]},
                            ],
                        }
                    ],
                },
                "metadata": {"segmentName": "All Other Users"},
                "variant": "on",
            }
        ],
    }
    flags: list[dict[str, Any]] = [holdout]
    for index in range(count - 1):
        flag = _flag(f"flag-{index}", index, rng)
        if index % 4 == 0:
            flag["dependencies"] = ["holdout-group"]
            flag["segments"].insert(
                0,
                {
                    "conditions": [
                        [_cond(["result", "holdout-group", "key"], "is not", ["on"])]
                    ],
                    "metadata": {"segmentName": "flag-dependencies"},
                    "variant": "off",
                },
            )
        flags.append(flag)
    return flags


def build_users(count: int, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    users = []
    for i in range(count):
        users.append(
            {
                "user_id": f"user-{rng.randrange(100_000)}",
                "device_id": f"device-{i}",
                "country": rng.choice(COUNTRIES),
                "platform": rng.choice(["iOS", "Android", "Web"]),
                "version": f"{rng.randrange(1, 4)}.{rng.randrange(0, 10)}.{rng.randrange(0, 20)}",
                "user_properties": {
                    "plan": rng.choice(PLANS),
                    "email": f"u{i}@{rng.choice(['acme.io', 'globex.com', 'example.com', 'mail.org'])}",
                    "seats": rng.randrange(1, 200),
                    "beta": rng.choice([True, False, None]),
                },
                "cohort_ids": rng.sample([f"coh-{k}" for k in range(10)], rng.randrange(0, 3)),
            }
        )
    return users


def _best_times(repeat: int, runs: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Best wall time of each run over `repeat` rounds; rounds interleave the runs so
    that load from other processes hits every contender alike."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--flags", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    flags_json = build_flags(args.flags)
    users = build_users(args.users)

    sdk_engine = EvaluationEngine()
    sdk_flags = EvaluationFlag.schema().load(flags_json, many=True)
    sdk_sorted = topological_sort({f.key: f for f in sdk_flags})
    sdk_contexts = [user_to_evaluation_context(User(**u)) for u in users]

    our_flags = parse_flags(flags_json)
    flag_set = FlagSet(our_flags)
    our_contexts = [user_to_context(u) for u in users]

    # Both engines must agree before their speed means anything.
    for sdk_ctx, our_ctx in zip(sdk_contexts, our_contexts, strict=True):
        theirs = sdk_engine.evaluate(sdk_ctx, sdk_sorted)
        ours = evaluate(our_ctx, flag_set)
        assert {k: (v.key, v.value, v.payload, v.metadata) for k, v in theirs.items()} == {
            k: tuple(v) for k, v in ours.items()
        }

    evaluations = len(users) * len(flags_json)
    times = _best_times(
        args.repeat,
        {
            "sdk": lambda: [sdk_engine.evaluate(c, sdk_sorted) for c in sdk_contexts],
            "flag_set": lambda: [evaluate(c, flag_set) for c in our_contexts],
            "list": lambda: [evaluate(c, our_flags) for c in our_contexts],
        },
    )
    sdk_rate, set_rate, list_rate = (evaluations / times[k] for k in ("sdk", "flag_set", "list"))
    print(f"flags={len(flags_json)} users={len(users)} evaluations per run={evaluations}")
    print(f"sdk EvaluationEngine (pre-sorted flags):    {sdk_rate:12,.0f} evaluations/s")
    print(f"flagyard evaluate (FlagSet):                {set_rate:12,.0f} evaluations/s")
    print(f"flagyard evaluate (list, sorted per call):  {list_rate:12,.0f} evaluations/s")
    print(f"ratio flagyard/sdk: {set_rate / sdk_rate:.1f}x (list: {list_rate / sdk_rate:.1f}x)")


if __name__ == "__main__":
    main()
