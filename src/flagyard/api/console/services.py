"""The services the console's pages call, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from flagyard.services.deployments import DeploymentService
from flagyard.services.flag_search import FlagSearchService
from flagyard.services.flags import FlagService
from flagyard.services.key_administration import KeyAdministration
from flagyard.services.restore import RestoreService
from flagyard.services.results import ResultsService
from flagyard.services.serving import Serving
from flagyard.services.users import UsersService
from flagyard.services.variants import VariantService
from flagyard.services.versions import VersionService


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
