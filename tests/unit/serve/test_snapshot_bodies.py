"""A served body kept in blocks of parts (serve/snapshots.py) joins to the same bytes and ETag
as the parts joined one by one, before and after parts are swapped."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from typing import Any

import pytest

from flagyard.serve import snapshots
from flagyard.serve.bodies import FlagsBody


def _part(text: str) -> Any:
    body = f'{{"key":"{text}"}}'.encode()
    return SimpleNamespace(body=body, digest=hashlib.sha256(body).digest())


def _expected(ids: list[str], parts: dict[str, Any]) -> FlagsBody:
    return FlagsBody.join([parts[i].body for i in ids], [parts[i].digest for i in ids])


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4, 7, 9, 10])
def test_blocks__joined__same_bytes_and_etag_as_parts(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    # Given blocks of three parts
    monkeypatch.setattr(snapshots, "BLOCK", 3)
    ids = [str(n) for n in range(count)]
    parts = {i: _part(f"flag-{i}") for i in ids}
    # When
    served = snapshots._Bodies.of(ids, parts).served()
    # Then
    expected = _expected(ids, parts)
    assert (served.body, served.etag) == (expected.body, expected.etag)


def test_blocks__parts_swapped__same_as_joining_the_new_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given
    monkeypatch.setattr(snapshots, "BLOCK", 3)
    ids = [str(n) for n in range(10)]
    parts = {i: _part(f"flag-{i}") for i in ids}
    bodies = snapshots._Bodies.of(ids, parts)
    before = bodies.served()
    # When two parts of one block and one of another change, and one part that is not served
    changed = {"3": _part("new-3"), "5": _part("new-5"), "9": _part("new-9"), "99": _part("not-served")}
    swapped = bodies.swapped(changed)
    # Then
    after = {**parts, **{i: p for i, p in changed.items() if i in parts}}
    expected = _expected(ids, after)
    assert (swapped.served().body, swapped.served().etag) == (expected.body, expected.etag)
    assert (bodies.served().body, bodies.served().etag) == (before.body, before.etag)  # unchanged
    assert swapped.blocks[0] is bodies.blocks[0] and swapped.blocks[2] is bodies.blocks[2]


def test_join_blocks__no_blocks__same_as_no_parts() -> None:
    empty = FlagsBody.join_blocks([])
    assert (empty.body, empty.etag) == (FlagsBody.join([], []).body, FlagsBody.join([], []).etag)
