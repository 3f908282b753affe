"""Variables in operator-written templates: `{{contact.name}}`, `{{conversation.number}}`, `{{operator.name}}`.

Deliberately not Jinja: templates are written by staff and rendered with customer-supplied values,
so only plain substitution is allowed (no expressions, no attribute access on live objects). The
result is plain text; each channel escapes it for its own format (HTML email, Telegram markup) when
it sends, so a value such as `<b>` or `*` arrives as typed, never as markup.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*)\s*\}\}")


def placeholders(template: str) -> list[str]:
    """The variable names a template uses, in order of first use."""
    seen: dict[str, None] = {}
    for match in PLACEHOLDER.finditer(template):
        seen.setdefault(match.group(1))
    return list(seen)


def render(template: str, values: Mapping[str, object]) -> str:
    """Substitute `{{name}}` with `values[name]`; an unknown or empty variable becomes empty text."""

    def substitute(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return "" if value is None else str(value)

    return PLACEHOLDER.sub(substitute, template)
