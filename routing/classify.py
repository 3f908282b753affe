"""Lead-type classification: which lead type a conversation is, by the rules' conditions.

Keywords match on word forms: Russian words are reduced to their dictionary form (pymorphy3, so
«куплю» matches «купить»), English words to their stem (Snowball). The language is told from the
letters: mostly Cyrillic is `ru`, mostly Latin `en`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import pymorphy3
import snowballstemmer

from lines.console.language import CYRILLIC, detect_language
from lines.routing.rules import LeadType, Rules, When

WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*", re.UNICODE)

IsOpen = Callable[[str | None, datetime], bool]
"""`is_open(team, at)`: whether the team works at `at`. The SLA part's calendars plug in here."""


def always_open(team: str | None, at: datetime) -> bool:
    return True


@lru_cache(maxsize=1)
def _morph() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=1)
def _english() -> Any:
    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=50_000)
def word_form(word: str) -> str:
    """The form two spellings of one word share: a Russian lemma or an English stem."""
    word = word.lower().replace("ё", "е")
    if CYRILLIC.search(word):
        return str(_morph().parse(word)[0].normal_form).replace("ё", "е")
    return str(_english().stemWord(word))


def word_forms(text: str) -> list[str]:
    return [word_form(w) for w in WORD.findall(text)]


@dataclass(frozen=True, slots=True)
class Subject:
    """What the classifier sees of a conversation."""

    channel: str
    text: str = ""
    contact_tags: tuple[str, ...] = ()
    returning: bool = False
    source: Mapping[str, Any] = field(default_factory=dict)
    team: str | None = None
    at: datetime | None = None


def _keywords_match(keywords: Iterable[str], forms: list[str]) -> bool:
    joined = f" {' '.join(forms)} "
    for keyword in keywords:
        wanted = word_forms(keyword)
        if wanted and f" {' '.join(wanted)} " in joined:
            return True
    return False


def _source_match(expected: Iterable[tuple[str, str]], source: Mapping[str, Any]) -> bool:
    for key, value in expected:
        actual = source.get(key)
        if not isinstance(actual, str | int):
            return False
        actual = str(actual)
        if value.endswith("*"):
            if not actual.startswith(value[:-1]):
                return False
        elif actual != value:
            return False
    return True


def matches(when: When, subject: Subject, forms: list[str], is_open: IsOpen) -> bool:
    """Every condition given holds (an empty `when` matches everything)."""
    if when.channels is not None and subject.channel not in when.channels:
        return False
    if when.keywords_any is not None and not _keywords_match(when.keywords_any, forms):
        return False
    if when.regex is not None and not when.regex.search(subject.text):
        return False
    if when.language is not None and detect_language(subject.text) != when.language:
        return False
    if when.contact_tags_any is not None and not set(when.contact_tags_any) & set(subject.contact_tags):
        return False
    if when.returning_customer is not None and subject.returning != when.returning_customer:
        return False
    if when.source is not None and not _source_match(when.source, subject.source):
        return False
    open_now = when.business_hours is None or subject.at is None or is_open(subject.team, subject.at)
    return when.business_hours is None or open_now == (when.business_hours == "in")


def classify(rules: Rules, subject: Subject, is_open: IsOpen = always_open) -> LeadType | None:
    """The first lead type by priority whose conditions all hold, or None."""
    forms = word_forms(subject.text)
    for lead_type in rules.by_priority():
        if matches(lead_type.when, subject, forms, is_open):
            return lead_type
    return None
