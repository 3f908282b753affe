"""Email `cid:` images: when a message is shown, point them at its stored attachments.

An HTML email refers to its inline images by Content-ID (`<img src="cid:logo@shop">`, RFC 2392).
The inbox keeps such `src` values through sanitising (the `cid:` scheme is inert in a browser), and
the email adapter records which stored file has which Content-ID (`extra.inline`). On rendering, the
HTML goes through nh3 again with an attribute filter that swaps each `cid:` for the attachment's
download URL: the same auth-checked `/attachments/{id}/{token}` route as every attachment, with
`inline=1` so a raster image is served as itself. A `cid:` with no stored image loses its `src`.

The console shows email HTML in an iframe sandboxed with every flag off; its document then has an
opaque origin, for which the page's `img-src 'self'` and the SameSite session cookie do not hold.
So a message that has linked images is shown with `sandbox="allow-same-origin"` (still no scripts,
forms, popups or navigation; `has_inline_images`). For that to be safe the customer's own relative
URLs are dropped on rendering (they mean nothing outside their mail anyway): the only same-origin
URLs left are the attachment links made here.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import nh3

from lines.console.models import Attachment, Message

INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
"""The only types the attachment route serves inline (as themselves); anything else is a download."""
LINK_REL = "nofollow noreferrer noopener"
URL_ATTRIBUTES = frozenset({"src", "href", "cite", "longdesc", "action", "background", "poster"})
HAS_SCHEME = re.compile(r"^\s*[a-zA-Z][a-zA-Z0-9+.-]*:")
INLINE_PREFIX = 'src="/attachments/'

URL_SCHEMES = nh3.ALLOWED_URL_SCHEMES | {"cid"}


def sanitize_html(html: str | None) -> str | None:
    """What the inbox stores of an email's HTML: no scripts, handlers or `javascript:`; `cid:` kept."""
    if not html:
        return None
    return nh3.clean(html.replace("\x00", ""), link_rel=LINK_REL, url_schemes=URL_SCHEMES)


def content_id(value: str) -> str:
    """`cid:` URL or Content-ID header value -> the bare id (`%`-decoded, without brackets)."""
    return unquote(value).strip().strip("<>").strip()


def inline_urls(message: Message) -> dict[str, str]:
    """Content-ID -> download URL of the stored raster image with it. Needs `attachments` loaded."""
    extra = message.extra or {}
    by_cid = extra.get("inline")
    if not isinstance(by_cid, dict) or not by_cid:
        return {}
    inline_paths = extra.get("inline_paths")
    paths: dict[str, str] = inline_paths if isinstance(inline_paths, dict) else {}
    shown = [a for a in message.attachments if a.stored and a.content_type in INLINE_TYPES]
    urls: dict[str, str] = {}
    for cid, filename in by_cid.items():
        path = paths.get(cid)
        match: Attachment | None = next((a for a in shown if path and a.storage_path == path), None)
        if match is None:
            match = next((a for a in shown if a.filename == filename), None)
        if match is not None:
            urls[content_id(str(cid))] = f"/attachments/{match.id}/{match.token}?inline=1"
    return urls


def render_html(message: Message) -> str | None:
    """The message's sanitised HTML with `cid:` images linked to its attachments (sanitised again)."""
    html = message.html
    if not html or ("cid:" not in html.lower() and INLINE_PREFIX not in html):
        return html
    urls = inline_urls(message)

    def rewrite(tag: str, attribute: str, value: str) -> str | None:
        if attribute not in URL_ATTRIBUTES:
            return value
        if value[:4].lower() == "cid:":
            return urls.get(content_id(value[4:])) if tag == "img" and attribute == "src" else None
        if not HAS_SCHEME.match(value) and not value.lstrip().startswith("#"):
            return None  # relative to our console: only the links made here may point there
        return value

    return nh3.clean(html, link_rel=LINK_REL, url_schemes=URL_SCHEMES, attribute_filter=rewrite)


def has_inline_images(rendered: str | None) -> bool:
    """Whether `render_html` output links stored images (the iframe then needs allow-same-origin)."""
    return bool(rendered) and INLINE_PREFIX in str(rendered)
