"""A flag's usage: when and how often it was evaluated through each deployment, and whether it
is a candidate for removal (unused, or one variant served to everyone, for a while)."""

from __future__ import annotations

from collections import defaultdict

from flagyard.clock import Clock, utc_now
from flagyard.errors import Invalid
from flagyard.manage.changes import load_flag
from flagyard.manage.model.access import Principal
from flagyard.manage.model.flags import Kind
from flagyard.manage.model.usage import MAX_DAYS, DeploymentUsage, FlagUsage, period, whole_days
from flagyard.manage.ports import UnitOfWorkFactory


class FlagUsageService:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._uow = uow_factory
        self._clock = clock

    def usage(self, principal: Principal, kind: Kind, flag_id: int, days: int = 30) -> FlagUsage:
        """Sums over the last `days` UTC days, today included. Counts reach the database every
        few seconds (serve/usage.py), so the last ones may not show yet."""
        if not 1 <= days <= MAX_DAYS:
            raise Invalid(f"days must be between 1 and {MAX_DAYS}", code="invalid_days")
        now = self._clock()
        span = period(days, now.date())
        with self._uow(transaction=False) as uow:
            flag = load_flag(uow, principal, kind, flag_id)
            sums = uow.usage.days(flag.id, span[0])
            last = uow.usage.last_evaluated(flag.id)
            shown = [*flag.deployments, *sorted(set(last) - set(flag.deployments))]
            found = uow.deployments.get_many(shown)
        per_day: dict[int, dict[object, int]] = defaultdict(dict)
        for row in sums:
            per_day[row.deployment_id][row.day] = row.evaluations
        deployments = tuple(
            DeploymentUsage(
                deployment_id=deployment_id,
                label=found[deployment_id].label if deployment_id in found else "",
                last_evaluated_at=last.get(deployment_id),
                evaluations=sum(per_day[deployment_id].values()),
                days=tuple((day, per_day[deployment_id].get(day, 0)) for day in span),
            )
            for deployment_id in shown
        )
        latest = max(last.values(), default=None)
        return FlagUsage(
            flag_id=flag.id,
            flag_key=flag.key,
            period_days=days,
            period_start=span[0],
            last_evaluated_at=latest,
            evaluations=sum(d.evaluations for d in deployments),
            deployments=deployments,
            not_evaluated_days=whole_days(latest or flag.created_at, now),
            served_to_everyone=flag.served_to_everyone,
            unchanged_days=whole_days(flag.last_modified_at or flag.created_at, now),
        )
