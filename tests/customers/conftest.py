"""Customer tests run with a stand-in channel of each kind (webchat, telegram, sms, email) and loopback,
so surveys and acknowledgements have somewhere to go; the outbound messages are recorded."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ClassVar

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from lines.channels.base import ChannelFeature
from lines.console.app import create_app
from lines.console.keys import channels_key
from lines.console.settings import Settings
from tests.conftest import Database, make_settings
from tests.loopback import LoopbackChannel


class ButtonsChannel(LoopbackChannel):
    features: ClassVar[ChannelFeature] = ChannelFeature.BUTTONS


class FakeWebchat(ButtonsChannel):
    kind: ClassVar[str] = "webchat"


class FakeTelegram(ButtonsChannel):
    kind: ClassVar[str] = "telegram"


class FakeSms(LoopbackChannel):
    kind: ClassVar[str] = "sms"


class FakeEmail(LoopbackChannel):
    kind: ClassVar[str] = "email"


Channels = dict[str, LoopbackChannel]


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return make_settings(
        tmp_path,
        database,
        server={"secret_key": "test-secret-key-0123456789", "public_url": "https://lines.example"},
        customers={"survey": "csat", "follow_up_check_seconds": 0.05},
    )


@pytest.fixture
def app(settings: Settings) -> web.Application:
    return create_app(settings)


@pytest.fixture
def fakes(app: web.Application) -> Channels:
    made: Channels = {}
    for cls in (LoopbackChannel, FakeWebchat, FakeTelegram, FakeSms, FakeEmail):
        channel = cls("test")
        app[channels_key][(channel.kind, channel.name)] = channel
        made[channel.kind] = channel
    return made


@pytest.fixture
async def client(
    app: web.Application,
    fakes: Channels,
    aiohttp_client: Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]],
) -> TestClient[web.Request, web.Application]:
    return await aiohttp_client(app)
