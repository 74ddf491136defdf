"""The services the console's pages call, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from flagyard.manage.audit import AuditService
from flagyard.manage.change_requests import ChangeRequestService
from flagyard.manage.cohorts import CohortService
from flagyard.manage.dependency_graph import DependencyGraphService
from flagyard.manage.deployments import DeploymentService
from flagyard.manage.experiment_lifecycle import ExperimentLifecycle
from flagyard.manage.flag_search import FlagSearchService
from flagyard.manage.flag_usage import FlagUsageService
from flagyard.manage.flags import FlagService
from flagyard.manage.groups import GroupService
from flagyard.manage.key_administration import KeyAdministration
from flagyard.manage.restore import RestoreService
from flagyard.manage.schedules import ScheduleService
from flagyard.manage.single_sign_on import SingleSignOnService
from flagyard.manage.users import UsersService
from flagyard.manage.variants import VariantService
from flagyard.manage.versions import VersionService
from flagyard.manage.webhooks import WebhookService
from flagyard.measure.results import ResultsService
from flagyard.serve.service import Serving


@dataclass(frozen=True)
class ConsoleServices:
    flags: FlagService
    search: FlagSearchService
    variants: VariantService
    deployments: DeploymentService
    versions: VersionService
    restore: RestoreService
    serving: Serving
    keys: KeyAdministration
    users: UsersService
    results: ResultsService
    schedules: ScheduleService
    webhooks: WebhookService
    audit: AuditService
    groups: GroupService
    change_requests: ChangeRequestService
    cohorts: CohortService
    dependency_graph: DependencyGraphService
    lifecycle: ExperimentLifecycle
    usage: FlagUsageService
    single_sign_on: SingleSignOnService | None = None  # None: no identity provider set up
