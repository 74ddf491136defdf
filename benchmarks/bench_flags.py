"""The flag the start-up and write benchmarks load by the thousand: two variants (one with a
payload), a segment of two conditions, half its users in the rollout; every other flag evaluated
locally. Plain fields for `new_flag`, so any tree's code can load them."""

from __future__ import annotations


def flag_fields(key: str, deployment_id: int, i: int) -> dict[str, object]:
    return {
        "key": key, "deployments": [deployment_id], "bucketing_key": "device_id",
        "rollout_percentage": 50, "evaluation_mode": "local" if i % 2 else "remote",
        "variants": [{"key": "control"}, {"key": "treatment", "payload": {"n": i}}],
        "target_segments": [{
            "name": "pros",
            "conditions": [
                {"type": "property", "prop": "gp:plan", "op": "is", "values": ["pro"]},
                {"type": "property", "prop": "country", "op": "is not", "values": ["FR"]}],
            "percentage": 100, "rolloutWeights": {"treatment": 1},
        }],
    }
