"""Which locks an event-writer transaction takes on PostgreSQL, from its jobs' scopes (ADR 0106).

Per project, one of:

- **the whole project**: `pg_advisory_xact_lock(0x4576, project)`, exclusive. For jobs that
  touch every user (a metric counted from the raw events, a CUPED window recounted, metric
  definitions replaced), and for a group whose users would need more bucket locks than allowed.
- **some of its users**: the same lock *shared*, then one exclusive advisory lock per bucket of
  the users' keys (`crc32(key) mod 65536`; a single bigint key `0x4576 << 48 | project << 16 |
  bucket`, a lock space apart from the two-int project locks). Transactions of disjoint buckets
  run at once; two that share a bucket run one after the other.

Every transaction takes its project locks in ascending project order first, then its bucket
locks in ascending key order, so no two writers wait for each other in a cycle. At most
`MAX_BUCKET_LOCKS` bucket locks a transaction bounds the locks a writer holds (PostgreSQL's lock
table has room for `max_locks_per_transaction × max_connections`): the writer ends a group before
a job that would take it past that, and a single job past it takes its project whole.

SQLite needs none of this: `BEGIN IMMEDIATE` already runs one writer at a time.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from flagyard.measure.ports import Scope

PROJECT_LOCK = 0x4576  # the first key of the two-int project lock
BUCKETS = 1 << 16
MAX_BUCKET_LOCKS = 256
_BUCKET_SPACE = PROJECT_LOCK << 48


def bucket(key: str) -> int:
    """The lock bucket of a user, device or dedup key: the same in every process."""
    return zlib.crc32(key.encode()) & (BUCKETS - 1)


def bucket_lock_key(project_id: int, bucket_number: int) -> int:
    return _BUCKET_SPACE | project_id << 16 | bucket_number


class LockPlan:
    """The locks of one transaction, built job by job as the writer groups them.

    `limit` None: no bucket locks at all (SQLite): every job is admitted and nothing is counted."""

    def __init__(self, limit: int | None = MAX_BUCKET_LOCKS) -> None:
        self._limit = limit
        self.whole: set[int] = set()
        self.buckets: dict[int, set[int]] = {}

    def admit(self, scopes: Iterable[Scope], *, first: bool = False) -> bool:
        """Add one job's scopes to the plan; False, with the plan unchanged, when they would take
        it past the bucket limit. The first job of a group is always admitted (past the limit its
        project is taken whole)."""
        if self._limit is None:
            return True
        whole = set(self.whole)
        buckets = {p: set(b) for p, b in self.buckets.items()}
        for scope in scopes:
            project = scope.project_id
            if scope.keys is None or project in whole:
                whole.add(project)
                buckets.pop(project, None)
                continue
            found = buckets.setdefault(project, set())
            for key in scope.keys:
                found.add(bucket(key))
                if len(found) > self._limit:
                    break
        over = sum(len(b) for b in buckets.values()) > self._limit
        if over and not first:
            return False
        if over:  # a job too wide for bucket locks takes its projects whole
            whole.update(buckets)
            buckets.clear()
        self.whole, self.buckets = whole, buckets
        return True

    def project_locks(self) -> list[tuple[int, bool]]:
        """(project, exclusive) in the order to take them."""
        return sorted([(p, True) for p in self.whole] + [(p, False) for p in self.buckets])

    def bucket_locks(self) -> list[int]:
        """The bucket locks' keys in the order to take them."""
        return sorted(bucket_lock_key(p, b) for p, found in self.buckets.items() for b in found)
