"""`TelegramChannel`: one per configured bot, on webhook or long polling, through python-telegram-bot.

Inbound, an update is acknowledged only after `context.ingest` committed it: the webhook answers 200
after the store, and the polling offset moves (and is saved with `save_state`) only after the store.
Messages are keyed `chat_id:message_id`, so an update Telegram sends twice is stored once.
Outbound, text goes as HTML-escaped chunks of at most 4,096 characters, files by multipart upload
from our storage, buttons as an inline keyboard; the limiter spaces sends (per bot and per chat).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import mimetypes
import warnings
from datetime import timedelta
from typing import ClassVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.request import HTTPXRequest

from lines.channels.base import (
    BaseChannel,
    ChannelFeature,
    ChannelHealth,
    ContactInfo,
    DeliveryReceipt,
    InboundAttachment,
    InboundMessage,
    OutboundMessage,
    PermanentDeliveryError,
    TemporaryDeliveryError,
    error_text,
)
from lines.channels.context import ChannelContext
from lines.channels.telegram.config import TelegramBot
from lines.channels.telegram.parse import KIND, Parsed, message_key, pack_callback, parse_update
from lines.console.periodic import stop_task
from lines.console.storage import FileTooLarge

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
OFFSET_KEY = "offset"
TEXT_LIMIT = MessageLimit.MAX_TEXT_LENGTH  # 4096
PHOTO_TYPES = {"image/jpeg", "image/png", "image/webp"}
BOT_PER_SECOND = 30
CHAT_PER_SECOND = 1


def webhook_path(name: str) -> str:
    return f"/channels/telegram/{name}/webhook"


def file_base_url(api_base_url: str) -> str:
    """`https://api.telegram.org/bot` -> `https://api.telegram.org/file/bot` (same for a local server)."""
    base = api_base_url.rstrip("/")
    head, sep, tail = base.rpartition("/")
    if sep and tail == "bot":
        return f"{head}/file/bot"
    return f"{base}/file/bot"


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Chunks of at most `limit` characters, cut at a line break or a space when there is one."""
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = window.rfind("\n")
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut < limit // 2:
            chunks.append(window)
            rest = rest[limit:]
            continue
        chunks.append(rest[:cut])
        rest = rest[cut + 1 :]  # the line break or space at the cut goes: each chunk is its own message
    if rest or not chunks:
        chunks.append(rest)
    return chunks


def escape(text: str) -> str:
    """Plain text for `parse_mode=HTML`: only `<`, `>` and `&` are special there."""
    return html.escape(text, quote=False)


