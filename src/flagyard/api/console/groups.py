"""A project's holdouts and mutual exclusion groups: the list with a create form for each kind,
and one group's page: who lands where, its members added and removed, the individuals it
places by hand, its name and description, archive.

Each form becomes the body /api/1/holdouts or /api/1/mutexes takes, checked by the API's own
schema, and goes to the same `GroupService` call; a refusal shows the service's message next to
the field and nothing is stored. As in the API, the shares (holdout percentage, slot
percentages) are set when the group is created: changing them later would move users who are
already in the experiments from one side to the other.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from flagyard.api.console.context import ConsoleRoute, project_context
from flagyard.api.console.group_split import holdout_shares, in_words, mutex_shares
from flagyard.api.console.render import FormError, done, page, refusal
from flagyard.api.console.services import ConsoleServices
from flagyard.api.console.session import ConsoleDep, SignedInDep, WriterFormDep
from flagyard.api.http.deps import path_id
from flagyard.api.schemas.groups import (
    HoldoutCreateIn,
    HoldoutPatchIn,
    MutexCreateIn,
    MutexPatchIn,
    SlotPatchIn,
)
from flagyard.errors import DomainError, Invalid, NotFound
from flagyard.manage.model.access import Principal
from flagyard.manage.model.document import flag_document
from flagyard.manage.model.flags import Flag, Kind
from flagyard.manage.model.groups import MAX_SLOTS, slot_variant
from flagyard.manage.model.paging import PageRequest
from flagyard.manage.ports import FlagQuery
from flagyard.manage.users import SignedIn

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)

PLURALS = {"holdouts": Kind.HOLDOUT, "mutexes": Kind.MUTEX}
PLURAL_OF = {kind: plural for plural, kind in PLURALS.items()}
NOUNS = {Kind.HOLDOUT: "Holdout", Kind.MUTEX: "Mutual exclusion group"}
PAGE_SIZE = 50
SLOT_ROWS = 2  # the create form's slot rows at first; "Add a slot" adds one more each time
CHOICES_LIMIT = 1000  # experiments and holdouts offered in a member's drop-down
MEMBER_FIELDS = {"experiments": Kind.EXPERIMENT, "holdouts": Kind.HOLDOUT}
_INTEGER = re.compile(r"-?[0-9]{1,12}")
_SLOT_FIELD = re.compile(r"slots\[(\d+)\]\.percentage")


def _kind(plural: str) -> Kind:
    kind = PLURALS.get(plural)
    if kind is None:
        raise NotFound("no such page", code="not_found")
    return kind


def _text(form: FormData, name: str) -> str:
    return str(form.get(name) or "")


def _number(raw: str) -> Any:
    """A number typed in a form; anything else goes to the schema as text, which names the field."""
    raw = raw.strip()
    return int(raw) if _INTEGER.fullmatch(raw) else raw


def _lines(raw: str) -> list[str]:
    """Ids typed one per line or comma separated."""
    return [part.strip() for part in re.split(r"[\n,]", raw) if part.strip()]


def _cursor(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isascii() and raw.isdigit() and len(raw) <= 10 else None


def _typed(form: FormData) -> dict[str, str]:
    """What was typed, shown again with a refusal so nothing has to be typed twice."""
    return {name: str(value) for name, value in form.items() if name != "csrf_token"}


# --- the project's groups ---------------------------------------------------------------------

def _listing(request: Request, services: ConsoleServices, principal: Principal, project_id: int,
             plural: str, archived: bool) -> dict[str, Any]:
    """One kind's table: a page of groups and links to the next page and back to the first."""
    params = request.query_params
    cursor_name = f"{plural}_cursor"
    result = services.groups.page(principal, PLURALS[plural], archived,
                                  PageRequest(limit=PAGE_SIZE, cursor=_cursor(params.get(cursor_name))),
                                  project_id=project_id)
    kept = {name: value for name, value in params.items() if name != cursor_name and name != "done"}
    return {
        "items": [flag_document(group) for group in result.items],
        "next_url": (f"?{urlencode({**kept, cursor_name: result.next_cursor})}#h-{plural}"
                     if result.next_cursor is not None else None),
        "first_url": f"?{urlencode(kept)}#h-{plural}" if params.get(cursor_name) else None,
    }


def groups_page(request: Request, services: ConsoleServices, current: SignedIn, project: str,
                error: FormError | None = None, typed: dict[str, str] | None = None,
                typed_form: str = "", slot_rows: int = SLOT_ROWS, focus_row: int | None = None) -> Response:
    ctx = project_context(services, current, project)
    principal = current.user.principal()
    archived = request.query_params.get("archived") == "yes"
    lists = {plural: _listing(request, services, principal, ctx["project"].id, plural, archived)
             for plural in PLURALS}
    return page(request, "groups.html", current, error=error, lists=lists, archived=archived,
                typed=typed or {}, typed_form=typed_form, slot_rows=slot_rows, focus_row=focus_row,
                max_slots=MAX_SLOTS, **ctx)


