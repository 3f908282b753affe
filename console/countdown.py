"""An SLA deadline in words ("due in 1 h 20 m", "overdue 5 m"), for the first paint of a badge.

`web/static/sla.js` applies the same rules to the live countdown; `tests/sla_words_cases.json`
holds the cases both are checked against, so the server and the browser always read alike.
"""

from __future__ import annotations

WORDS = {
    "en": {"due": "due in {}", "overdue": "overdue {}", "d": "d", "h": "h", "m": "m"},
    "ru": {"due": "через {}", "overdue": "просрочено на {}", "d": "д", "h": "ч", "m": "мин"},
}


def sla_words(ms: float, lang: str) -> str:
    """`ms` until the deadline (negative: past it) in `lang`'s words, in whole minutes (at least one):
    days and hours from a day on, hours and minutes from an hour on, else minutes."""
    words = WORDS.get(lang, WORDS["en"])
    total = max(1, int(abs(ms) // 60_000))
    days, hours, minutes = total // 1440, total % 1440 // 60, total % 60
    if days:
        units = [(days, "d"), (hours, "h")]
    elif hours:
        units = [(hours, "h"), (minutes, "m")]
    else:
        units = [(minutes, "m")]
    amount = " ".join(f"{n} {words[unit]}" for n, unit in units if n)
    return words["due" if ms >= 0 else "overdue"].format(amount)
