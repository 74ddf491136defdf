"""The cohort download local-evaluation SDKs poll: who may read a cohort, and what to answer.

Credentials (docs/adr/0041-cohort-download-credentials.md): the SDK's `api_key` is a deployment
key of the cohort's project and its `secret_key` a management key (read-only is enough) that
may see that project. The deployment key says which project; the management key proves the
caller may read member lists, which the deployment key alone (shipped to every app server)
should not.
"""

from __future__ import annotations

import enum
import zlib
from collections.abc import Callable, Iterator

from flagyard.errors import NotFound, Unauthenticated
from flagyard.manage.model.access import Principal
from flagyard.manage.model.cohorts import USER_GROUP_TYPE, Cohort, is_cohort_id
from flagyard.manage.ports import UnitOfWorkFactory

CHUNK_SIZE = 10_000  # member ids read and written per step of a download


class Answer(enum.Enum):
    SEND = 200
    UNCHANGED = 204
    TOO_LARGE = 413


def answer(cohort: Cohort, max_size: int | None, last_modified: int | None) -> Answer:
    if max_size is not None and cohort.size > max_size:
        return Answer.TOO_LARGE
    if last_modified is not None and last_modified == cohort.last_modified:
        return Answer.UNCHANGED
    return Answer.SEND


def group_type_id(group_type: str) -> int:
    """A stable number for the group type: 0 for users, else derived from the name.
    Node's SDK types it as a number; no SDK reads it."""
    if group_type == USER_GROUP_TYPE:
        return 0
    return zlib.crc32(group_type.encode()) & 0x7FFFFFFF


class CohortDownloadService:
    def __init__(self, uow_factory: UnitOfWorkFactory,
                 authenticate: Callable[[str], Principal]) -> None:
        self._uow = uow_factory
        self._authenticate = authenticate

    def open(self, api_key: str, secret_key: str, public_id: str) -> Cohort:
        """The cohort, once the key pair may read it: 401 for a bad pair, 403 for a management
        key outside the deployment's project, 404 for a cohort the project does not have."""
        with self._uow() as uow:
            deployment = uow.deployments.get_by_key(api_key) if api_key else None
            if deployment is None or deployment.deleted:
                raise Unauthenticated("api_key is not a live deployment key", code="invalid_key")
            principal = self._authenticate(secret_key)
            principal.require_project(deployment.project_id)
            cohort = uow.cohorts.get(public_id) if is_cohort_id(public_id) else None
        if cohort is None or cohort.archived or cohort.project_id != deployment.project_id:
            raise NotFound(f"cohort {public_id} not found", code="cohort_not_found")
        return cohort

    def member_chunks(self, cohort: Cohort) -> Iterator[list[str]]:
        """The members, streamed from one read transaction; closing the iterator ends it."""
        with self._uow() as uow:
            yield from uow.cohorts.member_chunks(cohort.id, CHUNK_SIZE)
