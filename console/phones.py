"""Phone numbers as E.164 (`+79161234567`): the one normaliser every channel and the contact card use."""

from __future__ import annotations

import phonenumbers


def to_e164(raw: str, default_region: str | None = None) -> str:
    """Normalise `raw` to E.164.

    Args:
        raw: what a person or a provider wrote: `+7 916 123-45-67`, `0079161234567`, `79161234567`.
        default_region: where a number without a country code is read (`8 (916) 123-45-67` in `RU`);
            without one, every number is international and the `+` may be missing (Telegram, gateways).

    Raises:
        ValueError: not a valid phone number (the message says why).
    """
    text = (raw or "").strip()
    if not text:
        raise ValueError("the phone number is empty")
    if text.startswith("00"):
        text = "+" + text[2:]
    elif not text.startswith("+") and (default_region is None or (text.isdigit() and len(text) > 10)):
        # Gateways and Telegram pass international numbers without the plus (`79161234567`).
        text = "+" + text
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as err:
        raise ValueError(f"{raw!r} is not a phone number: {err}") from err
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{raw!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display(e164: str) -> str:
    """The international format for people: `+7 916 123-45-67`."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
