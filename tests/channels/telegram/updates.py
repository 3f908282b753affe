"""Real Bot API `Update` JSON for every message kind we take (shapes from core.telegram.org/bots/api)."""

from __future__ import annotations

import itertools
from typing import Any

USER = {"id": 555001, "is_bot": False, "first_name": "Вера", "last_name": "Иванова", "username": "vera_i"}
_update_ids = itertools.count(700_000_001)
_message_ids = itertools.count(1)
DATE = 1_763_900_000


def chat(user: dict[str, Any] = USER) -> dict[str, Any]:
    return {"id": user["id"], "type": "private", "first_name": user["first_name"], "username": user.get("username")}


def message(user: dict[str, Any] = USER, message_id: int | None = None, **content: Any) -> dict[str, Any]:
    return {
        "message_id": message_id if message_id is not None else next(_message_ids),
        "from": user,
        "chat": chat(user),
        "date": DATE,
        **content,
    }


def update(**payload: Any) -> dict[str, Any]:
    return {"update_id": next(_update_ids), **payload}


def text(body: str, user: dict[str, Any] = USER, **more: Any) -> dict[str, Any]:
    return update(message=message(user, text=body, **more))


def start(payload: str = "") -> dict[str, Any]:
    body = f"/start {payload}" if payload else "/start"
    return update(message=message(text=body, entities=[{"type": "bot_command", "offset": 0, "length": 6}]))


def photo(file_id: str, caption: str = "") -> dict[str, Any]:
    sizes = [
        {"file_id": f"{file_id}-small", "file_unique_id": "s1", "width": 90, "height": 60, "file_size": 900},
        {"file_id": file_id, "file_unique_id": "s2", "width": 1280, "height": 853, "file_size": 12_345},
    ]
    extra = {"caption": caption} if caption else {}
    return update(message=message(photo=sizes, **extra))


def document(file_id: str, file_name: str, mime_type: str, caption: str = "") -> dict[str, Any]:
    doc = {"file_id": file_id, "file_unique_id": "d1", "file_name": file_name, "mime_type": mime_type}
    extra = {"caption": caption} if caption else {}
    return update(message=message(document=doc, **extra))


def voice(file_id: str) -> dict[str, Any]:
    return update(
        message=message(voice={"file_id": file_id, "file_unique_id": "v1", "duration": 3, "mime_type": "audio/ogg"})
    )


def audio(file_id: str) -> dict[str, Any]:
    media = {
        "file_id": file_id,
        "file_unique_id": "a1",
        "duration": 180,
        "performer": "Кино",
        "title": "Группа крови",
        "file_name": "group.mp3",
        "mime_type": "audio/mpeg",
    }
    return update(message=message(audio=media))


def video(file_id: str) -> dict[str, Any]:
    media = {"file_id": file_id, "file_unique_id": "vd1", "width": 640, "height": 360, "duration": 5}
    return update(message=message(video={**media, "mime_type": "video/mp4"}))


def sticker(emoji: str = "👍") -> dict[str, Any]:
    media = {
        "file_id": "sticker-1",
        "file_unique_id": "st1",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": emoji,
        "set_name": "HotCherry",
    }
    return update(message=message(sticker=media))


def location(latitude: float = 55.751244, longitude: float = 37.618423) -> dict[str, Any]:
    return update(message=message(location={"latitude": latitude, "longitude": longitude}))


def contact(phone: str, user_id: int | None = USER["id"], first_name: str = "Вера") -> dict[str, Any]:
    shared: dict[str, Any] = {"phone_number": phone, "first_name": first_name}
    if user_id is not None:
        shared["user_id"] = user_id
    return update(message=message(contact=shared))


def reply(body: str, to_message_id: int) -> dict[str, Any]:
    original = message(message_id=to_message_id, text="the earlier one")
    return update(message=message(text=body, reply_to_message=original))


def edited(message_id: int, body: str, edit_date: int, caption: bool = False) -> dict[str, Any]:
    content = {"caption": body} if caption else {"text": body}
    return update(edited_message=message(message_id=message_id, edit_date=edit_date, **content))


def callback(data: str, carrier_message_id: int, label: str = "Yes", query_id: str = "cbq-1") -> dict[str, Any]:
    carrier = {
        "message_id": carrier_message_id,
        "from": {"id": 123456, "is_bot": True, "first_name": "Lines"},
        "chat": chat(),
        "date": DATE,
        "text": "Did we help?",
        "reply_markup": {"inline_keyboard": [[{"text": label, "callback_data": data}]]},
    }
    return update(
        callback_query={"id": query_id, "from": USER, "chat_instance": "ci-1", "data": data, "message": carrier}
    )
