"""Which cohorts compiled flags target, read as Amplitude's SDKs read them."""

from __future__ import annotations

from typing import Any

from flagyard import engine
from flagyard.serve.compile.cohort_targeting import cohort_references


def flag(*conditions: dict[str, Any]) -> engine.Flag:
    return engine.parse_flag({
        "key": "f",
        "variants": {"on": {"key": "on"}},
        "segments": [{"conditions": [[condition]], "variant": "on"} for condition in conditions],
    })


def test_cohort_references__user_and_group_selectors__grouped_by_type() -> None:
    # Given
    flags = [
        flag({"selector": ["context", "user", "cohort_ids"], "op": "set contains any", "values": ["a", "b"]},
             {"selector": ["context", "user", "cohort_ids"], "op": "set does not contain any", "values": ["c"]}),
        flag({"selector": ["context", "groups", "org", "cohort_ids"], "op": "set contains any", "values": ["g"]}),
    ]
    # When
    found = cohort_references(flags)
    # Then
    assert found.user == {"a", "b", "c"}
    assert dict(found.groups) == {"org": {"g"}}
    assert found.all_ids == {"a", "b", "c", "g"}


def test_cohort_references__other_ops_and_selectors__ignored() -> None:
    # Given conditions that only look like cohort targeting
    flags = [
        flag({"selector": ["context", "user", "cohort_ids"], "op": "set contains", "values": ["a"]},
             {"selector": ["context", "user", "user_properties", "cohort"], "op": "set contains any",
              "values": ["b"]},
             {"selector": ["context", "cohort_ids"], "op": "set contains any", "values": ["c"]}),
    ]
    # When / Then
    assert not cohort_references(flags)
