"""The audit log, for admins: every change and sign-in, newest first, narrowed by who, what and
when, a page at a time; and the same records as JSON lines.

The filters are the ones /api/1/audit takes (start, end, actor, action), read by the same
`query_moment`, and go to the same `AuditService` calls: a bad date is the service's message by
its field, and no records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from starlette.datastructures import QueryParams
from starlette.responses import Response, StreamingResponse

from flagyard.api.console.context import ConsoleRoute, project_context
from flagyard.api.console.render import FormError, page, refusal
from flagyard.api.console.services import ConsoleServices
from flagyard.api.console.session import ConsoleDep, SignedInDep
from flagyard.api.http.moments import query_moment
from flagyard.errors import DomainError, Forbidden, Invalid
from flagyard.manage.model.access import Principal
from flagyard.manage.model.audit import AuditQuery, AuditRecord, audit_document
from flagyard.manage.model.document import iso
from flagyard.manage.model.flags import Kind
from flagyard.manage.model.paging import PageRequest
from flagyard.manage.users import SignedIn

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

PAGE_SIZE = 50
FORM = "audit-filters"
FOLDED = 6  # more changed fields than this (a creation's whole document) fold under a summary
SHORTENED = 80  # characters of a changed value shown on the page; the export holds it whole
ACTIONS = {  # the action prefixes the filter offers, as the select names them
    "flag.": "Flags", "experiment.": "Experiments", "holdout.": "Holdouts", "mutex.": "Mutual exclusion groups",
    "deployment.": "Deployments", "key.": "API keys", "user.": "Users and sign-ins", "cohort.": "Cohorts",
    "webhook.": "Webhooks", "schedule.": "Schedules", "project.": "Projects",
}
# Actions whose words, read as "<subject> <verb>", would be clumsy.
WORDS = {"user.signed_in": "signed in", "user.sign_in_failed": "sign-in failed"}


@dataclass(frozen=True)
class Filters:
    """What the filter form holds, as typed (shown again, and carried into the next page's link)."""

    actor: str = ""
    action: str = ""
    start: str = ""
    end: str = ""

    @classmethod
    def of(cls, params: QueryParams) -> Filters:
        return cls(*(params.get(name, "").strip()[:200] for name in ("actor", "action", "start", "end")))

    def query(self) -> AuditQuery:
        if self.action and self.action not in ACTIONS:
            raise Invalid(f"action must be one of {', '.join(ACTIONS)}", code="invalid_action")
        return AuditQuery(start=query_moment(self.start, "start", end_of_day=False),
                          end=query_moment(self.end, "end", end_of_day=True),
                          actor=self.actor or None, action=self.action or None)

    def url(self, path: str, **extra: Any) -> str:
        params = {**{k: v for k, v in vars(self).items() if v}, **extra}
        return f"{path}?{urlencode(params)}" if params else path


def _require_admin(current: SignedIn) -> None:
    if not current.user.is_admin:
        raise Forbidden("only an admin may read the audit log", code="admin_only")


def _cursor(raw: str | None) -> int | None:
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise Invalid("before must be the id of a record", code="invalid_cursor")
    return int(raw)


# --- how a record reads -----------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    field: str
    before: str | None  # None: not there before (a creation)
    after: str | None  # None: not there after (a removal)


@dataclass(frozen=True)
class Subject:
    kind: str
    label: str
    url: str | None = None  # its console page, when it has one and still exists


def words(action: str) -> str:
    """flag.updated reads "flag updated", experiment.metrics_changed "experiment metrics changed"."""
    return WORDS.get(action) or action.replace(".", " ").replace("_", " ")


def shortened(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= SHORTENED else text[:SHORTENED - 1] + "…"


def changes(before: Any, after: Any) -> list[Change]:
    """One line per changed field: a creation has only afters, a removal only befores."""
    old, new = _fields(before), _fields(after)
    names = [*new, *(name for name in old if name not in new)]
    return [Change(name, shortened(old.get(name)) if before is not None else None,
                   shortened(new.get(name)) if after is not None else None) for name in names]


def _fields(value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    return value if isinstance(value, Mapping) else {"value": value}


def subjects(services: ConsoleServices, principal: Principal,
             records: Iterable[AuditRecord]) -> dict[tuple[str, str], Subject]:
    """Names and console pages of the records' subjects: one look-up per flag on the page, one
    for every deployment and one for every webhook (a deleted one has no page to link to)."""
    wanted = {(r.subject_type, r.subject_id) for r in records if r.subject_id is not None}
    found = {(type_, id_): _flag(services, principal, Kind(type_), int(id_))
             for type_, id_ in wanted if type_ in ("flag", "experiment") and id_.isdigit()}
    if any(type_ == "deployment" for type_, _ in wanted):
        for d in services.deployments.page(principal, PageRequest(limit=1000)).items:
            found["deployment", str(d.id)] = Subject("deployment", d.label, f"/console/p/{d.project_id}/deployments")
    if any(type_ == "webhook" for type_, _ in wanted):
        for hook in services.webhooks.find(principal, None):
            found["webhook", str(hook.id)] = Subject("webhook", hook.name or hook.url, f"/console/webhooks/{hook.id}")
    return found


def _flag(services: ConsoleServices, principal: Principal, kind: Kind, flag_id: int) -> Subject:
    try:
        flag = services.flags.get(principal, kind, flag_id)
    except DomainError:
        return Subject(kind.value, str(flag_id))
    return Subject(kind.value, flag.key, f"/console/{kind.value}s/{flag_id}")


def row(record: AuditRecord, known: Mapping[tuple[str, str], Subject],
        project_names: Mapping[int, str]) -> dict[str, Any]:
    subject = known.get((record.subject_type, record.subject_id)) if record.subject_id is not None else None
    moment = iso(record.at) or ""
    project = None
    if record.project_id is not None:
        project = project_names.get(record.project_id, f"project {record.project_id}")
    return {
        "id": record.id, "iso": moment, "when": moment[:19].replace("T", " "),
        "actor": record.actor, "action": record.action, "what": words(record.action),
        "subject": subject or _plain(record, project_names),
        "project": project, "client": record.client,
        "changes": changes(record.before, record.after),
    }


def _plain(record: AuditRecord, project_names: Mapping[int, str]) -> Subject:
    """A subject without a page of its own (a key, a user, a schedule ...), or a project."""
    name = project_names.get(record.project_id) if record.project_id is not None else None
    if record.subject_type == "project" and name is not None:
        return Subject("project", name, f"/console/p/{record.project_id}/flags")
    return Subject(record.subject_type, record.subject_id or "")


# --- the page ---------------------------------------------------------------------------------

def _header(services: ConsoleServices, current: SignedIn) -> dict[str, Any]:
    """Outside a project, the navigation of the first project, as on the users and keys pages."""
    projects = services.keys.projects()
    return project_context(services, current, projects[0].id) if projects else {"projects": projects}


def audit_page(request: Request, services: ConsoleServices, current: SignedIn, filters: Filters,
               records: list[AuditRecord], before: int | None, error: FormError | None = None) -> Response:
    ctx = _header(services, current)
    names = {p.id: p.name for p in ctx["projects"]}
    known = subjects(services, current.user.principal(), records)
    more = len(records) == PAGE_SIZE
    return page(request, "audit.html", current, error=error, filters=filters, actions=ACTIONS, folded=FOLDED,
                rows=[row(r, known, names) for r in records], paged=before is not None,
                next_url=filters.url("/console/audit", before=records[-1].id) if more else None,
                first_url=filters.url("/console/audit"),
                export_url=None if error else filters.url("/console/audit/export"), **ctx)


@router.get("/console/audit")
def audit_log(request: Request, services: ConsoleDep, current: SignedInDep) -> Response:
    _require_admin(current)
    filters = Filters.of(request.query_params)
    try:
        before = _cursor(request.query_params.get("before"))
        records = services.audit.page(current.user.principal(), filters.query(), before, PAGE_SIZE)
    except DomainError as error:
        return audit_page(request, services, current, filters, [], None, refusal(FORM, error))
    return audit_page(request, services, current, filters, records, before)


@router.get("/console/audit/export")
def export(request: Request, services: ConsoleDep, current: SignedInDep) -> Response:
    """What /api/1/audit/export answers, for a signed-in admin (the API needs a key)."""
    _require_admin(current)
    records = services.audit.export(current.user.principal(), Filters.of(request.query_params).query())
    first = next(records, None)  # a refusal (start after end) is an error page, not a broken download
    lines = chain([first], records) if first is not None else iter(())
    return StreamingResponse(_json_lines(lines), media_type="application/x-ndjson",
                             headers={"content-disposition": 'attachment; filename="flagyard-audit.jsonl"'})


def _json_lines(records: Iterator[AuditRecord]) -> Iterator[bytes]:
    for record in records:
        yield orjson.dumps(audit_document(record)) + b"\n"
