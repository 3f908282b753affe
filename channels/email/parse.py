"""Raw RFC 5322 bytes -> the parts an inbound email becomes (text, HTML, files, thread hints, flags).

Pure functions only: no I/O here, so the corpus tests run without servers. Attachments come back as
bytes; the adapter stores them through `ChannelContext.files`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from email import errors, policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from typing import Any

import charset_normalizer
import nh3

MAX_REFERENCES = 50
SUBJECT_TAG = re.compile(r"\[#(\d{1,12})\]")
SIGNED_ID = re.compile(r"^lines\.(\d{1,12})\.([0-9a-z]+)\.([0-9a-f]{16})@", re.IGNORECASE)
QUOTE_HEADERS = (
    # Gmail / Thunderbird: "On Mon, 1 Jan 2024 at 10:00, Name <a@b> wrote:"
    re.compile(r"^\s*On .{4,200}wrote:\s*$", re.IGNORECASE),
    re.compile(r"^\s*\d{1,2}[./]\d{1,2}[./]\d{2,4}.{0,200}(пишет|написал|написала|wrote)\s*:\s*$", re.IGNORECASE),
    re.compile(r"^\s*.{0,200}(пишет|написал\(а\)|написал|написала)\s*:\s*$", re.IGNORECASE),
    # Outlook
    re.compile(r"^\s*-{2,}\s*(Original Message|Исходное сообщение|Пересылаемое сообщение)\s*-{2,}\s*$", re.I),
    re.compile(r"^\s*_{10,}\s*$"),
    re.compile(r"^\s*(From|От|Von|De)\s*:\s*.+$", re.IGNORECASE),
)
AUTO_PRECEDENCE = {"bulk": "bulk", "junk": "bulk", "list": "list", "auto_reply": "auto_reply"}
# Defects that mean the MIME tree the email package built is not the mail's real structure.
STRUCTURE_DEFECTS = (
    errors.StartBoundaryNotFoundDefect,
    errors.CloseBoundaryNotFoundDefect,
    errors.MultipartInvariantViolationDefect,
)
MESSAGE_ID = re.compile(r"^[\x21-\x7e]{1,900}@[\x21-\x7e]{1,250}$")
BOUNCE_SENDERS = ("mailer-daemon", "postmaster")
# Local parts that say nobody reads answers: noreply@, no-reply@, do_not_reply@, donotreply@, ...
NOREPLY_SENDER = re.compile(r"^(no|do[-_.]?not)[-_.]?reply([-_.+].*)?$", re.IGNORECASE)


def normalize_id(value: str) -> str:
    """`<Abc@Host>` -> `Abc@Host`: Message-IDs compare without brackets and blanks."""
    return value.strip().strip("<>").strip()


def split_ids(value: str | None) -> list[str]:
    if not value:
        return []
    found = re.findall(r"<([^<>\s]+)>", str(value))
    if not found:  # clients that drop the angle brackets
        found = [part for part in re.split(r"[\s,]+", str(value)) if "@" in part]
    return [normalize_id(v) for v in found]


def sign_conversation(secret: bytes, conversation_id: int) -> str:
    return hmac.new(secret, f"lines-conversation:{conversation_id}".encode(), hashlib.sha256).hexdigest()[:16]


def make_message_id(secret: bytes, conversation_id: int, message_id: int, domain: str) -> str:
    """Our outgoing Message-ID (without brackets): it carries a signed reference to the conversation."""
    return f"lines.{conversation_id}.{message_id}.{sign_conversation(secret, conversation_id)}@{domain}"


def verified_conversation(secret: bytes, message_ids: list[str]) -> int | None:
    """The conversation named by one of our signed Message-IDs among `message_ids`, newest first."""
    for value in reversed(message_ids):
        match = SIGNED_ID.match(value)
        if match and hmac.compare_digest(match.group(3).lower(), sign_conversation(secret, int(match.group(1)))):
            return int(match.group(1))
    return None


@dataclass(slots=True)
class ParsedFile:
    filename: str
    """As the customer named it (decoded): the store makes the safe name and keeps this one for display."""
    content_type: str
    data: bytes
    content_id: str | None = None
    inline: bool = False


@dataclass(slots=True)
class ParsedEmail:
    message_id: str
    sender_address: str
    sender_name: str
    reply_to: str | None
    subject: str
    text: str
    html: str | None
    references: list[str]
    files: list[ParsedFile] = field(default_factory=list)
    auto: str | None = None
    """Why this is machine mail (a `channels.base.Automatic` value: `bounce`, `auto_reply`, `bulk`,
    `list`, `loop`, `noreply`), None for people."""
    bounce_of: list[str] = field(default_factory=list)
    bounce_recipients: list[str] = field(default_factory=list)
    bounce_error: str = ""
    bounce_status: str = ""
    """The DSN status code (`5.1.1`); 5.1.x means the address itself is bad."""
    quoted: str = ""
    unreadable: str | None = None
    repaired: str | None = None
    """Why the text was recovered from the raw body (the MIME structure was broken), None if it was not."""
    headers: dict[str, Any] = field(default_factory=dict)


def decode_bytes(payload: bytes, declared: str | None) -> str:
    """Decode with the declared charset when it works, else guess (charset-normalizer).

    An unknown declared charset gives UTF-8 with U+FFFD replacements (the raw message is kept).
    """
    if declared:
        try:
            return payload.decode(declared)
        except LookupError:
            return payload.decode("utf-8", errors="replace")
        except UnicodeDecodeError:
            pass
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        pass
    mostly_utf8 = payload.decode("utf-8", errors="replace")
    bad = mostly_utf8.count("\ufffd")
    if bad <= 1 or bad * 50 <= len(payload):  # a stray bad byte, not text in a legacy charset
        return mostly_utf8
    best = charset_normalizer.from_bytes(payload).best()
    if best is not None:
        return str(best)
    return payload.decode("latin-1")


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload() or "")
    charset = part.get_content_charset()
    if charset in {"us-ascii", "ascii"} and any(b > 127 for b in payload):
        charset = None  # mislabelled 8-bit text: guess instead of mangling
    return decode_bytes(payload, charset)


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a malformed header the registry refuses (`Message-ID: <>`): its raw text
        value = next((raw for key, raw in message.raw_items() if key.lower() == name.lower()), None)
    if value is None:
        return ""
    return re.sub(r"\s+", " ", str(value)).strip()


def html_to_text(html: str) -> str:
    text = re.sub(r"(?is)<(script|style|head)\b.*?</\1\s*>", " ", html)
    text = re.sub(r"(?i)<br\s*/?>|</p\s*>|</div\s*>|</tr\s*>|</li\s*>|</h\d\s*>", "\n", text)
    text = nh3.clean(text, tags=set())
    import html as html_module

    text = html_module.unescape(text)
    text = "\n".join(line.strip() for line in re.sub(r"[ \t\r\f\v]+", " ", text).splitlines())
    return re.sub(r"\n\s*\n\s*\n+", "\n\n", text).strip()


def fold_quoted(text: str) -> tuple[str, str]:
    """Split a reply into the new part and the quoted history (kept, shown folded)."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if index == 0:
            continue
        if line.lstrip().startswith(">") or any(p.match(line) for p in QUOTE_HEADERS):
            # "From:" alone is too common in prose: require a quote-like block to follow.
            if QUOTE_HEADERS[-1].match(line) and not _looks_like_header_block(lines[index : index + 4]):
                continue
            new = "\n".join(lines[:index]).rstrip()
            if new:
                return new, "\n".join(lines[index:]).strip()
    return text.strip(), ""


