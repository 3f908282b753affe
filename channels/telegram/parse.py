"""Telegram `Update` -> `InboundMessage`: every message kind the console shows, no I/O here.

Files are fetched by the adapter (it owns the bot); this module only says which file to fetch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from telegram import Message, Update, User

from lines.channels.base import ContactInfo
from lines.console import phones

KIND = "telegram"
START_COMMAND = "/start"


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file of the update to download: Telegram's id and what to call it here."""

    file_id: str
    filename: str
    content_type: str
    size: int | None


@dataclass(slots=True)
class Parsed:
    """What an update says, before its files are downloaded."""

    external_id: str
    chat_id: int
    sender: ContactInfo
    text: str = ""
    files: list[FileRef] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    edit_of: str | None = None
    callback_id: str | None = None
    # A bare `/start` (with or without a deep-link payload): remembered, not a conversation.
    start: bool = False


def message_key(chat_id: int, message_id: int) -> str:
    """Our external id of a Telegram message: message ids are unique per chat only."""
    return f"{chat_id}:{message_id}"


def to_e164(phone: str, region: str | None = None) -> str | None:
    """Telegram sends numbers without `+`; None for anything that is not a valid number."""
    try:
        return phones.to_e164(phone, region)
    except ValueError:
        return None


def sender_of(user: User | None, chat_id: int, phone: str | None = None) -> ContactInfo:
    name = user.full_name if user is not None else ""
    username = f"@{user.username}" if user is not None and user.username else ""
    return ContactInfo(
        external_id=str(chat_id),
        name=name,
        phone=phone,
        verified=True,
        display=username or name,
    )


def _files(message: Message) -> list[FileRef]:
    mid = message.message_id
    if message.photo:
        largest = message.photo[-1]
        return [FileRef(largest.file_id, f"photo_{mid}.jpg", "image/jpeg", largest.file_size)]
    for attr, default_name, default_type in (
        ("document", "document", "application/octet-stream"),
        ("video", "video.mp4", "video/mp4"),
        ("audio", "audio.mp3", "audio/mpeg"),
        ("voice", "voice.ogg", "audio/ogg"),
        ("video_note", "video_note.mp4", "video/mp4"),
        ("animation", "animation.mp4", "video/mp4"),
    ):
        media = getattr(message, attr)
        if media is None:
            continue
        name = getattr(media, "file_name", None) or f"{attr}_{mid}_{default_name}"
        mime = getattr(media, "mime_type", None) or default_type
        return [FileRef(media.file_id, name, mime, media.file_size)]
    return []


def _message(message: Message, update_id: int) -> Parsed:
    chat_id = message.chat.id
    user = message.from_user
    phone: str | None = None
    text = message.text or message.caption or ""
    extra: dict[str, Any] = {"telegram": {"update_id": update_id, "message_id": message.message_id}}
    source: dict[str, Any] = {}
    start = False
    if message.sticker is not None:
        text = message.sticker.emoji or ""
        extra["sticker"] = {"emoji": message.sticker.emoji or "", "set": message.sticker.set_name or ""}
    if message.location is not None:
        lat, lon = message.location.latitude, message.location.longitude
        extra["location"] = {"latitude": lat, "longitude": lon}
        text = text or f"{lat:.6f}, {lon:.6f}"
    if message.contact is not None:
        shared = message.contact
        number = to_e164(shared.phone_number)
        full = " ".join(p for p in (shared.first_name, shared.last_name or "") if p)
        extra["contact"] = {"phone": number or shared.phone_number, "name": full, "user_id": shared.user_id}
        text = text or f"{full} {number or shared.phone_number}".strip()
        # Only the sender's own number identifies them; a forwarded card of someone else does not.
        if number and user is not None and shared.user_id == user.id:
            phone = number
    if message.reply_to_message is not None:
        extra["reply_to"] = message_key(chat_id, message.reply_to_message.message_id)
    if message.text and (message.text == START_COMMAND or message.text.startswith(START_COMMAND + " ")):
        payload = message.text[len(START_COMMAND) :].strip()
        source = {"channel": KIND, "start": payload} if payload else {"channel": KIND}
        start = True
    return Parsed(
        external_id=message_key(chat_id, message.message_id),
        chat_id=chat_id,
        sender=sender_of(user, chat_id, phone),
        text=text,
        files=_files(message),
        source=source,
        extra=extra,
        start=start,
    )


def parse_update(update: Update) -> Parsed | None:
    """The inbound message an update carries, or None for kinds we do not take."""
    if update.message is not None:
        return _message(update.message, update.update_id)
    if update.edited_message is not None:
        edited = update.edited_message
        parsed = _message(edited, update.update_id)
        original = parsed.external_id
        stamp = int(edited.edit_date.timestamp()) if edited.edit_date else update.update_id
        parsed.external_id = f"{original}:edit:{stamp}"
        parsed.edit_of = original
        parsed.source = {}
        parsed.start = False
        # The edit repeats the message's media: the file we have is kept, not fetched again.
        parsed.files = []
        return parsed
    if update.callback_query is not None:
        query = update.callback_query
        data = query.data or ""
        button_id, our_message_id = unpack_callback(data)
        carrier = query.message
        chat_id = carrier.chat.id if carrier is not None else query.from_user.id
        label = _button_label(carrier, data) if isinstance(carrier, Message) else ""
        return Parsed(
            external_id=f"callback:{query.id}",
            chat_id=chat_id,
            sender=sender_of(query.from_user, chat_id),
            text=label or button_id,
            extra={
                "button": {"id": button_id, "message_id": our_message_id},
                "telegram": {"update_id": update.update_id, "callback_query_id": query.id},
            },
            callback_id=query.id,
        )
    return None


def pack_callback(message_id: int, button_id: str) -> str:
    """`callback_data` (at most 64 bytes) carrying our message id, so a press names its message."""
    data = f"{message_id}:{button_id}"
    if len(data.encode()) > 64:
        raise ValueError(f"button id {button_id!r} is too long for Telegram's 64-byte callback data")
    return data


def unpack_callback(data: str) -> tuple[str, int | None]:
    head, sep, tail = data.partition(":")
    if sep and head.isdigit():
        return tail, int(head)
    return data, None


def _button_label(message: Message, data: str) -> str:
    markup = message.reply_markup
    if markup is None:
        return ""
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == data:
                return button.text
    return ""
