"""Applying a project file: create what is missing, update what differs, optionally archive
what it no longer lists. One unit of work for the whole file, so a refused file changes
nothing; a dry run does all the work and rolls it back.

The rules are the API's own: flags are built and edited by the model methods the use cases
use (`new_flag`, `Flag.edit`, `add_variant`, ...), links and parents are checked by the same
functions, and each changed flag gets exactly one new version. An unchanged flag is left
alone, so applying a file twice changes nothing the second time.

The rules run flag by flag, in document order, so a refusal names the same place it always
did; the writes they lead to are batched (`FlagStore.add_many`, `changes.append_versions`, the
inclusion lists), so a file of 10,000 flags costs a few dozen statements, not a few per flag.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flagyard.clock import Clock, utc_now
from flagyard.errors import DomainError, Invalid
from flagyard.manage.changes import append_versions
from flagyard.manage.dependencies import check_parent_dependencies
from flagyard.manage.linking import check_linkable_deployments
from flagyard.manage.model import project_file
from flagyard.manage.model.access import Principal
from flagyard.manage.model.creation import new_flag
from flagyard.manage.model.deployments import Deployment, new_deployment
from flagyard.manage.model.flags import FLAG_FIELDS, Flag, Kind, Variant
from flagyard.manage.ports import UnitOfWork, UnitOfWorkFactory
from flagyard.manage.project_export import ProjectState, load_project, render_flag


@dataclass(frozen=True)
class Change:
    action: str  # create, update, archive, unarchive
    kind: str  # flag, experiment, deployment
    key: str  # the flag key or the deployment label
    fields: tuple[str, ...] = ()  # for an update: what differs

    def line(self) -> str:
        sign = {"create": "+", "update": "~", "archive": "-", "unarchive": "+"}[self.action]
        what = f" ({', '.join(self.fields)})" if self.fields else ""
        return f"{sign} {self.action} {self.kind} {self.key}{what}"


@dataclass
class ImportResult:
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    applied: bool = False

    def plan(self) -> list[str]:
        lines = [change.line() for change in self.changes]
        lines.append(f"= {self.unchanged} unchanged")
        return lines


class ProjectImportService:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._uow = uow_factory
        self._clock = clock

    def apply(self, principal: Principal, project_id: int, raw: Any, *, dry_run: bool = False,
              prune: bool = False, on_plan: Callable[[ImportResult], None] | None = None) -> ImportResult:
        """`on_plan` is shown the plan once the whole file has been worked out and before
        anything is committed (the CLI prints it), so the file is worked out once."""
        principal.require_write()
        principal.require_project(project_id)
        document = project_file.parse(raw)
        with self._uow(write=True) as uow:
            run = _Import(uow, principal, project_id, self._clock(), document)
            result = run.apply(prune)
            if on_plan is not None:
                on_plan(result)
            if result.changes and not dry_run:
                uow.commit()
                result.applied = True
        return result


class _Import:
    def __init__(self, uow: UnitOfWork, principal: Principal, project_id: int, now: Any,
                 document: project_file.ProjectFile) -> None:
        self.uow = uow
        self.principal = principal
        self.project_id = project_id
        self.now = now
        self.document = document
        self.state: ProjectState = load_project(uow, project_id)
        self.result = ImportResult()
        self.deployments: dict[str, Deployment] = {d.label: d for d in self.state.deployments}
        self.flags: dict[str, Flag] = {f.key: f for f in self.state.flags}
        self.touched: dict[str, Flag] = {}
        self.inclusions: dict[str, list[dict[str, Any]]] = {}  # flag key → wanted variants
        self.linkable: set[int] = set()  # deployment ids checked once for this import
        self.labels: dict[int, str] = {}  # deployment id → label, once all exist
        self.keys: dict[int, str] = {}  # flag id → key, once all exist

    def apply(self, prune: bool) -> ImportResult:
        self._open_deployments()
        created = self._create_missing_flags()
        self.labels = {d.id: label for label, d in self.deployments.items()}
        self.keys = {f.id: key for key, f in self.flags.items()}
        for kind, where, entry in self.document.entries():
            with _at(where):
                self._apply_flag(kind, entry, entry.key in created)
        if prune:
            self._prune_flags()
        # New variants get their ids here, before their inclusion lists are written.
        append_versions(self.uow, list(self.touched.values()), self.principal, self.now)
        self._sync_inclusions()
        saved = {flag.id: flag for flag in self.flags.values()}
        for _, where, entry in self.document.entries():
            flag = self.flags[entry.key]
            if flag.key in self.touched and flag.parent_dependencies:
                with _at(where):
                    check_parent_dependencies(self.uow, flag, saved)
        self._close_deployments(prune)
        return self.result

    # --- deployments ----------------------------------------------------------------------

    def _open_deployments(self) -> None:
        """Create missing deployments and unarchive listed ones, so flags can link to them."""
        for index, spec in enumerate(self.document.deployments):
            where = f"deployments[{index}]"
            existing = self.deployments.get(spec.label)
            if existing is None:
                with _at(where):
                    deployment = new_deployment(self.project_id, spec.label, spec.type, self.now)
                self.uow.deployments.add(deployment)
                self.deployments[spec.label] = deployment
                self._record(Change("create", "deployment", spec.label))
            elif existing.type != spec.type:
                raise Invalid(f"{where}.type: deployment '{spec.label}' is a {existing.type} "
                              "deployment; a deployment's type cannot change",
                              code="invalid_document")
            elif existing.deleted and not spec.archived:
                existing.deleted = False
                self.uow.deployments.save(existing)
                self._record(Change("unarchive", "deployment", spec.label))

    def _close_deployments(self, prune: bool) -> None:
        listed = {spec.label: spec for spec in self.document.deployments}
        for label, deployment in self.deployments.items():
            spec = listed.get(label)
            wanted = spec.archived if spec is not None else (prune or deployment.deleted)
            if wanted and not deployment.deleted:
                if self.uow.flags.uses_deployment(deployment.id):
                    where = f"deployments[{list(listed).index(label)}]" if spec else "--prune"
                    raise Invalid(f"{where}: deployment '{label}' cannot be archived while "
                                  "unarchived flags or experiments use it",
                                  code="deployment_in_use")
                deployment.deleted = True
                self.uow.deployments.save(deployment)
                self._record(Change("archive", "deployment", label))
        if any(change.kind == "deployment" for change in self.result.changes):
            self.uow.projects.bump_revision(self.project_id)

    # --- flags ----------------------------------------------------------------------------

    def _create_missing_flags(self) -> set[str]:
        """Add every flag the project lacks first, so parent dependencies can name any of them."""
        created: dict[str, Flag] = {}
        for kind, where, entry in self.document.entries():
            existing = self.flags.get(entry.key)
            if existing is not None:
                if existing.kind is not kind:
                    raise Invalid(f"{where}.key: '{entry.key}' is {_a(existing.kind)} in this "
                                  "project", code="invalid_document")
                continue
            fields: dict[str, Any] = {"key": entry.key, "name": entry.name, "bucketing_salt": entry.bucketing_salt,
                      "variants": [], "rollout_weights": None}
            with _at(where):
                flag = new_flag(kind, self.project_id, fields, actor=self.principal.name,
                                now=self.now)
            flag.variants = []
            flag.version = 0
            self.flags[flag.key] = created[flag.key] = flag
            self._record(Change("create", kind.value, flag.key))
        self.uow.flags.add_many(list(created.values()))
        return set(created)

    def _apply_flag(self, kind: Kind, entry: project_file.Flag, created: bool) -> None:
        flag = self.flags[entry.key]
        wanted = project_file.canonical(kind, entry)
        if wanted["bucketingSalt"] is None:
            wanted["bucketingSalt"] = flag.bucketing_salt
        if not created:
            current = self._entry(flag)
            differing = tuple(name for name in wanted if wanted[name] != current.get(name))
            if not differing:
                self.result.unchanged += 1
                return
            self._record(Change("update", kind.value, flag.key, differing))
        if flag.deleted:
            flag.edit({"archive": False})
        self._sync_variants(flag, wanted["variants"])
        self._link(flag, wanted["deployments"])
        changes: dict[str, Any] = {
            setting.attribute: wanted[setting.document_name] for setting in FLAG_FIELDS
            if setting.in_project_file and (kind is Kind.EXPERIMENT or not setting.experiment_only)
        }
        changes.update({
            "target_segments": wanted["targetSegments"],
            "parent_dependencies": self._parents(wanted["parentDependencies"]),
            "enabled": wanted["enabled"],
        })
        flag.edit(changes)
        self.inclusions[flag.key] = wanted["variants"]  # once the variants are saved
        if wanted["archived"]:
            flag.edit({"archive": True})
        self.touched[flag.key] = flag

    def _sync_variants(self, flag: Flag, wanted: list[dict[str, Any]]) -> None:
        keys = [v["key"] for v in wanted]
        for key in [v.key for v in flag.variants if v.key not in keys]:
            flag.remove_variant(key)
        for index, spec in enumerate(wanted):
            fields = {"name": spec["name"], "description": spec["description"],
                      "payload": spec["payload"], "rollout_weight": spec["rolloutWeight"]}
            if spec["key"] in flag.variant_keys:
                flag.edit_variant(spec["key"], fields)
            else:
                flag.add_variant(Variant.from_fields({"key": spec["key"], **fields}),
                                 field_name=f"variants[{index}].key")
        by_key = {v.key: v for v in flag.variants}
        flag.variants = [by_key[key] for key in keys]

    def _sync_inclusions(self) -> None:
        """Each variant's user and cohort lists as the file has them: the lists that differ are
        replaced, all of them by a few statements."""
        for ids, field_name in ((self.uow.inclusions.users, "users"),
                                (self.uow.inclusions.cohorts, "cohorts")):
            wanted = {self.flags[key].variant(spec["key"]).id: spec[field_name]
                      for key, specs in self.inclusions.items() for spec in specs}
            current = ids.for_variants(list(wanted))
            differing = {variant_id: values for variant_id, values in wanted.items()
                         if current.get(variant_id, []) != values}
            ids.clear_many(list(differing))
            ids.add_many(differing)

    def _link(self, flag: Flag, labels: list[str]) -> None:
        ids = []
        for index, label in enumerate(labels):
            deployment = self.deployments.get(label)
            if deployment is None:
                raise Invalid(f"deployments[{index}]: no deployment labelled '{label}' in the "
                              "document or the project", code="deployment_not_found")
            ids.append(deployment.id)
        added = [d for d in ids if d not in flag.deployments]
        if not self.linkable.issuperset(added):  # nothing in an import changes them before it ends
            check_linkable_deployments(self.uow, self.project_id, added, "deployments")
            self.linkable.update(added)
        flag.deployments = ids

    def _parents(self, wanted: dict[str, Any] | None) -> dict[str, Any] | None:
        if wanted is None:
            return None
        parents: dict[str, list[str]] = {}
        for key, allowed in wanted["flags"].items():
            parent = self.flags.get(key)
            if parent is None:
                raise Invalid(f"parentDependencies.flags.{key}: no flag or experiment has this "
                              "key in the document or the project", code="unknown_parent")
            parents[str(parent.id)] = list(allowed)
        return {"operator": wanted["operator"], "flags": parents}

    def _prune_flags(self) -> None:
        listed = {entry.key for _, _, entry in self.document.entries()}
        for flag in self.flags.values():
            if flag.key not in listed and not flag.deleted:
                flag.edit({"archive": True})
                self.touched[flag.key] = flag
                self._record(Change("archive", flag.kind.value, flag.key))

    # --- helpers --------------------------------------------------------------------------

    def _entry(self, flag: Flag) -> dict[str, Any]:
        return render_flag(flag, self.labels, self.keys, self.state.users, self.state.cohorts)

    def _record(self, change: Change) -> None:
        self.result.changes.append(change)


def _a(kind: Kind) -> str:
    return "an experiment" if kind is Kind.EXPERIMENT else "a flag"


@contextmanager
def _at(where: str) -> Iterator[None]:
    """A refusal inside names the document location it came from."""
    try:
        yield
    except DomainError as error:
        raise type(error)(f"{where}: {error.message}", code=error.code) from None
