"""Uploads from the widget: checked, streamed with a size limit, stored, ingested, CORS-scoped."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from aiohttp import FormData
from sqlalchemy import select

from lines.channels.webchat.visitor import identity_hash, new_visitor_id, sign_visitor
from lines.console.keys import files_key, sessions_key
from lines.console.models import Attachment, ContactIdentity, Message
from tests.channels.webchat.conftest import Client, ClientFactory, count, hello, receive, say
from tests.conftest import Staff

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"x" * 64


def form(filename: str, data: bytes, content_type: str, client_id: str | None = None, identity: Any = None) -> FormData:
    body = FormData()
    if client_id is not None:
        body.add_field("client_id", client_id)
    if identity is not None:
        body.add_field("identity", json.dumps(identity))
    body.add_field("file", data, filename=filename, content_type=content_type)
    return body


async def token_for(client: Client) -> str:
    ws, welcome = await hello(client)
    await ws.close()
    return str(welcome["visitor"])


async def post(client: Client, body: FormData, token: str | None, site: str = "demo", **headers: str) -> Any:
    if token is not None:
        headers["X-Visitor-Token"] = token
    return await client.post(f"/webchat/{site}/upload", data=body, headers=headers)


async def test_an_upload_is_stored_and_becomes_a_message(client: Client, staff: Staff) -> None:
    ws, welcome = await hello(client)
    client_id = str(uuid.uuid4())
    response = await post(
        client, form("receipt.png", PNG, "image/png", client_id), welcome["visitor"], Origin="https://any.example"
    )
    assert response.status == 201
    assert response.headers["Access-Control-Allow-Origin"] == "https://any.example"
    body = await response.json()
    assert body["client_id"] == client_id
    async with client.app[sessions_key]() as session:
        message = await session.get(Message, body["id"])
        attachment = await session.scalar(select(Attachment))
    assert message is not None and message.text == "receipt.png"
    assert attachment is not None and attachment.message_id == body["id"]
    assert attachment.content_type == "image/png" and attachment.size == len(PNG)
    assert client.app[files_key].path(attachment.storage_path or "").read_bytes() == PNG
    # The visitor's open tabs show it.
    echo = await receive(ws, "message")
    assert echo["id"] == body["id"] and echo["attachments"][0]["filename"] == "receipt.png"
    await ws.close()


async def test_a_resent_upload_is_stored_once(client: Client, staff: Staff) -> None:
    token = await token_for(client)
    client_id = str(uuid.uuid4())
    first = await (await post(client, form("a.pdf", PDF, "application/pdf", client_id), token)).json()
    again = await (await post(client, form("a.pdf", PDF, "application/pdf", client_id), token)).json()
    assert first["id"] == again["id"]
    assert await count(client, Message) == 1


async def test_an_upload_joins_the_visitors_conversation(client: Client, staff: Staff) -> None:
    ws, welcome = await hello(client)
    ack = await say(ws, "here is the invoice", str(uuid.uuid4()))
    body = await (await post(client, form("invoice.pdf", PDF, "application/pdf"), welcome["visitor"])).json()
    async with client.app[sessions_key]() as session:
        text_message = await session.get(Message, ack["id"])
        file_message = await session.get(Message, body["id"])
    assert text_message is not None and file_message is not None
    assert file_message.conversation_id == text_message.conversation_id == body["conversation"]
    await ws.close()


async def test_a_verified_upload_lands_with_the_verified_identity(client: Client, staff: Staff) -> None:
    identity = {"id": "42", "hash": identity_hash("site-secret", "42")}
    token = await token_for(client)
    response = await post(client, form("a.pdf", PDF, "application/pdf", identity=identity), token)
    assert response.status == 201
    async with client.app[sessions_key]() as session:
        identities = (await session.scalars(select(ContactIdentity))).all()
    assert [(i.external_id, i.verified) for i in identities] == [("user:42", True)]
    forged = {"id": "42", "hash": identity_hash("guess", "42")}
    response = await post(client, form("a.pdf", PDF, "application/pdf", identity=forged), token)
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "identity_rejected"


@pytest.mark.parametrize("token", [None, "", "garbage", "abcdefghijklmnopqrstuv.forged"])
async def test_a_bad_token_is_401(client: Client, staff: Staff, token: str | None) -> None:
    response = await post(client, form("a.png", PNG, "image/png"), token)
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "bad_token"
    assert await count(client, Message) == 0


async def test_a_token_from_another_site_is_401(client: Client, staff: Staff) -> None:
    ws, welcome = await hello(client, site="shop", origin="https://shop.example")
    await ws.close()
    response = await post(client, form("a.png", PNG, "image/png"), welcome["visitor"])
    assert response.status == 401


async def test_a_file_over_the_site_limit_is_413(make_client: ClientFactory) -> None:
    client = await make_client(max_upload_bytes=2048)
    token = await token_for(client)
    response = await post(client, form("big.png", PNG + b"\x00" * 4096, "image/png"), token)
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "too_large"
    assert await count(client, Message) == 0 and await count(client, Attachment) == 0
    ok = await post(client, form("small.png", PNG, "image/png"), token)
    assert ok.status == 201


async def test_a_streamed_upload_without_length_is_cut_at_the_limit(make_client: ClientFactory) -> None:
    client = await make_client(max_upload_bytes=2048)
    token = await token_for(client)

    async def chunks() -> Any:
        yield PNG
        for _ in range(100):
            yield b"\x00" * 1024

    body = FormData()
    body.add_field("file", chunks(), filename="big.png", content_type="image/png")
    response = await client.post("/webchat/demo/upload", data=body, headers={"X-Visitor-Token": token})
    assert response.status == 413
    assert await count(client, Message) == 0


@pytest.mark.parametrize(
    ("filename", "content_type", "data"),
    [
        ("tool.exe", "application/octet-stream", b"MZ" + b"\x00" * 32),
        ("page.html", "text/html", b"<script>alert(1)</script>"),
        ("page.html", "text/plain", b"<script>alert(1)</script>"),
        ("logo.svg", "image/svg+xml", b"<svg onload=alert(1)>"),
        ("logo.svg", "image/png", PNG),
        ("shell.pht", "text/plain", b"<?php system($_GET[1]); ?>"),
        ("script.js", "text/plain", b"alert(1)"),
        ("page.HTML.", "text/plain", b"<script>alert(1)</script>"),
        ("fake.png", "image/png", b"<html><script>alert(1)</script>"),
    ],
)
async def test_active_content_and_wrong_types_are_415(
    client: Client, staff: Staff, filename: str, content_type: str, data: bytes
) -> None:
    token = await token_for(client)
    response = await post(client, form(filename, data, content_type), token)
    assert response.status == 415, filename
    assert (await response.json())["error"]["code"] in ("unsupported_type", "type_mismatch")
    assert await count(client, Message) == 0 and await count(client, Attachment) == 0


async def test_a_file_name_with_a_path_is_made_safe(client: Client, staff: Staff) -> None:
    token = await token_for(client)
    response = await post(client, form("../../etc/passwd.txt", b"root:x:0:0", "text/plain"), token)
    assert response.status == 201
    async with client.app[sessions_key]() as session:
        attachment = await session.scalar(select(Attachment))
    assert attachment is not None and attachment.filename.endswith("passwd.txt")
    assert "/" not in attachment.filename and not attachment.filename.startswith(".")


@pytest.mark.parametrize(
    "build",
    [
        lambda: FormData({"client_id": str(uuid.uuid4())}),
        lambda: form("empty.txt", b"", "text/plain"),
        lambda: form("a.png", PNG, "image/png", client_id="not-a-uuid"),
    ],
)
async def test_malformed_forms_are_400(client: Client, staff: Staff, build: Any) -> None:
    token = await token_for(client)
    body = build()
    if not body.is_multipart:
        body.add_field("x", b"", filename="x", content_type="text/plain")
    response = await post(client, body, token)
    assert response.status == 400
    assert await count(client, Message) == 0


async def test_a_non_multipart_body_is_400(client: Client, staff: Staff) -> None:
    token = await token_for(client)
    response = await client.post("/webchat/demo/upload", json={"file": "x"}, headers={"X-Visitor-Token": token})
    assert response.status == 400


async def test_uploads_count_against_the_rate_limit(make_client: ClientFactory) -> None:
    client = await make_client(messages_per_minute=1)
    token = await token_for(client)
    assert (await post(client, form("a.png", PNG, "image/png"), token)).status == 201
    refused = await post(client, form("b.png", PNG, "image/png"), token)
    assert refused.status == 429 and int(refused.headers["Retry-After"]) >= 1


async def test_uploads_from_a_foreign_origin_are_403(client: Client, staff: Staff) -> None:
    ws, welcome = await hello(client, site="shop", origin="https://shop.example")
    await ws.close()
    response = await post(
        client, form("a.png", PNG, "image/png"), welcome["visitor"], site="shop", Origin="https://evil.example"
    )
    assert response.status == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    response = await post(
        client, form("a.png", PNG, "image/png"), welcome["visitor"], site="shop", Origin="https://shop.example"
    )
    assert response.status == 201
    assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"


async def test_the_preflight_allows_only_the_sites_origins(client: Client) -> None:
    headers = {"Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}
    response = await client.options("/webchat/shop/upload", headers=headers)
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "X-Visitor-Token" in response.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response.headers
    response = await client.options("/webchat/shop/upload", headers={**headers, "Origin": "https://evil.example"})
    assert response.status == 403
    response = await client.options("/webchat/nope/upload", headers=headers)
    assert response.status == 404


async def test_a_site_that_requires_identity_refuses_an_anonymous_upload(make_client: ClientFactory) -> None:
    client = await make_client(identity_required=True)
    token = sign_visitor("test-secret-key-0123456789", "demo", new_visitor_id())
    response = await post(client, form("a.pdf", PDF, "application/pdf"), token)
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "identity_required"
    assert await count(client, Message) == 0


async def post_raw(client: Client, token: str, disposition: str, content_type: str = "image/png") -> Any:
    """A multipart body written by hand, so the Content-Disposition is exactly `disposition`."""
    boundary = "lines-boundary-7d3a"
    body = (
        f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {content_type}\r\n\r\n".encode()
        + PNG
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"X-Visitor-Token": token, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    return await client.post("/webchat/demo/upload", data=body, headers=headers)


@pytest.mark.parametrize(
    ("disposition", "stored"),
    [
        ('form-data; name="file"; filename="a;b=c.png"', "a;b=c.png"),
        ("form-data; name=file; filename=a;b=c.png", "a;b=c.png"),
        ('form-data; name="file"; filename=x=1; y=2.png', "x=1; y=2.png"),
        ("form-data; name=\"file\"; filename*=UTF-8''%D0%BE%D1%82%D1%87%D1%91%D1%82%3Bv%3D2.png", "отчёт;v=2.png"),
    ],
)
async def test_file_names_with_semicolons_and_equals_signs_upload(
    client: Client, staff: Staff, disposition: str, stored: str
) -> None:
    response = await post_raw(client, await token_for(client), disposition)
    assert response.status == 201, await response.text()
    async with client.app[sessions_key]() as session:
        attachment = await session.scalar(select(Attachment))
    assert attachment is not None and attachment.display_name == stored


@pytest.mark.parametrize(
    ("filename", "content_type", "data"),
    [
        ("invoice.scr", "application/zip", b"PK\x03\x04" + b"\x00" * 32),
        ("run.cmd", "text/plain", b"del /q C:\\*"),
        ("macro.vbs", "text/plain", b"CreateObject"),
        ("page.hta", "text/plain", b"<hta:application>"),
        ("setup.ps1", "text/plain", b"Remove-Item"),
        ("shortcut.lnk", "application/zip", b"PK\x03\x04" + b"\x00" * 32),
        ("tool.jar", "application/zip", b"PK\x03\x04" + b"\x00" * 32),
        ("setup.msi", "application/msword", b"\xd0\xcf\x11\xe0"),
        ("script.js", "text/plain", b"alert(1)"),
        ("app.com", "text/plain", b"\xcd\x20"),
        ("report.pdf.bat", "text/plain", b"echo"),
        ("photo.zip", "image/png", PNG),
    ],
)
async def test_programs_and_scripts_are_refused_with_a_clear_error(
    client: Client, staff: Staff, filename: str, content_type: str, data: bytes
) -> None:
    response = await post(client, form(filename, data, content_type), await token_for(client))
    body = await response.json()
    assert (response.status, body["error"]["code"]) == (415, "unsupported_type"), filename
    assert "not" in body["error"]["message"] and "." in body["error"]["message"]
    assert await count(client, Attachment) == 0


async def test_a_site_may_narrow_the_allowed_types(make_client: ClientFactory) -> None:
    client = await make_client(attachment_types=["image/png"])
    token = await token_for(client)
    assert (await post(client, form("a.pdf", PDF, "application/pdf"), token)).status == 415
    assert (await post(client, form("a.png", PNG, "image/png"), token)).status == 201
    config = await (await client.get("/webchat/demo/config")).json()
    assert config["attachment_types"] == ["image/png"]
