"""One language detector for the routing rules and the bot."""

from __future__ import annotations

from lines.bots.text import language_of
from lines.console.language import detect_language


def test_the_letters_a_text_leans_to_decide() -> None:
    assert detect_language("Здравствуйте, order 42 is late") == "ru"
    assert detect_language("Hello, my order: заказ") == "en"


def test_a_tie_is_russian() -> None:
    assert detect_language("abc где") == "ru"


def test_any_cyrillic_letter_counts() -> None:
    assert detect_language("Добрий день, їжак і ґанок") == "ru"


def test_a_routing_condition_wants_three_letters_to_tell() -> None:
    assert detect_language("да 42") is None
    assert detect_language("да 42", min_letters=2) == "ru"


def test_the_bot_answers_in_the_language_of_a_single_letter_and_in_english_without_letters() -> None:
    assert language_of("да") == "ru"
    assert language_of("ok") == "en"
    assert language_of("42 !") == "en"
