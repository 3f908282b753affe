"""Which language a customer writes in, Russian or English, told by the letters they use."""

from __future__ import annotations

import re

CYRILLIC = re.compile(r"[\u0400-\u04ff]")
LATIN = re.compile(r"[a-zA-Z]")


def detect_language(text: str, *, min_letters: int = 3) -> str | None:
    """`ru` or `en` by the share of Cyrillic and Latin letters (a tie is `ru`), None when the text has
    fewer than `min_letters` of them to tell by. A routing condition wants to be sure (3 letters); a
    bot that must answer in some language takes a single letter as a hint."""
    cyrillic, latin = len(CYRILLIC.findall(text)), len(LATIN.findall(text))
    if cyrillic + latin < max(min_letters, 1):
        return None
    return "ru" if cyrillic >= latin else "en"