def _looks_like_header_block(lines: list[str]) -> bool:
    keys = ("sent:", "date:", "to:", "subject:", "отправлено:", "кому:", "тема:", "дата:")
    return sum(1 for line in lines[1:] if line.strip().lower().startswith(keys)) >= 1


def _filename(part: Message, index: int) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name:
        return str(name)  # as the customer named it; the store makes it safe (console/storage.py)
    ext = {
        "text/plain": ".txt",
        "text/rfc822-headers": ".txt",
        "text/html": ".html",
        "image/png": ".png",
        "image/jpeg": ".jpg",
    }
    return f"attachment-{index}{ext.get(part.get_content_type(), '.bin')}"


def _detect_auto(message: Message, sender: str) -> str | None:
    content_type = message.get_content_type()
    if content_type == "multipart/report" or sender.split("@", 1)[0].lower() in BOUNCE_SENDERS:
        return "bounce"
    auto_submitted = _header(message, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return "auto_reply"
    if _header(message, "X-Autoreply") or _header(message, "X-Autorespond"):
        return "auto_reply"
    precedence = _header(message, "Precedence").lower()
    if precedence in AUTO_PRECEDENCE:
        return AUTO_PRECEDENCE[precedence]
    if _header(message, "List-Id") or _header(message, "List-Unsubscribe") or _header(message, "List-Post"):
        return "list"
    if _header(message, "X-Lines-Loop"):
        return "loop"
    if NOREPLY_SENDER.match(sender.split("@", 1)[0]):
        return "noreply"
    return None


def _parts(part: Message) -> list[Message]:
    """The sub-messages of a multipart or message/* part (none for a leaf)."""
    payload = part.get_payload()
    return [sub for sub in payload if isinstance(sub, Message)] if isinstance(payload, list) else []


def _bounce_details(message: Message, parsed: ParsedEmail) -> None:
    for part in message.walk():
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "text/rfc822-headers"):
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                parsed.bounce_of += split_ids(_header(inner[0], "Message-ID"))
            else:
                text = _text_of(part) if not isinstance(inner, list) else ""
                found = re.search(r"(?im)^Message-ID:\s*(<[^>]+>)", text)
                if found:
                    parsed.bounce_of += split_ids(found.group(1))
        elif ctype == "message/delivery-status":
            for block in _parts(part):
                recipient = _header(block, "Final-Recipient") or _header(block, "Original-Recipient")
                action = _header(block, "Action").lower()
                if recipient and action in ("failed", ""):
                    parsed.bounce_recipients.append(recipient.split(";", 1)[-1].strip().lower())
                if action in ("failed", "") and not parsed.bounce_status:
                    parsed.bounce_status = _header(block, "Status").split()[0] if _header(block, "Status") else ""
                diagnostic = _header(block, "Diagnostic-Code") or _header(block, "Status")
                if diagnostic and not parsed.bounce_error:
                    parsed.bounce_error = diagnostic.split(";", 1)[-1].strip()[:500]
    if not parsed.bounce_of:  # a plain-text bounce that quotes the headers inline
        found = re.search(r"(?im)^Message-ID:\s*(<[^>]+>)", parsed.text + "\n" + parsed.quoted)
        if found:
            parsed.bounce_of += split_ids(found.group(1))
    if not parsed.bounce_error:
        parsed.bounce_error = parsed.text.strip().splitlines()[0][:500] if parsed.text.strip() else "bounced"


