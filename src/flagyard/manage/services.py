"""The manage wing's front door: its use cases, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from flagyard.manage.audit import AuditService
from flagyard.manage.change_requests import ChangeRequestService
from flagyard.manage.cohorts import CohortService
from flagyard.manage.dependency_graph import DependencyGraphService
from flagyard.manage.deployments import DeploymentService
from flagyard.manage.experiment_lifecycle import ExperimentLifecycle
from flagyard.manage.flag_listing import RenderedFlags
from flagyard.manage.flag_search import FlagSearchService
from flagyard.manage.flag_usage import FlagUsageService
from flagyard.manage.flags import FlagService
from flagyard.manage.groups import GroupService
from flagyard.manage.key_administration import KeyAdministration
from flagyard.manage.project_export import ProjectExportService
from flagyard.manage.project_import import ProjectImportService
from flagyard.manage.restore import RestoreService
from flagyard.manage.schedules import ScheduleService
from flagyard.manage.single_sign_on import SingleSignOnService
from flagyard.manage.users import UsersService
from flagyard.manage.variants import VariantService
from flagyard.manage.versions import VersionService
from flagyard.manage.webhook_delivery import WebhookDelivery
from flagyard.manage.webhooks import WebhookService


@dataclass(frozen=True)
class ManageServices:
    flags: FlagService
    variants: VariantService
    deployments: DeploymentService
    versions: VersionService
    groups: GroupService
    listing: RenderedFlags  # the flag and experiment lists, rendered once per version
    search: FlagSearchService  # the console's list: text, filters, paging
    restore: RestoreService
    cohorts: CohortService
    dependency_graph: DependencyGraphService  # read; prerequisites change through a flag's edit
    project_export: ProjectExportService
    project_import: ProjectImportService
    keys: KeyAdministration
    users: UsersService
    schedules: ScheduleService  # scheduled changes and ramps (api/jobs/schedules.py fires them)
    webhooks: WebhookService
    audit: AuditService
    webhook_delivery: WebhookDelivery  # sends the outbox (api/jobs/webhooks.py runs it)
    change_requests: ChangeRequestService  # changes held for approval, opened by the writes
    lifecycle: ExperimentLifecycle  # start, stop, decide, new runs
    usage: FlagUsageService  # evaluations counted by the serve wing, and staleness
    single_sign_on: SingleSignOnService | None = None  # None: no identity provider set up