@router.get("/console/p/{project}/groups")
def groups(request: Request, services: ConsoleDep, current: SignedInDep, project: str) -> Response:
    return groups_page(request, services, current, project)


def _group_body(form: FormData, project_id: int) -> dict[str, Any]:
    """The fields both kinds share; optional ones only when typed, so the API's defaults apply."""
    body: dict[str, Any] = {"projectId": str(project_id), "name": _text(form, "name").strip(),
                            "evaluationMode": _text(form, "evaluationMode") or "remote"}
    for name in ("key", "description", "bucketingKey"):
        if _text(form, name).strip():
            body[name] = _text(form, name).strip()
    return body


@router.post("/console/p/{project}/groups/holdouts")
def create_holdout(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                   project: str) -> Response:
    project_id = project_context(services, current, project)["project"].id
    body = {**_group_body(form, project_id), "holdoutPercentage": _number(_text(form, "holdoutPercentage"))}
    try:
        fields = HoldoutCreateIn.model_validate(body).fields()
        group = services.groups.create(current.user.principal(), Kind.HOLDOUT, fields)
    except (DomainError, ValidationError) as error:
        return groups_page(request, services, current, project, refusal("holdout-new", error),
                           _typed(form), "holdout-new")
    return done(f"/console/groups/holdouts/{group.id}", f"Holdout {group.name} created")


def _slot_rows(form: FormData) -> int:
    """How many slot rows the submitted form had."""
    rows = _cursor(_text(form, "rows")) or SLOT_ROWS
    return max(1, min(rows, MAX_SLOTS))


def _slots_refusal(error: DomainError | ValidationError, filled: list[int]) -> FormError:
    """The refusal beside the input it names: slots[1].percentage is the second filled row's."""
    found = refusal("mutex-new", error)
    named = _SLOT_FIELD.search(found.message)
    if named is None or int(named.group(1)) >= len(filled):
        return found
    return FormError(found.form, f"percentage-{filled[int(named.group(1))]}", found.message, found.status)


@router.post("/console/p/{project}/groups/mutexes")
def create_mutex(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                 project: str) -> Response:
    rows = _slot_rows(form)
    if form.get("add_slot"):
        # Without a script: the form again, as typed, with one more slot row to fill in.
        more = min(rows + 1, MAX_SLOTS)
        return groups_page(request, services, current, project, typed=_typed(form), typed_form="mutex-new",
                           slot_rows=more, focus_row=more - 1)
    project_id = project_context(services, current, project)["project"].id
    filled = [row for row in range(rows) if _text(form, f"percentage-{row}").strip()]
    body = {**_group_body(form, project_id),
            "slots": [{"percentage": _number(_text(form, f"percentage-{row}"))} for row in filled]}
    try:
        fields = MutexCreateIn.model_validate(body).fields()
        group = services.groups.create(current.user.principal(), Kind.MUTEX, fields)
    except (DomainError, ValidationError) as error:
        return groups_page(request, services, current, project, _slots_refusal(error, filled),
                           _typed(form), "mutex-new", slot_rows=rows)
    return done(f"/console/groups/mutexes/{group.id}", f"Mutual exclusion group {group.name} created")


# --- one group --------------------------------------------------------------------------------

def _member(flag: Flag) -> dict[str, Any]:
    document = flag_document(flag)
    plural = "experiments" if flag.kind is Kind.EXPERIMENT else f"groups/{PLURAL_OF[flag.kind]}"
    return {"id": str(flag.id), "key": flag.key, "name": flag.name, "kind": flag.kind.value,
            "state": document.get("state"), "enabled": document.get("enabled"), "deleted": flag.deleted,
            "url": f"/console/{plural}/{flag.id}"}


def _choices(services: ConsoleServices, principal: Principal, group: Flag) -> dict[str, list[dict[str, str]]]:
    """What may be added: the project's experiments (and, to a mutex slot, holdouts) not in it yet."""
    inside = {member.id for member in group.members}
    experiments = services.search.page(
        principal, FlagQuery(kind=Kind.EXPERIMENT, project_id=group.project_id, archived=False),
        PageRequest(limit=CHOICES_LIMIT)).items
    choices = {"experiments": [{"id": str(e.id), "label": f"{e.name} ({e.key})" if e.name else e.key}
                               for e in experiments if e.id not in inside]}
    if group.kind is Kind.MUTEX:
        holdouts = services.groups.page(principal, Kind.HOLDOUT, False, PageRequest(limit=CHOICES_LIMIT),
                                        project_id=group.project_id).items
        choices["holdouts"] = [{"id": str(h.id), "label": f"{h.name} ({h.key})"}
                               for h in holdouts if h.id not in inside]
    return choices


