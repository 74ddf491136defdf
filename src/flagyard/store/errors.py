"""Translate driver errors into domain errors at the store boundary."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

from flagyard.errors import AlreadyExists, Conflict, DomainError

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


def translate(error: sa_exc.DBAPIError) -> DomainError | None:
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
    return None
