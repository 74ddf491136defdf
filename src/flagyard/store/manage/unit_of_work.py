"""One transaction per use case: explicit commit, rollback by default."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import TracebackType

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from flagyard.store.db import WRITE_OPTION
from flagyard.store.errors import translate
from flagyard.store.manage.audit_repository import AuditRepository
from flagyard.store.manage.change_request_repository import ChangeRequestRepository
from flagyard.store.manage.cohort_repository import CohortRepository
from flagyard.store.manage.deployment_repository import DeploymentRepository, ProjectRepository
from flagyard.store.manage.flag_repository import FlagRepository
from flagyard.store.manage.inclusion_repository import InclusionRepository
from flagyard.store.manage.key_repository import KeyRepository
from flagyard.store.manage.run_repository import RunRepository
from flagyard.store.manage.schedule_repository import ScheduleRepository
from flagyard.store.manage.usage_repository import UsageRepository
from flagyard.store.manage.user_repository import (
    FailureRepository,
    SessionRepository,
    UserRepository,
)
from flagyard.store.manage.version_repository import VersionRepository
from flagyard.store.manage.webhook_repository import (
    DeliveryRepository,
    LeaseRepository,
    NoticeRepository,
    WebhookRepository,
)

CommitListener = Callable[[Iterable[int]], None]


class SqlUnitOfWork:
    def __init__(self, engine: Engine, *, write: bool = False, transaction: bool = True,
                 on_commit: CommitListener | None = None) -> None:
        self._engine = engine
        self._write = write
        # PostgreSQL reads at READ COMMITTED see a fresh snapshot per statement even inside a
        # transaction, so a read that asks for none runs in autocommit: no BEGIN and ROLLBACK
        # round trips. SQLite keeps its transaction (one snapshot for the reads, no round trip).
        self._autocommit = not transaction and not write and engine.dialect.name == "postgresql"
        self._on_commit = on_commit
        self._connection: sa.Connection | None = None
        self._transaction: sa.RootTransaction | None = None

    def __enter__(self) -> SqlUnitOfWork:
        try:
            connection = self._engine.connect()
            if self._write:
                connection = connection.execution_options(**{WRITE_OPTION: True})
            elif self._autocommit:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            self._connection = connection
            self._transaction = connection.begin()
        except (sa_exc.DBAPIError, sa_exc.TimeoutError) as error:
            if self._connection is not None:
                self._connection.close()
            self._raise_translated(error)
        self.flags = FlagRepository(connection)
        self.inclusions = InclusionRepository(connection)
        self.deployments = DeploymentRepository(connection)
        self.projects = ProjectRepository(connection)
        self.versions = VersionRepository(connection)
        self.keys = KeyRepository(connection)
        self.cohorts = CohortRepository(connection)
        self.users = UserRepository(connection)
        self.sessions = SessionRepository(connection)
        self.sign_in_failures = FailureRepository(connection)
        self.schedules = ScheduleRepository(connection)
        self.webhooks = WebhookRepository(connection)
        self.deliveries = DeliveryRepository(connection)
        self.leases = LeaseRepository(connection)
        self.audit = AuditRepository(connection)
        self.notices = NoticeRepository(connection)
        self.change_requests = ChangeRequestRepository(connection)
        self.runs = RunRepository(connection)
        self.usage = UsageRepository(connection)
        return self

    @property
    def connection(self) -> sa.Connection:
        """For read models that run their own queries inside this transaction."""
        assert self._connection is not None
        return self._connection

    def commit(self) -> None:
        assert self._transaction is not None
        try:
            self._transaction.commit()
        except sa_exc.DBAPIError as error:
            self._raise_translated(error)
        if self._on_commit is not None and self.projects.touched:
            # Tell this process's caches at once; other processes see the revision change.
            self._on_commit(frozenset(self.projects.touched))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._connection is not None and self._transaction is not None
        try:
            if self._transaction.is_active:
                self._transaction.rollback()
        except sa_exc.DBAPIError:
            if exc is None:
                raise
            # The connection died with the transaction; the server has rolled it back.
        finally:
            self._connection.close()
        if isinstance(exc, sa_exc.DBAPIError):
            self._raise_translated(exc)

    @staticmethod
    def _raise_translated(error: sa_exc.DBAPIError | sa_exc.TimeoutError) -> None:
        domain_error = translate(error)
        if domain_error is None:
            raise error
        raise domain_error from error


def unit_of_work_factory(engine: Engine, on_commit: CommitListener | None = None):  # type: ignore[no-untyped-def]
    def make(*, write: bool = False, transaction: bool = True) -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, write=write, transaction=transaction, on_commit=on_commit)

    return make
