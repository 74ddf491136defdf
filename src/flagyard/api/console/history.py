"""History: a flag's versions, the difference between any two, restore; the project's activity."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from starlette.responses import Response

from flagyard.api.console.context import ConsoleRoute, plural_kind, project_context
from flagyard.api.console.diff import diff
from flagyard.api.console.pending import held
from flagyard.api.console.render import FormError, done, page, refusal
from flagyard.api.console.services import ConsoleServices
from flagyard.api.console.session import ConsoleDep, SignedInDep, WriterFormDep
from flagyard.api.http.deps import path_id
from flagyard.errors import DomainError, PendingApproval
from flagyard.manage.model.document import flag_document, iso
from flagyard.manage.model.paging import PageRequest
from flagyard.manage.users import SignedIn
from flagyard.manage.versions import TimeWindow

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)
ACTIVITY_DAYS = 30
ACTIVITY_PAGE = 50


def _number(raw: str | None, default: int) -> int:
    return int(raw) if raw and raw.isascii() and raw.isdigit() and len(raw) <= 9 else default


def history_page(request: Request, services: ConsoleServices, current: SignedIn, plural: str,
                 flag_id: int, error: FormError | None = None) -> Response:
    kind = plural_kind(plural)
    principal = current.user.principal()
    flag = services.flags.get(principal, kind, flag_id)
    versions = sorted(services.versions.for_flag(principal, kind, flag_id), key=lambda v: -v.version)
    newest = versions[0].version if versions else 0
    to = min(_number(request.query_params.get("to"), newest), newest)
    since = min(_number(request.query_params.get("from"), max(to - 1, 1)), newest)
    by_number = {v.version: v for v in versions}
    changes = None
    if since in by_number and to in by_number:
        changes = diff(by_number[since].flag_config, by_number[to].flag_config)
    return page(request, "history.html", current, error=error, kind=kind, plural=plural,
                flag=flag_document(flag), versions=versions, since=since, to=to, changes=changes,
                iso=iso, **project_context(services, current, flag.project_id))


@router.get("/console/{plural}/{id}/history")
def history(request: Request, services: ConsoleDep, current: SignedInDep, plural: str, id: str) -> Response:
    return history_page(request, services, current, plural, path_id(id, plural_kind(plural).label))


@router.post("/console/{plural}/{id}/history/{number}/restore")
def restore(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep, plural: str,
            id: str, number: str) -> Response:
    kind = plural_kind(plural)
    flag_id = path_id(id, kind.label)
    try:
        version = services.restore.restore(current.user.principal(), kind, flag_id,
                                           path_id(number, "Version"))
    except PendingApproval as pending:
        return held(f"/console/{plural}/{flag_id}/history", pending)
    except DomainError as error:
        return history_page(request, services, current, plural, flag_id, refusal("restore", error))
    return done(f"/console/{plural}/{flag_id}/history",
                f"Version {number} restored as version {version.version}")


@router.get("/console/p/{project}/activity")
def activity(request: Request, services: ConsoleDep, current: SignedInDep, project: str) -> Response:
    ctx = project_context(services, current, project)
    # The feed reads the same history /api/1/versions serves, narrowed to this project.
    principal = replace(current.user.principal(), project_ids=frozenset({ctx["project"].id}))
    cursor = request.query_params.get("cursor")
    feed = services.versions.page(principal, TimeWindow(),
                                  PageRequest(limit=ACTIVITY_PAGE, cursor=_number(cursor, 0) or None))
    today = datetime.now(UTC).date()
    start = today - timedelta(days=ACTIVITY_DAYS - 1)
    window = TimeWindow(start=datetime.combine(start, datetime.min.time(), tzinfo=UTC))
    recent = services.versions.page(principal, window, PageRequest(limit=1000)).items
    counts = Counter(v.created_at.astimezone(UTC).date() for v in recent)
    days = [((start + timedelta(days=i)).isoformat(), counts[start + timedelta(days=i)])
            for i in range(ACTIVITY_DAYS)]
    kinds = {}
    for version in feed.items:
        kinds[version.flag_id] = "experiments" if version.flag_config.get("state") else "flags"
    return page(request, "activity.html", current, feed=feed.items, kinds=kinds, days=days,
                capped=len(recent) >= 1000, iso=iso,
                next_url=f"?cursor={feed.next_cursor}" if feed.next_cursor else None, **ctx)
