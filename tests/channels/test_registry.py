"""The channel registry is the one list of channel kinds: settings and setup both come from it."""

from __future__ import annotations

import subprocess
import sys

from lines.channels import CHANNELS, CHAT_KINDS
from lines.console.settings import Settings


def test_the_channels_section_has_a_block_list_for_every_registered_kind() -> None:
    assert list(Settings().channels.model_dump()) == list(CHANNELS)


def test_every_registered_kind_names_a_setup_function() -> None:
    for kind, entry in CHANNELS.items():
        assert callable(entry.setup()), kind


def test_email_is_not_a_chat_kind() -> None:
    assert CHAT_KINDS == ("webchat", "telegram", "sms")


def test_reading_the_settings_imports_the_channels_config_and_none_of_their_code() -> None:
    probe = (
        "import sys, lines.console.settings; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('lines.channels'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    configs = {f"lines.channels.{kind}.config" for kind in CHANNELS}
    allowed = {"lines.channels"} | {f"lines.channels.{kind}" for kind in CHANNELS} | configs
    assert configs <= set(loaded) <= allowed, set(loaded) - allowed
