"""Date and date-time query parameters (start, end) as the history routes read them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flagyard.errors import Invalid


def query_moment(raw: str | None, field: str, *, end_of_day: bool) -> datetime | None:
    """A date means the whole day: `end=2024-05-01` includes changes made on May 1st."""
    if raw is None or raw == "":
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            moment = datetime.combine(day, time.min, tzinfo=UTC)
            return moment + timedelta(days=1) if end_of_day else moment
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise Invalid(f"{field} must be an ISO 8601 date or date-time", code="invalid_date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
