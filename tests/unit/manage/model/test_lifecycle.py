"""An experiment's lifecycle steps on the model: what each changes and what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flagyard.errors import Conflict, Invalid
from flagyard.manage.model.flags import Flag, Kind, Variant
from flagyard.manage.model.lifecycle import decide, next_run, start, stop

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def experiment(**fields: object) -> Flag:
    flag = Flag(project_id=1, kind=Kind.EXPERIMENT, key="checkout", bucketing_salt="salt1234", created_at=NOW,
                created_by="ana", id=5, deployments=[1], variants=[Variant("control"), Variant("treatment")])
    for name, value in fields.items():
        setattr(flag, name, value)
    return flag


def test_start__enabled_with_a_start_date__twice_is_a_conflict() -> None:
    flag = experiment()
    start(flag, NOW)
    assert flag.state == "running" and flag.start_date == "2026-12-07T09:30:00.000Z"
    with pytest.raises(Conflict):
        start(flag, NOW)


def test_start__needs_a_deployment() -> None:
    with pytest.raises(Invalid, match="deployments"):
        start(experiment(deployments=[]), NOW)


def test_stop__ends_now() -> None:
    flag = experiment(enabled=True, started=True, start_date="2026-12-01T00:00:00.000Z")
    stop(flag, NOW)
    assert flag.state == "stopped" and flag.end_date == "2026-12-07T09:30:00.000Z"


def test_rollout__only_the_variant_weighs() -> None:
    flag = experiment(rollout_percentage=40)
    decide(flag, "rollout", "treatment", "better", NOW)
    assert flag.rollout_weights == {"control": 0, "treatment": 1} and flag.rollout_percentage == 100
    assert (flag.decision, flag.rolled_out_variant, flag.enabled) == ("rollout", "treatment", True)


def test_rollout__an_unknown_variant_names_the_variants() -> None:
    flag = experiment()
    with pytest.raises(Invalid, match="control, treatment"):
        decide(flag, "rollout", "winner", None, NOW)
    assert flag.decision is None and flag.rollout_weights == {"control": 1, "treatment": 1}


def test_decide__flags_have_no_lifecycle() -> None:
    flag = experiment()
    flag.kind = Kind.FLAG
    with pytest.raises(Invalid, match="not an experiment"):
        decide(flag, "rollback", None, None, NOW)


def test_next_run__a_fresh_copy() -> None:
    old = experiment(enabled=True, started=True, decision="rollback", start_date="x", end_date="y", version=7)
    old.variants[0].id = 11
    run = next_run(old, "checkout-2", "bo", NOW, new_salt=False)
    assert (run.id, run.key, run.version, run.state, run.decision) == (0, "checkout-2", 0, "planning", None)
    assert run.bucketing_salt == old.bucketing_salt and run.variants[0].id == 0 and old.variants[0].id == 11
    assert run.start_date is None and run.created_by == "bo"
    assert next_run(old, "checkout-3", "bo", NOW, new_salt=True).bucketing_salt != old.bucketing_salt
