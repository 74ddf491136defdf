"""Translate driver errors into domain errors at the store boundary."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

from flagyard.errors import AlreadyExists, Conflict, DomainError, Unavailable

# Unique constraints a client can run into, by the words that identify them in either
# SQLite's message ("UNIQUE constraint failed: flags.project_id, flags.key") or PostgreSQL's
# constraint name ("uq_flags_project_id_key").
_UNIQUE = (
    (("flags.project_id, flags.key", "uq_flags_project_id_key"),
     AlreadyExists("key is already used by a flag, experiment, holdout or mutex in this project", code="key_taken")),
    (("deployments.project_id, deployments.label", "uq_deployments_project_id_label"),
     AlreadyExists("label is already used by a deployment in this project", code="label_taken")),
    (("versions.flag_id, versions.version", "uq_versions_flag_id_version"),
     Conflict("the flag changed concurrently; retry the request", code="concurrent_change")),
)


def translate(error: sa_exc.DBAPIError | sa_exc.TimeoutError) -> DomainError | None:
    if not isinstance(error, sa_exc.DBAPIError):
        return Unavailable("no database connection came free in time; retry the request")
    text = str(error.orig)
    constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None) or ""
    if isinstance(error, sa_exc.IntegrityError):
        for needles, domain_error in _UNIQUE:
            if any(n in text or n == constraint for n in needles):
                return type(domain_error)(domain_error.message, code=domain_error.code)
    if getattr(error.orig, "sqlstate", None) in ("40P01", "40001"):
        # PostgreSQL broke a deadlock or a serialization conflict between two writers.
        return Conflict("the item changed concurrently; retry the request", code="concurrent_change")
    if isinstance(error, sa_exc.OperationalError) and "database is locked" in text:
        return Conflict("the database is busy; retry the request", code="database_busy")
    if is_unreachable(error):
        return Unavailable("the database is unreachable; retry the request", retry_after=1)
    return None


# PostgreSQL SQLSTATEs that mean the server went away or is not accepting connections (class 08:
# connection exceptions; 57P01-57P03: shut down by the administrator, crash, starting up).
_GONE_STATES = ("08", "57P01", "57P02", "57P03")
# SQLite's words when the file itself cannot be opened or read.
_SQLITE_GONE = ("unable to open database file", "disk I/O error")


def is_unreachable(error: BaseException) -> bool:
    """True when the error says the database cannot be reached, not that the request was bad."""
    if isinstance(error, sa_exc.TimeoutError):
        return True  # no pooled connection came free in time: every one is stuck on a dead server
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error, sa_exc.OperationalError):
        return False
    state = getattr(error.orig, "sqlstate", None)
    if state is not None:
        return str(state).startswith(_GONE_STATES)
    text = str(error.orig)
    # psycopg raises OperationalError without a SQLSTATE when connecting fails or the socket
    # dies; SQLite raises it for many things, so only its "file unreachable" words count.
    return error.orig.__class__.__module__.startswith("psycopg") or any(w in text for w in _SQLITE_GONE)
