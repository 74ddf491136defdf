from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flagyard.engine import murmur3
from flagyard.engine.murmur3 import hash32, hash32_raw, hash32_reference

WORDS_SEED = 0x7F3A21EA
WORDS = Path(__file__).resolve().parents[2] / "data" / "murmur3" / "english_words.tsv"


def _word_vectors() -> list[tuple[str, int]]:
    pairs = []
    for line in WORDS.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            word, expected = line.split("\t")
            pairs.append((word, int(expected)))
    return pairs


VECTORS = _word_vectors()


def test_word_vectors__file__holds_amplitude_corpus() -> None:
    # Given / When / Then
    assert len(VECTORS) == 1999
    assert VECTORS[0] == ("a", 479943832)


def test_hash32__english_words__match_published_hashes() -> None:
    # Given
    mismatches = []

    # When
    for word, expected in VECTORS:
        if hash32(word, WORDS_SEED) != expected:
            mismatches.append(word)

    # Then
    assert mismatches == []


def test_hash32_reference__english_words__match_published_hashes() -> None:
    # Given
    mismatches = []

    # When
    for word, expected in VECTORS:
        if hash32_reference(word, WORDS_SEED) != expected:
            mismatches.append(word)

    # Then
    assert mismatches == []


@pytest.mark.parametrize(
    ("text", "seed", "expected"),
    [
        ("brian", WORDS_SEED, 3948467465),
        ("My hovercraft is full of eels.", 0, 2953494853),
        ("My 🚀 is full of 🦎.", 0, 1818098979),
        ("吉 星 高 照", 0, 3435142074),
        ("a", 0, 1009084850),
        ("abc", 0, 3017643002),
        ("abcd", 0, 1139631978),
        ("abc12345/dev-1", 0, 3487314394),
        ("abc12345/dev-2", 0, 2605343376),
        ("abc12345/dev-3", 0, 343687425),
        ("nI33zio8/device_id", 0, 4074860200),
        ("", 0, 0),
    ],
)
def test_hash32__published_vectors__both_paths_agree(text: str, seed: int, expected: int) -> None:
    # Given / When
    results = {hash32(text, seed), hash32_reference(text, seed), hash32_raw(text, seed, False)}

    # Then
    assert results == {expected}


def test_hash32__bytes_input__hashes_same_as_utf8_text() -> None:
    # Given
    text = "吉 星 高 照"

    # When
    from_bytes = hash32(text.encode("utf-8"))

    # Then
    assert from_bytes == hash32(text) == hash32_reference(text.encode("utf-8"))


def test_hash32__mmh3_missing__falls_back_to_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given
    monkeypatch.setattr(murmur3, "_native", None)

    # When
    result = murmur3.hash32("abc12345/dev-3")

    # Then
    assert result == 343687425


@settings(max_examples=300)
@given(data=st.binary(max_size=40), seed=st.integers(0, 2**32 - 1))
def test_hash32_reference__random_bytes__equals_native(data: bytes, seed: int) -> None:
    # Given / When / Then
    assert hash32_reference(data, seed) == hash32(data, seed)
