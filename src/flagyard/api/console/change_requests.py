"""Change requests (ADR 0089): the list, newest first and narrowed by status, and one request's
review page with what it changes, its comments and the moves a person may make.

Each button is the same `ChangeRequestService` call /api/1/change-requests makes, as the
signed-in person. A refusal (the author approving, a stale request applied, a rebase that
clashes) is the service's message next to the button that asked, and nothing changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.datastructures import FormData, QueryParams
from starlette.responses import Response

from flagyard.api.console.context import ConsoleRoute, project_context
from flagyard.api.console.diff import diff
from flagyard.api.console.render import FormError, done, page, refusal
from flagyard.api.console.services import ConsoleServices
from flagyard.api.console.session import ConsoleDep, SignedInDep, WriterFormDep
from flagyard.api.http.deps import path_id, query_id
from flagyard.errors import DomainError, Invalid
from flagyard.manage.change_requests import RequestFilter
from flagyard.manage.model.access import Principal
from flagyard.manage.model.change_requests import ChangeRequest, ProposalType, Status, identity
from flagyard.manage.model.flags import Kind
from flagyard.manage.model.paging import PageRequest
from flagyard.manage.users import SignedIn

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

PAGE_SIZE = 50
WAITING = "open,approved"
STATUSES = {  # the status filter's choices, as the select names them; "" is every status
    WAITING: "Waiting (open or approved)", "open": "Open", "approved": "Approved", "applied": "Applied",
    "rejected": "Rejected", "": "Any status",
}
FILTERS = "cr-filters"


# --- the list ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    """The filter form as typed; no status given means the requests still waiting."""

    status: str = WAITING
    project: str = ""
    flag: str = ""

    @classmethod
    def of(cls, params: QueryParams) -> Filters:
        return cls(params.get("status", WAITING).strip()[:100], params.get("project", "").strip()[:20],
                   params.get("flag", "").strip()[:20])

    def query(self) -> RequestFilter:
        statuses = []
        for part in filter(None, (p.strip() for p in self.status.split(","))):
            if part not in {s.value for s in Status}:
                raise Invalid(f"status must be one of {', '.join(s.value for s in Status)}", code="invalid_status")
            statuses.append(Status(part))
        return RequestFilter(project_id=query_id(self.project, "project") if self.project else None,
                             flag_id=query_id(self.flag, "flag") if self.flag else None, statuses=statuses)

    def url(self, **extra: Any) -> str:
        """This filter's page (`extra` overrides; an empty status is kept: it means any)."""
        params = {"status": self.status, "project": self.project, "flag": self.flag, **extra}
        return f"/console/change-requests?{urlencode({k: v for k, v in params.items() if v or k == 'status'})}"


def _header(services: ConsoleServices, current: SignedIn, project: str) -> dict[str, Any]:
    """The header's project: the one filtered on, else the first (as the pages outside a project)."""
    projects = services.keys.projects()
    chosen = next((p for p in projects if str(p.id) == project), projects[0] if projects else None)
    return project_context(services, current, chosen.id) if chosen else {"projects": projects}


def _cursor(raw: str | None) -> int | None:
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10):
        raise Invalid("before must be the id of a change request", code="invalid_cursor")
    return int(raw)


@router.get("/console/change-requests")
def list_page(request: Request, services: ConsoleDep, current: SignedInDep) -> Response:
    filters = Filters.of(request.query_params)
    ctx = _header(services, current, filters.project)
    items: list[ChangeRequest] = []
    next_url = error = None
    try:
        found = services.change_requests.page(current.user.principal(), filters.query(),
                                              PageRequest(limit=PAGE_SIZE,
                                                          cursor=_cursor(request.query_params.get("before"))))
        items = found.items
        next_url = filters.url(before=found.next_cursor) if found.next_cursor else None
    except DomainError as refused:
        error = refusal(FILTERS, refused)
    names = {p.id: p.name for p in ctx["projects"]}
    return page(request, "change_requests.html", current, error=error, filters=filters, statuses=STATUSES,
                items=items, project_names=names, next_url=next_url,
                first_url=filters.url() if request.query_params.get("before") else None, **ctx)


# --- one request ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Moves:
    """What the signed-in person may do with the request now, and why not when a button is
    shown disabled (the author and viewers see why they cannot approve)."""

    approve: bool
    approve_blocked: str  # the reason approval is not theirs to give, or ""
    reject: bool
    apply: bool
    apply_blocked: str
    rebase: bool
    comment: bool
    own: bool


