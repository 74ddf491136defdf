"""Reading the dependency graph of a project's flags. Prerequisites are changed through the
flag's PATCH (`parentDependencies`), which refuses a cycle."""

from __future__ import annotations

from flagyard.manage.model.access import Principal
from flagyard.manage.model.dependency_graph import DependencyGraph
from flagyard.manage.ports import UnitOfWorkFactory


class DependencyGraphService:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow = uow_factory

    def graph(self, principal: Principal, project_id: int) -> DependencyGraph:
        """Every flag of the project, archived ones too, with its variant keys; `linked()` and
        `around(flag)` narrow it to what a page shows."""
        principal.require_project(project_id)
        with self._uow() as uow:
            return uow.flags.dependency_graph(project_id)
