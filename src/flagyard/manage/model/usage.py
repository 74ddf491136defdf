"""A flag's usage as the management side reads it: evaluations per deployment and day, and
whether the flag looks finished (unused, or serving one variant to everyone) for a while."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flagyard.manage.model.document import iso

# The console calls a flag stale after this long without an evaluation or with one variant
# served to everyone unchanged; lists and the API take any number of days.
STALE_AFTER_DAYS = 30
MAX_DAYS = 365


@dataclass(frozen=True, slots=True)
class UsageDay:
    """Evaluations of one flag through one deployment on one UTC day."""

    deployment_id: int
    day: date
    evaluations: int
    last_evaluated_at: datetime


@dataclass(frozen=True, slots=True)
class DeploymentUsage:
    deployment_id: int
    label: str  # "" when the deployment is gone
    last_evaluated_at: datetime | None
    evaluations: int  # over the period asked for
    days: tuple[tuple[date, int], ...]  # every day of the period, oldest first, zeros included


@dataclass(frozen=True, slots=True)
class FlagUsage:
    flag_id: int
    flag_key: str
    period_days: int
    period_start: date
    last_evaluated_at: datetime | None
    evaluations: int
    deployments: tuple[DeploymentUsage, ...]  # linked deployments first, then any evaluated
    not_evaluated_days: int  # whole days since the last evaluation (since creation, if none)
    served_to_everyone: str | None
    unchanged_days: int  # whole days since the flag last changed


def whole_days(since: datetime, now: datetime) -> int:
    return max(0, (now - since) // timedelta(days=1))


def period(days: int, today: date) -> list[date]:
    """The `days` UTC days ending today, oldest first."""
    return [today - timedelta(days=back) for back in range(days - 1, -1, -1)]


def usage_document(usage: FlagUsage) -> dict[str, Any]:
    return {
        "flagId": str(usage.flag_id),
        "key": usage.flag_key,
        "days": usage.period_days,
        "since": usage.period_start.isoformat(),
        "lastEvaluatedAt": iso(usage.last_evaluated_at),
        "evaluations": usage.evaluations,
        "notEvaluatedForDays": usage.not_evaluated_days,
        "servedToEveryone": usage.served_to_everyone,
        "unchangedForDays": usage.unchanged_days,
        "deployments": [
            {
                "deploymentId": str(d.deployment_id),
                "label": d.label,
                "lastEvaluatedAt": iso(d.last_evaluated_at),
                "evaluations": d.evaluations,
                "daily": [{"date": day.isoformat(), "evaluations": n} for day, n in d.days],
            }
            for d in usage.deployments
        ],
    }
