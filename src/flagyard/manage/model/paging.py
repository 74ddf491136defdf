"""Cursor paging: the cursor is the id of the last item shown, so pages never shift."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_LIMIT = 1000


@dataclass(frozen=True)
class PageRequest:
    limit: int = MAX_LIMIT
    cursor: int | None = None  # show items with ids below this one


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: int | None

    @classmethod
    def from_overfetch(cls, items: Sequence[T], limit: int, id_of: Callable[[T], int]) -> Page[T]:
        """`items` was fetched with limit + 1; the extra one only tells that more exist."""
        shown = list(items[:limit])
        more = len(items) > limit
        return cls(shown, id_of(shown[-1]) if more and shown else None)
