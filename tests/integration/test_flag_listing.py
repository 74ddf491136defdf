"""The flag list's kept answers (manage/flag_listing.py, ADR 0101) against a real database.

Two engines on one database stand for two processes: one lists, the other writes through the
services. After every kind of write, the lister's next answer must be the bytes a process that
never listed before builds. Runs on SQLite by default and on PostgreSQL when
FLAGYARD_TEST_DATABASE_URL names a server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from flagyard.api.http.fast_json import dump_json
from flagyard.api.http.pagination import envelope_bytes
from flagyard.errors import Unauthenticated
from flagyard.manage.deployments import DeploymentService
from flagyard.manage.flag_listing import RenderedFlags
from flagyard.manage.flags import FlagFilter, FlagService
from flagyard.manage.keys import KeyService
from flagyard.manage.model.access import OPERATOR, Principal
from flagyard.manage.model.document import flag_document
from flagyard.manage.model.flags import Kind
from flagyard.manage.model.paging import Page, PageRequest
from flagyard.manage.project_import import ProjectImportService
from flagyard.manage.variants import VariantService
from flagyard.store import migrate
from flagyard.store.db import make_engine
from flagyard.store.manage.unit_of_work import unit_of_work_factory
from tests.support.server import fresh_database_url

EVERYTHING = FlagFilter(include_archived=True)
FIRST_PAGE = PageRequest(limit=1000)


@dataclass
class Processes:
    lister: Engine
    writer: Engine
    url: str


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    url = fresh_database_url(tmp_path)
    lister, writer = make_engine(url), make_engine(url)
    migrate.upgrade(writer)
    yield Processes(lister, writer, url)
    lister.dispose()
    writer.dispose()


class CountingEnvelope:
    """`envelope_bytes`, counting the answers built."""

    def __init__(self) -> None:
        self.built = 0

    def __call__(self, name: str, page: Page[bytes]) -> bytes:
        self.built += 1
        return envelope_bytes(name, page)


def listing(engine: Engine, envelope: Callable[[str, Page[bytes]], bytes] = envelope_bytes) -> RenderedFlags:
    return RenderedFlags(unit_of_work_factory(engine), lambda flag: dump_json(flag_document(flag)), envelope)


def answer(flags: RenderedFlags, principal: Principal = OPERATOR, filters: FlagFilter = EVERYTHING,
           page: PageRequest = FIRST_PAGE) -> bytes:
    return flags.answer(principal, Kind.FLAG, filters, page, "flags")


def fresh_answer(processes: Processes, principal: Principal = OPERATOR, filters: FlagFilter = EVERYTHING,
                 page: PageRequest = FIRST_PAGE) -> bytes:
    """The answer of a process that has never listed."""
    engine = make_engine(processes.url)
    try:
        return answer(listing(engine), principal, filters, page)
    finally:
        engine.dispose()


def create_flag(writer: Engine, project_id: int, key: str, **fields: Any) -> int:
    return FlagService(unit_of_work_factory(writer)).create(
        OPERATOR, Kind.FLAG, {"project_id": project_id, "key": key, **fields}).id


def test_answer__asked_again_with_nothing_changed__kept_bytes_sent_without_building(
        processes: Processes) -> None:
    # Given a project with two flags, listed once
    project = KeyService(unit_of_work_factory(processes.writer)).create_project("p").id
    create_flag(processes.writer, project, "a")
    create_flag(processes.writer, project, "b")
    envelope = CountingEnvelope()
    flags = listing(processes.lister, envelope)
    first = answer(flags)

    # When the same question is asked again
    again = answer(flags)

    # Then the same bytes come back, built once
    assert again == first == fresh_answer(processes)
    assert envelope.built == 1


def test_answer__every_kind_of_write_by_another_process__next_answer_as_if_never_listed(
        processes: Processes) -> None:
    # Given a project, a deployment and a flag, listed whole and page by page by one process
    uow = unit_of_work_factory(processes.writer)
    project = KeyService(uow).create_project("p").id
    deployment = DeploymentService(uow).create(OPERATOR, project, "production").id
    flag_id = create_flag(processes.writer, project, "a", variants=[{"key": "on"}])
    flags = listing(processes.lister)
    first_of_one = PageRequest(limit=1)
    flags_service, variants = FlagService(uow), VariantService(uow)
    writes: list[tuple[str, Callable[[], object]]] = [
        ("create", lambda: create_flag(processes.writer, project, "b")),
        ("edit", lambda: flags_service.edit(OPERATOR, Kind.FLAG, flag_id, {"name": "renamed"})),
        ("add a variant", lambda: variants.create(OPERATOR, Kind.FLAG, flag_id, {"key": "beta", "payload": [1]})),
        ("edit a variant", lambda: variants.edit(OPERATOR, Kind.FLAG, flag_id, "beta", {"payload": {"n": 2}})),
        ("link a deployment", lambda: DeploymentService(uow).link(OPERATOR, Kind.FLAG, flag_id, [deployment])),
        ("enable", lambda: flags_service.set_enabled(OPERATOR, Kind.FLAG, flag_id, True)),
        ("import a project file", lambda: ProjectImportService(uow).apply(OPERATOR, project, {
            "formatVersion": 1, "flags": [{"key": "c", "variants": [{"key": "on"}]},
                                          {"key": "a", "name": "imported", "variants": [{"key": "on"}]}]})),
        ("archive", lambda: flags_service.edit(OPERATOR, Kind.FLAG, flag_id, {"archive": True})),
    ]
    for write, apply in writes:
        answer(flags)
        answer(flags, page=first_of_one)
        answer(flags, filters=FlagFilter())

        # When another process makes the write
        apply()

        # Then this process's next answers are those of a process that never listed
        assert answer(flags) == fresh_answer(processes), write
        assert answer(flags, page=first_of_one) == fresh_answer(processes, page=first_of_one), write
        assert answer(flags, filters=FlagFilter()) == fresh_answer(processes, filters=FlagFilter()), write


def test_answer__key_of_one_project__kept_while_only_another_project_changes(processes: Processes) -> None:
    # Given two projects with a flag each, and a key that sees only the first
    keys = KeyService(unit_of_work_factory(processes.writer))
    mine, other = keys.create_project("mine").id, keys.create_project("other").id
    flag_id = create_flag(processes.writer, mine, "a")
    create_flag(processes.writer, other, "b")
    scoped = Principal(key_id=2, name="scoped", project_ids=frozenset({mine}), read_only=True)
    envelope = CountingEnvelope()
    flags = listing(processes.lister, envelope)
    kept = answer(flags, scoped)

    # When only the other project changes, then the kept answer stands
    create_flag(processes.writer, other, "c")
    assert answer(flags, scoped) == kept and envelope.built == 1

    # When the first project changes, then the answer is built again and shows it
    FlagService(unit_of_work_factory(processes.writer)).edit(OPERATOR, Kind.FLAG, flag_id, {"name": "renamed"})
    renamed = answer(flags, scoped)
    assert renamed == fresh_answer(processes, scoped) and b'"renamed"' in renamed
    assert envelope.built == 2


def test_answer__confirming_a_key__refused_once_another_process_revokes_it(processes: Processes) -> None:
    # Given a key of one project, authenticated by the lister, and an answer kept for it
    writer_keys = KeyService(unit_of_work_factory(processes.writer))
    project = writer_keys.create_project("keyed").id
    create_flag(processes.writer, project, "a")
    issued = writer_keys.create("lister", project_ids=[project])
    lister_keys = KeyService(unit_of_work_factory(processes.lister))
    principal = lister_keys.authenticate(issued.secret)
    flags = listing(processes.lister)
    kept = flags.answer(principal, Kind.FLAG, EVERYTHING, FIRST_PAGE, "flags", confirm_key=True)
    assert lister_keys.remembered(issued.secret) == principal

    # When the other process revokes the key
    writer_keys.revoke(str(issued.key.id))

    # Then an answer that confirms the key is refused, though the flags stand still
    with pytest.raises(Unauthenticated) as refused:
        flags.answer(principal, Kind.FLAG, EVERYTHING, FIRST_PAGE, "flags", confirm_key=True)
    assert refused.value.code == "revoked_key"
    assert answer(flags, principal) == kept  # not confirming: the caller vouches for the key
