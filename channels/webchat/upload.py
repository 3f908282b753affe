"""`POST /webchat/{site_key}/upload`: a visitor's file, checked, streamed, stored, ingested.

Checks in the order that wastes least: site and origin, visitor token, declared size, then per part
the declared type against the site's list and the extension against the type (programs and scripts
are refused outright),
the running size while streaming, and the leading bytes against the declared type.

Multipart fields: `file` (required), `client_id` (UUID; a resent upload is stored once),
`identity` (JSON `{id, hash, name?, email?}`, as in the hello frame). Header `X-Visitor-Token`.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import BodyPartReader, hdrs, web

from lines.channels.base import InboundMessage
from lines.channels.context import ChannelContext
from lines.channels.webchat import protocol as p
from lines.channels.webchat.config import WebchatSite
from lines.channels.webchat.guard import Refused, check_origin, cors_headers, site_for
from lines.channels.webchat.hub import WEBCHAT_TOPIC, outbound_payload
from lines.channels.webchat.socket import CHANNEL, contact_info, visitor_limit_key
from lines.channels.webchat.state import webchat_key
from lines.channels.webchat.visitor import Visitor, identity_valid, verify_visitor
from lines.console.multipart import form_data_names
from lines.console.settings import Settings
from lines.console.storage import FileTooLarge, extension_refusal

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
MULTIPART_OVERHEAD = 16 * 1024
MAX_FIELD = 4096
TOKEN_HEADER = "X-Visitor-Token"  # noqa: S105 - a header name, not a secret
# Leading bytes of the types we can recognise; a mismatch means the declared type is a lie.
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
    "application/pdf": (b"%PDF-",),
    "application/zip": (b"PK\x03\x04", b"PK\x05\x06"),
}


class UploadRefused(Refused):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, code, message)
        self.headers = headers or {}


def upload_limit(settings: Settings, site: WebchatSite) -> int:
    return min(site.max_upload_bytes, settings.storage.max_attachment_bytes)


def check_declared(settings: Settings, site: WebchatSite, filename: str, content_type: str) -> None:
    """Refuse (415) a type not on the site's list, a name whose extension is not its type's, and
    programs, scripts and shortcuts whatever type they claim."""
    if content_type not in site.upload_types(settings.storage.attachment_types):
        raise UploadRefused(415, "unsupported_type", f"files of type {content_type[:100]!r} are not accepted")
    refusal = extension_refusal(filename, content_type)
    if refusal is not None:
        raise UploadRefused(415, "unsupported_type", refusal[:200])


def check_content(content_type: str, data: bytes) -> None:
    signatures = SIGNATURES.get(content_type)
    if signatures and not data.startswith(signatures):
        raise UploadRefused(415, "type_mismatch", "the file's content does not match its type")
    if content_type == "image/webp" and data[8:12] != b"WEBP":
        raise UploadRefused(415, "type_mismatch", "the file's content does not match its type")


async def read_bounded(part: BodyPartReader, limit: int) -> bytes:
    """The part's body, refusing (413) as soon as it grows past `limit`: never buffered unbounded."""
    data = bytearray()
    while chunk := await part.read_chunk(CHUNK):
        data += chunk
        if len(data) > limit:
            raise UploadRefused(413, "too_large", f"the file is larger than {limit} bytes")
    return bytes(data)


async def read_field(part: BodyPartReader) -> str:
    raw = await read_bounded(part, MAX_FIELD)
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise UploadRefused(400, "bad_request", "a form field is not UTF-8") from None


def parse_identity_field(raw: str) -> p.IdentityClaim | None:
    try:
        return p.parse_identity(json.loads(raw))
    except (ValueError, p.FrameError):
        raise UploadRefused(400, "bad_request", "identity must be a JSON object like the hello frame's") from None


class UploadForm:
    """The parts of one upload, read in order and checked as they come."""

    def __init__(self) -> None:
        self.client_id: str | None = None
        self.identity: p.IdentityClaim | None = None
        self.filename = ""
        self.content_type = ""
        self.data: bytes | None = None

    async def read(self, request: web.Request, settings: Settings, site: WebchatSite, limit: int) -> None:
        if not request.content_type.startswith("multipart/"):
            raise UploadRefused(400, "bad_request", "send the file as multipart/form-data")
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    raise UploadRefused(400, "bad_request", "nested multipart is not accepted")
                await self._part(part, settings, site, limit)
        except ValueError as err:  # aiohttp's malformed-multipart errors
            raise UploadRefused(400, "bad_request", f"malformed multipart body: {err}") from None
        if self.data is None:
            raise UploadRefused(400, "no_file", "the form has no `file` part")
        if not self.data:
            raise UploadRefused(400, "empty_file", "the file is empty")

    async def _part(self, part: BodyPartReader, settings: Settings, site: WebchatSite, limit: int) -> None:
        field, filename = form_data_names(part.headers.get(hdrs.CONTENT_DISPOSITION, ""))
        if field == "file":
            if self.data is not None:
                raise UploadRefused(400, "bad_request", "one file per upload")
            self.filename = filename or "file"
            declared = part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream")
            self.content_type = declared.split(";", 1)[0].strip().lower()
            check_declared(settings, site, self.filename, self.content_type)
            self.data = await read_bounded(part, limit)
            check_content(self.content_type, self.data)
        elif field == "client_id":
            try:
                self.client_id = p.parse_client_id((await read_field(part)).strip())
            except p.FrameError:
                raise UploadRefused(400, "bad_request", "client_id must be a UUID") from None
        elif field == "identity":
            self.identity = parse_identity_field(await read_field(part))
        else:
            raise UploadRefused(400, "bad_request", f"unexpected field {str(field)[:40]!r}")


