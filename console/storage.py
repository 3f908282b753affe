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
from pathlib import Path, PurePosixPath

from lines.channels.base import InboundAttachment

# What Windows refuses in a name besides control characters and path separators.
FORBIDDEN = re.compile(r'[<>:"|?*]')
# Windows device names, reserved with any extension ("con.txt", "Lpt1.tar.gz") and in any case.
RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{kind}{n}" for kind in ("COM", "LPT") for n in [*"123456789", "\u00b9", "\u00b2", "\u00b3"]]
)
MAX_NAME_BYTES = 255
EDGES = re.compile(r"^[\s.]+|[\s.]+$")
MAX_EXTENSION_BYTES = 32
# Types a browser would run or render as active content; never stored as given.
ACTIVE_EXTENSIONS = {".html", ".htm", ".xhtml", ".svg", ".js", ".mjs", ".php", ".pht", ".phtml", ".exe", ".bat"}
EXECUTABLE_EXTENSIONS = ACTIVE_EXTENSIONS | {
    ".apk", ".app", ".appx", ".cmd", ".com", ".cpl", ".dll", ".gadget", ".hta", ".inf", ".ins", ".iso", ".jar",
    ".jse", ".lnk", ".msc", ".msi", ".msix", ".msp", ".mst", ".pif", ".ps1", ".ps1xml", ".psc1", ".psd1", ".psm1",
    ".py", ".pyw", ".reg", ".scf", ".scr", ".sct", ".sh", ".shb", ".sys", ".url", ".vb", ".vbe", ".vbs", ".vhd",
    ".vhdx", ".ws", ".wsc", ".wsf", ".wsh", ".xll", ".xlam", ".docm", ".xlsm", ".pptm",
}  # fmt: skip
"""Programs, scripts, shortcuts and macro documents a customer's upload may never be, whatever its type."""
TYPE_EXTENSIONS: dict[str, frozenset[str]] = {
    "image/png": frozenset({".png"}),
    "image/jpeg": frozenset({".jpg", ".jpeg", ".jpe", ".jfif"}),
    "image/gif": frozenset({".gif"}),
    "image/webp": frozenset({".webp"}),
    "application/pdf": frozenset({".pdf"}),
    "text/plain": frozenset({".txt", ".text", ".log", ".md", ".csv"}),
    "text/csv": frozenset({".csv", ".txt"}),
    "application/zip": frozenset({".zip"}),
    "application/msword": frozenset({".doc"}),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": frozenset({".docx"}),
    "application/vnd.ms-excel": frozenset({".xls"}),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": frozenset({".xlsx"}),
    "application/vnd.oasis.opendocument.text": frozenset({".odt"}),
    "application/vnd.oasis.opendocument.spreadsheet": frozenset({".ods"}),
    "application/rtf": frozenset({".rtf"}),
    "application/x-7z-compressed": frozenset({".7z"}),
    "application/gzip": frozenset({".gz", ".tgz"}),
}
"""The extensions a file of each known type may have; a type outside this table (one an admin added)
takes any extension that is not executable."""


def extension_refusal(filename: str, content_type: str) -> str | None:
    """Why a customer's file of this name and declared type is refused, or None when it may be stored:
    executable extensions never, and a known type only under one of its own extensions."""
    for name in (filename.strip().rstrip(". "), safe_filename(filename)):
        suffix = PurePosixPath(name.lower()).suffix
        if suffix in EXECUTABLE_EXTENSIONS:
            return f"{suffix} files (web pages, scripts, programs, shortcuts) are not accepted"
        expected = TYPE_EXTENSIONS.get(content_type)
        if suffix and expected is not None and suffix not in expected:
            return f"a {suffix} file is not a {content_type} file"
    return None


class FileTooLarge(Exception):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"file is larger than the limit of {limit} bytes")
        self.size = size
        self.limit = limit


def new_token() -> str:
    return secrets.token_urlsafe(24)


def _trim(name: str) -> str:
    """Without blanks or dots at either end: Windows drops trailing ones, a leading dot hides a file."""
    return EDGES.sub("", name)


def _cut(text: str, limit: int) -> str:
    """The longest prefix of `text` within `limit` bytes of UTF-8, never splitting a character."""
    return text.encode()[:limit].decode("utf-8", errors="ignore")


def safe_filename(name: str, fallback: str = "file") -> str:
    """The one name a customer's file is stored and served under, for every channel.

    A single path component: a path keeps its last part; control and format characters and what
    Windows forbids become `_`; no blanks or dots at either end (no hidden files); never a reserved
    device name (`CON`, `com1.txt` get a leading `_`); at most 255 bytes of UTF-8, cut on a character
    boundary, keeping the extension. Everything else the customer wrote stays (`№`, spaces, Cyrillic, brackets, `#`,
    `+`, `&`); the original name is kept separately for display (`Attachment.original_filename`).
    """
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").split("/")[-1]
    name = "".join("_" if unicodedata.category(ch)[0] == "C" else ch for ch in name)
    name = _trim(FORBIDDEN.sub("_", name))
    if not name.strip("._ "):
        name = fallback
    if name.split(".", 1)[0].rstrip(" ").upper() in RESERVED:
        name = "_" + name
    if len(name.encode()) > MAX_NAME_BYTES:
        stem, dot, extension = name.rpartition(".")
        suffix = dot + extension
        if stem and 1 < len(suffix.encode()) <= MAX_EXTENSION_BYTES:
            name = _cut(stem, MAX_NAME_BYTES - len(suffix.encode())).rstrip() + suffix
        else:
            name = _trim(_cut(name, MAX_NAME_BYTES))
    return name or fallback


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
            original_filename=filename,
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
