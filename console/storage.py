"""Files under the data directory: safe names, a size limit, content hashes, unguessable tokens."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lines.channels.base import InboundAttachment

SAFE_CHARS = re.compile(r"[^\w.\- ()\[\]]+", re.UNICODE)
# Types a browser would run or render as active content; never stored as given.
ACTIVE_EXTENSIONS = {".html", ".htm", ".xhtml", ".svg", ".js", ".mjs", ".php", ".pht", ".phtml", ".exe", ".bat"}


class FileTooLarge(Exception):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"file is larger than the limit of {limit} bytes")
        self.size = size
        self.limit = limit


def new_token() -> str:
    return secrets.token_urlsafe(24)


def safe_filename(name: str, fallback: str = "file") -> str:
    """A file name that is safe to show and to serve: no path, no control characters, bounded."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").split("/")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = SAFE_CHARS.sub("_", name).strip(" .")
    if not name:
        name = fallback
    stem, dot, ext = name.rpartition(".")
    if dot and len(name) > 150:
        name = stem[: 150 - len(ext) - 1] + "." + ext[:20]
    return name[:150]


@dataclass(frozen=True, slots=True)
class FileStore:
    root: Path

    def _write(self, relative: Path, data: bytes) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(path)

    async def save(self, filename: str, content_type: str, data: bytes, limit: int) -> InboundAttachment:
        """Write `data` under `attachments/YYYY/MM/` with a random name; raise FileTooLarge over `limit`."""
        if len(data) > limit:
            raise FileTooLarge(len(data), limit)
        now = datetime.now(UTC)
        relative = Path("attachments", f"{now:%Y}", f"{now:%m}", uuid.uuid4().hex)
        await asyncio.to_thread(self._write, relative, data)
        return InboundAttachment(
            filename=safe_filename(filename),
            content_type=content_type,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            storage_path=str(relative),
        )

    def path(self, storage_path: str) -> Path:
        resolved = (self.root / storage_path).resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise ValueError("attachment path escapes the data directory")
        return resolved
