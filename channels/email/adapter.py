"""One support mailbox: IMAP in (IDLE or polling, a durable UID cursor), SMTP out through the outbox.

Inbound order per message, so a crash at any point loses nothing and stores nothing twice:
raw .eml saved -> parsed -> `ingest` (idempotent on the Message-ID) -> cursor saved -> marked/moved.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import logging
import mimetypes
import re
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any

import aioimaplib

from lines.channels.base import (
    Automatic,
    BaseChannel,
    ChannelFeature,
    ChannelHealth,
    ContactInfo,
    DeliveryReceipt,
    InboundAttachment,
    InboundMessage,
    OutboundMessage,
    PermanentDeliveryError,
    error_text,
)
from lines.channels.context import ChannelContext
from lines.channels.email.config import EmailMailbox
from lines.channels.email.imap_tls import ssl_context, starttls
from lines.channels.email.parse import (
    SUBJECT_TAG,
    ParsedEmail,
    display_address,
    make_message_id,
    parse_email,
    verified_conversation,
)
from lines.console.periodic import stop_task
from lines.console.templating import placeholders, render
from lines.mail.smtp import SmtpClient

log = logging.getLogger(__name__)
FETCH_BATCH = 25
POISON_ATTEMPTS = 3
MAX_ID = 255


def external_id(message_id: str) -> str:
    """A Message-ID as the store keeps it (ids longer than the column are hashed)."""
    return message_id if len(message_id) <= MAX_ID else "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()


def compose_signature(mailbox: str, personal: str, values: dict[str, object]) -> str:
    """The block under `-- `: the operator's (or team's) signature, then the mailbox's `signature`.

    A mailbox signature that contains `{{signature}}` lays the block out itself (the personal one
    goes where it says); otherwise the personal one comes first and the mailbox's (the company
    footer) below it. Either may be empty.
    """
    if not mailbox.strip():
        return personal.strip()
    rendered = render(mailbox, {**values, "signature": personal}).strip()
    if "signature" in placeholders(mailbox):
        return rendered
    return "\n\n".join(part for part in (personal.strip(), rendered) if part)


def _fetched(lines: list[Any]) -> list[tuple[int, bytes]]:
    """(uid, raw message) pairs from a `UID FETCH ... (UID BODY.PEEK[])` response."""
    out = []
    for index, line in enumerate(lines[:-1]):
        if type(line) is bytes:
            match = re.search(rb"FETCH \(.*UID (\d+)", line)
            following = lines[index + 1]
            if match and isinstance(following, bytearray):
                out.append((int(match.group(1)), bytes(following)))
    return out


class EmailChannel(BaseChannel):
    kind = "email"
    features = (
        ChannelFeature.ATTACHMENTS
        | ChannelFeature.RICH_TEXT
        | ChannelFeature.SUBJECT
        | ChannelFeature.THREADS
        | ChannelFeature.SIGNATURE
    )

    def __init__(self, mailbox: EmailMailbox, context: ChannelContext) -> None:
        super().__init__(mailbox.name)
        self.mailbox = mailbox
        self._context = context
        self._task: asyncio.Task[None] | None = None
        self._client: aioimaplib.IMAP4 | None = None
        self._lost = asyncio.Event()
        self.connected = asyncio.Event()
        """Set while a session is selected on the folder (tests and health checks wait on it)."""
        self.domain = mailbox.address.rsplit("@", 1)[-1] or "localhost"
        self._smtp = SmtpClient(mailbox)
        self._failures: dict[int, int] = {}
        self._reading = False
        self._last_error = ""

    @property
    def _secret(self) -> bytes:
        return self._context.settings.server.secret_key.get_secret_value().encode()

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None and self.mailbox.imap_host:
            # With several workers only the holder of the mailbox's lease reads it (console/leadership.py).
            reader = self._context.leadership.run(f"email:{self.name}", self._run)
            self._task = asyncio.create_task(reader, name=f"email:{self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await stop_task(task)
        await self._close_client()

    def health(self, base_url: str) -> ChannelHealth:
        if not self.mailbox.imap_host:
            return ChannelHealth()
        return ChannelHealth(connected=self.connected.is_set(), leading=self._reading, last_error=self._last_error)

    async def _close_client(self) -> None:
        client, self._client = self._client, None
        self.connected.clear()
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.logout(), 2)

    async def _run(self) -> None:
        delay = self.mailbox.reconnect_min_seconds
        self._reading = True
        try:
            while True:
                try:
                    await self._session()
                except asyncio.CancelledError:
                    raise
                except Exception as err:
                    log.warning("email %s: IMAP session ended (%r); reconnecting in %.1fs", self.name, err, delay)
                    self._last_error = error_text(err, self.mailbox.imap_password.get_secret_value())
                else:
                    delay = self.mailbox.reconnect_min_seconds
                await self._close_client()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.mailbox.reconnect_max_seconds)
        finally:
            self._reading = False
            # The lease was lost or the channel stops: log out, so the next reader starts clean.
            await self._close_client()

    # --- IMAP ------------------------------------------------------------------------------------

    async def _connect(self) -> aioimaplib.IMAP4:
        box = self.mailbox
        self._lost = asyncio.Event()
        lost = self._lost

        def on_lost(exc: Exception | None) -> None:
            lost.set()
            client = self._client
            if client is not None:
                with contextlib.suppress(Exception):
                    client.protocol.idle_queue.put_nowait(aioimaplib.STOP_WAIT_SERVER_PUSH)

        client = aioimaplib.IMAP4(
            box.imap_host,
            box.imap_port,
            timeout=box.imap_timeout_seconds,
            conn_lost_cb=on_lost,
            ssl_context=ssl_context(box.imap_ca_file) if box.imap_tls == "ssl" else None,
        )
        self._client = client
        await client.wait_hello_from_server()
        if box.imap_tls == "starttls":
            await starttls(client, ssl_context(box.imap_ca_file), box.imap_host)
        response = await client.login(box.imap_user, box.imap_password.get_secret_value())
        if response.result != "OK":
            raise ConnectionError(f"IMAP login refused: {response.lines[-1]!r}")
        return client

    async def _session(self) -> None:
        client = await self._connect()
        response = await client.select(self.mailbox.imap_folder)
        if response.result != "OK":
            raise ConnectionError(f"IMAP SELECT {self.mailbox.imap_folder} refused: {response.lines[-1]!r}")
        uidvalidity = 0
        for line in response.lines:
            match = re.search(rb"UIDVALIDITY (\d+)", bytes(line))
            if match:
                uidvalidity = int(match.group(1))
        cursor = await self._context.load_state(self.kind, self.name, "cursor") or {}
        if cursor.get("uidvalidity") != uidvalidity:
            # A new UIDVALIDITY renumbers the folder: read it all again; Message-IDs keep it idempotent.
            cursor = {"uidvalidity": uidvalidity, "last_uid": 0}
        self.connected.set()
        self._last_error = ""
        idle = client.has_capability("IDLE") and self.mailbox.idle
        while True:
            await self._fetch_new(client, cursor)
            if self._lost.is_set():
                raise ConnectionError("IMAP connection lost")
            if idle:
                await self._idle(client)
            else:
                await asyncio.sleep(self.mailbox.poll_seconds)
                await client.noop()

    async def _idle(self, client: aioimaplib.IMAP4) -> None:
        waiting = await client.idle_start(timeout=self.mailbox.idle_seconds)
        try:
            while client.has_pending_idle() and not self._lost.is_set():
                pushed = await client.wait_server_push(timeout=self.mailbox.idle_seconds + 5)
                if pushed == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break
                if any(b"EXISTS" in bytes(line) for line in pushed if isinstance(line, bytes | bytearray)):
                    break
        finally:
            if not self._lost.is_set():
                client.idle_done()
                await asyncio.wait_for(waiting, 10)
        if self._lost.is_set():
            raise ConnectionError("IMAP connection lost during IDLE")

    async def _fetch_new(self, client: aioimaplib.IMAP4, cursor: dict[str, int]) -> None:
        while True:
            response = await client.uid_search(f"UID {cursor['last_uid'] + 1}:*", charset=None)
            if response.result != "OK":
                raise ConnectionError(f"IMAP UID SEARCH failed: {response.lines[-1]!r}")
            uids = sorted(
                uid
                for line in response.lines[:-1]
                for uid in map(int, re.findall(rb"\d+", bytes(line)))
                if uid > cursor["last_uid"]
            )
            if not uids:
                return
            batch = uids[:FETCH_BATCH]
            response = await client.uid("fetch", ",".join(map(str, batch)), "(UID BODY.PEEK[])")
            if response.result != "OK":
                raise ConnectionError(f"IMAP UID FETCH failed: {response.lines[-1]!r}")
            fetched = dict(_fetched(response.lines))
            for uid in batch:
                raw = fetched.get(uid)
                if raw is not None:
                    await self._take_or_park(uid, raw)
            # Every message of the batch is stored: move the cursor, then flag or move them.
            # A crash before this point fetches the batch again; ingest recognises each message.
            cursor["last_uid"] = batch[-1]
            await self._context.save_state(self.kind, self.name, "cursor", cursor)
            await self._after_fetch(client, ",".join(map(str, batch)))

    async def _after_fetch(self, client: aioimaplib.IMAP4, uids: str) -> None:
        action = self.mailbox.after_fetch
        if action == "seen":
            await client.uid("store", uids, "+FLAGS.SILENT", r"(\Seen)")
        elif action.startswith("move:"):
            folder = action.split(":", 1)[1]
            if client.has_capability("MOVE"):
                await client.uid("move", uids, folder)
            else:
                await client.uid("copy", uids, folder)
                await client.uid("store", uids, "+FLAGS.SILENT", r"(\Deleted)")
                await client.expunge()

    # --- one message -----------------------------------------------------------------------------

    async def _take_or_park(self, uid: int, raw: bytes) -> None:
        """Store one message; one that fails `POISON_ATTEMPTS` times is stored raw as unreadable.

        A failure ends the session (the store may be down: retry after reconnecting); only the same
        message failing again and again is treated as poison, so it cannot block the mailbox.
        """
        try:
            await self._take(raw)
        except Exception as err:
            failures = self._failures.get(uid, 0) + 1
            self._failures[uid] = failures
            if failures < POISON_ATTEMPTS:
                raise
            log.exception(
                "email %s: message UID %s failed %s times; storing it raw as unreadable", self.name, uid, failures
            )
            await self._take_unreadable(raw, f"{type(err).__name__}: {err}"[:500])
        self._failures.pop(uid, None)

    async def _take_unreadable(self, raw: bytes, reason: str) -> None:
        original = await self._context.files.save("original.eml", "message/rfc822", raw, limit=max(len(raw), 1))
        await self._context.ingest(
            InboundMessage(
                channel=self.kind,
                inbox=self.name,
                external_id="sha256:" + hashlib.sha256(raw).hexdigest(),
                sender=ContactInfo(external_id="unknown@invalid", display="unknown@invalid"),
                attachments=(original,),
                extra={"unreadable": reason, "raw_path": original.storage_path},
            )
        )

    async def ingest_raw(self, raw: bytes) -> int:
        """Store one raw message (also used by tests and imports); returns the stored message id."""
        return await self._take(raw)

    async def _take(self, raw: bytes) -> int:
        files = self._context.files
        original = await files.save("original.eml", "message/rfc822", raw, limit=max(len(raw), 1))
        parsed = parse_email(raw)
        if parsed.auto is None and (
            parsed.sender_address == self.mailbox.address.strip().lower()
            or verified_conversation(self._secret, [parsed.message_id]) is not None
        ):
            parsed.auto = "loop"  # our own mail came back (a forward, a copy to ourselves)
        inbound = await self._inbound(parsed, original)
        result = await self._context.ingest(inbound)
        if parsed.auto == "bounce":
            for bounced in parsed.bounce_of:
                await self._context.record_receipt(
                    self.kind, self.name, external_id(bounced), "failed", parsed.bounce_error or "bounced"
                )
            if parsed.bounce_of and parsed.bounce_status.startswith("5.1."):
                # The address itself is bad (no such user, no such domain): stop writing to it.
                for recipient in parsed.bounce_recipients:
                    await self._context.set_identity_state(
                        self.kind, self.name, recipient, "unreachable", parsed.bounce_error or parsed.bounce_status
                    )
        return result.message_id

    async def _inbound(self, parsed: ParsedEmail, original: InboundAttachment) -> InboundMessage:
        limit = self._context.settings.storage.max_attachment_bytes
        attachments: list[InboundAttachment] = []
        too_large: list[str] = []
        inline: dict[str, str] = {}
        inline_paths: dict[str, str] = {}
        for file in parsed.files:
            if len(file.data) > limit:
                too_large.append(file.filename)
                attachments.append(
                    InboundAttachment(
                        filename=file.filename,
                        content_type=file.content_type,
                        size=len(file.data),
                        sha256=hashlib.sha256(file.data).hexdigest(),
                        storage_path=None,
                        stored=False,
                    )
                )
                continue
            saved = await self._context.files.save(file.filename, file.content_type, file.data, limit)
            attachments.append(saved)
            if file.content_id:
                inline[file.content_id] = saved.filename
                if saved.storage_path:
                    inline_paths[file.content_id] = saved.storage_path  # file names may repeat
        extra: dict[str, Any] = {
            "message_id": parsed.message_id,
            "raw_path": original.storage_path,
            "headers": parsed.headers,
        }
        if parsed.unreadable:
            extra["unreadable"] = parsed.unreadable
            attachments.append(original)
        if parsed.repaired:
            extra["repaired"] = parsed.repaired
        if parsed.reply_to:
            extra["reply_to"] = parsed.reply_to
        if parsed.quoted:
            extra["quoted"] = parsed.quoted[:100_000]
        if parsed.auto == "bounce":
            extra["bounce"] = {"of": parsed.bounce_of[:10], "error": parsed.bounce_error}
        if too_large:
            extra["too_large"] = too_large
        if inline:
            extra["inline"] = inline
            extra["inline_paths"] = inline_paths
        references = tuple(external_id(r) for r in parsed.references)
        hint = verified_conversation(self._secret, parsed.references)
        if hint is None:
            tag = SUBJECT_TAG.search(parsed.subject)
            hint = int(tag.group(1)) if tag else None
        root = parsed.references[0] if parsed.references else parsed.message_id
        address = parsed.sender_address or "unknown@invalid"
        return InboundMessage(
            channel=self.kind,
            inbox=self.name,
            external_id=external_id(parsed.message_id),
            sender=ContactInfo(
                external_id=address,
                name=parsed.sender_name,
                email=parsed.sender_address or None,
                display=display_address(parsed.sender_name, address),
            ),
            text=parsed.text,
            html=parsed.html,
            subject=parsed.subject,
            thread_id=external_id(root),
            attachments=tuple(attachments),
            source={"mailbox": self.mailbox.address},
            extra=extra,
            references=references,
            conversation_hint=hint,
            automatic=Automatic(parsed.auto) if parsed.auto else Automatic.NONE,
        )

    # --- SMTP ------------------------------------------------------------------------------------

    def build(self, message: OutboundMessage, bodies: Sequence[bytes] = ()) -> EmailMessage:
        """The MIME message for one outbound reply.

        `bodies` are the contents of `message.attachments`, in order, read off the event loop by the caller.
        """
        box = self.mailbox
        thread = message.extra.get("thread") or {}
        references = [r for r in thread.get("references", []) if "@" in r and not r.startswith("sha256:")]
        recipient = thread.get("reply_to") or message.recipient.external_id
        if not recipient or "@" not in recipient:
            raise PermanentDeliveryError("the contact has no email address")
        our_id = make_message_id(self._secret, message.conversation_id, message.message_id, self.domain)
        values = {
            "operator.name": message.author_name,
            "conversation.number": message.conversation_id,
            "contact.name": message.recipient.display,
        }
        signature = compose_signature(box.signature, str(message.extra.get("signature") or ""), values)
        subject = message.subject or box.default_subject
        if not SUBJECT_TAG.search(subject):
            subject = f"{subject} [#{message.conversation_id}]"
        if references and not re.match(r"(?i)^(re|ответ|aw)\s*:", subject):
            subject = "Re: " + subject
        mail = EmailMessage()
        sender_name = f"{message.author_name} via {box.from_name}" if message.author_name else box.from_name
        mail["From"] = formataddr((sender_name, box.address))
        mail["Reply-To"] = box.address
        mail["To"] = recipient
        mail["Subject"] = subject
        mail["Date"] = format_datetime(message.created_at)
        mail["Message-ID"] = f"<{our_id}>"
        if references:
            mail["In-Reply-To"] = f"<{references[-1]}>"
            mail["References"] = " ".join(f"<{r}>" for r in references[-20:])
        if message.author_kind in ("bot", "system"):
            mail["Auto-Submitted"] = "auto-replied"
        mail["X-Lines-Conversation"] = str(message.conversation_id)
        text = message.text + (f"\n\n-- \n{signature}\n" if signature else "\n")
        mail.set_content(text)
        body_html = "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in message.text.split("\n\n"))
        if signature:
            body_html += f'<p style="color:#666">-- <br>{html.escape(signature).replace(chr(10), "<br>")}</p>'
        mail.add_alternative(f"<!DOCTYPE html><html><body>{body_html}</body></html>", subtype="html")
        for attachment, body in zip(message.attachments, bodies, strict=True):
            ctype = (
                attachment.content_type or mimetypes.guess_type(attachment.filename)[0] or "application/octet-stream"
            )
            maintype, _, subtype = ctype.partition("/")
            mail.add_attachment(
                body,
                maintype=maintype,
                subtype=subtype or "octet-stream",
                filename=attachment.filename,
            )
        return mail

    async def _send(self, message: OutboundMessage) -> DeliveryReceipt:
        if not self.mailbox.smtp_host:
            raise PermanentDeliveryError(f"mailbox {self.name} has no smtp_host")
        bodies = await asyncio.to_thread(lambda: [a.path.read_bytes() for a in message.attachments])
        mail = self.build(message, bodies)
        await self._smtp.send(mail)
        return DeliveryReceipt(external_id=str(mail["Message-ID"]).strip("<>"), status="sent")
