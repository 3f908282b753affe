"""Encoding and segment counting; the same cases drive the console's counter (browser test)."""

from __future__ import annotations

from typing import Any

import pytest

from lines.channels.sms.segments import GSM7_EXTENSION, count, is_gsm7
from tests.channels.sms.conftest import CASES


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_segment_count_matches_the_shared_cases(case: dict[str, Any]) -> None:
    info = count(case["text"])
    assert (info.encoding, info.units, info.segments) == (case["encoding"], case["units"], case["segments"])


def test_cyrillic_means_ucs2() -> None:
    assert count("Привет").encoding == "ucs2"


def test_every_extension_character_takes_two_septets() -> None:
    for ch in GSM7_EXTENSION:
        assert is_gsm7(ch)
        assert count(ch).units == 2


def test_a_multipart_gsm7_message_has_153_septets_per_part() -> None:
    assert count("x" * 161).per_segment == 153
    assert count("ж" * 71).per_segment == 67
