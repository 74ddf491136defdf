"""Reading the evaluation sums the serving path's usage writer keeps (store/serve/usage_writer.py)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from flagyard.manage.model.usage import UsageDay
from flagyard.store.tables import flag_usage


class UsageRepository:
    def __init__(self, connection: sa.Connection) -> None:
        self._conn = connection

    def days(self, flag_id: int, since: date) -> list[UsageDay]:
        query = (sa.select(flag_usage.c.deployment_id, flag_usage.c.day, flag_usage.c.evaluations,
                           flag_usage.c.last_evaluated_at)
                 .where(flag_usage.c.flag_id == flag_id, flag_usage.c.day >= since)
                 .order_by(flag_usage.c.deployment_id, flag_usage.c.day))
        return [UsageDay(*row) for row in self._conn.execute(query)]

    def last_evaluated(self, flag_id: int) -> dict[int, datetime]:
        query = (sa.select(flag_usage.c.deployment_id, sa.func.max(flag_usage.c.last_evaluated_at))
                 .where(flag_usage.c.flag_id == flag_id).group_by(flag_usage.c.deployment_id))
        return {deployment_id: last for deployment_id, last in self._conn.execute(query)}
