"""SLA deadlines in words: the server's first paint reads as sla.js's live countdown (shared cases)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lines.console.countdown import sla_words

CASES: list[dict[str, Any]] = json.loads((Path(__file__).parent / "sla_words_cases.json").read_text("utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[f"{c['lang']}:{c['ms']}" for c in CASES])
def test_a_deadline_reads_as_words(case: dict[str, Any]) -> None:
    assert sla_words(case["ms"], case["lang"]) == case["text"]


def test_the_cases_cover_the_examples_in_both_languages() -> None:
    texts = {c["text"] for c in CASES}
    assert {"due in 1 h 20 m", "через 1 ч 20 мин", "overdue 5 m", "просрочено на 5 мин"} <= texts
