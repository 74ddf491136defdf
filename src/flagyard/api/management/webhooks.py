"""/api/1/webhooks: where a project's changes are sent (ADR 0086, docs/webhooks.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from flagyard.api.http.deps import PrincipalDep, ServicesDep, path_id, query_id
from flagyard.api.schemas.responses import MANAGEMENT_ERRORS
from flagyard.api.schemas.webhooks import WebhookCreateIn, WebhookPatchIn
from flagyard.manage.model.webhooks import EVENT_TYPES, delivery_document, webhook_document

router = APIRouter(prefix="/api/1/webhooks", tags=["Webhooks"], responses=MANAGEMENT_ERRORS)


def _id(raw: str) -> int:
    return path_id(raw, "Webhook")


@router.post("", summary="Create a webhook; the answer carries its signing secret, shown only now")
def create_webhook(body: WebhookCreateIn, principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    fields = body.model_dump(by_alias=True, exclude_unset=True)
    fields.pop("projectId")
    created = services.webhooks.create(principal, body.project_id, fields)
    return {**webhook_document(created.webhook), "secret": created.secret}


@router.get("", summary="List webhooks (of one project with projectId)")
def list_webhooks(principal: PrincipalDep, services: ServicesDep,
                  projectId: Annotated[str | None, Query()] = None) -> dict[str, Any]:  # noqa: N803
    project = query_id(projectId, "projectId") if projectId is not None else None
    return {"webhooks": [webhook_document(h) for h in services.webhooks.find(principal, project)]}


@router.get("/events", summary="The event types a webhook may ask for")
def event_types() -> dict[str, Any]:
    return {"events": [{"type": name, "description": words} for name, words in EVENT_TYPES.items()]}


@router.get("/{id}", summary="Get a webhook")
def get_webhook(id: str, principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    return webhook_document(services.webhooks.get(principal, _id(id)))


@router.patch("/{id}", summary="Edit a webhook (fields not sent keep their values)")
def edit_webhook(id: str, body: WebhookPatchIn, principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    fields = body.model_dump(by_alias=True, exclude_unset=True)
    return webhook_document(services.webhooks.edit(principal, _id(id), fields))


@router.delete("/{id}", summary="Delete a webhook and its pending deliveries")
def delete_webhook(id: str, principal: PrincipalDep, services: ServicesDep) -> dict[str, Any]:
    return webhook_document(services.webhooks.delete(principal, _id(id)))


@router.post("/{id}/test", summary="Send a webhook.test delivery now", status_code=202)
def test_webhook(id: str, principal: PrincipalDep, services: ServicesDep) -> JSONResponse:
    delivery = services.webhooks.test(principal, _id(id))
    return JSONResponse({"deliveryId": str(delivery.id), "messageId": delivery.message_id}, status_code=202)


@router.get("/{id}/deliveries", summary="Recent deliveries with every attempt, newest first")
def list_deliveries(id: str, principal: PrincipalDep, services: ServicesDep,
                    limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    found = services.webhooks.deliveries(principal, _id(id), limit)
    return {"deliveries": [delivery_document(delivery, attempts) for delivery, attempts in found]}
