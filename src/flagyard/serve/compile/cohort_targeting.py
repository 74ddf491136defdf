"""Which cohorts compiled flags target, read the way Amplitude's SDKs read them.

A condition targets cohorts when its op is `set contains any` or `set does not contain any`
and its selector ends in `cohort_ids`: `["context", "user", "cohort_ids"]` for user cohorts,
`["context", "groups", <group type>, "cohort_ids"]` for cohorts of that group type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from flagyard import engine

COHORT_OPS = frozenset({"set contains any", "set does not contain any"})
_USER_SELECTOR = ("context", "user", "cohort_ids")


@dataclass(frozen=True)
class CohortReferences:
    user: frozenset[str] = frozenset()
    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)  # by group type

    def __bool__(self) -> bool:
        return bool(self.user or self.groups)

    @property
    def all_ids(self) -> frozenset[str]:
        return self.user.union(*self.groups.values())


NO_REFERENCES = CohortReferences()


def cohort_references(flags: Iterable[engine.Flag]) -> CohortReferences:
    user: set[str] = set()
    groups: dict[str, set[str]] = {}
    for flag in flags:
        for segment in flag.segments:
            for conditions in segment.conditions or ():
                for condition in conditions:
                    if condition.op not in COHORT_OPS or condition.selector[-1:] != ("cohort_ids",):
                        continue
                    selector = tuple(condition.selector)
                    if selector == _USER_SELECTOR:
                        user.update(condition.values)
                    elif len(selector) == 4 and selector[:2] == ("context", "groups"):
                        groups.setdefault(selector[2], set()).update(condition.values)
    if not user and not groups:
        return NO_REFERENCES
    return CohortReferences(frozenset(user), {t: frozenset(ids) for t, ids in groups.items()})
