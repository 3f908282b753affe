"""How an SMS text is encoded and how many parts it takes.

GSM-7 (the 3GPP TS 23.038 default alphabet) when every character is in the basic table or its
extension table, otherwise UCS-2. A single message holds 160 septets (GSM-7) or 70 UTF-16 code
units (UCS-2); a concatenated one spends a 6-byte header per part, leaving 153 and 67. Extension
characters (`^{}\\[~]|€` and form feed) take two septets: an escape and the character. Neither an
escape pair nor a UTF-16 surrogate pair is split across two parts.

web/static/sms_segments.js computes the same; tests/channels/sms/segment_cases.json holds the
cases both are checked against.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = "\f^{}\\[~]|€"

_BASIC = frozenset(GSM7_BASIC) - {"\x1b"}
_EXTENSION = frozenset(GSM7_EXTENSION)

SINGLE = {"gsm7": 160, "ucs2": 70}
MULTI = {"gsm7": 153, "ucs2": 67}


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """`units`: septets (GSM-7) or UTF-16 code units (UCS-2); `per_segment`: the size of one part."""

    encoding: str
    units: int
    segments: int
    per_segment: int

    def as_dict(self) -> dict[str, int | str]:
        return {
            "encoding": self.encoding,
            "units": self.units,
            "segments": self.segments,
            "per_segment": self.per_segment,
        }


def is_gsm7(text: str) -> bool:
    return all(ch in _BASIC or ch in _EXTENSION for ch in text)


def _unit_sizes(text: str, encoding: str) -> list[int]:
    """The size of each character in units; a pair (escape or surrogate) is one indivisible item."""
    if encoding == "gsm7":
        return [2 if ch in _EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def count(text: str) -> SegmentInfo:
    """Encoding and segment count of `text`; an empty text takes no segment."""
    encoding = "gsm7" if is_gsm7(text) else "ucs2"
    sizes = _unit_sizes(text, encoding)
    units = sum(sizes)
    if units == 0:
        return SegmentInfo(encoding, 0, 0, SINGLE[encoding])
    if units <= SINGLE[encoding]:
        return SegmentInfo(encoding, units, 1, SINGLE[encoding])
    limit = MULTI[encoding]
    segments, used = 1, 0
    for size in sizes:
        if used + size > limit:
            segments += 1
            used = 0
        used += size
    return SegmentInfo(encoding, units, segments, limit)
