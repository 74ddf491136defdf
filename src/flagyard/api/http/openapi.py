"""The OpenAPI document: security schemes per route family, 400 instead of FastAPI's 422."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from flagyard.api.http.middleware import is_management_path

SDK_PREFIXES = ("/sdk/", "/v1/")


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description,
                             routes=app.routes)
        schema.setdefault("components", {})["securitySchemes"] = {
            "managementKey": {"type": "http", "scheme": "bearer",
                              "description": "A management key: `Authorization: Bearer <key>`"},
            "deploymentKey": {"type": "apiKey", "in": "header", "name": "Authorization",
                              "description": "A deployment key: `Authorization: Api-Key <key>`"},
        }
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.get("responses", {})
                # Validation errors answer 400 with the error body, never 422.
                responses.pop("422", None)
                for status, response in responses.items():
                    # Routes answering text OK still answer errors as JSON.
                    content = response.get("content", {})
                    if status != "200" and "text/plain" in content:
                        content["application/json"] = content.pop("text/plain")
                if is_management_path(path):
                    operation["security"] = [{"managementKey": []}]
                elif path.startswith(SDK_PREFIXES):
                    operation["security"] = [{"deploymentKey": []}]
        schemas = schema["components"].get("schemas", {})
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
