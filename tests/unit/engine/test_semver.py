from __future__ import annotations

import pytest

from flagyard.engine.semver import parse_version


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2", (1, 2, 0, 1, "")),
        ("1.2.3", (1, 2, 3, 1, "")),
        ("10.20.30-beta.1", (10, 20, 30, 0, "-beta.1")),
        ("1.2.3-", (1, 2, 3, 0, "-")),
        ("1.2.3\n", (1, 2, 3, 1, "")),
    ],
)
def test_parse_version__valid_text__returns_sort_key(text: str, expected: tuple[object, ...]) -> None:
    # Given / When / Then
    assert parse_version(text) == expected


@pytest.mark.parametrize("text", ["", "1", "v1.2.3", "1.2-beta", "1.2.3-a..b", "1.2.3.4", "a.b"])
def test_parse_version__invalid_text__returns_none(text: str) -> None:
    # Given / When / Then
    assert parse_version(text) is None


def test_parse_version__long_pre_release_with_bad_tail__fails_fast() -> None:
    # Given
    text = "1.2.3-" + "a" * 5000 + "!"

    # When
    result = parse_version(text)

    # Then
    assert result is None


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("1.2.3", "1.10.0"),
        ("1.2.3-beta", "1.2.3"),
        ("1.2.3-alpha", "1.2.3-beta"),
        ("1.2", "1.2.1"),
        ("2.0.0-rc.1", "2.0.0"),
    ],
)
def test_parse_version__ordered_pair__sorts_like_amplitude(lower: str, higher: str) -> None:
    # Given / When
    low, high = parse_version(lower), parse_version(higher)

    # Then
    assert low is not None and high is not None
    assert low < high


def test_parse_version__same_version_with_and_without_patch__equal() -> None:
    # Given / When / Then
    assert parse_version("1.2") == parse_version("1.2.0")
