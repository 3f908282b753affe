"""The waker runs by itself inside the app: a snoozed conversation reopens without anyone asking."""

from __future__ import annotations

from pathlib import Path

import pytest

from lines.console.settings import Settings
from tests.api.helpers import Client, eventually, open_conversation
from tests.conftest import Database, Staff, make_settings
from tests.test_snooze import snooze, status_of


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return make_settings(tmp_path, database, console={"snooze_check_seconds": 0.05})


async def test_the_app_reopens_a_snoozed_conversation_when_its_time_comes(client: Client, staff: Staff) -> None:
    conversation_id = await open_conversation(client, staff.support)
    await snooze(client, conversation_id, 0.2)
    assert await status_of(client, conversation_id) == "snoozed"

    async def reopened() -> bool:
        return await status_of(client, conversation_id) == "open"

    await eventually(reopened)
