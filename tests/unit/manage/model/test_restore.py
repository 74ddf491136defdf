"""Restoring a flag to a version's document: what comes back, what stays."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flagyard.errors import Invalid
from flagyard.manage.model.document import flag_document
from flagyard.manage.model.flags import Flag, Kind, Variant
from flagyard.manage.model.restore import restore

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _flag() -> Flag:
    return Flag(project_id=1, kind=Kind.FLAG, key="k", bucketing_salt="salt", created_at=NOW,
                created_by="a", id=7, variants=[Variant("on", id=11), Variant("blue", payload={"c": 1}, id=12)],
                deployments=[1], version=3)


def test_restore__brings_back_the_documents_configuration_and_keeps_identity() -> None:
    flag = _flag()
    old = flag_document(flag)
    flag.name = "renamed"
    flag.enabled = True
    flag.rollout_percentage = 40
    flag.tags = ["x"]
    flag.variants = [Variant("on", id=11), Variant("green", id=13)]
    flag.version = 6

    restore(flag, old)

    assert flag_document(flag) | {"version": 3} == old
    assert flag.version == 6 and flag.id == 7
    # The variant kept by key keeps its storage id (and so its inclusions); the new one is new
    assert [(v.key, v.id) for v in flag.variants] == [("on", 11), ("blue", 0)]


def test_restore__archived_flag__refused() -> None:
    flag = _flag()
    old = flag_document(flag)
    flag.deleted = True
    with pytest.raises(Invalid, match="archived"):
        restore(flag, old)


def test_restore__enabled_version_without_deployments__refused() -> None:
    flag = _flag()
    flag.deployments = []
    old = flag_document(flag) | {"enabled": True}
    with pytest.raises(Invalid, match="cannot activate without deployments"):
        restore(flag, old)
