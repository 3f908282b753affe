"""Response shapes of the API (the dicts of `console/serialize.py`), declared for OpenAPI and tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from lines.console.api.route_table import Out


class ErrorBody(Out):
    code: str
    message: str


class ErrorOut(Out):
    error: ErrorBody


class OkOut(Out):
    ok: bool


class TeamOut(Out):
    id: int
    name: str
    title: str
    respect_capacity: bool


class TeamList(Out):
    teams: list[TeamOut]


class OperatorBrief(Out):
    id: int
    login: str
    name: str


class OperatorOut(Out):
    id: int
    login: str
    name: str
    role: Literal["operator", "lead", "admin"]
    teams: list[str]
    skills: dict[str, int]
    capacity: dict[str, int]
    presence: Literal["online", "away", "offline"]
    locale: str | None
    email: str | None
    active: bool
    login_under_attack: bool | None = Field(
        None, description="admins only (else null): failed logins on this account passed the ceiling just now"
    )


class OperatorList(Out):
    operators: list[OperatorOut]


class LoginOut(Out):
    token: str
    operator: OperatorOut


class MeOut(Out):
    operator: OperatorOut
    csrf_token: str | None


class PresenceOut(Out):
    operator: OperatorBrief
    presence: Literal["online", "away", "offline"]


class ContactBrief(Out):
    id: int
    name: str
    email: str | None
    phone: str | None


class IdentityOut(Out):
    channel: str
    inbox: str
    external_id: str
    display: str
    verified: bool


class ContactOut(ContactBrief):
    attributes: dict[str, Any]
    tags: list[str]
    blocked: bool
    identities: list[IdentityOut]


class AttachmentOut(Out):
    id: int
    filename: str
    """The name the customer gave the file; a download gets its safe form (no reserved or forbidden names)."""
    content_type: str
    size: int
    stored: bool
    url: str | None


class EmailMetaOut(Out):
    auto: str | None
    """The machine that sent it, so nothing automatic answered: `bounce`, `loop`, `auto_reply`, `bulk`,
    `list`, `noreply`."""
    unreadable: bool
    too_large: list[str]
    quoted: str | None
    """The folded history of a text-only email (an HTML email shows its own)."""
    repaired: bool = False
    """The MIME structure was broken; the text was recovered from the raw message."""
    new_address: str | None = None
    """The sender's address when this reply threaded into a conversation of another contact."""


class MessageOut(Out):
    id: int
    conversation_id: int
    direction: Literal["in", "out", "note", "system"]
    author_kind: Literal["contact", "operator", "bot", "system"]
    author_id: int | None
    author_name: str
    text: str
    html: str | None
    delivery_status: Literal["received", "queued", "sent", "delivered", "read", "failed"]
    delivery_error: str | None
    attachments: list[AttachmentOut]
    created_at: datetime | None
    edited_at: datetime | None = None
    signature: str | None = None
    """The signature that went out with this reply, below `text` (docs/customers.md)."""
    email: EmailMetaOut | None = None
    """Email conversations only: what the console flags under the message (docs/email.md)."""


Status = Literal["open", "pending", "snoozed", "resolved"]


class ConversationOut(Out):
    id: int
    channel: str
    inbox: str
    status: Status
    lead_type: str | None
    priority: Literal["low", "normal", "high", "urgent"]
    subject: str
    source: dict[str, Any]
    contact: ContactBrief
    assignee: OperatorBrief | None
    team: TeamOut | None
    snoozed_until: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    last_message_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    unread: bool
    sla: dict[str, Any] | None


class ConversationList(Out):
    conversations: list[ConversationOut]
    next_cursor: str | None


class ConversationBrief(Out):
    id: int
    channel: str
    inbox: str
    status: Status
    subject: str
    assignee: OperatorBrief | None
    team: TeamOut | None
    created_at: datetime | None
    last_message_at: datetime | None
    resolved_at: datetime | None


class ConversationDetail(ConversationOut):
    contact: ContactOut
    messages: list[MessageOut]
    messages_truncated: bool
    previous_conversations: list[ConversationBrief]
    sender_state: Literal["active", "opted_out", "unreachable", "blocked"] | None = None
    """Whether replies may reach the identity that writes in this conversation; null when it has none."""
