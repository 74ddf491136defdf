"""Server-side cohort membership for remote evaluation.

Before evaluating, the user gets the ids of the cohorts that the deployment's flags target and
that hold the user's `user_id` (user cohorts) or, per targeted group type, the first name the
user lists under `groups` (group cohorts). Ids the SDK sent itself are kept.

Membership is read with one indexed query per evaluation, and only when the flags target a
cohort at all: flags without cohort targeting cost a dictionary lookup. See
docs/adr/0042-cohort-membership-by-indexed-query.md for why not an in-memory index.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeGuard

from flagyard.manage.model.cohorts import MAX_MEMBER_ID_LENGTH, USER_GROUP_TYPE
from flagyard.serve.compile.cohort_targeting import CohortReferences, cohort_references
from flagyard.serve.snapshots import Snapshot

log = logging.getLogger("flagyard.cohorts")


# (project id, cohort ids, member ids) → (cohort id, group type, member id) of each live cohort
# among those ids that holds one of the members.
MembershipLookup = Callable[[int, Collection[str], Collection[str]], list[tuple[str, str, str]]]


class CohortMembership:
    def __init__(self, lookup: MembershipLookup) -> None:
        self._lookup = lookup
        # Per deployment: the snapshot the references were read from, and the references.
        self._references: dict[int, tuple[Snapshot, CohortReferences]] = {}

    def references(self, snapshot: Snapshot) -> CohortReferences:
        entry = self._references.get(snapshot.deployment.id)
        if entry is not None and entry[0] is snapshot:
            return entry[1]
        found = cohort_references(snapshot.flags.values())
        self._references[snapshot.deployment.id] = (snapshot, found)
        return found

    def needs_lookup(self, snapshot: Snapshot, user: Mapping[str, Any]) -> bool:
        """True when the flags target cohorts and the user names someone to look up. No I/O."""
        references = self.references(snapshot)
        return bool(references) and bool(_lookup_keys(references, user))

    def enrich(self, snapshot: Snapshot, user: Mapping[str, Any]) -> dict[str, Any]:
        """The user with the cohort ids it belongs to added (blocking: reads the database)."""
        references = self.references(snapshot)
        keys = _lookup_keys(references, user)
        if not keys:
            return dict(user)
        try:
            rows = self._lookup(snapshot.deployment.project_id, references.all_ids,
                                set(keys.values()))
        except Exception:
            # The answer must not wait for the database: evaluate with the ids the SDK sent.
            log.warning("cohort membership unavailable; evaluating without it", exc_info=True)
            return dict(user)
        found: dict[str, list[str]] = {}
        for cohort_id, group_type, member_id in rows:
            wanted = references.user if group_type == USER_GROUP_TYPE else references.groups.get(group_type, ())
            if keys.get(group_type) == member_id and cohort_id in wanted:
                found.setdefault(group_type, []).append(cohort_id)
        return _merged(user, keys, found)


def _lookup_keys(references: CohortReferences, user: Mapping[str, Any]) -> dict[str, str]:
    """Group type ("User" for users) → the id to look up in that type's cohorts."""
    keys: dict[str, str] = {}
    user_id = user.get("user_id")
    if references.user and _could_be_member(user_id):
        keys[USER_GROUP_TYPE] = user_id
    groups = user.get("groups")
    if references.groups and isinstance(groups, Mapping):
        for group_type in references.groups:
            names = groups.get(group_type)
            # Evaluation reads only the first name of each group type, as the SDKs do.
            if isinstance(names, list) and names and _could_be_member(names[0]):
                keys[group_type] = names[0]
    return keys


def _could_be_member(value: Any) -> TypeGuard[str]:
    """Member ids are non-empty text of at most 1,000 characters without NUL; nothing else
    is looked up (and a NUL would not even reach PostgreSQL)."""
    return isinstance(value, str) and 0 < len(value) <= MAX_MEMBER_ID_LENGTH and "\x00" not in value


def _union(sent: Any, found: list[str]) -> list[str]:
    if sent is None:
        start: list[Any] = []
    elif isinstance(sent, list | tuple | set | frozenset):
        start = list(sent)
    else:
        start = [sent]
    return start + [cohort for cohort in sorted(found) if cohort not in start]


def _merged(user: Mapping[str, Any], keys: Mapping[str, str],
            found: Mapping[str, list[str]]) -> dict[str, Any]:
    merged = dict(user)
    if USER_GROUP_TYPE in found:
        merged["cohort_ids"] = _union(user.get("cohort_ids"), found[USER_GROUP_TYPE])
    group_found = {t: ids for t, ids in found.items() if t != USER_GROUP_TYPE}
    if group_found:
        sent = user.get("group_cohort_ids")
        by_type: dict[str, Any] = dict(sent) if isinstance(sent, Mapping) else {}
        for group_type, ids in group_found.items():
            names = by_type.get(group_type)
            by_name: dict[str, Any] = dict(names) if isinstance(names, Mapping) else {}
            name = keys[group_type]
            by_name[name] = _union(by_name.get(name), ids)
            by_type[group_type] = by_name
        merged["group_cohort_ids"] = by_type
    return merged
