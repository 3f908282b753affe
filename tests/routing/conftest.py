"""Routing tests run the app with the loopback channel of the API tests."""

from __future__ import annotations

from tests.api.conftest import client, loopback

__all__ = ["client", "loopback"]