def parse_email(raw: bytes) -> ParsedEmail:
    """Parse one message; a message that can't be read comes back with `unreadable` set."""
    fallback_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        return _parse(message, fallback_id, raw)
    except Exception as err:  # never drop mail: the raw copy is kept and shown as unreadable
        return ParsedEmail(
            message_id=fallback_id,
            sender_address="",
            sender_name="",
            reply_to=None,
            subject="",
            text="",
            html=None,
            references=[],
            unreadable=f"{type(err).__name__}: {err}"[:500],
        )


def _address(value: str) -> tuple[str, str]:
    name, address = parseaddr(value)
    return name.strip(), address.strip().lower()


def _own_id(message: Message) -> str | None:
    """The mail's Message-ID, None when it is missing, empty (`<>`) or malformed (no `id@domain`)."""
    ids = split_ids(_header(message, "Message-ID"))
    return ids[0] if ids and MESSAGE_ID.match(ids[0]) else None


def _structure_broken(message: Message) -> str | None:
    """The names of the structural defects anywhere in the tree, None for a well-formed mail."""
    found = [type(d).__name__ for part in message.walk() for d in part.defects if isinstance(d, STRUCTURE_DEFECTS)]
    return ", ".join(dict.fromkeys(found)) or None


def _raw_body_text(raw: bytes, message: Message) -> str:
    """The body as the sender wrote it (everything after the header block), decoded as text."""
    parts = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)
    body = parts[1] if len(parts) == 2 else b""
    charset = message.get_param("charset")
    return decode_bytes(body, charset if isinstance(charset, str) and charset else None).strip()


