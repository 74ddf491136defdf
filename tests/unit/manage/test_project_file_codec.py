"""Project files as text: YAML 1.2 scalars on read, sorted stable text on write."""

from __future__ import annotations

import pytest

from flagyard.errors import Invalid
from flagyard.manage.project_file_codec import dump, load


def test_load__yaml_words__stay_strings() -> None:
    # `on`/`off`/`yes` are booleans in YAML 1.1; variant keys need them as text, dates too
    assert load("key: on\nother: yes\nwhen: 2026-01-05\nflag: true\n") == {
        "key": "on", "other": "yes", "when": "2026-01-05", "flag": True}


def test_load__json__read_too() -> None:
    assert load(b'{"flags": [{"key": "a"}]}') == {"flags": [{"key": "a"}]}


def test_load__broken__names_the_line() -> None:
    with pytest.raises(Invalid, match="line 3"):
        load("flags:\n  - key: a\n  bad: [\n")


def test_dump__yaml__sorted_quoted_and_read_back_equal() -> None:
    document = {"flags": [{"variants": [{"key": "on"}], "key": "a", "description": "one\ntwo"}]}
    text = dump(document)
    assert text.index("description") < text.index("key: a") < text.index("variants")
    assert "key: 'on'" in text  # quoted, so YAML 1.1 readers see a string too
    assert load(text) == document
    assert dump(document) == text


def test_dump__json__sorted_and_indented() -> None:
    assert dump({"b": 1, "a": [1]}, "json") == '{\n  "a": [\n    1\n  ],\n  "b": 1\n}\n'


def test_load__aliases__refused() -> None:
    with pytest.raises(Invalid, match="aliases"):
        load("a: &x [1, 2]\nb: *x\n")


def test_load__nested_too_deeply__refused_not_crashed() -> None:
    with pytest.raises(Invalid):
        load("[" * 100_000)
