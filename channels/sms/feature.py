"""SMS: gateway providers, phone identities, segments.

Routes, per `[[channels.sms]]` block `name`:
    POST|GET /channels/sms/{name}/inbound   a mobile-originated SMS from the gateway
    POST|GET /channels/sms/{name}/status    a delivery report
"""

from __future__ import annotations

from aiohttp import web

from lines.channels.base import BaseChannel
from lines.channels.context import ChannelContext
from lines.channels.sms.adapter import SmsChannel
from lines.channels.sms.providers import PROVIDERS
from lines.console.settings import ConfigError

__all__ = ["SmsChannel", "setup"]

sms_channels_key: web.AppKey[dict[str, SmsChannel]] = web.AppKey("sms_channels")


def _channel(request: web.Request) -> SmsChannel:
    channel = request.app[sms_channels_key].get(request.match_info["name"])
    if channel is None:
        raise web.HTTPNotFound(text="no such SMS number")
    return channel


async def inbound(request: web.Request) -> web.StreamResponse:
    return await _channel(request).inbound(request)


async def status(request: web.Request) -> web.StreamResponse:
    return await _channel(request).status(request)


def setup(app: web.Application, context: ChannelContext) -> list[BaseChannel]:
    """Add the webhook routes and return one channel per configured number."""
    settings = context.settings
    gateways = settings.channels.sms
    if not gateways:
        return []
    public_url = settings.server.public_url
    if not public_url:
        raise ConfigError("server.public_url: SMS gateways send delivery reports there (set it)")
    channels: dict[str, SmsChannel] = {}
    for gateway in gateways:
        where = f"channels.sms[{gateway.name}]"
        if gateway.provider == "kannel":
            if not gateway.sendsms_url or not gateway.inbound_secret.get_secret_value():
                raise ConfigError(f"{where}: Kannel needs sendsms_url and inbound_secret")
        elif not gateway.account_sid or not gateway.auth_token.get_secret_value():
            raise ConfigError(f"{where}: the Twilio-compatible provider needs account_sid and auth_token")
        if gateway.name in channels:
            raise ConfigError(f"{where}: the name is used twice")
        provider = PROVIDERS[gateway.provider](gateway, public_url)
        channels[gateway.name] = SmsChannel(gateway, provider, context)
    app[sms_channels_key] = channels
    for method in ("GET", "POST"):
        app.router.add_route(method, "/channels/sms/{name}/inbound", inbound)
        app.router.add_route(method, "/channels/sms/{name}/status", status)
    return list(channels.values())
