"""The route table: each endpoint declared once with its models; aiohttp routes and OpenAPI come from it.

A handler receives a `Call` whose body, query and path ids are already parsed and validated, and
whose caller is authenticated (and CSRF-checked) unless the route says `auth=False`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeAlias, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lines.console.api.errors import ApiError
from lines.console.auth import AuthContext, require_auth

M = TypeVar("M", bound=BaseModel)
Reply: TypeAlias = "dict[str, Any] | list[Any] | web.StreamResponse"
Handler: TypeAlias = Callable[["Call"], Awaitable[Reply]]

MAX_JSON_BYTES = 256 * 1024
MAX_ID = 2**63 - 1  # a bigint; larger values would reach the database as an overflow error
PATH_PARAM = re.compile(r"\{(\w+)\}")

Id: TypeAlias = Annotated[int, Field(gt=0, le=MAX_ID)]
"""A row id in a body: positive and within bigint."""


class Body(BaseModel):
    """Request bodies: unknown fields refused, JSON types taken literally ("5" is not 5)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Query(BaseModel):
    """Query strings: every value is text, so types are coerced, but unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    """Response shapes, for the OpenAPI document and for tests that check the handlers keep to them."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler | None
    summary: str
    response: type[BaseModel] | None
    body: type[Body] | None = None
    query: type[Query] | None = None
    auth: bool = True
    status: int = 200
    errors: tuple[int, ...] = ()
    tag: str = "api"
    websocket: bool = False  # documented only; the handler is added by its own module
    name: str = ""  # the operation id when there is no `handler` to name it

    @property
    def operation_id(self) -> str:
        name = self.name or (self.handler.__name__ if self.handler else self.path.rsplit("/", 1)[-1])
        return name.strip("_")

    @property
    def path_params(self) -> list[str]:
        return PATH_PARAM.findall(self.path)


@dataclass(frozen=True, slots=True)
class Call:
    """One parsed API request."""

    request: web.Request
    auth: AuthContext | None
    ids: Mapping[str, int] = field(default_factory=dict)
    _body: BaseModel | None = None
    _query: BaseModel | None = None

    @property
    def ctx(self) -> AuthContext:
        assert self.auth is not None, "route declared without auth"
        return self.auth

    @property
    def app(self) -> web.Application:
        return self.request.app

    def body(self, model: type[M]) -> M:
        assert isinstance(self._body, model), f"route declares {type(self._body).__name__}, not {model.__name__}"
        return self._body

    def query(self, model: type[M]) -> M:
        assert isinstance(self._query, model), f"route declares {type(self._query).__name__}, not {model.__name__}"
        return self._query


def describe(err: ValidationError) -> str:
    """`field: problem; other.field: problem` — names the field the client got wrong."""
    parts = []
    for problem in err.errors(include_url=False):
        where = ".".join(str(p) for p in problem["loc"]) or "body"
        parts.append(f"{where}: {problem['msg']}")
    return "; ".join(parts)


async def parse_body(request: web.Request, model: type[M]) -> M:
    """400 `invalid_json` for anything that is not JSON, 422 `validation_error` naming the field otherwise."""
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise ApiError(413, "payload_too_large", f"request body is larger than {MAX_JSON_BYTES} bytes")
    raw = await request.read()
    if len(raw) > MAX_JSON_BYTES:
        raise ApiError(413, "payload_too_large", f"request body is larger than {MAX_JSON_BYTES} bytes")
    try:
        decoded = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise ApiError(400, "invalid_json", "request body is not valid JSON") from err
    if not isinstance(decoded, dict):
        raise ApiError(422, "validation_error", "body: must be a JSON object")
    try:
        # JSON mode: strict types, but ISO strings still parse as datetimes.
        return model.model_validate_json(raw)
    except ValidationError as err:
        raise ApiError(422, "validation_error", describe(err)) from err


def parse_query(request: web.Request, model: type[M]) -> M:
    values: dict[str, str] = {}
    for key, value in request.query.items():
        if key in values:
            raise ApiError(422, "validation_error", f"{key}: given more than once")
        values[key] = value
    try:
        return model.model_validate(values)
    except ValidationError as err:
        raise ApiError(422, "validation_error", describe(err)) from err


def parse_ids(request: web.Request, names: list[str]) -> dict[str, int]:
    ids = {}
    for name in names:
        raw = request.match_info.get(name, "")
        if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
            raise ApiError(422, "validation_error", f"{name}: must be a positive integer")
        ids[name] = int(raw)
    return ids


def wrap(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler: authenticate, parse, call, and turn the reply into JSON."""
    handler = route.handler
    assert handler is not None

    async def endpoint(request: web.Request) -> web.StreamResponse:
        auth = await require_auth(request) if route.auth else None
        ids = parse_ids(request, route.path_params)
        query = parse_query(request, route.query) if route.query else None
        body = await parse_body(request, route.body) if route.body else None
        reply = await handler(Call(request, auth, ids, body, query))
        if isinstance(reply, web.StreamResponse):
            return reply
        return web.json_response(reply, status=route.status)

    endpoint.__name__ = route.operation_id
    return endpoint


def add_routes(app: web.Application, routes: list[Route]) -> None:
    for route in routes:
        if not route.websocket:
            app.router.add_route(route.method, route.path, wrap(route), name=route.operation_id)


routes_key = web.AppKey("api_routes", list[Route])
"""Every documented API route of the app; modules with their own handlers (the events socket) add theirs."""