def _moves(current: SignedIn, principal: Principal, request: ChangeRequest, stale: bool) -> Moves:
    writer = current.user.can_write
    own = identity(principal) == request.author_identity
    is_open, waiting = request.status is Status.OPEN, request.status in (Status.OPEN, Status.APPROVED)
    blocked = ""
    if is_open and not writer:
        blocked = "Viewers can read change requests but not approve them."
    elif is_open and own:
        blocked = "You opened this change request, so you cannot approve it: someone else must."
    return Moves(approve=is_open and writer and not own, approve_blocked=blocked, reject=waiting and writer,
                 apply=request.status is Status.APPROVED and writer,
                 apply_blocked="Rebase it first: the flag has moved since it was approved." if stale else "",
                 rebase=stale and writer, comment=writer, own=own)


def review_page(request: Request, services: ConsoleServices, current: SignedIn, request_id: int,
                error: FormError | None = None, typed: FormData | None = None) -> Response:
    principal = current.user.principal()
    held = services.change_requests.get(principal, request_id).request
    kind = Kind(held.kind)
    flag = services.flags.get(principal, kind, held.flag_id)
    changes = steps = None
    if held.type is ProposalType.VERSION:
        base = services.versions.get(principal, kind, held.flag_id, held.base_version)
        changes = diff(base.flag_config, held.proposed)
    else:
        steps = held.proposed.get("steps", [])
    stale = (held.type is ProposalType.VERSION and held.status in (Status.OPEN, Status.APPROVED)
             and flag.version != held.base_version)
    return page(request, "change_request.html", current, error=error, cr=held, kind=kind, plural=f"{kind.value}s",
                flag=flag, changes=changes, steps=steps, stale=stale,
                moves=_moves(current, principal, held, stale),
                typed={k: str(v) for k, v in typed.items()} if typed is not None else {},
                **project_context(services, current, held.project_id))


@router.get("/console/change-requests/{id}")
def show(request: Request, services: ConsoleDep, current: SignedInDep, id: str) -> Response:
    return review_page(request, services, current, path_id(id, "Change request"))


def _act(request: Request, services: ConsoleServices, current: SignedIn, id: str, form_id: str,
         form: FormData, change: Callable[[Principal, int], str]) -> Response:
    request_id = path_id(id, "Change request")
    try:
        message = change(current.user.principal(), request_id)
    except DomainError as error:
        return review_page(request, services, current, request_id, refusal(form_id, error), form)
    return done(f"/console/change-requests/{request_id}", message)


def _comment(form: FormData) -> str | None:
    """The optional note sent with a verdict; an empty box sends none."""
    text = str(form.get("comment") or "")
    return text if text.strip() else None


@router.post("/console/change-requests/{id}/approve")
def approve(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep, id: str) -> Response:
    def change(principal: Principal, request_id: int) -> str:
        services.change_requests.approve(principal, request_id, _comment(form))
        return f"Change request #{request_id} approved: it can be applied now"

    return _act(request, services, current, id, "approve", form, change)


@router.post("/console/change-requests/{id}/reject")
def reject(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep, id: str) -> Response:
    def change(principal: Principal, request_id: int) -> str:
        rejected = services.change_requests.reject(principal, request_id, _comment(form)).request
        verb = "withdrawn" if rejected.author_identity == identity(principal) else "rejected"
        return f"Change request #{request_id} {verb}: nothing of it was applied"

    return _act(request, services, current, id, "reject", form, change)


@router.post("/console/change-requests/{id}/apply")
def apply(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep, id: str) -> Response:
    def change(principal: Principal, request_id: int) -> str:
        applied = services.change_requests.apply(principal, request_id).request
        if applied.schedule_id is not None:
            return f"Change request #{request_id} applied: schedule {applied.schedule_id} created"
        return f"Change request #{request_id} applied: {applied.flag_key} is now at version {applied.applied_version}"

    return _act(request, services, current, id, "apply", form, change)


@router.post("/console/change-requests/{id}/rebase")
def rebase(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep, id: str) -> Response:
    def change(principal: Principal, request_id: int) -> str:
        rebased = services.change_requests.rebase(principal, request_id).request
        return (f"Change request #{request_id} rebased onto version {rebased.base_version}: "
                "it needs approval again")

    return _act(request, services, current, id, "rebase", form, change)


@router.post("/console/change-requests/{id}/comments")
def comment(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep, id: str) -> Response:
    def change(principal: Principal, request_id: int) -> str:
        services.change_requests.comment(principal, request_id, str(form.get("body") or ""))
        return "Comment added"

    return _act(request, services, current, id, "comment", form, change)
