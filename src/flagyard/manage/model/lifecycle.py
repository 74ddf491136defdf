"""An experiment's lifecycle as Amplitude's users know it: planning → running → a decision (roll
out a variant, roll back, keep running) → completed, and a new run that starts over.

Pure: each step changes the experiment the way its fields say (`state` follows from them:
`Flag.state`), or raises `Invalid` naming the field. The use case records the version.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime
from typing import Any

from flagyard.errors import Conflict, Invalid
from flagyard.manage.model import rules
from flagyard.manage.model.document import iso
from flagyard.manage.model.flags import Flag, Kind


def ensure_experiment(flag: Flag) -> None:
    if flag.kind is not Kind.EXPERIMENT:
        raise Invalid(f"{flag.kind.value} {flag.id} is not an experiment", code="not_an_experiment")


def start(flag: Flag, now: datetime) -> None:
    """Running from now: enabled, with its start date (kept if one was set)."""
    ensure_experiment(flag)
    flag.ensure_editable()
    if flag.enabled:
        raise Conflict(f"experiment '{flag.key}' is already running", code="already_running")
    flag.ensure_can_enable()
    flag.enabled = flag.started = True
    flag.start_date = flag.start_date or iso(now)
    flag.end_date = None


def stop(flag: Flag, now: datetime) -> None:
    """No longer served (everyone gets the default), ending now."""
    ensure_experiment(flag)
    flag.ensure_editable()
    if not flag.enabled:
        raise Conflict(f"experiment '{flag.key}' is not running", code="not_running")
    flag.enabled = False
    flag.end_date = iso(now)


def decide(flag: Flag, decision: str, variant: str | None, reason: str | None, now: datetime) -> None:
    """Record the decision and do what it says:

    - rollout: `variant` is served to everyone the experiment targets (every segment and the
      all-users rule at 100 %, the variant's weight alone), and it keeps being served;
    - rollback: the experiment stops, so everyone gets the default again;
    - continue-running: the experiment goes on as it is.
    """
    ensure_experiment(flag)
    flag.ensure_editable()
    rules.check_one_of(decision, rules.DECISIONS, "decision")
    if decision == "rollout":
        if variant is None:
            raise Invalid("variant: a rollout names the variant to serve", code="missing_variant")
        if variant not in flag.variant_keys:
            raise Invalid(f"variant: '{variant}' is not a variant of this experiment "
                          f"({', '.join(flag.variant_keys)})", code="unknown_variant")
        flag.ensure_can_enable()
        _serve_only(flag, variant)
        flag.enabled = flag.started = True
    elif variant is not None:
        raise Invalid(f"variant: only a rollout names a variant, not a {decision}", code="invalid_variant")
    elif decision == "rollback":
        flag.enabled = False
    flag.decision = decision
    flag.decision_reason = reason
    flag.rolled_out_variant = variant
    if decision != "continue-running":
        flag.end_date = flag.end_date or iso(now)


def _serve_only(flag: Flag, variant: str) -> None:
    for candidate in flag.variants:
        candidate.rollout_weight = 1 if candidate.key == variant else 0
    for segment in flag.target_segments:
        segment["percentage"] = 100
        segment["rolloutWeights"] = {key: (1 if key == variant else 0) for key in flag.variant_keys}
    if flag.rollout_percentage > 0 or not flag.target_segments:
        flag.rollout_percentage = 100


def next_run(flag: Flag, key: str, actor: str, now: datetime, *, new_salt: bool,
             name: str | None = None) -> Flag:
    """A new experiment that repeats `flag`'s design under `key`: same variants, targeting,
    deployments, groups and bucketing (a new salt if asked, so users are shuffled anew), in
    planning, with no decision and no dates."""
    ensure_experiment(flag)
    rules.check_flag_key(key)
    if key == flag.key:
        raise Invalid("key: a new run needs a key of its own", code="invalid_key")
    run = replace(
        copy.deepcopy(flag), id=0, key=key, name=name or _run_name(flag.name, key), version=0,
        created_at=now, created_by=actor, last_modified_at=now, last_modified_by=actor,
        enabled=False, started=False, deleted=False, decision=None, decision_reason=None,
        rolled_out_variant=None, start_date=None, end_date=None, members=[],
        bucketing_salt=rules.new_salt() if new_salt else flag.bucketing_salt)
    for variant in run.variants:
        variant.id = 0  # new rows; inclusions are not carried over
    return run


def _run_name(name: str, key: str) -> str:
    return f"{name} ({key})" if name and name != key else key


def run_document(flag: Flag) -> dict[str, Any]:
    """One run in an experiment's list of runs."""
    return {"id": str(flag.id), "key": flag.key, "name": flag.name, "state": flag.state,
            "startDate": flag.start_date, "endDate": flag.end_date, "decision": flag.decision,
            "rolledOutVariant": flag.rolled_out_variant}
