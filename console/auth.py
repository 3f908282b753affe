"""Operator authentication: argon2 logins, sessions by bearer token or cookie, CSRF, login throttling.

A session row stores only the sha256 of its token, so a leaked database does not hand out logins.
Bearer tokens are for API clients; the browser console uses the HttpOnly cookie plus a CSRF token
that it sends back in `X-CSRF-Token` on every unsafe request (double submit against the session).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, TypeAlias

from aiohttp import web
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from lines.console.access import Scope
from lines.console.bus import EventBus
from lines.console.keys import bus_key, limiter_key, metrics_key, sessions_key, settings_key
from lines.console.models import AuthSession, Operator, utcnow
from lines.console.netutil import client_ip
from lines.console.passwords import verify_password
from lines.console.settings import Settings

log = logging.getLogger(__name__)

COOKIE_NAME = "lines_session"
CSRF_HEADER = "X-CSRF-Token"
SESSIONS_TOPIC = "auth.sessions"
"""Bus topic announcing that an operator's sessions or rights changed: open sockets re-check at once."""

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
Via: TypeAlias = Literal["bearer", "cookie"]
INVALID_CREDENTIALS = "login or password is incorrect"


class AuthError(Exception):
    """Authentication refused: `status` and `code` are what the API answers with."""

    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class AuthContext:
    """Who is calling: the operator (teams loaded, detached), what they may see, and how they logged in."""

    operator: Operator
    scope: Scope
    session_id: int
    via: Via
    csrf: str


@dataclass(frozen=True, slots=True)
class _Cached:
    context: AuthContext | None


_auth_key = web.RequestKey("lines_auth", _Cached)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


LOGIN_TIERS = 3
"""Delays grow by tier: after n failures from one address on one account it waits out the window,
after 2n four windows, after 4n sixteen windows."""


@dataclass(frozen=True, slots=True)
class _ThrottleKeys:
    account: str
    ip: str
    pairs: tuple[str, ...]


