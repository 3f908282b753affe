"""Pure parts: frame parsing into dataclasses, visitor tokens, identity hashes."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from lines.channels.webchat import protocol as p
from lines.channels.webchat.visitor import (
    Visitor,
    identity_hash,
    identity_valid,
    new_visitor_id,
    sign_visitor,
    verify_visitor,
)


def test_hello_parses_into_its_dataclass() -> None:
    frame = p.parse_frame(
        '{"type":"hello","visitor":"t","last_seen":12,'
        '"identity":{"id":42,"name":" Vera ","email":"v@x.example","hash":"ab"},'
        '"page":{"url":"https://s.example/a","referrer":null,"utm":{"utm_source":"mail","x":"y"}}}'
    )
    assert frame == p.Hello(
        visitor="t",
        last_seen=12,
        identity=p.IdentityClaim(id="42", hash="ab", name="Vera", email="v@x.example"),
        page=p.Page(url="https://s.example/a", referrer="", utm={"utm_source": "mail"}),
    )


def test_a_minimal_hello_is_fine() -> None:
    assert p.parse_frame('{"type":"hello"}') == p.Hello(None, None, None, p.Page())


def test_message_client_ids_are_canonical_uuids() -> None:
    frame = p.parse_frame('{"type":"message","client_id":"7F1D5A4E-2C3B-4D5E-8F90-A1B2C3D4E5F6","text":"hi"}')
    assert frame == p.ChatMessage("7f1d5a4e-2c3b-4d5e-8f90-a1b2c3d4e5f6", "hi")
    with pytest.raises(p.FrameError) as err:
        p.parse_frame('{"type":"message","client_id":"7f1d5a4e2c3b4d5e8f90a1b2c3d4e5f6","text":"hi"}')
    assert err.value.code == p.BAD_FRAME


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", p.BAD_FRAME),
        ("{", p.BAD_FRAME),
        ("null", p.BAD_FRAME),
        ('{"type":null}', p.BAD_FRAME),
        ('{"type":"HELLO"}', p.UNKNOWN_TYPE),
        ('{"type":"hello","last_seen":-1}', p.BAD_FRAME),
        ('{"type":"hello","last_seen":1.5}', p.BAD_FRAME),
        ('{"type":"hello","last_seen":99999999999999999999}', p.BAD_FRAME),
        ('{"type":"hello","identity":{"id":true,"hash":"x"}}', p.BAD_FRAME),
        ('{"type":"hello","identity":{"id":"","hash":"x"}}', p.BAD_FRAME),
        ('{"type":"hello","identity":{"id":"1","hash":["x"]}}', p.BAD_FRAME),
        ('{"type":"hello","identity":"42"}', p.BAD_FRAME),
        ('{"type":"hello","page":{"url":5}}', p.BAD_FRAME),
        ('{"type":"hello","page":{"utm":[]}}', p.BAD_FRAME),
    ],
)
def test_malformed_frames_raise_with_a_code(raw: str, code: str) -> None:
    with pytest.raises(p.FrameError) as err:
        p.parse_frame(raw)
    assert err.value.code == code


def test_long_fields_are_refused() -> None:
    with pytest.raises(p.FrameError):
        p.parse_page({"url": "https://x.example/" + "a" * p.MAX_URL})
    with pytest.raises(p.FrameError):
        p.parse_identity({"id": "1" * (p.MAX_IDENTITY_ID + 1), "hash": "x"})
    with pytest.raises(p.FrameError):
        p.parse_page({"utm": {f"utm_{i}": "x" for i in range(p.MAX_UTM_KEYS + 1)}})


def test_check_text_trims_and_limits() -> None:
    assert p.check_text(p.ChatMessage("c", "  hi \n"), 5) == "hi"
    with pytest.raises(p.FrameError) as err:
        p.check_text(p.ChatMessage("c", "toolong"), 5)
    assert (err.value.code, err.value.client_id) == (p.MESSAGE_TOO_LONG, "c")
    with pytest.raises(p.FrameError) as err:
        p.check_text(p.ChatMessage("c", " \u3000 "), 5)
    assert err.value.code == p.EMPTY_MESSAGE


def test_visitor_tokens_round_trip_and_resist_tampering() -> None:
    visitor_id = new_visitor_id()
    token = sign_visitor("k", "demo", visitor_id)
    assert verify_visitor("k", "demo", token) == visitor_id
    assert verify_visitor("other", "demo", token) is None
    assert verify_visitor("k", "shop", token) is None
    assert verify_visitor("k", "demo", "x" + token) is None
    assert verify_visitor("k", "demo", token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert verify_visitor("k", "demo", None) is None
    assert verify_visitor("k", "demo", {"$ne": None}) is None


def test_identity_hash_is_the_documented_hmac() -> None:
    expected = hmac.new(b"site-secret", b"42", hashlib.sha256).hexdigest()
    assert identity_hash("site-secret", "42") == expected
    assert identity_valid("site-secret", "42", expected.upper())
    assert not identity_valid("site-secret", "43", expected)
    assert not identity_valid("", "42", identity_hash("", "42"))


def test_visitors_are_keyed_apart() -> None:
    anonymous = Visitor.anonymous("demo", "abcdefghijklmnop")
    verified = Visitor.identified("demo", "abcdefghijklmnop", "42", "", None)
    assert anonymous.external_id == "visitor:abcdefghijklmnop" and not anonymous.verified
    assert verified.external_id == "user:42" and verified.verified and verified.name == "Customer 42"
