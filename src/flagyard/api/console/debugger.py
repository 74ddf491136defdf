"""The evaluation debugger: what a user gets from every flag of a deployment, and why."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from flagyard.api.console.context import ConsoleRoute, project_context
from flagyard.api.console.render import FormError, page
from flagyard.api.console.services import ConsoleServices
from flagyard.api.console.session import ConsoleDep, SignedInDep
from flagyard.manage.model.flags import Flag, Kind
from flagyard.manage.model.paging import PageRequest
from flagyard.manage.model.targeting import USER_FIELDS
from flagyard.manage.ports import FlagQuery
from flagyard.manage.users import SignedIn
from flagyard.measure.model.tracking import UNTRACKED

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)


def _user(params: Any) -> tuple[dict[str, Any], FormError | None]:
    user: dict[str, Any] = {}
    for field in ("user_id", "device_id"):
        value = (params.get(field) or "").strip()
        if value:
            user[field] = value
    raw = (params.get("properties") or "").strip()
    if raw:
        try:
            properties = json.loads(raw)
        except ValueError as error:
            return user, FormError("debugger", "properties", f"properties is not valid JSON: {error}", 400)
        if not isinstance(properties, dict):
            return user, FormError("debugger", "properties", "properties must be a JSON object", 400)
        # Amplitude's own user fields (country, platform, ...) sit on the user; the rest are
        # custom user properties, as the SDKs send them.
        custom = {k: v for k, v in properties.items() if k not in USER_FIELDS}
        user.update({k: v for k, v in properties.items() if k in USER_FIELDS})
        if custom:
            user["user_properties"] = custom
    return user, None


def _linked(services: ConsoleServices, current: SignedIn, project_id: int,
            deployment_id: int) -> list[Flag]:
    flags: list[Flag] = []
    for kind in Kind:
        query = FlagQuery(kind=kind, project_id=project_id, deployment_id=deployment_id, archived=None)
        flags += services.search.page(current.user.principal(), query, PageRequest(limit=1000)).items
    return sorted(flags, key=lambda flag: flag.id)


@router.get("/console/p/{project}/debugger")
def debugger(request: Request, services: ConsoleDep, current: SignedInDep, project: str) -> Response:
    ctx = project_context(services, current, project)
    params = request.query_params
    chosen = next((d for d in ctx["deployments"] if str(d.id) == params.get("deployment")), None)
    rows: list[dict[str, Any]] | None = None
    user, error = _user(params)
    if chosen is not None and error is None:
        if not user:
            error = FormError("debugger", "user_id", "enter a user id or a device id", 400)
        else:
            evaluation = services.serving.evaluate_blocking(chosen.key, user, None, UNTRACKED)
            snapshot, results = evaluation.snapshot, evaluation.variants
            rows = []
            for key in snapshot.deployed_keys:
                result = results.get(key, {})
                metadata = result.get("metadata", {})
                rows.append({
                    "flag": key,
                    "variant": result.get("key", "off"),
                    "value": result.get("value"),
                    "payload": result.get("payload"),
                    "segment": metadata.get("segmentName", "—"),
                    "default": bool(metadata.get("default")),
                    "kind": metadata.get("flagType", ""),
                })
            served = set(snapshot.deployed_keys)
            for flag in _linked(services, current, chosen.project_id, chosen.id):
                if flag.key not in served:
                    rows.append({"flag": flag.key, "variant": "off", "value": None, "payload": None,
                                 "segment": "flag disabled or archived: not served", "default": True,
                                 "kind": flag.kind.value})
    return page(request, "debugger.html", current, error=error, chosen=chosen, rows=rows,
                query=dict(params), user_json=json.dumps(user, ensure_ascii=False), **ctx)
