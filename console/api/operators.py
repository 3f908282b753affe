"""Operators: list, create (leads and admins), and patch through an explicit field allow-list.

Who may change what (field allow-lists, no mass assignment):
- an operator changes only their own name, password, locale and email;
- a lead does the same for themselves, and manages operators (role `operator`) who share a team
  with them: every field but role, and team changes only within the lead's own teams;
- an admin changes anything, except their own role and active flag (no locking oneself out).
A role change or deactivation revokes the target's sessions (open sockets close at once); a password
change revokes their other sessions. A deactivated operator goes offline and their open
conversations go back to the queue (the change job `requeue` for each). A change routing cares
about (capacity, skills, teams...) is queued as the change job `operator`, so the live queue follows
and a waiting conversation that now fits is served at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from lines.console.actions import load_operator
from lines.console.api.errors import ApiError
from lines.console.api.route_table import Body, Call, Route
from lines.console.api.schemas import OperatorList, OperatorOut
from lines.console.auth import AuthContext, account_under_attack, announce_session_change, revoke_operator_sessions
from lines.console.changes import OperatorChanged, Requeue
from lines.console.events import Events
from lines.console.keys import bus_key, events_key, sessions_key
from lines.console.models import Conversation, Operator, Presence, PresenceChange, Role, Status, Team, utcnow
from lines.console.passwords import hash_password
from lines.console.serialize import operator_dict
from lines.console.settings import check_email_address
from lines.console.users import LOGIN, TEAM

MIN_PASSWORD = 8
SKILL = r"^[a-z0-9][a-z0-9_-]{0,63}$"

Name = Annotated[str, Field(min_length=1, max_length=200)]
Password = Annotated[str, Field(min_length=MIN_PASSWORD, max_length=1024)]
TeamName = Annotated[str, Field(pattern=TEAM.pattern)]
SkillLevel = Annotated[int, Field(ge=1, le=5)]
Skills = Annotated[dict[Annotated[str, Field(pattern=SKILL)], SkillLevel], Field(max_length=50)]
RoleName = Literal["operator", "lead", "admin"]
Locale = Literal["en", "ru"]
SELF_FIELDS = frozenset({"name", "password", "locale", "email"})
ROUTING_FIELDS = frozenset({"name", "teams", "skills", "capacity", "active"})
"""Fields the live queue shows or routing decides by: changing one queues the `operator` change job."""
NULLABLE = frozenset({"locale", "email"})


def _email(value: str) -> str:
    try:
        return check_email_address(value)
    except ValueError as err:  # without pydantic's "Value error, " prefix
        raise PydanticCustomError("email_address", str(err)) from err


Email = Annotated[str, Field(max_length=254), AfterValidator(_email)]
"""Where escalation mail goes (docs/sla.md); null for none."""


class Capacity(Body):
    """How many open conversations of each channel kind an operator takes at once."""

    chat: Annotated[int, Field(ge=0, le=1000)] = 5
    email: Annotated[int, Field(ge=0, le=1000)] = 10


class OperatorCreate(Body):
    login: Annotated[str, Field(pattern=LOGIN.pattern)]
    name: Name
    password: Password
    role: RoleName = "operator"
    teams: Annotated[list[TeamName], Field(max_length=100)] = []
    skills: Skills = {}
    capacity: Capacity = Capacity()
    locale: Locale | None = None
    email: Email | None = None


class OperatorPatch(Body):
    name: Name | None = None
    password: Password | None = None
    locale: Locale | None = None
    email: Email | None = None
    role: RoleName | None = None
    teams: Annotated[list[TeamName], Field(max_length=100)] | None = None
    skills: Skills | None = None
    capacity: Capacity | None = None
    active: bool | None = None


async def _teams(session: AsyncSession, names: list[str]) -> list[Team]:
    wanted = sorted(set(names))
    found = list((await session.scalars(select(Team).where(Team.name.in_(wanted)))).all())
    missing = sorted(set(wanted) - {t.name for t in found})
    if missing:
        raise ApiError(422, "unknown_team", f"teams: {', '.join(missing)} do not exist")
    return found


def _lead_teams(ctx: AuthContext) -> set[str]:
    return {t.name for t in ctx.operator.teams}


async def list_operators(call: Call) -> dict[str, Any]:
    """Every operator, active or not, with teams, skills, capacity and presence; admins also see
    whose account is under a password-guessing attack (`login_under_attack`)."""
    async with call.app[sessions_key]() as session:
        operators = (
            await session.scalars(
                select(Operator).order_by(Operator.name, Operator.id).options(selectinload(Operator.teams))
            )
        ).all()
    listed = [operator_dict(o) for o in operators]
    if call.ctx.scope.is_admin:
        for row in listed:
            row["login_under_attack"] = await account_under_attack(call.app, row["login"])
    return {"operators": listed}


async def create_operator(call: Call) -> dict[str, Any]:
    """Leads create operators (role `operator`) in their own teams; admins create any role."""
    ctx, body = call.ctx, call.body(OperatorCreate)
    if not ctx.scope.is_lead:
        raise ApiError(403, "forbidden", "only leads and admins create operators")
    if not ctx.scope.is_admin:
        if body.role != Role.OPERATOR.value:
            raise ApiError(403, "forbidden", "leads create only operators")
        outside = set(body.teams) - _lead_teams(ctx)
        if outside:
            raise ApiError(
                403, "forbidden", f"teams: a lead adds operators only to their own teams, not {sorted(outside)}"
            )
    password_hash = await asyncio.to_thread(hash_password, body.password)  # argon2 is slow by design
    async with call.app[sessions_key]() as session:
        try:
            async with session.begin():
                if await session.scalar(select(Operator.id).where(Operator.login == body.login)) is not None:
                    raise ApiError(409, "login_taken", f"login {body.login!r} is taken")
                operator = Operator(
                    login=body.login,
                    name=body.name,
                    password_hash=password_hash,
                    role=body.role,
                    teams=await _teams(session, body.teams),
                    skills=body.skills,
                    capacity=body.capacity.model_dump(),
                    locale=body.locale,
                    email=body.email,
                )
                session.add(operator)
        except IntegrityError as err:  # a concurrent create of the same login
            raise ApiError(409, "login_taken", f"login {body.login!r} is taken") from err
        created = await load_operator(session, operator.id)
    assert created is not None
    return operator_dict(created)


def _check_patch(ctx: AuthContext, target: Operator, fields: set[str], body: OperatorPatch) -> None:
    """Raise 403/422 unless the caller may change `fields` of `target`."""
    me = target.id == ctx.operator.id
    if ctx.scope.is_admin:
        if me and ({"role", "active"} & fields) and (body.role not in (None, Role.ADMIN) or body.active is False):
            raise ApiError(422, "cannot_demote_self", "admins cannot demote or deactivate themselves")
        return
    if me:
        if fields - SELF_FIELDS:
            raise ApiError(403, "forbidden", f"you may change only {', '.join(sorted(SELF_FIELDS))} of yourself")
        return
    if not ctx.scope.is_lead:
        raise ApiError(403, "forbidden", "operators may change only themselves")
    lead_teams = _lead_teams(ctx)
    target_teams = {t.name for t in target.teams}
    if target.role != Role.OPERATOR or (target_teams and not target_teams & lead_teams):
        raise ApiError(403, "forbidden", "leads manage only operators of their own teams")
    if "role" in fields and body.role != Role.OPERATOR.value:
        raise ApiError(403, "forbidden", "only admins change roles")
    if body.teams is not None:
        changed = target_teams ^ set(body.teams)
        if changed - lead_teams:
            raise ApiError(
                403, "forbidden", f"teams: a lead changes only their own teams, not {sorted(changed - lead_teams)}"
            )


@dataclass(frozen=True, slots=True)
class RoutingView:
    """What routing knows of an operator, before and after a change."""

    teams: frozenset[str]
    skills: dict[str, int]
    capacity: dict[str, int]
    active: bool

    @classmethod
    def of(cls, operator: Operator) -> RoutingView:
        """Needs `operator.teams` loaded."""
        return cls(
            frozenset(t.name for t in operator.teams),
            dict(operator.skills or {}),
            dict(operator.capacity or {}),
            operator.active,
        )

    def more_room_than(self, before: RoutingView) -> bool:
        """Whether a waiting conversation may now fit: capacity grew on some kind (a kind without a
        capacity is unlimited), a skill was added or raised, a team was added, or it was reactivated."""
        capacity = any(kind not in self.capacity for kind in before.capacity) or any(
            kind in before.capacity and limit > before.capacity[kind] for kind, limit in self.capacity.items()
        )
        skills = any(level > before.skills.get(skill, 0) for skill, level in self.skills.items())
        return capacity or skills or bool(self.teams - before.teams) or (self.active and not before.active)


async def _tell_routing(events: Events, operator_id: int, before: RoutingView, after: RoutingView) -> None:
    """Queue the `operator` change: routing serves the queue if there is more room, and the
    leads' live queue re-reads (docs/routing.md)."""
    await events.change(OperatorChanged(operator_id=operator_id, more_room=after.more_room_than(before)))


