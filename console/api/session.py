"""Login, logout, who am I, and presence."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from lines.console import auth
from lines.console.actions import do_set_presence
from lines.console.api.route_table import Body, Call, Route
from lines.console.api.schemas import LoginOut, MeOut, OkOut, PresenceOut
from lines.console.keys import events_key, sessions_key
from lines.console.models import Presence
from lines.console.serialize import operator_dict


class LoginIn(Body):
    # Length caps keep argon2 and the lookup cheap; any login shape is accepted so a wrong one
    # gets the same 401 as an unknown one.
    login: Annotated[str, Field(min_length=1, max_length=200)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class PresenceIn(Body):
    status: Literal["online", "away", "offline"]


async def login(call: Call) -> dict[str, Any]:
    """Throttled per account and per client address (429 with Retry-After). A wrong password and
    an unknown login get the same 401."""
    body = call.body(LoginIn)
    operator, token, _csrf = await auth.login_with_password(call.request, body.login, body.password, "bearer")
    return {"token": token, "operator": operator_dict(operator)}


async def logout(call: Call) -> dict[str, Any]:
    """The token stops working at once, and its open event sockets close (4401)."""
    await auth.logout(call.request)
    return {"ok": True}


async def me(call: Call) -> dict[str, Any]:
    """`csrf_token` is set for cookie sessions: send it back in `X-CSRF-Token` on unsafe methods."""
    ctx = call.ctx
    return {"operator": operator_dict(ctx.operator), "csrf_token": ctx.csrf if ctx.via == "cookie" else None}


async def set_presence(call: Call) -> dict[str, Any]:
    """Announced to all consoles as `operator.presence`."""
    body = call.body(PresenceIn)
    async with call.app[sessions_key]() as session:
        return await do_set_presence(session, call.app[events_key], call.ctx.operator.id, Presence(body.status))


ROUTES = [
    Route(
        "POST",
        "/api/v1/auth/login",
        login,
        "Log in with login and password; returns a bearer token",
        LoginOut,
        body=LoginIn,
        auth=False,
        errors=(401, 429),
        tag="auth",
    ),
    Route("POST", "/api/v1/auth/logout", logout, "Revoke the current session", OkOut, tag="auth"),
    Route(
        "GET", "/api/v1/me", me, "The signed-in operator (and the CSRF token for cookie sessions)", MeOut, tag="auth"
    ),
    Route("PUT", "/api/v1/me/presence", set_presence, "Set my presence", PresenceOut, body=PresenceIn, tag="operators"),
]
