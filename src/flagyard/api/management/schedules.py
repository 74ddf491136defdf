"""/api/1/{flags,experiments}/{id}/schedules: changes and ramps applied at set times."""

from typing import Any, cast

from fastapi import APIRouter

from flagyard.api.http.deps import PrincipalDep, ServicesDep, path_id
from flagyard.api.schemas.responses import MANAGEMENT_ERRORS, documented
from flagyard.api.schemas.schedules import (
    ExperimentScheduleIn,
    FlagScheduleIn,
    ScheduleOut,
    _ScheduleIn,
)
from flagyard.manage.model.flags import Kind
from flagyard.manage.model.schedules import schedule_document


def schedule_router(kind: Kind, plural: str) -> APIRouter:
    router = APIRouter(prefix=f"/api/1/{plural}", tags=["Schedules"], responses=MANAGEMENT_ERRORS)
    schedule_in = FlagScheduleIn if kind is Kind.FLAG else ExperimentScheduleIn
    label = kind.label

    def fid(raw: str) -> int:
        return path_id(raw, label)

    def sid(raw: str) -> int:
        return path_id(raw, "Schedule")

    @router.post("/{id}/schedules", summary=f"Schedule a change or a ramp of a {kind.value}",
                 **documented(ScheduleOut, held=True))
    def create_schedule(id: str, body: schedule_in, principal: PrincipalDep,  # type: ignore[valid-type]
                        services: ServicesDep) -> dict[str, Any]:
        plan = cast(_ScheduleIn, body).plan()
        return schedule_document(services.schedules.create(principal, kind, fid(id), plan))

    @router.get("/{id}/schedules", summary=f"List the schedules of a {kind.value}, newest first",
                **documented(list[ScheduleOut]))
    def list_schedules(id: str, principal: PrincipalDep, services: ServicesDep) -> list[dict[str, Any]]:
        return [schedule_document(s) for s in services.schedules.for_flag(principal, kind, fid(id))]

    @router.get("/{id}/schedules/{scheduleId}", summary="Get a schedule", **documented(ScheduleOut))
    def get_schedule(id: str, scheduleId: str, principal: PrincipalDep,  # noqa: N803
                     services: ServicesDep) -> dict[str, Any]:
        return schedule_document(services.schedules.get(principal, kind, fid(id), sid(scheduleId)))

    @router.delete("/{id}/schedules/{scheduleId}", summary="Cancel a schedule's pending steps",
                   **documented(ScheduleOut))
    def cancel_schedule(id: str, scheduleId: str, principal: PrincipalDep,  # noqa: N803
                        services: ServicesDep) -> dict[str, Any]:
        return schedule_document(services.schedules.cancel(principal, kind, fid(id), sid(scheduleId)))

    return router
