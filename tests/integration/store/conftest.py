"""A migrated database shared by a module's tests (files that need one per test define their
own `engine`): SQLite by default, PostgreSQL when FLAGYARD_TEST_DATABASE_URL names a server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from flagyard.store.db import make_engine
from flagyard.store.migrate import upgrade
from tests.support.server import fresh_database_url


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = make_engine(fresh_database_url(Path(tmp_path_factory.mktemp("store"))))
    upgrade(engine)
    yield engine
    engine.dispose()