async def upload_preflight(request: web.Request) -> web.Response:
    """CORS preflight: the widget posts from the customer's site with our token header."""
    settings = request.app[webchat_key].context.settings
    try:
        site = site_for(request, settings)
        origin = check_origin(request, settings, site, required=True)
    except Refused as refused:
        return refused.response()
    headers = cors_headers(
        origin,
        **{
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": TOKEN_HEADER,
            "Access-Control-Max-Age": 600,
        },
    )
    return web.Response(status=204, headers=headers)


async def upload(request: web.Request) -> web.Response:
    state = request.app[webchat_key]
    context = state.context
    settings = context.settings
    try:
        site = site_for(request, settings)
        origin = check_origin(request, settings, site, required=True)
    except Refused as refused:
        return refused.response()
    headers = cors_headers(origin)
    try:
        body = await _store_upload(request, state.context, site)
    except UploadRefused as refused:
        return refused.response({**headers, **refused.headers})
    return web.json_response(body, status=201, headers=headers)


async def _store_upload(request: web.Request, context: ChannelContext, site: WebchatSite) -> dict[str, Any]:
    settings = context.settings
    secret = settings.server.secret_key.get_secret_value()
    visitor_id = verify_visitor(secret, site.site_key, request.headers.get(TOKEN_HEADER))
    if visitor_id is None:
        raise UploadRefused(401, "bad_token", "a valid visitor token is required (X-Visitor-Token)")
    limit = upload_limit(settings, site)
    if request.content_length is not None and request.content_length > limit + MULTIPART_OVERHEAD:
        raise UploadRefused(413, "too_large", f"the file is larger than {limit} bytes")
    form = UploadForm()
    await form.read(request, settings, site, limit)
    assert form.data is not None
    visitor = Visitor.anonymous(site.site_key, visitor_id)
    if form.identity is not None:
        claim = form.identity
        if not identity_valid(site.identity_secret.get_secret_value(), claim.id, claim.hash):
            raise UploadRefused(403, p.IDENTITY_REJECTED, "the identity's hash does not verify")
        visitor = Visitor.identified(site.site_key, visitor_id, claim.id, claim.name, claim.email)
    if site.identity_required and not visitor.verified:
        raise UploadRefused(
            403, p.IDENTITY_REQUIRED, "this chat is for signed-in customers: a verified identity is needed"
        )
    key = visitor_limit_key(site.site_key, visitor.external_id)
    verdict = await context.limiter.hit(key, site.messages_per_minute, 60)
    if not verdict.allowed:
        raise UploadRefused(
            429, p.RATE_LIMITED, "too many messages; try again later", {"Retry-After": str(verdict.retry_after)}
        )
    try:
        attachment = await context.files.save(form.filename, form.content_type, form.data, limit)
    except FileTooLarge as err:
        raise UploadRefused(413, "too_large", str(err)) from None
    client_id = form.client_id or str(uuid.uuid4())
    inbound = InboundMessage(
        channel=CHANNEL,
        inbox=site.site_key,
        external_id=f"{visitor_id}:{client_id}",
        sender=contact_info(visitor),
        text=attachment.filename,
        attachments=(attachment,),
        extra={"client_id": client_id, "upload": True},
    )
    try:
        result = await context.ingest(inbound)
    except Exception:
        log.exception("web-chat upload ingest for %s/%s failed", site.site_key, visitor_id)
        raise UploadRefused(503, p.UNAVAILABLE, "the file was not stored; try again later") from None
    attachments = [{"filename": attachment.filename, "content_type": attachment.content_type, "size": attachment.size}]
    if result.created:
        frame = {
            "type": "message",
            "id": result.message_id,
            "author": "contact",
            "name": "",
            "text": attachment.filename,
            "at": datetime.now(UTC).isoformat(),
            "client_id": client_id,
            "attachments": attachments,
        }
        try:
            await context.bus.publish(
                WEBCHAT_TOPIC, outbound_payload(site.site_key, visitor.external_id, result.conversation_id, frame)
            )
        except Exception:
            log.warning("could not show upload %s in the visitor's tabs", result.message_id, exc_info=True)
    return {
        "id": result.message_id,
        "client_id": client_id,
        "conversation": result.conversation_id,
        "attachments": attachments,
    }
