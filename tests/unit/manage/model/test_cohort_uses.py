"""Which flags target a cohort: segment conditions on cohort_ids, and variants' cohort
inclusions, in words."""

from __future__ import annotations

from datetime import UTC, datetime

from flagyard.manage.model.cohort_uses import cohort_uses
from flagyard.manage.model.flags import Flag, Kind, Variant


def a_flag(flag_id: int, segments: list[dict[str, object]], kind: Kind = Kind.FLAG) -> Flag:
    return Flag(project_id=1, kind=kind, key=f"k{flag_id}", bucketing_salt="s", id=flag_id,
                created_at=datetime(2026, 1, 1, tzinfo=UTC), created_by="me", target_segments=segments,
                variants=[Variant("on", id=flag_id * 10), Variant("off", id=flag_id * 10 + 1)])


def condition(prop: str, op: str, *values: str) -> dict[str, object]:
    return {"type": "property", "prop": prop, "op": op, "values": list(values)}


def test_segment_conditions_and_inclusions__by_cohort__in_words() -> None:
    # Given
    first = a_flag(1, [
        {"name": "Payers", "conditions": [condition("cohort_ids", "set contains any", "c1", "c2")]},
        {"name": "", "conditions": [condition("cohort_ids", "set does not contain any", "c1"),
                                    condition("country", "is", "c1")]},
    ])
    second = a_flag(2, [], Kind.EXPERIMENT)
    # When
    uses = cohort_uses([first, second], {20: ["c1"], 21: ["c3"], 10: ["c1"]})
    # Then
    assert [(u.flag_id, u.ways) for u in uses["c1"]] == [
        (1, ('segment "Payers" (set contains any)', "segment 2 (set does not contain any)",
             "included in variant on")),
        (2, ("included in variant on",)),
    ]
    assert [(u.flag_id, u.kind, u.ways) for u in uses["c2"]] == [(1, Kind.FLAG, ('segment "Payers" (set contains any)',))]
    assert [(u.flag_id, u.ways) for u in uses["c3"]] == [(2, ("included in variant off",))]
    assert "country" not in str(uses)
