"""Auto-acknowledgement per channel kind: once per new conversation, with the contact's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from lines.console.settings import Settings
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


def test_auto_ack_is_only_for_webchat_telegram_and_sms(tmp_path: Path) -> None:
    from lines.console.settings import ConfigError

    with pytest.raises(ConfigError, match="auto_ack"):
        make_settings(tmp_path, Database("sqlite", "sqlite+aiosqlite:///x.db"), customers={"auto_ack": {"email": "x"}})
