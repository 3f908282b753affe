"""OpenAPI 3.1 built from the route table and its pydantic models, so the document cannot drift."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from lines.console.api.route_table import Route
from lines.console.api.schemas import ErrorOut

REF = "#/components/schemas/{model}"
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"cookie": []}]
ERRORS = {
    400: "Invalid JSON",
    401: "Not authenticated (or the session expired or was revoked)",
    403: "Forbidden (role, or a missing CSRF token on a cookie session)",
    404: "Not found, or not visible to you",
    409: "Conflict: the state changed meanwhile",
    413: "Request body too large",
    422: "Validation error; the message names the field",
    429: "Too many attempts; see Retry-After",
}


def _error_statuses(route: Route) -> list[int]:
    statuses = set(route.errors)
    if route.auth:
        statuses.add(401)
        if route.method in ("POST", "PUT", "PATCH", "DELETE"):
            statuses.add(403)
    if route.body:
        statuses.update((400, 413, 422))
    if route.query or route.path_params:
        statuses.add(422)
    return sorted(statuses)


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation(route: Route, refs: dict[tuple[Any, JsonSchemaMode], Any]) -> dict[str, Any]:
    error_ref = refs[(ErrorOut, "serialization")]
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
        for name in route.path_params
    ]
    if route.query:
        parameters.extend(_query_parameters(route.query))
    responses: dict[str, Any] = {}
    if route.websocket:
        responses["101"] = {"description": "Switching to the WebSocket protocol; see the description"}
    elif route.response is not None:
        responses[str(route.status)] = {
            "description": route.summary,
            "content": {"application/json": {"schema": refs[(route.response, "serialization")]}},
        }
    for status in _error_statuses(route):
        responses[str(status)] = {
            "description": ERRORS.get(status, "Error"),
            "content": {"application/json": {"schema": error_ref}},
        }
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "responses": responses,
        "security": SECURITY if route.auth else [],
    }
    if route.handler is not None and route.handler.__doc__:
        operation["description"] = route.handler.__doc__.strip()
    if parameters:
        operation["parameters"] = parameters
    if route.body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
        }
    return operation


def build_openapi(routes: list[Route], version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document for `routes`."""
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorOut, "serialization")]
    for route in routes:
        if route.body:
            wanted.append((route.body, "validation"))
        if route.response:
            wanted.append((route.response, "serialization"))
    unique = list(dict.fromkeys(wanted))
    refs, top = models_json_schema(unique, ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        method: Literal["get", "post", "put", "patch", "delete"] = route.method.lower()  # type: ignore[assignment]
        paths.setdefault(route.path, {})[method] = _operation(route, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Lines API",
            "version": version,
            "description": (
                'JSON over HTTP. Errors are always `{"error": {"code", "message"}}`. Authenticate with '
                "`Authorization: Bearer <token>` from `POST /api/v1/auth/login`, or with the console's "
                "session cookie plus the `X-CSRF-Token` header on unsafe methods."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": top.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "lines_session"},
            },
        },
    }
