"""Rules documents and the classifier: invalid rules name the field; lead types by word forms."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lines.routing.classify import Subject, classify, detect_language, word_forms
from lines.routing.rules import RulesError, parse_rules

SAMPLE = json.loads((Path(__file__).parents[2] / "config" / "routing.json").read_text(encoding="utf-8"))


def pointers(document: object) -> list[str]:
    with pytest.raises(RulesError) as caught:
        parse_rules(document)
    return [pointer for pointer, _ in caught.value.problems]


def lead(text: str, channel: str = "webchat", **subject: object) -> str | None:
    found = classify(parse_rules(SAMPLE), Subject(channel=channel, text=text, **subject))  # type: ignore[arg-type]
    return found.id if found else None


def test_the_sample_rules_file_is_valid() -> None:
    rules = parse_rules(SAMPLE)
    assert [t.id for t in rules.by_priority()] == ["vip", "sales", "english", "support"]


def test_an_unknown_strategy_is_refused_at_its_pointer() -> None:
    document = {**SAMPLE, "routes": [{**SAMPLE["routes"][0], "strategy": "random"}]}
    assert pointers(document) == ["/routes/0/strategy"]


def test_a_route_for_an_unknown_lead_type_is_refused() -> None:
    document = {**SAMPLE, "routes": [{"lead_type": "nobody", "team": "support"}]}
    assert pointers(document) == ["/routes/0/lead_type"]


def test_every_wrong_field_is_listed() -> None:
    document = {
        "lead_types": [{"id": "a", "when": {"regex": "(", "language": "de", "colour": 1}}],
        "routes": [{"lead_type": "a", "required_skills": {"vip": 0}}],
        "sticky": {"within_days": "30"},
    }
    assert set(pointers(document)) == {
        "/lead_types/0/when/regex",
        "/lead_types/0/when/language",
        "/lead_types/0/when/colour",
        "/routes/0/required_skills/vip",
        "/sticky/within_days",
    }


def test_a_document_that_is_not_an_object_is_refused_at_the_root() -> None:
    assert pointers([]) == [""]


def test_russian_keywords_match_other_word_forms() -> None:
    assert word_forms("Куплю") == word_forms("купить")
    assert lead("Хочу купить диван") == "sales"
    assert lead("куплю два") == "sales"
    assert lead("какие цены?") == "sales"


def test_english_keywords_match_on_stems() -> None:
    assert lead("I am buying a sofa, what are your prices?") == "sales"


def test_keywords_hold_only_on_the_channels_given() -> None:
    assert lead("Хочу купить диван", channel="email") == "support"


def test_language_is_told_from_the_letters() -> None:
    assert detect_language("Здравствуйте, помогите") == "ru"
    assert detect_language("Hello, my order is late") == "en"
    assert detect_language("42") is None
    assert lead("Hello, my order is late") == "english"


def test_the_first_lead_type_by_priority_wins() -> None:
    assert lead("Хочу купить диван", contact_tags=("vip",)) == "vip"


def test_source_values_ending_in_a_star_match_as_prefixes() -> None:
    rules = parse_rules(
        {"lead_types": [{"id": "promo", "when": {"source": {"page_url": "https://shop.example/promo/*"}}}]}
    )
    hit = Subject(channel="webchat", source={"page_url": "https://shop.example/promo/sale"})
    miss = Subject(channel="webchat", source={"page_url": "https://shop.example/about"})
    assert classify(rules, hit) is not None and classify(rules, miss) is None


def test_business_hours_ask_the_team_calendar() -> None:
    rules = parse_rules({"lead_types": [{"id": "night", "when": {"business_hours": "out"}}]})
    at = datetime(2026, 1, 1, 23, tzinfo=UTC)
    subject = Subject(channel="webchat", team="support", at=at)
    assert classify(rules, subject, is_open=lambda team, when: False) is not None
    assert classify(rules, subject, is_open=lambda team, when: True) is None


def test_returning_customers_are_told_apart() -> None:
    rules = parse_rules({"lead_types": [{"id": "back", "when": {"returning_customer": True}}]})
    assert classify(rules, Subject(channel="sms", returning=True)) is not None
    assert classify(rules, Subject(channel="sms", returning=False)) is None