def _account_key(login: str) -> str:
    account = hashlib.sha256(login.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"login:account:{account}"


def _throttle_keys(request: web.Request, login: str) -> _ThrottleKeys:
    account, ip = _account_key(login), client_ip(request)
    pairs = tuple(f"login:pair:{account.rsplit(':', 1)[1]}:{ip}:{tier}" for tier in range(LOGIN_TIERS))
    return _ThrottleKeys(account, f"login:ip:{ip}", pairs)


async def _throttle(request: web.Request, login: str, keys: _ThrottleKeys) -> None:
    """Count this attempt (before the password is checked, so parallel guesses cannot race past) and
    refuse it with 429 if its address has been failing too often.

    Per (account, address) the delays grow; per address across accounts there is one limit; per
    account across addresses there is a ceiling far above one address's budget, and past it only
    addresses that have failed on the account before are refused: a right password from an address
    that has not been failing always gets through, so nobody can lock an operator out.
    """
    app = request.app
    limits = app[settings_key].auth
    limiter = app[limiter_key]
    window, per_pair = limits.login_window_seconds, limits.login_failures_per_account
    by_pair = [await limiter.hit(key, per_pair * 2**tier, window * 4**tier) for tier, key in enumerate(keys.pairs)]
    by_ip = await limiter.hit(keys.ip, limits.login_failures_per_ip, window)
    by_account = await limiter.hit(keys.account, limits.login_account_ceiling, window)
    failed_here_before = by_pair[-1].count > 1
    if not by_account.allowed and by_account.count == limits.login_account_ceiling + 1:
        log.warning(
            "login: account %r is under attack: %d failures in %d s from several addresses; "
            "addresses that keep failing on it are refused, others may still sign in",
            login.strip().lower(),
            limits.login_account_ceiling,
            window,
        )
    refused = [v for v in (*by_pair, by_ip) if not v.allowed]
    if not by_account.allowed and failed_here_before:
        refused.append(by_account)
    if refused:
        app[metrics_key].login_failures.labels("throttled").inc()
        retry = max(1, *(v.retry_after for v in refused))
        raise AuthError(429, "too_many_attempts", "too many login attempts; try again later", retry_after=retry)


async def account_under_attack(app: web.Application, login: str) -> bool:
    """Whether failed logins on this account from all addresses passed the ceiling in this window."""
    ceiling = app[settings_key].auth.login_account_ceiling
    return await app[limiter_key].count(_account_key(login)) > ceiling


async def login_with_password(request: web.Request, login: str, password: str, kind: Via) -> tuple[Operator, str, str]:
    """Check a login and open a session.

    Every attempt is counted *before* the password is checked (see `_throttle`). A success resets
    the counters of its (account, address) and takes back only its own count from the address's and
    the account's, so those count failures: operators behind one office NAT don't lock each other
    out, and one known account cannot be used to wipe the guesses made from that address.

    Args:
        request: the login request (for the app's resources and the client address).
        login: the operator's login, case-insensitive.
        password: the password as typed.
        kind: "bearer" for API clients, "cookie" for the browser console.

    Returns:
        The operator (teams loaded), the session token to hand to the client once, and the CSRF token.

    Raises:
        AuthError: 429 `too_many_attempts` (with `retry_after`) or 401 `invalid_credentials`, whose
            message is the same whether or not the login exists.
    """
    app = request.app
    limits = app[settings_key].auth
    limiter = app[limiter_key]
    keys = _throttle_keys(request, login)
    await _throttle(request, login, keys)

    # The session is closed before the (slow) hash check: on SQLite it is the only connection.
    async with app[sessions_key]() as session:
        operator = await session.scalar(
            select(Operator).where(Operator.login == login.strip().lower()).options(selectinload(Operator.teams))
        )
    valid = await verify_password(operator.password_hash if operator else None, password)
    if operator is None or not valid or not operator.active:
        app[metrics_key].login_failures.labels("invalid").inc()
        raise AuthError(401, "invalid_credentials", INVALID_CREDENTIALS)

    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    async with app[sessions_key]() as session, session.begin():
        await session.execute(
            delete(AuthSession).where(AuthSession.operator_id == operator.id, AuthSession.expires_at < now)
        )
        session.add(
            AuthSession(
                token_hash=token_hash(token),
                operator_id=operator.id,
                kind=kind,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + timedelta(hours=limits.session_hours),
            )
        )
    for key in keys.pairs:
        await limiter.reset(key)
    await limiter.refund(keys.ip)
    await limiter.refund(keys.account)
    log.info("operator %s logged in (%s) from %s", operator.login, kind, client_ip(request))
    return operator, token, csrf


def credentials(request: web.Request) -> tuple[str, Via] | None:
    """The token the request carries: `Authorization: Bearer` first, then the session cookie."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), "bearer"
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie:
        return cookie, "cookie"
    return None


async def context_for_token(app: web.Application, token: str, via: Via) -> AuthContext | None:
    """The live session of `token`, or None when unknown, expired, revoked or its operator inactive."""
    if not token or len(token) > 256:
        return None
    async with app[sessions_key]() as session:
        row = await session.scalar(
            select(AuthSession).where(
                AuthSession.token_hash == token_hash(token),
                AuthSession.revoked.is_(False),
                AuthSession.expires_at > utcnow(),
            )
        )
        if row is None:
            return None
        operator = await session.scalar(
            select(Operator).where(Operator.id == row.operator_id).options(selectinload(Operator.teams))
        )
    if operator is None or not operator.active:
        return None
    return AuthContext(operator, Scope.of(operator), row.id, via, row.csrf_token)


async def authenticate(request: web.Request) -> AuthContext | None:
    """Who sent this request (bearer header or cookie); None if nobody valid. Cached per request."""
    cached: _Cached | None = request.get(_auth_key)
    if cached is not None:
        return cached.context
    found = credentials(request)
    context = await context_for_token(request.app, *found) if found else None
    request[_auth_key] = _Cached(context)
    return context


def check_csrf(request: web.Request, context: AuthContext) -> None:
    """Cookie-authenticated unsafe requests must echo the session's CSRF token; bearer ones need not.

    Raises:
        AuthError: 403 `csrf_failed`.
    """
    if context.via != "cookie" or request.method not in UNSAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), context.csrf.encode()):
        raise AuthError(403, "csrf_failed", f"missing or wrong {CSRF_HEADER} header")


async def require_auth(request: web.Request) -> AuthContext:
    """`authenticate` plus the CSRF check; raises AuthError 401 `unauthenticated` or 403 `csrf_failed`."""
    context = await authenticate(request)
    if context is None:
        raise AuthError(401, "unauthenticated", "log in first: bearer token or session cookie required")
    check_csrf(request, context)
    return context


def set_session_cookie(response: web.StreamResponse, token: str, settings: Settings) -> None:
    """The browser session: HttpOnly, SameSite=Lax, Secure behind https, lives as long as the session."""
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=settings.auth.session_hours * 3600,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=settings.server.public_url.startswith("https://"),
    )


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE_NAME, path="/")


async def revoke_operator_sessions(session: AsyncSession, operator_id: int, keep_session_id: int | None = None) -> None:
    """Revoke an operator's sessions inside the caller's transaction; announce after the commit."""
    query = update(AuthSession).where(AuthSession.operator_id == operator_id, AuthSession.revoked.is_(False))
    if keep_session_id is not None:
        query = query.where(AuthSession.id != keep_session_id)
    await session.execute(query.values(revoked=True))


async def announce_session_change(bus: EventBus, operator_id: int) -> None:
    """Tell every process that this operator's sessions or rights changed (sockets re-check at once)."""
    await bus.publish(SESSIONS_TOPIC, {"operator_id": operator_id})


async def logout(request: web.Request) -> None:
    """Revoke the session the request is authenticated with (no-op when there is none)."""
    context = await authenticate(request)
    if context is None:
        return
    async with request.app[sessions_key]() as session, session.begin():
        await session.execute(update(AuthSession).where(AuthSession.id == context.session_id).values(revoked=True))
    request[_auth_key] = _Cached(None)
    await announce_session_change(request.app[bus_key], context.operator.id)


async def live_scopes(app: web.Application, session_ids: Iterable[int]) -> dict[int, tuple[Operator, Scope]]:
    """Fresh operator and scope for each session id that is still valid (one query per table).

    Used by the operator WebSocket hub to drop revoked sessions and pick up team or role changes.
    """
    ids = sorted(set(session_ids))
    if not ids:
        return {}
    async with app[sessions_key]() as session:
        rows = (
            await session.execute(
                select(AuthSession.id, AuthSession.operator_id).where(
                    AuthSession.id.in_(ids),
                    AuthSession.revoked.is_(False),
                    AuthSession.expires_at > utcnow(),
                )
            )
        ).all()
        operator_ids = {operator_id for _, operator_id in rows}
        operators = {
            o.id: o
            for o in (
                await session.scalars(
                    select(Operator)
                    .where(Operator.id.in_(operator_ids), Operator.active.is_(True))
                    .options(selectinload(Operator.teams))
                )
            ).all()
        }
    return {sid: (operators[oid], Scope.of(operators[oid])) for sid, oid in rows if oid in operators}
