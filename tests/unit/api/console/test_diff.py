"""The history page's diff: one row per changed setting, variants and segments by name."""

from __future__ import annotations

from flagyard.api.console.diff import Change, diff


def test_diff__names_the_changed_settings_only() -> None:
    before = {"name": "a", "enabled": False, "version": 1, "lastModifiedBy": "x",
              "variants": [{"key": "on", "payload": {"c": 1}}, {"key": "blue", "payload": None}],
              "targetSegments": [{"name": "DE", "percentage": 10}], "tags": []}
    after = {"name": "a", "enabled": True, "version": 2, "lastModifiedBy": "y",
             "variants": [{"key": "on", "payload": {"c": 2}}],
             "targetSegments": [{"name": "DE", "percentage": 20}], "tags": ["t"]}
    assert diff(before, after) == [
        Change("enabled", "false", "true"),
        Change("variants[on].payload", '{"c": 1}', '{"c": 2}'),
        Change("variants[blue].key", '"blue"', None),
        Change("variants[blue].payload", "null", None),
        Change("targetSegments[DE].percentage", "10", "20"),
        Change("tags", "[]", '["t"]'),
    ]


def test_diff__same_configuration__no_rows() -> None:
    document = {"name": "a", "variants": [{"key": "on"}], "version": 1}
    assert diff(document, document | {"version": 9}) == []
