"""Creating operators and teams outside the API (CLI and demo)."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from lines.console.db import SessionMaker
from lines.console.models import Operator, Role, Team
from lines.console.passwords import hash_password
from lines.console.settings import check_email_address

LOGIN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
TEAM = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MIN_PASSWORD = 4


class UserError(Exception):
    """A user or team cannot be created as asked; the message says why."""


def check_login(login: str) -> str:
    if not LOGIN.match(login):
        raise UserError(f"login {login!r}: use 1-64 lowercase letters, digits, '.', '_' or '-'")
    return login


def check_team_name(name: str) -> str:
    if not TEAM.match(name):
        raise UserError(f"team {name!r}: use 1-64 lowercase letters, digits, '_' or '-'")
    return name


def check_email(address: str) -> str:
    try:
        return check_email_address(address)
    except ValueError as err:
        raise UserError(f"email: {err}") from err


async def ensure_team(session: AsyncSession, name: str, title: str = "") -> Team:
    team = await session.scalar(select(Team).where(Team.name == check_team_name(name)))
    if team is None:
        team = Team(name=name, title=title or name.capitalize())
        session.add(team)
        await session.flush()
    return team


async def add_user(
    sessions: SessionMaker,
    login: str,
    password: str,
    role: Role,
    teams: list[str],
    name: str | None = None,
    skills: dict[str, int] | None = None,
    email: str | None = None,
) -> str:
    """Create the operator, or update password, role and teams (and the email when given) of an
    existing one."""
    check_login(login)
    if email is not None:
        email = check_email(email)
    if len(password) < MIN_PASSWORD:
        raise UserError(f"password: at least {MIN_PASSWORD} characters")
    async with sessions() as session, session.begin():
        team_rows = [await ensure_team(session, t) for t in teams]
        operator = await session.scalar(
            select(Operator).where(Operator.login == login).options(selectinload(Operator.teams))
        )
        created = operator is None
        if operator is None:
            operator = Operator(
                login=login,
                name=name or login,
                password_hash="",
                teams=[],
                capacity={"chat": 5, "email": 10},
                skills=skills or {},
            )
            session.add(operator)
        operator.password_hash = hash_password(password)
        operator.role = role
        if name:
            operator.name = name
        if skills is not None:
            operator.skills = skills
        if email is not None:
            operator.email = email
        if teams:
            operator.teams = team_rows
    verb = "created" if created else "updated"
    return f"{verb} {role.value} {login}" + (f" in {', '.join(teams)}" if teams else "")
