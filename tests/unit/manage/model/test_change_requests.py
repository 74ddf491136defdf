"""The change request's rules: who may approve, which moves are allowed, staleness, and the
three-way rebase of a proposal onto a flag that moved."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flagyard.errors import Conflict, Forbidden
from flagyard.manage.model.access import Principal
from flagyard.manage.model.change_requests import (
    ChangeRequest,
    ProposalType,
    Status,
    identity,
    rebased,
)

NOW = datetime(2026, 12, 7, tzinfo=UTC)
AUTHOR = Principal(key_id=0, name="ana@example.com", project_ids=None, read_only=False)
REVIEWER = Principal(key_id=0, name="bo@example.com", project_ids=None, read_only=False)


def request(**fields: object) -> ChangeRequest:
    values: dict[str, object] = dict(
        project_id=1, flag_id=7, flag_key="checkout", kind="flag", type=ProposalType.VERSION, base_version=3,
        proposed={"rolloutPercentage": 50}, author=AUTHOR.name, author_identity=identity(AUTHOR), created_at=NOW)
    values.update(fields)
    return ChangeRequest(**values)  # type: ignore[arg-type]


def test_approve__by_someone_else__approved_with_reviewer() -> None:
    cr = request()
    cr.approve(REVIEWER, NOW)
    assert cr.status is Status.APPROVED and cr.reviewed_by == "bo@example.com" and cr.reviewed_at == NOW


def test_approve__by_the_author__forbidden_whatever_the_key_is_called() -> None:
    with pytest.raises(Forbidden):
        request().approve(AUTHOR, NOW)
    # A key is itself by id: another key with the author's name is someone else
    key = Principal(key_id=4, name="ci", project_ids=None, read_only=False)
    by_key = request(author="ci", author_identity=identity(key))
    with pytest.raises(Forbidden):
        by_key.approve(key, NOW)
    by_key.approve(Principal(key_id=5, name="ci", project_ids=None, read_only=False), NOW)
    assert by_key.status is Status.APPROVED


@pytest.mark.parametrize("status", [Status.APPROVED, Status.REJECTED, Status.APPLIED])
def test_approve__only_an_open_request(status: Status) -> None:
    with pytest.raises(Conflict, match=status.value):
        request(status=status).approve(REVIEWER, NOW)


def test_apply__needs_approval_and_the_base_version() -> None:
    with pytest.raises(Conflict, match="open"):
        request().ensure_applicable(3)
    approved = request(status=Status.APPROVED)
    with pytest.raises(Conflict, match="version 3, it is now at version 4"):
        approved.ensure_applicable(4)
    approved.ensure_applicable(3)
    approved.ensure_applicable(None)  # a schedule: checked against the flag when applied


def test_reject__open_or_approved_only() -> None:
    approved = request(status=Status.APPROVED)
    approved.reject(AUTHOR, NOW)  # an author may withdraw their own
    assert approved.status is Status.REJECTED
    with pytest.raises(Conflict):
        approved.reject(REVIEWER, NOW)


def test_rebase__keeps_the_proposal_over_later_changes_elsewhere() -> None:
    base = {"version": 3, "rolloutPercentage": 10, "description": "", "tags": []}
    proposed = {"version": 4, "rolloutPercentage": 50, "description": "", "tags": []}
    current = {"version": 5, "rolloutPercentage": 10, "description": "changed since", "tags": ["x"]}
    assert rebased(base, proposed, current) == {"version": 5, "rolloutPercentage": 50,
                                                "description": "changed since", "tags": ["x"]}


def test_rebase__the_same_change_made_since_is_no_conflict() -> None:
    base, proposed = {"enabled": False}, {"enabled": True}
    assert rebased(base, proposed, {"enabled": True}) == {"enabled": True}


def test_rebase__a_field_changed_both_ways__conflict_naming_it() -> None:
    base = {"rolloutPercentage": 10, "enabled": False}
    proposed = {"rolloutPercentage": 50, "enabled": True}
    current = {"rolloutPercentage": 90, "enabled": False}
    with pytest.raises(Conflict, match="rolloutPercentage") as raised:
        rebased(base, proposed, current)
    assert "enabled" not in raised.value.message


def test_rebase__a_field_the_proposal_removed_stays_removed() -> None:
    assert rebased({"a": 1, "b": 2}, {"b": 2}, {"a": 1, "b": 3}) == {"b": 3}
