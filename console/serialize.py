"""Domain rows to the JSON shapes of the API, the operator events and the console."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lines.console.inline_images import render_html
from lines.console.models import (
    Attachment,
    Contact,
    ContactIdentity,
    Conversation,
    Message,
    Operator,
    Team,
)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def team_dict(team: Team) -> dict[str, Any]:
    return {"id": team.id, "name": team.name, "title": team.title, "respect_capacity": bool(team.respect_capacity)}


def operator_brief(operator: Operator | None) -> dict[str, Any] | None:
    if operator is None:
        return None
    return {"id": operator.id, "login": operator.login, "name": operator.name}


def operator_dict(operator: Operator) -> dict[str, Any]:
    """Needs `operator.teams` loaded."""
    return {
        "id": operator.id,
        "login": operator.login,
        "name": operator.name,
        "role": operator.role,
        "teams": [t.name for t in operator.teams],
        "skills": operator.skills,
        "capacity": operator.capacity,
        "presence": operator.presence,
        "locale": operator.locale,
        "email": operator.email,
        "active": operator.active,
    }


def attachment_dict(att: Attachment) -> dict[str, Any]:
    return {
        "id": att.id,
        "filename": att.display_name,
        "content_type": att.content_type,
        "size": att.size,
        "stored": att.stored,
        "url": f"/attachments/{att.id}/{att.token}" if att.stored else None,
    }


def message_dict(message: Message) -> dict[str, Any]:
    """Needs `message.attachments` loaded."""
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "direction": message.direction,
        "author_kind": message.author_kind,
        "author_id": message.author_operator_id,
        "author_name": message.author_name,
        "text": message.text,
        "html": render_html(message),
        "delivery_status": message.delivery_status,
        "delivery_error": message.delivery_error,
        "attachments": [attachment_dict(a) for a in message.attachments],
        "created_at": iso(message.created_at),
        "edited_at": iso(message.edited_at),
        "signature": (message.extra or {}).get("signature") or None,
        "email": email_meta(message),
    }


def email_meta(message: Message) -> dict[str, Any] | None:
    """What the console flags under a message of an email conversation (`_email_meta.html`, console.js);
    None for other channels. Only these keys leave the server: `extra` also holds raw headers and paths.

    `auto` is the machine that sent it (`messages.automatic`: `bounce`, `loop`, `auto_reply`, `bulk`,
    `list`, `noreply`), so nothing automatic answered it;
    `quoted` is the folded history of a text-only email (an HTML email shows its own); `repaired` says the
    text was recovered from a mail with a broken MIME structure; `new_address` is the sender's address
    when a reply threaded into a conversation of another contact (`console/inbox.py`)."""
    if not message.channel_key.startswith("email:"):
        return None
    extra = message.extra or {}
    return {
        "auto": message.automatic or None,
        "unreadable": bool(extra.get("unreadable")),
        "too_large": [str(name) for name in extra.get("too_large") or ()],
        "quoted": (extra.get("quoted") or None) if not message.html else None,
        "repaired": bool(extra.get("repaired")),
        "new_address": (extra.get("new_address") or {}).get("address") or None,
    }


def identity_dict(identity: ContactIdentity) -> dict[str, Any]:
    return {
        "channel": identity.channel,
        "inbox": identity.inbox,
        "external_id": identity.external_id,
        "display": identity.display,
        "verified": identity.verified,
    }


def contact_brief(contact: Contact) -> dict[str, Any]:
    return {"id": contact.id, "name": contact.name, "email": contact.email, "phone": contact.phone}


def conversation_dict(conversation: Conversation, unread: bool = False) -> dict[str, Any]:
    """Needs `contact`, `assignee` and `team` loaded."""
    return {
        "id": conversation.id,
        "channel": conversation.channel,
        "inbox": conversation.inbox,
        "status": conversation.status,
        "lead_type": conversation.lead_type,
        "priority": conversation.priority,
        "subject": conversation.subject,
        "source": conversation.source,
        "contact": contact_brief(conversation.contact),
        "assignee": operator_brief(conversation.assignee),
        "team": team_dict(conversation.team) if conversation.team else None,
        "snoozed_until": iso(conversation.snoozed_until),
        "created_at": iso(conversation.created_at),
        "updated_at": iso(conversation.updated_at),
        "last_message_at": iso(conversation.last_message_at),
        "first_response_at": iso(conversation.first_response_at),
        "resolved_at": iso(conversation.resolved_at),
        "unread": unread,
        "sla": sla_brief(conversation),
    }


def contact_dict(contact: Contact) -> dict[str, Any]:
    """Needs `contact.identities` loaded."""
    return {
        **contact_brief(contact),
        "attributes": contact.attributes,
        "tags": contact.tags,
        "blocked": contact.blocked,
        "identities": [identity_dict(i) for i in contact.identities],
    }


def conversation_brief(conversation: Conversation) -> dict[str, Any]:
    """A line in a customer's history. Needs `assignee` and `team` loaded."""
    return {
        "id": conversation.id,
        "channel": conversation.channel,
        "inbox": conversation.inbox,
        "status": conversation.status,
        "subject": conversation.subject,
        "assignee": operator_brief(conversation.assignee),
        "team": team_dict(conversation.team) if conversation.team else None,
        "created_at": iso(conversation.created_at),
        "last_message_at": iso(conversation.last_message_at),
        "resolved_at": iso(conversation.resolved_at),
    }


def sla_brief(conversation: Conversation) -> dict[str, Any] | None:
    """The SLA part's state and nearest deadline; null while no policy applies."""
    if conversation.sla_state is None:
        return None
    return {"state": conversation.sla_state, "due_at": iso(conversation.sla_due_at)}
