"""Which acknowledgement text a new conversation gets: the one auto-acknowledgement path's config.

`customers.auto_ack` maps a channel kind (`webchat`, `telegram`, `sms`, `email`) or one channel
(`email:support`, `webchat:demo`) to a template; the channel's own entry wins over its kind's.
A mailbox's old `auto_ack` key (`[[channels.email]] auto_ack = "..."`) still works: it becomes that
mailbox's `customers.auto_ack` entry, with a deprecation line in the log, unless one is set there.
"""

from __future__ import annotations

import logging

from lines.console.settings import Settings

log = logging.getLogger(__name__)
OFF = "off"


class AckTemplates:
    def __init__(self, settings: Settings) -> None:
        texts = dict(settings.customers.auto_ack)
        for index, mailbox in enumerate(settings.channels.email):
            old = mailbox.auto_ack.strip()
            if not old or old.lower() == OFF:
                continue
            key = f"email:{mailbox.name}"
            log.warning(
                "channels.email[%d].auto_ack is deprecated: set customers.auto_ack.%r instead%s",
                index,
                key,
                " (that one is set and wins)" if key in texts else " (used as that for now)",
            )
            texts.setdefault(key, mailbox.auto_ack)
        self._texts = {key: text for key, text in texts.items() if text.strip() and text.strip().lower() != OFF}

    def template(self, channel: str, inbox: str) -> str | None:
        """The template for a new conversation on `channel`/`inbox`, or None: no acknowledgement."""
        return self._texts.get(f"{channel}:{inbox}") or self._texts.get(channel)
