"""Signatures added to operators' replies: the operator's own, else the conversation's team's.

Rendered when the reply is written, with the staff template variables (`console/templating.py`,
plain substitution), and stored with the message as plain text; each channel escapes it with the
rest of the reply. Email always carries one (mail readers expect a signature under `-- `, RFC 3676
§4.3); chat channels only when listed in `customers.signature_channels` (a chat line is short).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from lines.console.customers.canned import signatures, variables
from lines.console.models import Conversation
from lines.console.templating import render

ALWAYS_SIGNED = frozenset({"email"})
MAX_SIGNATURE_CHARS = 2000
_SELF = ("signature", "operator.signature", "team.signature")


class ReplySignatures:
    """The `ReplySignature` hook of `do_reply` and what the reply box shows under it."""

    def __init__(self, chat_channels: Iterable[str]) -> None:
        self.channels = ALWAYS_SIGNED | frozenset(chat_channels)

    def applies(self, channel: str) -> bool:
        return channel in self.channels

    async def __call__(self, session: AsyncSession, conversation: Conversation, operator_id: int) -> str:
        """The rendered signature for this operator's reply here, or "" when none applies."""
        if not self.applies(conversation.channel):
            return ""
        mine, team = await signatures(session, operator_id, conversation.team_id)
        template = mine or team
        if not template.strip():
            return ""
        values = await variables(session, conversation, operator_id)
        for name in _SELF:  # a signature that names a signature gets nothing, not itself
            values[name] = ""
        return render(template, values).strip()[:MAX_SIGNATURE_CHARS]