def group_page(request: Request, services: ConsoleServices, current: SignedIn, plural: str, group_id: int,
               error: FormError | None = None, typed: dict[str, str] | None = None) -> Response:
    kind = _kind(plural)
    principal = current.user.principal()
    group = services.groups.get(principal, kind, group_id)
    document = flag_document(group)
    members = {str(flag.id): _member(flag) for flag in services.groups.member_flags(principal, group)}
    shares = holdout_shares(document, members) if kind is Kind.HOLDOUT else mutex_shares(document, members)
    choices = _choices(services, principal, group) if current.user.can_write and not group.deleted else {}
    return page(request, f"{kind.value}.html", current, error=error, group=document, plural=plural,
                noun=NOUNS[kind], members=members, shares=shares, shares_in_words=in_words(shares),
                choices=choices, typed=typed or {}, **project_context(services, current, group.project_id))


@router.get("/console/groups/{plural}/{id}")
def show(request: Request, services: ConsoleDep, current: SignedInDep, plural: str, id: str) -> Response:
    return group_page(request, services, current, plural, path_id(id, _kind(plural).label))


Change = Callable[[Principal, Flag, dict[str, Any]], str]


def _act(request: Request, services: ConsoleServices, current: SignedIn, plural: str, id: str, form_id: str,
         change: Change, form: FormData) -> Response:
    """Make one change to a group; a refusal is shown on its page in the form `form_id`."""
    kind = _kind(plural)
    group_id = path_id(id, kind.label)
    principal = current.user.principal()
    try:
        group = services.groups.get(principal, kind, group_id)
        message = change(principal, group, flag_document(group))
    except (DomainError, ValidationError) as error:
        return group_page(request, services, current, plural, group_id, refusal(form_id, error), _typed(form))
    return done(f"/console/groups/{plural}/{group_id}", message)


def _edit(services: ConsoleServices, principal: Principal, group: Flag, body: dict[str, Any]) -> None:
    schema = HoldoutPatchIn if group.kind is Kind.HOLDOUT else MutexPatchIn
    services.groups.edit(principal, group.kind, group.id, schema.model_validate(body).changes())


@router.post("/console/groups/{plural}/{id}/settings")
def save_settings(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                  plural: str, id: str) -> Response:
    def change(principal: Principal, group: Flag, _: dict[str, Any]) -> str:
        _edit(services, principal, group, {"name": _text(form, "name").strip(),
                                           "description": _text(form, "description").strip()})
        return "Settings saved"

    return _act(request, services, current, plural, id, "settings", change, form)


@router.post("/console/groups/{plural}/{id}/archive")
def archive(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
            plural: str, id: str) -> Response:
    def change(principal: Principal, group: Flag, _: dict[str, Any]) -> str:
        archiving = _text(form, "archive") == "true"
        _edit(services, principal, group, {"archive": archiving})
        return f"{NOUNS[group.kind]} archived; its members left it" if archiving else f"{NOUNS[group.kind]} unarchived"

    return _act(request, services, current, plural, id, "archive", change, form)


def _chosen(form: FormData, field: str) -> str:
    chosen = _text(form, "member").strip()
    if not chosen:
        raise Invalid(f"{field}: choose one to add", code="invalid_field")
    return chosen


def _label(services: ConsoleServices, principal: Principal, kind: Kind, member_id: str) -> str:
    """A member's key for the notice; its id when it cannot be read."""
    try:
        if kind is Kind.EXPERIMENT:
            return services.flags.get(principal, kind, int(member_id)).key
        return services.groups.get(principal, kind, int(member_id)).key
    except (DomainError, ValueError):
        return member_id


# --- a holdout's experiments and individuals ---------------------------------------------------

@router.post("/console/groups/holdouts/{id}/experiments")
def add_experiment(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                   id: str) -> Response:
    def change(principal: Principal, group: Flag, document: dict[str, Any]) -> str:
        chosen = _chosen(form, "experiments")
        _edit(services, principal, group, {"experiments": [*document["experiments"], chosen]})
        return f"Experiment {_label(services, principal, Kind.EXPERIMENT, chosen)} added"

    return _act(request, services, current, "holdouts", id, "experiments", change, form)


@router.post("/console/groups/holdouts/{id}/experiments/{member}/remove")
def remove_experiment(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                      id: str, member: str) -> Response:
    def change(principal: Principal, group: Flag, document: dict[str, Any]) -> str:
        if member not in document["experiments"]:
            raise NotFound(f"experiment {member[:20]} is not in holdout {group.id}", code="not_found")
        _edit(services, principal, group, {"experiments": [e for e in document["experiments"] if e != member]})
        return f"Experiment {_label(services, principal, Kind.EXPERIMENT, member)} removed"

    return _act(request, services, current, "holdouts", id, "experiments", change, form)


