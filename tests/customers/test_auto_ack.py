"""Auto-acknowledgement per channel kind: once per new conversation, with the contact's name."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lines.console.customers.auto_ack import AckTemplates
from lines.console.settings import ConfigError, Settings
from tests.api.helpers import Client, eventually
from tests.conftest import Database, Staff, make_settings
from tests.customers.conftest import Channels
from tests.customers.helpers import customer_says


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return make_settings(
        tmp_path, database, customers={"auto_ack": {"telegram": "Thanks, {{contact.name}}! We got it."}}
    )


async def test_a_new_telegram_conversation_is_acknowledged_once(client: Client, staff: Staff, fakes: Channels) -> None:
    await customer_says(client, "hello", channel="telegram", sender="t1", name="Vera")
    await customer_says(client, "are you there?", channel="telegram", sender="t1", name="Vera")

    async def acknowledged() -> bool:
        return len(fakes["telegram"].sent) >= 1

    await eventually(acknowledged)
    await customer_says(client, "third", channel="telegram", sender="t1")
    await customer_says(client, "sms", channel="sms", sender="+79000000000")
    assert [m.text for m in fakes["telegram"].sent] == ["Thanks, Vera! We got it."]
    assert fakes["sms"].sent == []


def test_auto_ack_keys_are_channel_kinds_or_one_channel(tmp_path: Path) -> None:
    db = Database("sqlite", "sqlite+aiosqlite:///x.db")
    accepted = make_settings(tmp_path, db, customers={"auto_ack": {"email": "x", "email:support": "y", "sms": "z"}})
    assert set(accepted.customers.auto_ack) == {"email", "email:support", "sms"}
    with pytest.raises(ConfigError, match="auto_ack"):
        make_settings(tmp_path, db, customers={"auto_ack": {"fax": "x"}})


def test_one_channel_s_template_wins_over_its_kind_s(tmp_path: Path) -> None:
    db = Database("sqlite", "sqlite+aiosqlite:///x.db")
    settings = make_settings(
        tmp_path, db, customers={"auto_ack": {"webchat": "kind", "webchat:shop": "shop", "sms": "off"}}
    )
    templates = AckTemplates(settings)
    assert templates.template("webchat", "shop") == "shop"
    assert templates.template("webchat", "demo") == "kind"
    assert templates.template("sms", "any") is None
    assert templates.template("telegram", "any") is None


def mailbox(**overrides: str) -> dict[str, str]:
    return {"name": "support", "address": "support@x.org", "imap_host": "", **overrides}


def test_a_mailbox_s_old_auto_ack_key_becomes_its_customers_entry_with_a_deprecation_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database("sqlite", "sqlite+aiosqlite:///x.db")
    settings = make_settings(tmp_path, db, channels={"email": [mailbox(auto_ack="Got it, {{contact.name}}")]})
    with caplog.at_level(logging.WARNING, logger="lines.console.customers.auto_ack"):
        templates = AckTemplates(settings)
    assert templates.template("email", "support") == "Got it, {{contact.name}}"
    assert "channels.email[0].auto_ack is deprecated" in caplog.text
    assert "customers.auto_ack" in caplog.text


def test_the_new_key_wins_over_a_mailbox_s_old_one(tmp_path: Path) -> None:
    db = Database("sqlite", "sqlite+aiosqlite:///x.db")
    settings = make_settings(
        tmp_path,
        db,
        channels={"email": [mailbox(auto_ack="old")]},
        customers={"auto_ack": {"email:support": "new"}},
    )
    assert AckTemplates(settings).template("email", "support") == "new"


def test_an_old_key_set_to_off_acknowledges_nothing_and_logs_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database("sqlite", "sqlite+aiosqlite:///x.db")
    settings = make_settings(tmp_path, db, channels={"email": [mailbox(auto_ack="off")]})
    with caplog.at_level(logging.WARNING):
        assert AckTemplates(settings).template("email", "support") is None
    assert "deprecated" not in caplog.text