def _parse(message: EmailMessage, fallback_id: str, raw: bytes = b"") -> ParsedEmail:
    message_id = _own_id(message) or fallback_id
    name, address = _address(_header(message, "From"))
    if not address:
        name, address = _address(_header(message, "Sender") or _header(message, "Return-Path"))
    reply_to = None
    reply_to_value = _header(message, "Reply-To")
    if reply_to_value:
        addresses = [a.lower() for _, a in getaddresses([reply_to_value]) if "@" in a]
        if addresses and addresses[0] != address:
            reply_to = addresses[0]
    references = split_ids(_header(message, "References"))
    for value in split_ids(_header(message, "In-Reply-To")):
        if value not in references:
            references.append(value)
    references = [r for r in references if r != message_id][-MAX_REFERENCES:]

    plain: list[str] = []
    htmls: list[str] = []
    files: list[ParsedFile] = []
    _walk(message, plain, htmls, files, top=True)
    html = "\n".join(htmls) if htmls else None
    text = "\n\n".join(t for t in plain if t.strip())
    if not text.strip() and html:
        text = html_to_text(html)
    broken = _structure_broken(message)
    repaired = None
    if broken and not text.strip():
        # A broken or missing boundary hid the text: show the raw body rather than nothing.
        text, repaired = _raw_body_text(raw, message), broken
    text = text.replace("\r\n", "\n")
    new, quoted = fold_quoted(text)
    parsed = ParsedEmail(
        message_id=message_id,
        sender_address=address,
        sender_name=name,
        reply_to=reply_to,
        subject=_header(message, "Subject")[:500],
        text=new,
        html=html,
        references=references,
        files=files,
        quoted=quoted,
        repaired=repaired,
        headers={
            "from": _header(message, "From")[:500],
            "to": _header(message, "To")[:1000],
            "cc": _header(message, "Cc")[:1000],
            "date": _header(message, "Date")[:100],
        },
    )
    parsed.auto = _detect_auto(message, address)
    if parsed.auto == "bounce":
        _bounce_details(message, parsed)
    # PostgreSQL rejects NUL in text and JSON: strip it from everything that is stored as text.
    parsed.text, parsed.quoted = parsed.text.replace("\x00", ""), parsed.quoted.replace("\x00", "")
    parsed.subject, parsed.sender_name = parsed.subject.replace("\x00", ""), parsed.sender_name.replace("\x00", "")
    parsed.headers = {k: v.replace("\x00", "") for k, v in parsed.headers.items()}
    for file in parsed.files:
        file.filename = file.filename.replace("\x00", "")
    return parsed


def _walk(part: Message, plain: list[str], htmls: list[str], files: list[ParsedFile], top: bool = False) -> None:
    ctype = part.get_content_type()
    if ctype.startswith("message/") and ctype not in ("message/rfc822", "message/global"):
        # delivery-status, disposition-notification: header blocks, kept as a text file
        blocks = part.get_payload()
        body = "\n".join(str(b) for b in blocks) if isinstance(blocks, list) else _text_of(part)
        files.append(ParsedFile(f"{ctype.split('/', 1)[1]}.txt", "text/plain", body.encode()))
        return
    if ctype in ("message/rfc822", "message/global"):
        payload = part.get_payload()
        if isinstance(payload, list) and payload:
            data = payload[0].as_bytes(policy=policy.SMTP) if hasattr(payload[0], "as_bytes") else b""
        else:
            raw = part.get_payload(decode=True)
            data = raw if isinstance(raw, bytes) else str(payload).encode()
        inner_subject = ""
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            inner_subject = _header(payload[0], "Subject")
        name = inner_subject + ".eml" if inner_subject else f"message-{len(files) + 1}.eml"
        try:
            given = part.get_filename()
        except Exception:
            given = None
        files.append(ParsedFile(str(given) if given else name, "message/rfc822", data))
        return
    if ctype.startswith("multipart/") and not part.is_multipart():
        return  # its boundary was never found: the body is recovered as text, not as a file
    if part.is_multipart():
        if not isinstance(part.get_payload(), list):
            return
        subparts = _parts(part)
        if ctype == "multipart/alternative":
            texts = [p for p in subparts if p.get_content_type() == "text/plain"]
            html_parts = [p for p in subparts if p.get_content_type() == "text/html"]
            others = [p for p in subparts if p not in texts and p not in html_parts]
            if texts:
                plain.append(_text_of(texts[-1]))
            if html_parts:
                htmls.append(_text_of(html_parts[-1]))
            for other in others:
                _walk(other, plain, htmls, files)
            return
        for sub in subparts:
            _walk(sub, plain, htmls, files)
        return
    disposition = (part.get_content_disposition() or "").lower()
    if disposition != "attachment" and ctype in ("text/plain", "text/html") and not _has_filename(part):
        (plain if ctype == "text/plain" else htmls).append(_text_of(part))
        return
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    content_id = normalize_id(str(part.get("Content-ID", ""))) or None
    files.append(
        ParsedFile(
            filename=_filename(part, len(files) + 1),
            content_type=ctype,
            data=data,
            content_id=content_id,
            inline=disposition == "inline" or (content_id is not None and disposition != "attachment"),
        )
    )


def _has_filename(part: Message) -> bool:
    try:
        return bool(part.get_filename())
    except Exception:
        return False


def display_address(name: str, address: str) -> str:
    try:
        return str(Address(display_name=name, addr_spec=address)) if name else address
    except Exception:
        return address
