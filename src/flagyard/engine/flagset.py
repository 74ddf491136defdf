"""A keyed, reusable collection of flags with its evaluation order cached."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from .model import Flag
from .topo import sort_flags


class FlagSet(Mapping[str, Flag]):
    """Flags by key (a later flag with the same key replaces an earlier one).

    Build it once per flag snapshot; `evaluate` then skips re-sorting on every call.
    """

    __slots__ = ("_by_key", "_order")

    def __init__(self, flags: Iterable[Flag] | Mapping[str, Flag]) -> None:
        if isinstance(flags, Mapping):
            self._by_key: dict[str, Flag] = dict(flags)
        else:
            self._by_key = {flag.key: flag for flag in flags}
        self._order: tuple[Flag, ...] | None = None

    @classmethod
    def adopting(cls, by_key: dict[str, Flag]) -> FlagSet:
        """A set over `by_key` itself, without copying it: the caller must never change it
        afterwards (a snapshot's ten thousand flags were copied on every rebuild)."""
        flags = cls(())
        flags._by_key = by_key
        return flags

    def __getitem__(self, key: str) -> Flag:
        return self._by_key[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_key)

    def __len__(self) -> int:
        return len(self._by_key)

    def ordered(self, flag_keys: Iterable[str] | None = None) -> tuple[Flag, ...] | list[Flag]:
        """Flags to evaluate for `flag_keys` (all when None), dependencies first.

        Raises CycleError when the walk meets a dependency cycle.
        """
        if flag_keys is not None:
            return sort_flags(self._by_key, flag_keys)
        if self._order is None:
            self._order = tuple(sort_flags(self._by_key))
        return self._order
