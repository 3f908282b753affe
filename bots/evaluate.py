"""The quality harness behind `lines kb eval KB_DIR EVAL.jsonl`.

Each line of the eval file is `{"q": text, "lang": "ru"|"en", "expect": article id or null}`.
Reported: top-1 accuracy and top-3 recall on answerable questions, the false auto-answer rate on
questions with `expect: null` (the bot answered something it should have left to an operator), the
wrong auto-answer rate on answerable ones, and coverage (share of answerable questions auto-answered
with the right article).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from lines.bots.retrieval import Index


class EvalError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Case:
    q: str
    lang: str | None
    expect: str | None


@dataclass
class Report:
    answerable: int = 0
    out_of_scope: int = 0
    top1: int = 0
    top3: int = 0
    covered: int = 0
    wrong_auto: int = 0
    false_auto: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def top1_accuracy(self) -> float:
        return self.top1 / self.answerable if self.answerable else 0.0

    @property
    def top3_recall(self) -> float:
        return self.top3 / self.answerable if self.answerable else 0.0

    @property
    def false_auto_rate(self) -> float:
        return self.false_auto / self.out_of_scope if self.out_of_scope else 0.0

    @property
    def wrong_auto_rate(self) -> float:
        return self.wrong_auto / self.answerable if self.answerable else 0.0

    @property
    def coverage(self) -> float:
        return self.covered / self.answerable if self.answerable else 0.0

    def lines(self) -> list[str]:
        return [
            f"questions        {self.answerable} answerable, {self.out_of_scope} out of scope",
            f"top-1 accuracy   {self.top1_accuracy:.3f}",
            f"top-3 recall     {self.top3_recall:.3f}",
            f"false auto       {self.false_auto_rate:.3f}  (auto-answers on out-of-scope questions)",
            f"wrong auto       {self.wrong_auto_rate:.3f}  (auto-answers with the wrong article)",
            f"coverage         {self.coverage:.3f}  (answerable questions auto-answered correctly)",
        ]


def load_cases(path: str | Path) -> list[Case]:
    cases = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as err:
            raise EvalError(f"{path}:{n}: not JSON") from err
        if not isinstance(row, dict) or not isinstance(row.get("q"), str) or "expect" not in row:
            raise EvalError(f'{path}:{n}: needs "q" (text) and "expect" (article id or null)')
        cases.append(Case(row["q"], row.get("lang"), row["expect"]))
    return cases


def evaluate(index: Index, cases: list[Case]) -> Report:
    report = Report()
    for case in cases:
        result = index.search(case.q, limit=3)
        ids = [s.article.id for s in result.suggestions]
        if case.expect is None:
            report.out_of_scope += 1
            if result.auto_answer:
                report.false_auto += 1
                report.misses.append(f"false auto {ids[0]}: {case.q}")
            continue
        report.answerable += 1
        if ids[:1] == [case.expect]:
            report.top1 += 1
        else:
            report.misses.append(f"top-1 {ids[:1]} != {case.expect}: {case.q}")
        if case.expect in ids:
            report.top3 += 1
        if result.auto_answer:
            if ids[0] == case.expect:
                report.covered += 1
            else:
                report.wrong_auto += 1
    return report