@router.post("/console/groups/holdouts/{id}/individuals")
def holdout_individuals(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                        id: str) -> Response:
    def change(principal: Principal, group: Flag, _: dict[str, Any]) -> str:
        _edit(services, principal, group, {"individualInclusion": _lines(_text(form, "individualInclusion")),
                                           "individualExclusion": _lines(_text(form, "individualExclusion"))})
        return "Individuals saved"

    return _act(request, services, current, "holdouts", id, "individuals", change, form)


# --- a mutex's slots ----------------------------------------------------------------------------

def _slot(document: dict[str, Any], raw: str) -> dict[str, Any]:
    slots = document["slots"]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 2 and 1 <= int(raw) <= len(slots)):
        raise NotFound(f"slot {raw[:20]} of mutex {document['id']} not found", code="slot_not_found")
    return dict(slots[int(raw) - 1])


def _edit_slot(services: ConsoleServices, principal: Principal, group: Flag, slot: dict[str, Any],
               body: dict[str, Any]) -> None:
    services.groups.edit_slot(principal, group.id, int(slot["index"]), SlotPatchIn.model_validate(body).changes())


def _member_field(which: str) -> Kind:
    kind = MEMBER_FIELDS.get(which)
    if kind is None:
        raise NotFound("no such action", code="not_found")
    return kind


@router.post("/console/groups/mutexes/{id}/slots/{index}/individuals")
def slot_individuals(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                     id: str, index: str) -> Response:
    def change(principal: Principal, group: Flag, document: dict[str, Any]) -> str:
        slot = _slot(document, index)
        _edit_slot(services, principal, group, slot, {"individuals": _lines(_text(form, "individuals"))})
        return f"Individuals of slot {slot['index']} saved"

    return _act(request, services, current, "mutexes", id, f"slot-{index}", change, form)


@router.post("/console/groups/mutexes/{id}/slots/{index}/{which}")
def add_to_slot(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                id: str, index: str, which: str) -> Response:
    kind = _member_field(which)

    def change(principal: Principal, group: Flag, document: dict[str, Any]) -> str:
        slot = _slot(document, index)
        chosen = _chosen(form, which)
        _edit_slot(services, principal, group, slot, {which: [*slot[which], chosen]})
        return f"{kind.label} {_label(services, principal, kind, chosen)} added to slot {slot['index']}"

    return _act(request, services, current, "mutexes", id, f"slot-{index}", change, form)


@router.post("/console/groups/mutexes/{id}/slots/{index}/{which}/{member}/remove")
def remove_from_slot(request: Request, services: ConsoleDep, current: SignedInDep, form: WriterFormDep,
                     id: str, index: str, which: str, member: str) -> Response:
    kind = _member_field(which)

    def change(principal: Principal, group: Flag, document: dict[str, Any]) -> str:
        slot = _slot(document, index)
        if member not in slot[which]:
            raise NotFound(f"{kind.value} {member[:20]} is not in slot {slot['index']}", code="not_found")
        _edit_slot(services, principal, group, slot, {which: [m for m in slot[which] if m != member]})
        return f"{kind.label} {_label(services, principal, kind, member)} removed from slot {slot['index']}"

    return _act(request, services, current, "mutexes", id, f"slot-{index}", change, form)


# --- on an experiment's page --------------------------------------------------------------------

def experiment_groups(services: ConsoleServices, principal: Principal, flag: Flag) -> list[dict[str, Any]]:
    """The groups an experiment is in, each with the share of users it may reach through it."""
    shown = []
    for group, allowed in services.groups.groups_of(principal, flag):
        config = group.group_config or {}
        if group.kind is Kind.HOLDOUT:
            held_out = int(config.get("holdoutPercentage") or 0)
            reach = (f"{held_out}% of users are held out and see none of its experiments; "
                     f"this experiment may reach the other {100 - held_out}%")
        else:
            slots = list(config.get("slots") or [])
            index = next((i for i in range(1, len(slots) + 1) if slot_variant(i) in allowed), 0)
            share = slots[index - 1]["percentage"] if index else 0
            reach = (f"slot {index}: this experiment may reach only the {share}% of users in that slot, "
                     f"who see no other experiment of the group")
        shown.append({"kind": group.kind.value, "noun": NOUNS[group.kind], "name": group.name, "key": group.key,
                      "deleted": group.deleted, "url": f"/console/groups/{PLURAL_OF[group.kind]}/{group.id}",
                      "reach": reach})
    return shown
