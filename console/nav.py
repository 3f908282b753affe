"""The console's navigation as a seam: each part appends the pages it owns, `base.html` draws them.

The core registers the inbox; routing, SLA, the bot's knowledge base and the customer part's reports
append their own items to `app[nav_key]` (console/keys.py) in their `setup(app)`. A page marks itself
current by rendering with `active_nav` equal to its item's `key`. `label` is a msgid marked with `N_`,
translated when the page is rendered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from lines.console.models import Role

Section = Literal["main", "admin"]
EVERYONE = frozenset(Role)
LEADS = frozenset({Role.LEAD, Role.ADMIN})
ADMINS = frozenset({Role.ADMIN})


@dataclass(frozen=True, slots=True)
class NavItem:
    """One link: `main` items sit in the top bar, `admin` items in the Administration menu.

    Items are drawn by `order`, then in the order they were added.
    """

    key: str
    href: str
    label: str
    roles: frozenset[Role]
    testid: str
    section: Section = "main"
    order: int = 100


def visible(items: Iterable[NavItem], role: Role | str | None, section: Section) -> list[NavItem]:
    """The items of `section` a person with `role` sees (nobody signed in sees none), in drawing order."""
    if role is None:
        return []
    return sorted((i for i in items if i.section == section and role in i.roles), key=lambda i: i.order)
