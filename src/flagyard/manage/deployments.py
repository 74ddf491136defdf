"""Deployments, and which flags are linked to which deployment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flagyard.clock import Clock, utc_now
from flagyard.errors import Forbidden, Invalid, NotFound
from flagyard.manage.audit import record
from flagyard.manage.changes import load_flag, load_for_write, record_change
from flagyard.manage.linking import check_linkable_deployments
from flagyard.manage.model.access import Principal
from flagyard.manage.model.deployments import Deployment, check_label, new_deployment, rotated_key
from flagyard.manage.model.flags import Kind
from flagyard.manage.model.paging import Page, PageRequest
from flagyard.manage.ports import UnitOfWork, UnitOfWorkFactory


class DeploymentService:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock = utc_now) -> None:
        self._uow = uow_factory
        self._clock = clock

    def create(self, principal: Principal, project_id: int, label: str, type_: str = "server",
               require_approval: bool = False) -> Deployment:
        principal.require_write()
        principal.require_project(project_id)
        deployment = new_deployment(project_id, label, type_, self._clock(), require_approval)
        with self._uow(write=True) as uow:
            if uow.projects.get(project_id) is None:
                raise NotFound(f"project {project_id} not found", code="project_not_found")
            uow.deployments.add(deployment)
            uow.projects.bump_revision(project_id)
            record(uow, principal, "deployment.created", "deployment", deployment.id, project_id,
                   self._clock(), None, _audited(deployment))
            uow.commit()
        return deployment

    def get(self, principal: Principal, deployment_id: int) -> Deployment:
        with self._uow() as uow:
            return _visible(uow, principal, deployment_id)

    def page(self, principal: Principal, page: PageRequest) -> Page[Deployment]:
        with self._uow() as uow:
            items = uow.deployments.page(
                project_ids=principal.project_ids, before_id=page.cursor, limit=page.limit + 1
            )
        return Page.from_overfetch(items, page.limit, lambda d: d.id)

    def edit(self, principal: Principal, deployment_id: int, changes: Mapping[str, Any]) -> Deployment:
        principal.require_write()
        if not changes:
            raise Invalid("the request body names no field to change", code="empty_edit")
        with self._uow(write=True) as uow:
            deployment = _visible(uow, principal, deployment_id)
            before = _audited(deployment)
            if "label" in changes:
                deployment.label = check_label(changes["label"])
            archiving = changes.get("archive") is True and not deployment.deleted
            if archiving and uow.flags.uses_deployment(deployment.id):
                raise Invalid(
                    "Cannot have unarchived flags or experiments using this deployment",
                    code="deployment_in_use",
                )
            if "archive" in changes:
                deployment.deleted = bool(changes["archive"])
            if "require_approval" in changes:
                deployment.require_approval = bool(changes["require_approval"])
            uow.deployments.save(deployment)
            uow.projects.bump_revision(deployment.project_id)
            record(uow, principal, "deployment.updated", "deployment", deployment.id, deployment.project_id,
                   self._clock(), before, _audited(deployment))
            uow.commit()
        return deployment

    def rotate_key(self, principal: Principal, deployment_id: int) -> Deployment:
        """Give the deployment a new SDK key; SDKs holding the old one get 401 from now on."""
        principal.require_write()
        with self._uow(write=True) as uow:
            deployment = _visible(uow, principal, deployment_id)
            deployment.key = rotated_key(deployment)
            uow.deployments.set_key(deployment.id, deployment.key)
            uow.projects.bump_revision(deployment.project_id)
            # The key itself stays out of the record: it is a credential.
            record(uow, principal, "deployment.key_rotated", "deployment", deployment.id, deployment.project_id,
                   self._clock())
            uow.commit()
        return deployment

    # --- links between flags and deployments ----------------------------------------------

    def for_flag(self, principal: Principal, kind: Kind, flag_id: int) -> list[Deployment]:
        with self._uow() as uow:
            flag = load_flag(uow, principal, kind, flag_id)
            found = uow.deployments.get_many(flag.deployments)
            return [found[d] for d in flag.deployments if d in found]

    def link(self, principal: Principal, kind: Kind, flag_id: int, deployment_ids: Sequence[int]) -> None:
        now = self._clock()
        with self._uow(write=True) as uow:
            flag = load_for_write(uow, principal, kind, flag_id)
            check_linkable_deployments(uow, flag.project_id, deployment_ids, "deployments")
            flag.link_deployments(list(deployment_ids))
            record_change(uow, flag, principal, now)

    def unlink(self, principal: Principal, kind: Kind, flag_id: int, deployment_id: int) -> None:
        now = self._clock()
        with self._uow(write=True) as uow:
            flag = load_for_write(uow, principal, kind, flag_id)
            flag.unlink_deployment(deployment_id)
            record_change(uow, flag, principal, now)


def _visible(uow: UnitOfWork, principal: Principal, deployment_id: int) -> Deployment:
    deployment = uow.deployments.get(deployment_id)
    if deployment is not None and principal.can_see(deployment.project_id):
        return deployment
    if principal.project_ids is not None:
        raise Forbidden(f"this key has no access to deployment {deployment_id}",
                        code="project_forbidden")
    raise NotFound(f"Deployment {deployment_id} not found", code="deployment_not_found")


def _audited(deployment: Deployment) -> dict[str, Any]:
    return {"label": deployment.label, "type": deployment.type, "archived": deployment.deleted,
            "requireApproval": deployment.require_approval}
