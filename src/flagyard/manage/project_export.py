"""A project as a project file (flags as code): see flagyard.manage.model.project_file."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flagyard.errors import NotFound
from flagyard.manage.model import project_file
from flagyard.manage.model.access import Principal
from flagyard.manage.model.deployments import Deployment
from flagyard.manage.model.flags import FLAG_FIELDS, Flag, Kind
from flagyard.manage.ports import UnitOfWork, UnitOfWorkFactory

_PAGE = 500


@dataclass(frozen=True)
class ProjectState:
    """Everything of one project a project file describes, loaded in one unit of work."""

    deployments: list[Deployment]
    flags: list[Flag]  # flags and experiments, archived ones too
    users: Mapping[int, list[str]]  # variant id → included user and device ids
    cohorts: Mapping[int, list[str]]  # variant id → included cohort ids

    @property
    def labels(self) -> dict[int, str]:
        return {d.id: d.label for d in self.deployments}

    @property
    def keys(self) -> dict[int, str]:
        return {f.id: f.key for f in self.flags}

    def entry(self, flag: Flag) -> dict[str, Any]:
        """The flag as export writes it (the canonical form imports compare with)."""
        return render_flag(flag, self.labels, self.keys, self.users, self.cohorts)


def load_project(uow: UnitOfWork, project_id: int) -> ProjectState:
    if uow.projects.get(project_id) is None:
        raise NotFound(f"project {project_id} not found", code="project_not_found")
    deployments = uow.deployments.page(project_ids=[project_id], before_id=None, limit=10**6,
                                       include_archived=True)
    flags: list[Flag] = []
    for kind in Kind:
        before: int | None = None
        while True:
            page = uow.flags.page(kind=kind, project_ids=[project_id], key=None,
                                  include_archived=True, before_id=before, limit=_PAGE)
            flags += page
            if len(page) < _PAGE:
                break
            before = page[-1].id
    variant_ids = [v.id for flag in flags for v in flag.variants]
    return ProjectState(
        deployments=sorted(deployments, key=lambda d: d.id),
        flags=sorted(flags, key=lambda f: f.id),
        users=uow.inclusions.users.for_variants(variant_ids),
        cohorts=uow.inclusions.cohorts.for_variants(variant_ids),
    )


def render_flag(flag: Flag, labels: Mapping[int, str], keys: Mapping[int, str],
                users: Mapping[int, list[str]], cohorts: Mapping[int, list[str]]) -> dict[str, Any]:
    experiment = flag.kind is Kind.EXPERIMENT
    entry: dict[str, Any] = {"key": flag.key, "archived": flag.deleted, "enabled": flag.enabled}
    for setting in FLAG_FIELDS:
        if setting.in_project_file and (experiment or not setting.experiment_only):
            entry[setting.document_name] = copy.deepcopy(getattr(flag, setting.attribute))
    entry.update({
        "deployments": [labels[d] for d in flag.deployments if d in labels],
        "parentDependencies": _parents_by_key(flag.parent_dependencies, keys),
        "targetSegments": flag.target_segments,
        "variants": [
            {
                "key": v.key,
                "name": v.name,
                "description": v.description,
                "payload": v.payload,
                "rolloutWeight": v.rollout_weight,
                "users": list(users.get(v.id, [])),
                "cohorts": list(cohorts.get(v.id, [])),
            }
            for v in flag.variants
        ],
    })
    model: type[project_file.Flag] = project_file.Flag
    if experiment:
        model = project_file.Experiment
        entry["experimentType"] = flag.experiment_type or "a-b-test"
    return project_file.canonical(flag.kind, model.model_validate(entry))


def _parents_by_key(raw: Mapping[str, Any] | None, keys: Mapping[int, str]) -> dict[str, Any] | None:
    if not raw:
        return None
    parents = {keys[int(pid)]: list(allowed) for pid, allowed in (raw.get("flags") or {}).items()
               if int(pid) in keys}
    return {"operator": raw.get("operator", "all"), "flags": parents}


def project_document(state: ProjectState) -> dict[str, Any]:
    entries = {kind: sorted((state.entry(f) for f in state.flags if f.kind is kind),
                            key=lambda e: e["key"]) for kind in Kind}
    return {
        "formatVersion": project_file.FORMAT_VERSION,
        "deployments": sorted(
            ({"label": d.label, "type": d.type, "archived": d.deleted} for d in state.deployments),
            key=lambda d: str(d["label"])),
        "flags": entries[Kind.FLAG],
        "experiments": entries[Kind.EXPERIMENT],
    }


class ProjectExportService:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory

    def export(self, principal: Principal, project_id: int) -> dict[str, Any]:
        principal.require_project(project_id)
        with self._uow() as uow:
            return project_document(load_project(uow, project_id))
