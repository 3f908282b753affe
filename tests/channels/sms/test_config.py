"""`[[channels.sms]]`: what a number needs, several numbers at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lines.console.app import create_app
from lines.console.settings import ConfigError
from tests.channels.sms.conftest import Factory, messages, twilio_gateway
from tests.channels.sms.test_kannel_webhooks import gateway as kannel_gateway
from tests.channels.sms.twilio_standin import TwilioStandIn
from tests.conftest import Database, make_settings


def build(
    tmp_path: Path, database: Database, *gateways: dict[str, Any], public_url: str = "http://127.0.0.1:1"
) -> None:
    settings = make_settings(tmp_path, database, server={"public_url": public_url}, channels={"sms": list(gateways)})
    create_app(settings)


def test_sms_needs_the_public_url_for_delivery_reports(tmp_path: Path, database: Database) -> None:
    with pytest.raises(ConfigError, match="public_url"):
        build(tmp_path, database, kannel_gateway(), public_url="")


def test_kannel_needs_an_inbound_secret(tmp_path: Path, database: Database) -> None:
    with pytest.raises(ConfigError, match="inbound_secret"):
        build(tmp_path, database, kannel_gateway(inbound_secret=""))


def test_two_numbers_may_not_share_a_name(tmp_path: Path, database: Database) -> None:
    with pytest.raises(ConfigError, match="name"):
        build(tmp_path, database, kannel_gateway(), kannel_gateway())


async def test_several_numbers_run_at_once_each_in_its_own_inbox(
    twilio: TwilioStandIn, make_sms_client: Factory
) -> None:
    client = await make_sms_client(
        twilio_gateway(twilio), twilio_gateway(twilio, name="sales", number="+15005550007", team="sales")
    )
    for name in ("twilio", "sales"):
        status, _ = await twilio.inbound(str(client.make_url(f"/channels/sms/{name}/inbound")), "+79161234567", name)
        assert status == 200
    stored = await messages(client)
    assert sorted(m.channel_key for m in stored) == ["sms:sales", "sms:twilio"]
    assert len({m.conversation_id for m in stored}) == 2