def may_patch(ctx: AuthContext, target: Operator, fields: set[str]) -> bool:
    """Whether the caller may change these `fields` of `target` (the rules of `PATCH`); needs teams loaded."""
    try:
        _check_patch(ctx, target, fields, OperatorPatch())
    except ApiError:
        return False
    return True


async def patch_operator(call: Call) -> dict[str, Any]:
    """Operators change their own name, password, locale and email. Leads manage operators of their
    teams (not roles). Admins change anything but their own role and active flag. A role change or
    deactivation ends the operator's sessions; a password change ends their other sessions."""
    ctx, body = call.ctx, call.body(OperatorPatch)
    fields = set(body.model_fields_set)
    for name in fields:
        if getattr(body, name) is None and name not in NULLABLE:
            raise ApiError(422, "validation_error", f"{name}: must not be null")
    password_hash = await asyncio.to_thread(hash_password, body.password) if body.password else None
    async with call.app[sessions_key]() as session:
        async with session.begin():
            target = await session.scalar(
                select(Operator)
                .where(Operator.id == call.ids["id"])
                .options(selectinload(Operator.teams))
                .with_for_update()
            )
            if target is None:
                raise ApiError(404, "not_found", f"operator {call.ids['id']} not found")
            _check_patch(ctx, target, fields, body)
            before = RoutingView.of(target)
            revoke_all = ("role" in fields and body.role != target.role) or (
                "active" in fields and body.active is False and target.active
            )
            rights_changed = revoke_all or ("teams" in fields) or ("active" in fields)
            if "name" in fields and body.name is not None:
                target.name = body.name
            if "locale" in fields:
                target.locale = body.locale
            if "email" in fields:
                target.email = body.email
            if password_hash is not None:
                target.password_hash = password_hash
            if body.role is not None:
                target.role = body.role
            if body.teams is not None:
                target.teams = await _teams(session, body.teams)
            if body.skills is not None:
                target.skills = body.skills
            if body.capacity is not None:
                target.capacity = body.capacity.model_dump()
            deactivated = body.active is False and target.active
            held: list[int] = []
            if deactivated:
                # Nobody answers for a deactivated operator: offline, and their open conversations
                # go back to the queue (routing's `requeue` after the commit).
                if target.presence != Presence.OFFLINE:
                    now = utcnow()
                    target.presence, target.presence_changed_at = Presence.OFFLINE, now
                    session.add(PresenceChange(operator_id=target.id, presence=Presence.OFFLINE, at=now))
                held = list(
                    (
                        await session.scalars(
                            select(Conversation.id).where(
                                Conversation.assignee_id == target.id, Conversation.status == Status.OPEN
                            )
                        )
                    ).all()
                )
            if body.active is not None:
                target.active = body.active
            if revoke_all:
                await revoke_operator_sessions(session, target.id)
            elif body.password is not None:
                keep = ctx.session_id if target.id == ctx.operator.id else None
                await revoke_operator_sessions(session, target.id, keep_session_id=keep)
        updated = await load_operator(session, target.id)
    assert updated is not None
    if revoke_all or rights_changed or body.password is not None:
        await announce_session_change(call.app[bus_key], updated.id)
    if fields & ROUTING_FIELDS:
        await _tell_routing(call.app[events_key], updated.id, before, RoutingView.of(updated))
    for conversation_id in held:
        await call.app[events_key].change(Requeue(conversation_id=conversation_id, reason="operator_deactivated"))
    return operator_dict(updated)


ROUTES = [
    Route("GET", "/api/v1/operators", list_operators, "All operators", OperatorList, tag="operators"),
    Route(
        "POST",
        "/api/v1/operators",
        create_operator,
        "Create an operator (leads: role operator in their own teams; admins: any)",
        OperatorOut,
        body=OperatorCreate,
        status=201,
        errors=(403, 409),
        tag="operators",
    ),
    Route(
        "PATCH",
        "/api/v1/operators/{id}",
        patch_operator,
        "Change an operator (fields allowed depend on who you are)",
        OperatorOut,
        body=OperatorPatch,
        errors=(403, 404),
        tag="operators",
    ),
]
