"""Phone numbers become E.164; invalid ones are refused with a clear reason."""

from __future__ import annotations

import pytest

from lines.console.phones import to_e164


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+7 916 123-45-67", "+79161234567"),
        ("8 (916) 123-45-67", "+79161234567"),  # national format in the default region
        ("79161234567", "+79161234567"),  # what gateways send: international without the plus
        ("0079161234567", "+79161234567"),
        ("+1 415 555 2671", "+14155552671"),
    ],
)
def test_numbers_are_normalised_to_e164(raw: str, expected: str) -> None:
    assert to_e164(raw, "RU") == expected


def test_a_number_without_country_code_is_read_in_the_default_region() -> None:
    assert to_e164("(415) 555-2671", "US") == "+14155552671"


@pytest.mark.parametrize("raw", ["", "   ", "hello", "+7 916", "12", "+999 123456789"])
def test_malformed_numbers_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="phone number"):
        to_e164(raw, "RU")
