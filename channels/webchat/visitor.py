"""Who is on the other end of a widget: signed visitor tokens and HMAC-verified site identities.

A visitor token is `<visitor_id>.<mac>`: stateless, so any worker can check it, and bound to its
site so a token from one site is worthless on another. A forged or garbled token is simply not
believed: the caller mints a new visitor (never look up history by an id the
client made up).

A site identity follows Chatwoot's `identifier_hash`: the site's own server computes
`HMAC-SHA256(identity_secret, id)` and hands it to the page. Only a valid hash makes the visitor
`user:<id>`; anything else keeps them anonymous and is never merged with the verified contact
(docs/reliability.md#widget-identity). Comparisons are constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
USER_PREFIX = "user:"
VISITOR_PREFIX = "visitor:"


def _mac(secret: str, site_key: str, visitor_id: str) -> str:
    digest = hmac.new(secret.encode(), f"webchat-visitor\x00{site_key}\x00{visitor_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def new_visitor_id() -> str:
    return secrets.token_urlsafe(16)


def sign_visitor(secret: str, site_key: str, visitor_id: str) -> str:
    """The token the widget keeps: `<visitor_id>.<mac>`."""
    return f"{visitor_id}.{_mac(secret, site_key, visitor_id)}"


def verify_visitor(secret: str, site_key: str, token: object) -> str | None:
    """The visitor id of a genuine token for this site, or None for anything else."""
    if not isinstance(token, str) or len(token) > 200:
        return None
    visitor_id, dot, mac = token.rpartition(".")
    if not dot or not VISITOR_ID.match(visitor_id):
        return None
    if not hmac.compare_digest(mac.encode(), _mac(secret, site_key, visitor_id).encode()):
        return None
    return visitor_id


def identity_hash(identity_secret: str, user_id: str) -> str:
    """What the site's server computes for its signed-in customer: HMAC-SHA256(secret, id), hex."""
    return hmac.new(identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def identity_valid(identity_secret: str, user_id: str, given_hash: str) -> bool:
    """True only when the site has a secret and the hash matches (case-insensitive hex, constant time)."""
    if not identity_secret:
        return False
    expected = identity_hash(identity_secret, user_id)
    return hmac.compare_digest(given_hash.strip().lower().encode(), expected.encode())


@dataclass(frozen=True, slots=True)
class Visitor:
    """The person behind one socket or upload.

    Attributes:
        site: the site key.
        visitor_id: from the (possibly new) visitor token; part of every message's external id.
        external_id: the contact identity on this site: `user:<id>` when verified, else `visitor:<id>`.
        name: shown to operators; the verified name or "Visitor <short id>".
        email: only from a verified identity.
        verified: the identity's HMAC matched.
    """

    site: str
    visitor_id: str
    external_id: str
    name: str
    email: str | None = None
    verified: bool = False

    @classmethod
    def anonymous(cls, site: str, visitor_id: str) -> Visitor:
        return cls(site, visitor_id, VISITOR_PREFIX + visitor_id, f"Visitor {visitor_id[:6]}")

    @classmethod
    def identified(cls, site: str, visitor_id: str, user_id: str, name: str, email: str | None) -> Visitor:
        return cls(site, visitor_id, USER_PREFIX + user_id, name or f"Customer {user_id[:40]}", email, True)
