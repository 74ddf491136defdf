"""Project files as text: YAML 1.2 scalars on read, sorted stable text on write."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from flagyard.errors import Invalid
from flagyard.manage.project_file_codec import _Loader, dump, load


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


# Plain scalars every implicit resolver looks at, and their neighbours.
SCALARS = ["on", "yes", "No", "true", "False", "~", "null", "", "0", "010", "0x1F", "0o7", "1_000", "+3",
           "-2.5", "1e3", "1.0e+3", ".5", ".inf", "-.Inf", ".NaN", "1:30", "2026-01-05", "<<", "=", "a b",
           "*not-an-alias", "&not-an-anchor", "key: value", "#hash", "日本"]


@given(st.recursive(
    st.one_of(st.sampled_from(SCALARS), st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(),
              st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(SCALARS) | st.text(max_size=5), inner, max_size=4)),
    max_leaves=30))
def test_load__any_document_as_yaml__libyaml_reader_agrees_with_the_python_one(document: object) -> None:
    # Given the document dumped as YAML, and as YAML written by hand with plain scalars
    text = yaml.safe_dump({"doc": document}, allow_unicode=True)
    plain = "".join(f"k{i}: {scalar}\n" for i, scalar in enumerate(SCALARS[:-5]))
    for source in (text, plain):
        # When / Then: the same value, or both refuse it
        assert _outcome(load, source) == _outcome(_python_load, source)


def _python_load(text: str) -> object:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def _outcome(read: Callable[[str], object], text: str) -> tuple[str, object]:
    try:
        return "read", read(text)
    except (Invalid, yaml.YAMLError, RecursionError):
        return "refused", None


def test_load__anchor_without_alias_and_star_in_quotes__read() -> None:
    assert load("a: &x [1, 2]\nglob: '*@example.com'\n") == {"a": [1, 2], "glob": "*@example.com"}


def test_load__alias_inside_a_list__refused_naming_its_line() -> None:
    with pytest.raises(Invalid, match="line 3.*aliases"):
        load("defaults: &d {percentage: 5}\nsegments:\n  - *d\n")


@pytest.mark.parametrize("text", [
    "a: !!str 123\nb: !!int '7'\nc: !!float '1'\nd: !!null ''\n",
    "s: !!set {a, b}\nbinary: !!binary aGVsbG8=\npairs: !!omap [a: 1, b: 2]\n",
    "base: {x: 1}\nmerged:\n  <<: {a: 1, b: 2}\n  b: 3\n",
    "? [1, 2]\n: unhashable key\n",
    "? {a: 1}\n: unhashable key\n",
    "same: 1\nsame: 2\n",
    "- !custom tag\n",
    "deep: " + "[" * 900 + "]" * 900 + "\n",
])
def test_load__tags_merges_and_odd_keys__libyaml_reader_agrees_with_the_python_one(text: str) -> None:
    assert _outcome(load, text) == _outcome(_python_load, text)
