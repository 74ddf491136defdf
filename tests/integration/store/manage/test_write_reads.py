"""What a flag's write reads along with its other statements: the current version's document
and the links' protection with the flag, whether the project has webhooks with the revision
bump, the protected deployments' labels, whether a key is unrevoked.

Runs on SQLite by default and on PostgreSQL when FLAGYARD_TEST_DATABASE_URL names a server.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from flagyard.manage.model.access import ManagementKey
from flagyard.manage.model.versions import Version
from flagyard.manage.model.webhooks import Webhook
from flagyard.manage.ports import ReadForUpdate
from flagyard.store.manage.unit_of_work import SqlUnitOfWork
from flagyard.store.tables import deployments
from tests.integration.store.manage.test_unit_of_work import (
    NOW,
    add_deployment,
    add_flag,
    add_project,
    make_flag,
    make_version,
)


def test_read_for_update__brings_the_current_versions_document_and_the_links_protection(engine: Engine) -> None:
    # Given: a flag at version 3 (versions 1 to 3 stored) linked to a protected and an open deployment
    project_id = add_project(engine)
    prod, dev = add_deployment(engine, project_id, "read-prod"), add_deployment(engine, project_id, "read-dev")
    with engine.begin() as connection:
        connection.execute(sa.update(deployments).where(deployments.c.id == prod).values(require_approval=True))
    flag = make_flag(project_id, "checkout", deployments=[dev, prod])
    flag.version = 3
    flag_id = add_flag(engine, flag)
    with SqlUnitOfWork(engine, write=True) as uow:
        for n in (1, 2, 3):
            uow.versions.add(make_version(flag_id, project_id, n))
        uow.commit()
    # When
    with SqlUnitOfWork(engine, write=True) as uow:
        read_flag = uow.flags.get(flag_id, for_update=True)
        read = uow.flags.read_for_update(flag_id)
    # Then: the stored document of version 3, the links in their order, each one's protection
    assert read_flag is not None and read_flag.deployments == [dev, prod]
    assert read == ReadForUpdate(version=3, version_config={"version": 3}, approval_labels={dev: None, prod: "read-prod"})


def test_read_for_update__flag_read_without_lock_or_not_read__nothing(engine: Engine) -> None:
    # Given
    project_id = add_project(engine)
    flag_id = add_flag(engine, make_flag(project_id, "checkout"))
    # When
    with SqlUnitOfWork(engine) as uow:
        unread = uow.flags.read_for_update(flag_id)
        uow.flags.get(flag_id)
        read_plainly = uow.flags.read_for_update(flag_id)
    # Then
    assert unread is None and read_plainly is None


def test_read_for_update__version_row_missing__document_is_none(engine: Engine) -> None:
    # Given: a flag whose row says version 2 but no version row was stored
    project_id = add_project(engine)
    flag = make_flag(project_id, "orphan")
    flag.version = 2
    flag_id = add_flag(engine, flag)
    # When
    with SqlUnitOfWork(engine, write=True) as uow:
        uow.flags.get(flag_id, for_update=True)
        read = uow.flags.read_for_update(flag_id)
    # Then
    assert read is not None and (read.version, read.version_config) == (2, None)


def test_bump_revision__says_whether_the_project_has_an_enabled_webhook(engine: Engine) -> None:
    # Given: three projects: no webhook, a disabled one, an enabled one
    bare, disabled, hooked = add_project(engine, "bare"), add_project(engine, "disabled"), add_project(engine, "hooked")
    with SqlUnitOfWork(engine, write=True) as uow:
        uow.webhooks.add(Webhook(project_id=disabled, url="https://example.com/a", events=["flag.updated"],
                                 secret="s", enabled=False, created_at=NOW))
        uow.webhooks.add(Webhook(project_id=hooked, url="https://example.com/b", events=["flag.updated"],
                                 secret="s", created_at=NOW))
        uow.commit()
    # When
    with SqlUnitOfWork(engine, write=True) as uow:
        answers = {project: uow.projects.bump_revision(project) for project in (bare, disabled, hooked)}
        uow.commit()
    # Then: each answer, and each project's revision moved
    assert answers == {bare: False, disabled: False, hooked: True}
    with SqlUnitOfWork(engine) as uow:
        assert [uow.projects.revision(project) for project in (bare, disabled, hooked)] == [1, 1, 1]


def test_labels_requiring_approval__only_protected_ones_among_those_asked__sorted(engine: Engine) -> None:
    # Given: four deployments, three of them protected
    project_id = add_project(engine)
    ids = {label: add_deployment(engine, project_id, label) for label in ("prod", "Beta", "dev", "eu")}
    with engine.begin() as connection:
        connection.execute(sa.update(deployments).where(deployments.c.id.in_(
            [ids["prod"], ids["Beta"], ids["eu"]])).values(require_approval=True))
    # When
    with SqlUnitOfWork(engine) as uow:
        asked = uow.deployments.labels_requiring_approval([ids["prod"], ids["Beta"], ids["dev"]])
        none = uow.deployments.labels_requiring_approval([])
    # Then: Python's order, as the approval message always had it
    assert asked == ["Beta", "prod"]
    assert none == []


def test_unrevoked__true_until_the_key_is_revoked(engine: Engine) -> None:
    # Given
    with SqlUnitOfWork(engine, write=True) as uow:
        key_id = uow.keys.add(ManagementKey(name="ci", key_hash="h" * 64, hint="abcd", read_only=False,
                                            created_at=NOW))
        uow.commit()
    with SqlUnitOfWork(engine) as uow:
        before = uow.keys.unrevoked(key_id)
        unknown = uow.keys.unrevoked(key_id + 1000)
    # When
    with SqlUnitOfWork(engine, write=True) as uow:
        uow.keys.revoke(key_id, NOW)
        uow.commit()
    # Then
    with SqlUnitOfWork(engine) as uow:
        assert (before, unknown, uow.keys.unrevoked(key_id)) == (True, False, False)


def test_read_for_update__names_a_key__says_whether_it_is_unrevoked(engine: Engine) -> None:
    # Given: a flag, a live key and a revoked one
    flag_id = add_flag(engine, make_flag(add_project(engine), "keyed"))
    with SqlUnitOfWork(engine, write=True) as uow:
        live = uow.keys.add(ManagementKey(name="live", key_hash="l" * 64, hint="live", read_only=False,
                                          created_at=NOW))
        revoked = uow.keys.add(ManagementKey(name="gone", key_hash="g" * 64, hint="gone", read_only=False,
                                             created_at=NOW))
        uow.keys.revoke(revoked, NOW)
        uow.commit()
    # When
    answers = {}
    for key_id in (live, revoked, None):
        with SqlUnitOfWork(engine, write=True) as uow:
            uow.flags.get(flag_id, for_update=True, key_id=key_id)
            read = uow.flags.read_for_update(flag_id)
            assert read is not None
            answers[key_id] = (read.key_id, read.key_unrevoked)
    # Then
    assert answers == {live: (live, True), revoked: (revoked, False), None: (None, False)}


def test_bump_revision__appending_a_version__stores_it_whole_after_the_bump(engine: Engine) -> None:
    # Given: a project with an enabled webhook, and a flag at version 1
    project_id = add_project(engine, "appending")
    flag_id = add_flag(engine, make_flag(project_id, "appended"))
    with SqlUnitOfWork(engine, write=True) as uow:
        uow.versions.add(make_version(flag_id, project_id, 1))
        uow.webhooks.add(Webhook(project_id=project_id, url="https://example.com/c", events=["flag.updated"],
                                 secret="s", created_at=NOW))
        uow.commit()
    second = Version(flag_id=flag_id, project_id=project_id, version=2, created_at=NOW, created_by="grace@example.com",
                     flag_config={"version": 2, "key": "appended", "nested": {"é": [1, None]}},
                     approved_by="ada@example.com", change_request_id=None)
    # When
    with SqlUnitOfWork(engine, write=True) as uow:
        hooked = uow.projects.bump_revision(project_id, appending=second)
        uow.commit()
    # Then: the version reads back as given, after the first, and the revision moved
    with SqlUnitOfWork(engine) as uow:
        first, stored = uow.versions.get(flag_id, 1), uow.versions.get(flag_id, 2)
        revision = uow.projects.revision(project_id)
    assert hooked is True
    assert first is not None and stored is not None and stored.id > first.id
    assert (stored.flag_config, stored.created_at, stored.created_by, stored.approved_by) == (
        second.flag_config, NOW, "grace@example.com", "ada@example.com")
    assert revision == 1
