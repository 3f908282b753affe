"""SMS gateway providers: one module per provider implementing the provider interface."""

from __future__ import annotations

from lines.channels.sms.providers.base import SmsProvider
from lines.channels.sms.providers.kannel import KannelProvider
from lines.channels.sms.providers.twilio import TwilioProvider

PROVIDERS: dict[str, type[SmsProvider]] = {
    KannelProvider.kind: KannelProvider,
    TwilioProvider.kind: TwilioProvider,
}
