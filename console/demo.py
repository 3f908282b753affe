"""Demo data: two teams and four users with password "demo" (idempotent), and the demo shop's site.

The demo shop (`/demo` and its web-chat site) belongs to `lines demo` alone: the shipped config has no
web-chat site, so `lines serve` never offers a chat to any origin nor the shop page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lines.console.db import create_engine, session_maker
from lines.console.features import DEMO_DATA
from lines.console.models import Role
from lines.console.settings import Settings, expand_env
from lines.console.users import add_user, ensure_team

DEMO_PASSWORD = "demo"  # noqa: S105 - documented demo logins
DEMO_USERS: list[tuple[str, str, Role, list[str], dict[str, int]]] = [
    ("admin", "Admin", Role.ADMIN, ["support", "sales"], {}),
    ("lead", "Lena Lead", Role.LEAD, ["support", "sales"], {"ru": 2, "en": 2}),
    ("anna", "Anna Ivanova", Role.OPERATOR, ["support"], {"ru": 3, "en": 1}),
    ("boris", "Boris Petrov", Role.OPERATOR, ["sales"], {"ru": 3, "sales": 2}),
]


DEMO_SITE: dict[str, Any] = {
    "site_key": "demo",
    "team": "support",
    "title": "Lines Demo Shop",
    "welcome": "Hello! Ask us anything about your order.",
    "identity_secret": "${LINES_DEMO_IDENTITY_SECRET:-}",
}
"""No `origins`: the widget may be used on Lines' own pages (/demo) only."""


def with_demo_site(settings: Settings, env: Mapping[str, str]) -> Settings:
    """`settings` plus the demo shop's web-chat site, unless the config already has a site `demo`."""
    if settings.webchat_site(DEMO_SITE["site_key"]) is not None:
        return settings
    tree = settings.model_dump()
    tree["channels"]["webchat"] = [*tree["channels"]["webchat"], expand_env(DEMO_SITE, env)]
    return Settings.model_validate(tree)


async def seed_demo(settings: Settings) -> None:
    engine = create_engine(settings.database_url, settings.storage.database_schema)
    sessions = session_maker(engine)
    try:
        async with sessions() as session, session.begin():
            await ensure_team(session, "support", "Support")
            await ensure_team(session, "sales", "Sales")
        for login, name, role, teams, skills in DEMO_USERS:
            # Addresses under the reserved .example domain: escalation mail (docs/sla.md) has a
            # recipient once `[notifications.email]` points at a test SMTP server.
            await add_user(sessions, login, DEMO_PASSWORD, role, teams, name, skills, f"{login}@demo.example")
        for seed in DEMO_DATA:
            await seed(sessions)
    finally:
        await engine.dispose()
