"""Domain errors. They carry a stable code and a sentence for people; no HTTP here.

`api/http/errors.py` holds the one table that turns each class into a status code.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the services raise on purpose."""

    default_code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class Invalid(DomainError):
    """The input is missing or wrong; the message names the field."""

    default_code = "invalid_input"


class NotFound(DomainError):
    default_code = "not_found"


class AlreadyExists(DomainError):
    default_code = "already_exists"


class Conflict(DomainError):
    """The write lost a race it cannot resolve by waiting (e.g. a concurrent create)."""

    default_code = "conflict"


class Unauthenticated(DomainError):
    default_code = "unauthenticated"


class Forbidden(DomainError):
    default_code = "forbidden"


class RateLimited(DomainError):
    default_code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class PendingApproval(DomainError):
    """Not a failure: the change was held for review as change request `change_request_id`
    (its deployment requires approval), and nothing else was written. The API answers 202."""

    default_code = "pending_approval"

    def __init__(self, message: str, *, change_request_id: int, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.change_request_id = change_request_id


class Unavailable(DomainError):
    """The database cannot be reached (or is locked by someone else) right now; retry later.

    Nothing was changed: a write that gets this error left nothing behind.
    """

    default_code = "database_unavailable"

    def __init__(self, message: str, *, retry_after: int = 1, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after
