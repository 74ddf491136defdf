"""Errors raised by the evaluation engine."""

from __future__ import annotations


class InvalidFlag(ValueError):
    """A flag config cannot be parsed or compiled; the message names the offending path."""


class CycleError(InvalidFlag):
    """Flag dependencies form a cycle, so no evaluation order exists."""

    def __init__(self, path: list[str]) -> None:
        self.path = list(path)
        super().__init__("dependency cycle between flags " + " -> ".join(self.path))
