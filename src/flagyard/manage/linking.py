"""Which deployments a flag may be linked to."""

from __future__ import annotations

from collections.abc import Sequence

from flagyard.errors import Invalid, NotFound
from flagyard.manage.ports import UnitOfWork


def check_linkable_deployments(
    uow: UnitOfWork, project_id: int, deployment_ids: Sequence[int], field: str
) -> None:
    found = uow.deployments.get_many(deployment_ids)
    for index, deployment_id in enumerate(deployment_ids):
        deployment = found.get(deployment_id)
        if deployment is None or deployment.project_id != project_id:
            raise NotFound(f"{field}[{index}]: deployment {deployment_id} not found in project {project_id}",
                           code="deployment_not_found")
        if deployment.deleted:
            raise Invalid(f"{field}[{index}]: deployment {deployment_id} is archived",
                          code="deployment_archived")