def retry_seconds(err: RetryAfter) -> float:
    """`retry_after` is an int in PTB 22 and a timedelta from PTB 23 on (a deprecation warning now)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: int | float | timedelta = err.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramChannel(BaseChannel):
    kind: ClassVar[str] = KIND
    features: ClassVar[ChannelFeature] = (
        ChannelFeature.ATTACHMENTS | ChannelFeature.BUTTONS | ChannelFeature.BLOCK_SENDER
    )
    max_text_length: ClassVar[int | None] = 40 * TEXT_LIMIT

    def __init__(self, config: TelegramBot, context: ChannelContext) -> None:
        super().__init__(config.name)
        self.config = config
        self._context = context
        token = config.token.get_secret_value()
        self.bot = Bot(
            token,
            base_url=config.api_base_url,
            base_file_url=file_base_url(config.api_base_url),
            # The outbox sends to many chats at once: wait for a pooled connection rather than fail.
            request=HTTPXRequest(connection_pool_size=32, read_timeout=15.0, pool_timeout=30.0),
            get_updates_request=HTTPXRequest(read_timeout=config.poll_timeout + 10.0),
        )
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.polling = asyncio.Event()
        """Set while this process polls the bot (it holds the bot's lease; tests wait on it)."""
        # Chunks already sent of a long message whose later chunk failed: a retry sends only the rest.
        self._sent_chunks: dict[int, int] = {}
        self._last_error = ""

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Polling or webhook registration starts once the app runs (see `begin`)."""

    def begin(self) -> None:
        """Start the background work: long polling, or registering the webhook (with retries)."""
        if self._task is None:
            self._stopping.clear()
            if self.config.mode == "polling":
                # Telegram answers 409 to a second getUpdates caller: only the lease holder polls.
                runner = self._context.leadership.run(f"telegram:{self.name}", self._poll)
            else:
                runner = self._register_webhook()
            self._task = asyncio.create_task(runner, name=f"telegram:{self.name}")

    async def stop(self) -> None:
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            await stop_task(task)
        with contextlib.suppress(Exception):
            await self.bot.shutdown()

    def health(self, base_url: str) -> ChannelHealth:
        if self.config.mode == "polling":
            return ChannelHealth(
                connected=self.polling.is_set(), leading=self.polling.is_set(), last_error=self._last_error
            )
        return ChannelHealth(
            webhook_url=self.config.webhook_url.rstrip("/") + webhook_path(self.name), last_error=self._last_error
        )

    def _failed(self, err: BaseException) -> None:
        """Remember `err` for the Channels page (the token masked: it is part of Bot API URLs)."""
        self._last_error = error_text(err, self.config.token.get_secret_value())

    async def _pause(self, seconds: float) -> bool:
        """Sleep unless stopping; True if stopping."""
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    async def _register_webhook(self) -> None:
        url = self.config.webhook_url.rstrip("/") + webhook_path(self.name)
        delay = 1.0
        while True:
            try:
                await self.bot.set_webhook(
                    url=url,
                    secret_token=self.config.secret_token.get_secret_value() or None,
                    allowed_updates=list(ALLOWED_UPDATES),
                    drop_pending_updates=False,
                )
                log.info("telegram %s: webhook set to %s", self.name, url)
                self._last_error = ""
                return
            except (InvalidToken, Forbidden) as err:
                log.error("telegram %s: the token is refused (%s); webhook not set", self.name, err)
                self._failed(err)
                return
            except TelegramError as err:
                log.warning("telegram %s: setWebhook failed (%s), retrying in %.0fs", self.name, err, delay)
                self._failed(err)
            if await self._pause(delay):
                return
            delay = min(delay * 2, 60.0)

    async def _poll(self) -> None:
        """Long polling that owns its offset: it moves only after each update is stored."""
        self.polling.set()
        try:
            await self._poll_updates()
        finally:
            self.polling.clear()

    async def _poll_updates(self) -> None:
        delay = 1.0
        webhook_cleared = False
        stored = await self._context.load_state(KIND, self.name, OFFSET_KEY)
        offset = int(stored) if stored is not None else None
        while not self._stopping.is_set():
            try:
                if not webhook_cleared:
                    # A webhook left from webhook mode would make getUpdates fail; pending updates stay.
                    await self.bot.delete_webhook(drop_pending_updates=False)
                    webhook_cleared = True
                updates = await self.bot.get_updates(
                    offset=offset, timeout=self.config.poll_timeout, allowed_updates=list(ALLOWED_UPDATES)
                )
                for update in updates:
                    await self.handle_update(update)
                    offset = update.update_id + 1
                    await self._context.save_state(KIND, self.name, OFFSET_KEY, offset)
                delay = 1.0
                self._last_error = ""
            except asyncio.CancelledError:
                raise
            except (InvalidToken, Forbidden) as err:
                log.error("telegram %s: the token is refused (%s); polling stops", self.name, err)
                self._failed(err)
                return
            except RetryAfter as err:
                if await self._pause(retry_seconds(err)):
                    return
            except Exception as err:
                # Network, Bot API or store failure: the offset did not move, the update comes again.
                log.warning("telegram %s: polling failed (%s), retrying in %.0fs", self.name, err, delay)
                self._failed(err)
                if await self._pause(delay):
                    return
                delay = min(delay * 2, 60.0)

    # ---- inbound ---------------------------------------------------------------------------

    async def handle_update(self, update: Update) -> bool:
        """Store what `update` carries; True if something was stored (False: ignored or limited).

        Raises when the store or a file download fails for a reason that may pass: the caller must
        not acknowledge the update then.
        """
        try:
            parsed = parse_update(update)
        except Exception:
            # A poison update must not stop the ones behind it: it is logged (with its JSON) and skipped.
            self._context.metrics.inbound.labels(KIND, "unparseable").inc()
            log.exception(
                "telegram %s: update %s cannot be read, skipped: %r", self.name, update.update_id, update.to_dict()
            )
            return False
        if parsed is None:
            return False
        verdict = await self._context.limiter.hit(
            f"telegram:in:{self.name}:{parsed.chat_id}", self.config.inbound_per_minute, 60
        )
        if not verdict.allowed:
            self._context.metrics.inbound.labels(KIND, "flood_limited").inc()
            log.info("telegram %s: chat %s over the inbound limit, update dropped", self.name, parsed.chat_id)
            await self._answer_callback(parsed)
            return False
        start_key = f"start:{parsed.chat_id}"
        if parsed.start:
            # `/start` opens no conversation (it is the Start button); its deep-link payload becomes
            # the source of the conversation the user's next message opens.
            await self._context.save_state(KIND, self.name, start_key, parsed.source)
            return False
        pending = await self._context.load_state(KIND, self.name, start_key)
        if pending and parsed.edit_of is None and not parsed.source:
            parsed.source = dict(pending)
        attachments = tuple([await self._download(ref.file_id, ref.filename, ref.content_type) for ref in parsed.files])
        await self._context.ingest(self._inbound(parsed, attachments))
        if pending:
            await self._context.save_state(KIND, self.name, start_key, {})
        await self._answer_callback(parsed)
        return True

    def _inbound(self, parsed: Parsed, attachments: tuple[InboundAttachment, ...]) -> InboundMessage:
        return InboundMessage(
            channel=KIND,
            inbox=self.name,
            external_id=parsed.external_id,
            sender=parsed.sender,
            text=parsed.text,
            attachments=attachments,
            source=parsed.source,
            extra=parsed.extra,
            edit_of=parsed.edit_of,
        )

    async def _answer_callback(self, parsed: Parsed) -> None:
        if parsed.callback_id is None:
            return
        try:
            await self.bot.answer_callback_query(parsed.callback_id)
        except TelegramError as err:  # the spinner stops by itself; the press is stored
            log.info("telegram %s: answerCallbackQuery failed: %s", self.name, err)

    async def _download(self, file_id: str, filename: str, content_type: str) -> InboundAttachment:
        limit = self._context.settings.storage.max_attachment_bytes
        try:
            file = await self.bot.get_file(file_id)
            if file.file_size is not None and file.file_size > limit:
                raise FileTooLarge(file.file_size, limit)
            data = bytes(await file.download_as_bytearray())
            return await self._context.files.save(filename, content_type, data, limit)
        except (FileTooLarge, BadRequest) as err:
            # Too big for us or for the Bot API (20 MB): the message is kept, the file is named.
            log.info("telegram %s: file %s not stored: %s", self.name, filename, err)
            return InboundAttachment(
                filename=filename, content_type=content_type, size=0, sha256="", storage_path=None, stored=False
            )

    # ---- outbound --------------------------------------------------------------------------

    async def _wait_turn(self, chat_id: str) -> None:
        """Space sends: at most ~30 a second per bot and 1 a second per chat."""
        limiter = self._context.limiter
        for key, limit in (
            (f"telegram:out:{self.name}:{chat_id}", CHAT_PER_SECOND),
            (f"telegram:out:{self.name}", BOT_PER_SECOND),
        ):
            while True:
                verdict = await limiter.hit(key, limit, 1)
                if verdict.allowed:
                    break
                await asyncio.sleep(min(verdict.retry_after, 1))

    def _keyboard(self, message: OutboundMessage) -> InlineKeyboardMarkup | None:
        buttons = message.extra.get("buttons") or []
        if not buttons:
            return None
        try:
            rows = [
                [InlineKeyboardButton(str(b["label"]), callback_data=pack_callback(message.message_id, str(b["id"])))]
                for b in buttons
            ]
        except (KeyError, ValueError) as err:
            raise PermanentDeliveryError(f"buttons cannot be sent to Telegram: {err}") from err
        return InlineKeyboardMarkup(rows)

    async def _send(self, message: OutboundMessage) -> DeliveryReceipt:
        chat_id = message.recipient.external_id
        if not chat_id:
            raise PermanentDeliveryError("the conversation has no Telegram chat to answer")
        keyboard = self._keyboard(message)
        chunks = split_text(message.text) if message.text.strip() else []
        done = self._sent_chunks.get(message.message_id, 0)
        last: Message | None = None
        try:
            for index, chunk in enumerate(chunks):
                if index < done:
                    continue
                await self._wait_turn(chat_id)
                markup = keyboard if index == len(chunks) - 1 and not message.attachments else None
                last = await self.bot.send_message(
                    chat_id, escape(chunk), parse_mode=ParseMode.HTML, reply_markup=markup
                )
                self._sent_chunks[message.message_id] = index + 1
            for index, attachment in enumerate(message.attachments):
                if len(chunks) + index < done:
                    continue
                await self._wait_turn(chat_id)
                data = await asyncio.to_thread(attachment.path.read_bytes)
                markup = keyboard if index == len(message.attachments) - 1 else None
                last = await self._send_file(chat_id, attachment.filename, attachment.content_type, data, markup)
                self._sent_chunks[message.message_id] = len(chunks) + index + 1
        except RetryAfter as err:
            raise TemporaryDeliveryError(f"Telegram asks to wait: {err}", retry_after=retry_seconds(err)) from err
        except Forbidden as err:
            self._sent_chunks.pop(message.message_id, None)
            reason = f"Telegram: {err.message}"
            await self._context.set_identity_state(KIND, self.name, chat_id, "unreachable", reason)
            raise PermanentDeliveryError(f"the user blocked the bot or left the chat ({err.message})") from err
        except (BadRequest, InvalidToken) as err:
            self._sent_chunks.pop(message.message_id, None)
            raise PermanentDeliveryError(f"Telegram refused the message: {err.message}") from err
        except (NetworkError, TelegramError) as err:
            raise TemporaryDeliveryError(f"Telegram unreachable: {err}") from err
        except OSError as err:
            raise PermanentDeliveryError(f"attachment unreadable: {err}") from err
        self._sent_chunks.pop(message.message_id, None)
        if last is None:
            raise PermanentDeliveryError("nothing to send: no text and no files")
        return DeliveryReceipt(external_id=message_key(last.chat.id, last.message_id), status="sent")

    async def _send_file(
        self, chat_id: str, filename: str, content_type: str, data: bytes, markup: InlineKeyboardMarkup | None
    ) -> Message:
        content_type = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        if content_type in PHOTO_TYPES and len(data) <= 10 * 1024 * 1024:
            return await self.bot.send_photo(chat_id, photo=data, filename=filename, reply_markup=markup)
        return await self.bot.send_document(chat_id, document=data, filename=filename, reply_markup=markup)

    # ---- outbound-initiated conversations ----------------------------------------------------

    async def resolve_recipient(self, address: str) -> ContactInfo:
        """The chat `address` (a chat id) as a contact, if the user ever wrote to this bot.

        Telegram lets a bot write only to users who started it; `getChat` succeeds exactly then.

        Raises:
            ValueError: not a chat id, or a chat this bot cannot write to.
        """
        chat = address.strip()
        if not chat.lstrip("-").isdigit():
            raise ValueError("a Telegram recipient is a numeric chat id of a user who wrote to the bot")
        try:
            found = await self.bot.get_chat(int(chat))
        except (BadRequest, Forbidden) as err:
            raise ValueError(f"Telegram does not know chat {chat} for this bot: {err.message}") from err
        name = found.full_name or found.title or ""
        return ContactInfo(
            external_id=str(found.id),
            name=name,
            verified=True,
            display=f"@{found.username}" if found.username else name,
        )
