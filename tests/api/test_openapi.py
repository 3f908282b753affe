"""The OpenAPI document is valid and covers every /api/v1 route the router has."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import validate

from tests.api.helpers import Client


async def spec_of(client: Client) -> dict[str, Any]:
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    return dict(await response.json())


async def test_the_document_is_valid_openapi_3_1(client: Client) -> None:
    spec = await spec_of(client)
    assert spec["openapi"].startswith("3.1")
    validate(spec)


async def test_every_api_v1_route_is_documented(client: Client) -> None:
    spec = await spec_of(client)
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in client.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/v1/")
        and route.method not in ("HEAD", "OPTIONS")
    }
    documented = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    assert served and served <= documented


async def test_every_documented_route_is_served(client: Client) -> None:
    spec = await spec_of(client)
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in client.app.router.routes()
        if route.resource is not None
    }
    documented = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    assert documented <= served


async def test_bodies_and_answers_reference_their_schemas(client: Client) -> None:
    spec = await spec_of(client)
    login = spec["paths"]["/api/v1/auth/login"]["post"]
    body_ref = login["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    answer_ref = login["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schemas = spec["components"]["schemas"]
    assert body_ref.rsplit("/", 1)[-1] in schemas and answer_ref.rsplit("/", 1)[-1] in schemas
    assert schemas[body_ref.rsplit("/", 1)[-1]]["additionalProperties"] is False
    assert login["security"] == []
    assert spec["paths"]["/api/v1/conversations"]["get"]["security"]
