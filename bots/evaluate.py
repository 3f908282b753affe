"""The quality harness behind `lines kb eval KB_DIR EVAL.jsonl`.

Each line of the eval file is `{"q": text, "lang": "ru"|"en", "expect": article id or null, "cat": category}`
(`cat` is optional: paraphrase, slang, typo, layout, translit, inflection, long, english for answerable
questions; greeting, human, complaint, offtopic for out-of-scope ones). Reported, overall and per category:
top-1 accuracy and top-3 recall on answerable questions, the false auto-answer rate on questions with
`expect: null` (the bot answered something it should have left to an operator), the wrong auto-answer
rate on answerable ones, coverage (share of answerable questions auto-answered with the right article),
and the time one suggestion takes (p50/p99).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lines.bots.retrieval import Index

UNCATEGORISED = "-"


class EvalError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Case:
    q: str
    lang: str | None
    expect: str | None
    cat: str = UNCATEGORISED


@dataclass
class Tally:
    """Counts for one slice of the eval set (all of it, or one category)."""

    answerable: int = 0
    out_of_scope: int = 0
    top1: int = 0
    top3: int = 0
    covered: int = 0
    wrong_auto: int = 0
    false_auto: int = 0

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

    def as_dict(self) -> dict[str, object]:
        return {
            "answerable": self.answerable,
            "out_of_scope": self.out_of_scope,
            "top1": round(self.top1_accuracy, 4),
            "top3": round(self.top3_recall, 4),
            "false_auto": round(self.false_auto_rate, 4),
            "wrong_auto": round(self.wrong_auto_rate, 4),
            "coverage": round(self.coverage, 4),
        }


@dataclass
class Report(Tally):
    categories: dict[str, Tally] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    def latency(self, share: float) -> float:
        """The `share` quantile (0.5 for the median) of one suggestion's time, in milliseconds."""
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def lines(self) -> list[str]:
        out = [
            f"questions        {self.answerable} answerable, {self.out_of_scope} out of scope",
            f"top-1 accuracy   {self.top1_accuracy:.3f}",
            f"top-3 recall     {self.top3_recall:.3f}",
            f"false auto       {self.false_auto_rate:.3f}  (auto-answers on out-of-scope questions)",
            f"wrong auto       {self.wrong_auto_rate:.3f}  (auto-answers with the wrong article)",
            f"coverage         {self.coverage:.3f}  (answerable questions auto-answered correctly)",
            f"latency          p50 {self.latency(0.5):.2f} ms, p99 {self.latency(0.99):.2f} ms per suggestion",
        ]
        if set(self.categories) - {UNCATEGORISED}:
            out.append("")
            out.append(f"{'category':<12} {'n':>4} {'top-1':>6} {'top-3':>6} {'auto ok':>7} {'false auto':>10}")
            for name, t in sorted(self.categories.items(), key=lambda kv: (kv[1].answerable == 0, kv[0])):
                if t.answerable:
                    out.append(
                        f"{name:<12} {t.answerable:>4} {t.top1_accuracy:>6.3f} {t.top3_recall:>6.3f}"
                        f" {t.coverage:>7.3f} {'':>10}"
                    )
                else:
                    out.append(f"{name:<12} {t.out_of_scope:>4} {'':>6} {'':>6} {'':>7} {t.false_auto_rate:>10.3f}")
        return out

    def as_dict(self) -> dict[str, object]:
        return {
            **super().as_dict(),
            "latency_ms": {"p50": round(self.latency(0.5), 3), "p99": round(self.latency(0.99), 3)},
            "categories": {name: t.as_dict() for name, t in sorted(self.categories.items())},
            "misses": self.misses,
        }


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
        cases.append(Case(row["q"], row.get("lang"), row["expect"], str(row.get("cat") or UNCATEGORISED)))
    return cases


def evaluate(index: Index, cases: list[Case], progress: Callable[[int], None] | None = None) -> Report:
    report = Report()
    for n, case in enumerate(cases, 1):
        started = time.perf_counter()
        result = index.search(case.q, limit=3)
        report.latencies_ms.append((time.perf_counter() - started) * 1000)
        ids = [s.article.id for s in result.suggestions]
        cat = report.categories.setdefault(case.cat, Tally())
        _count(report, case, ids, result.auto_answer)
        _count(cat, case, ids, result.auto_answer)
        if case.expect is None and result.auto_answer:
            report.misses.append(f"[{case.cat}] false auto {ids[0]}: {case.q}")
        elif case.expect is not None and ids[:1] != [case.expect]:
            report.misses.append(f"[{case.cat}] top-1 {ids[:1]} != {case.expect}: {case.q}")
        if progress:
            progress(n)
    return report


def _count(tally: Tally, case: Case, ids: list[str], auto: bool) -> None:
    if case.expect is None:
        tally.out_of_scope += 1
        tally.false_auto += auto
        return
    tally.answerable += 1
    tally.top1 += ids[:1] == [case.expect]
    tally.top3 += case.expect in ids
    if auto:
        if ids[0] == case.expect:
            tally.covered += 1
        else:
            tally.wrong_auto += 1
