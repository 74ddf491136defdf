"""The per-variant sums results are computed from, and the aggregate keys they are kept under.

For each (experiment, aggregate key, variant) ingestion keeps fourteen numbers, as a plain list
in this order (the event writer moves them millions of times; a list indexed by constant is the
cheapest form CPython has):

    USERS          exposed users with at least one event under the key (under "": all exposed)
    EXCLUDED       users excluded for seeing two variants (kept under "" only)
    COUNT_SUM      Σ per-user event counts          COUNT_SQUARES  Σ per-user counts²
    TOTAL_SUM      Σ per-user property totals       TOTAL_SQUARES  Σ per-user totals²

and the same over each user's events in the CUPED window before their exposure (x, the
covariate), with the cross products CUPED's θ needs:

    PRE_USERS      users with at least one event before exposure
    PRE_COUNT_SUM, PRE_COUNT_SQUARES, PRE_TOTAL_SUM, PRE_TOTAL_SQUARES
    CROSS_USERS    users with events both before and after     CROSS_COUNT  Σ count × pre count
    CROSS_TOTAL    Σ total × pre total

A user's totals under a key are `[count, total, first time, pre count, pre total]` (ports.py;
rows written before CUPED have the first three only).

Aggregate keys: "" (every exposed user), `hour_key(t)` (users whose exposure began in that
hour), an event type, `property_key(type, name)` and `filtered_key(metric id)` (metrics.py).

Two tables hold them (store/tables.py): `experiment_variant_stats` the running totals, and
`experiment_variant_history` what each hour of processing (`hour_of(received_at)`) added to
them, so results can be shown as they stood at the end of any hour. The history skips the
hour keys: they are a time series already.
"""

from __future__ import annotations

(USERS, EXCLUDED, COUNT_SUM, COUNT_SQUARES, TOTAL_SUM, TOTAL_SQUARES, PRE_USERS, PRE_COUNT_SUM,
 PRE_COUNT_SQUARES, PRE_TOTAL_SUM, PRE_TOTAL_SQUARES, CROSS_USERS, CROSS_COUNT, CROSS_TOTAL) = range(14)
SUM_NAMES = ("users", "excluded", "count_sum", "count_squares", "total_sum", "total_squares",
             "pre_users", "pre_count_sum", "pre_count_squares", "pre_total_sum", "pre_total_squares",
             "cross_users", "cross_count", "cross_total")
USER_COUNTS = (USERS, EXCLUDED, PRE_USERS, CROSS_USERS)  # whole numbers; the others are floats
# The sums results read, in this order (EXCLUDED is counted once, for the whole experiment).
RESULT_SUMS = tuple(name for name in SUM_NAMES if name != "excluded")

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


def add_user(sums: Sums, totals: list[float], sign: int = 1) -> None:
    """Add (sign 1) or take out (sign -1) one user's totals under one key (`[count, total,
    first time, pre count, pre total]`, the last two optional)."""
    count, total = totals[0], totals[1]
    if count:
        sums[USERS] += sign
        sums[COUNT_SUM] += sign * count
        sums[COUNT_SQUARES] += sign * count * count
        sums[TOTAL_SUM] += sign * total
        sums[TOTAL_SQUARES] += sign * total * total
    if len(totals) > 3 and totals[3]:
        pre_count, pre_total = totals[3], totals[4]
        sums[PRE_USERS] += sign
        sums[PRE_COUNT_SUM] += sign * pre_count
        sums[PRE_COUNT_SQUARES] += sign * pre_count * pre_count
        sums[PRE_TOTAL_SUM] += sign * pre_total
        sums[PRE_TOTAL_SQUARES] += sign * pre_total * pre_total
        if count:
            sums[CROSS_USERS] += sign
            sums[CROSS_COUNT] += sign * count * pre_count
            sums[CROSS_TOTAL] += sign * total * pre_total
