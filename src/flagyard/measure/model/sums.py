"""The per-variant sums results are computed from, and the aggregate keys they are kept under.

For each (experiment, aggregate key, variant) ingestion keeps six numbers, as a plain list in
this order (the event writer moves them millions of times; a list indexed by constant is the
cheapest form CPython has):

    USERS          exposed users with at least one event under the key (under "": all exposed)
    EXCLUDED       users excluded for seeing two variants (kept under "" only)
    COUNT_SUM      Σ per-user event counts          COUNT_SQUARES  Σ per-user counts²
    TOTAL_SUM      Σ per-user property totals       TOTAL_SQUARES  Σ per-user totals²

Aggregate keys: "" (every exposed user), `hour_key(t)` (users whose exposure began in that
hour), an event type, `property_key(type, name)` and `filtered_key(metric id)` (metrics.py).

Two tables hold them (store/tables.py): `experiment_variant_stats` the running totals, and
`experiment_variant_history` what each hour of processing (`hour_of(received_at)`) added to
them, so results can be shown as they stood at the end of any hour. The history skips the
hour keys: they are a time series already.
"""

from __future__ import annotations

USERS, EXCLUDED, COUNT_SUM, COUNT_SQUARES, TOTAL_SUM, TOTAL_SQUARES = range(6)
SUM_NAMES = ("users", "excluded", "count_sum", "count_squares", "total_sum", "total_squares")

Sums = list[float]  # indexed by the names above
SumsKey = tuple[int, str, str]  # (flag id, aggregate key, variant)

ALL_EXPOSED = ""
HOUR_MS = 3_600_000
HOUR_PREFIX = "@h"


def no_sums() -> Sums:
    return [0.0] * len(SUM_NAMES)


def hour_of(ms: int) -> int:
    """The hour (since the epoch) holding the moment `ms`."""
    return ms // HOUR_MS


def is_hour_key(key: str) -> bool:
    return key.startswith(HOUR_PREFIX)


def hour_key(exposed_at: int) -> str:
    """The key of the users whose exposure began in the hour holding `exposed_at` (ms)."""
    return f"{HOUR_PREFIX}{hour_of(exposed_at)}"


def hour_start(key: str) -> int:
    """The first millisecond of an hour key's hour."""
    return int(key[len(HOUR_PREFIX):]) * HOUR_MS


def add_user(sums: Sums, count: float, total: float, sign: int = 1) -> None:
    """Add (sign 1) or take out (sign -1) one user's totals under one key."""
    sums[USERS] += sign
    sums[COUNT_SUM] += sign * count
    sums[COUNT_SQUARES] += sign * count * count
    sums[TOTAL_SUM] += sign * total
    sums[TOTAL_SQUARES] += sign * total * total
