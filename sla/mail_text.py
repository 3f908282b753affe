"""The words of an SLA escalation email, in the recipient's language (web/locale catalogs).

Strings are marked with `N_` so `python -m lines.console.i18n` finds them; they are translated when
a mail is written, with the recipient operator's locale (else `[console] default_locale`).
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from datetime import datetime

from lines.console.i18n import LOCALES, N_, load_catalog

SUBJECTS = {
    "warning": N_("[Lines] SLA warning: conversation #%(number)s, %(target)s"),
    "breached": N_("[Lines] SLA breached: conversation #%(number)s, %(target)s"),
}
HEADLINES = {
    "warning": N_("The %(target)s deadline of conversation #%(number)s is near."),
    "breached": N_("The %(target)s deadline of conversation #%(number)s has passed."),
}
TARGETS = {
    "first_response": N_("first response"),
    "next_response": N_("next response"),
    "resolution": N_("resolution"),
}
LABELS = (
    ("subject", N_("Subject")),
    ("customer", N_("Customer")),
    ("policy", N_("Policy")),
    ("target", N_("Target")),
    ("due", N_("Due")),
    ("link", N_("Open the conversation")),
)
FOOTER = N_("You get this email because an SLA escalation names you. Lines sends it once.")


@dataclass(frozen=True)
class Escalated:
    """What one fire is about, as the mail tells it."""

    conversation_id: int
    subject: str
    customer: str
    policy: str
    target: str
    kind: str
    due_at: datetime
    link: str


class MailText:
    """The catalogs, loaded once; `compose()` gives (subject, body) for one recipient."""

    def __init__(self, default_locale: str) -> None:
        self.default = default_locale
        self._catalogs: dict[str, gettext.GNUTranslations] = {lang: load_catalog(lang) for lang in LOCALES}

    def locale(self, wanted: str | None) -> str:
        return wanted if wanted in self._catalogs else self.default

    def compose(self, what: Escalated, locale: str) -> tuple[str, str]:
        _ = self._catalogs[self.locale(locale)].gettext
        values = {"number": what.conversation_id, "target": _(TARGETS.get(what.target, what.target))}
        subject = _(SUBJECTS[what.kind]) % values
        facts = {
            "subject": _one_line(what.subject) or "—",
            "customer": _one_line(what.customer),
            "policy": what.policy,
            "target": values["target"],
            "due": what.due_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "link": what.link,
        }
        lines = [_(HEADLINES[what.kind]) % values, ""]
        lines += [f"{_(label)}: {facts[key]}" for key, label in LABELS]
        lines += ["", "-- ", _(FOOTER)]
        return subject, "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]
