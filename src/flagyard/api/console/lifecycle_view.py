"""What an experiment page's lifecycle card shows: where the experiment stands on the path
planning → running → decision → completed, what can be done from there, and its runs.

The stage is read from the API's `state` (docs/experiments.md): `stopped` is the decision stage
(nothing served, a decision awaited), `decision-made` is completed, except that a decision to
keep running leaves the experiment running.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flagyard.api.console.services import ConsoleServices
from flagyard.manage.model.access import Principal
from flagyard.manage.model.flags import Flag
from flagyard.manage.model.lifecycle import run_document

STAGES = (("planning", "Planning"), ("running", "Running"), ("decision", "Decision"), ("completed", "Completed"))
DECISION_CHOICES = (("rollout", "Roll out a variant", "serve one variant to everyone the experiment targets"),
                    ("rollback", "Roll back", "stop serving it: everyone gets the default again"),
                    ("continue-running", "Keep running", "record the decision; nothing served changes"))
DECISION_WORDS = {"rollout": "rolled out", "rollback": "rolled back", "continue-running": "kept running"}


def stage_of(state: str | None, decision: str | None, enabled: bool) -> str | None:
    """The step of the path the experiment is on (None once archived)."""
    if state == "decision-made":
        return "running" if decision == "continue-running" and enabled else "completed"
    return {"planning": "planning", "running": "running", "stopped": "decision"}.get(state or "")


def decision_text(decision: str | None, variant: str | None) -> str:
    if not decision:
        return ""
    words = DECISION_WORDS.get(decision, decision)
    return f"{words} {variant}" if variant else words


@dataclass(frozen=True)
class LifecycleView:
    stage: str | None
    can_start: bool  # now, from planning or after a stop
    can_schedule_start: bool
    can_stop: bool
    can_decide: bool
    decision_open: bool  # the decision form shown open (no decision yet) or folded away
    can_start_new_run: bool
    runs: list[dict[str, Any]]
    next_run: dict[str, Any] | None  # the run after this one, when there is one
    scheduled_starts: list[dict[str, Any]] = field(default_factory=list)  # pending steps that enable it
    stages: tuple[tuple[str, str], ...] = STAGES
    decision_choices: tuple[tuple[str, str, str], ...] = DECISION_CHOICES


def lifecycle_view(services: ConsoleServices, principal: Principal, flag: Flag,
                   schedules: list[dict[str, Any]]) -> LifecycleView:
    """`schedules` are the experiment's schedule documents (the page lists them already)."""
    stage = stage_of(flag.state, flag.decision, flag.enabled)
    runs = [{**run_document(run), "current": run.id == flag.id,
             "decisionText": decision_text(run.decision, run.rolled_out_variant)}
            for run in services.lifecycle.runs(principal, flag.id)]
    position = next(n for n, run in enumerate(runs) if run["current"])
    latest = position == len(runs) - 1
    live = stage is not None
    return LifecycleView(
        stage=stage,
        can_start=live and not flag.enabled and not flag.decision,
        can_schedule_start=stage == "planning",
        can_stop=stage == "running",  # a rolled-out variant is taken back by a rollback decision
        can_decide=stage in ("running", "decision", "completed"),
        decision_open=stage in ("running", "decision") and flag.decision is None,
        can_start_new_run=live and stage != "planning" and latest,
        runs=runs,
        next_run=None if latest else runs[position + 1],
        scheduled_starts=[{"schedule": s["id"], "at": step["at"]} for s in schedules for step in s["steps"]
                          if step["state"] == "pending" and step["patch"].get("enabled") is True],
    )
