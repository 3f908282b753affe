"""`lines kb import DIR` and `lines kb eval KB_DIR EVAL.jsonl` (synchronous: main() runs its own loop)."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from lines.bots.cli import cmd_kb_eval
from lines.bots.evaluate import load_cases
from lines.console.cli import main

ROOT = Path(__file__).resolve().parents[2]


def config(tmp_path: Path) -> Path:
    file = tmp_path / "lines.toml"
    file.write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\n[bot]\nencoder = "off"\n', encoding="utf-8")
    return file


def test_kb_import_is_idempotent_and_reports_what_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LINES_DATABASE_URL", raising=False)
    monkeypatch.delenv("LINES_DATA_DIR", raising=False)
    cfg = str(config(tmp_path))
    assert main(["kb", "import", str(ROOT / "config" / "kb"), "--config", cfg]) == 0
    out, err = capsys.readouterr()
    assert "30 created, 0 updated, 0 unchanged, 0 archived" in out
    assert "30/30" in err  # the progress bar
    assert main(["kb", "import", str(ROOT / "config" / "kb"), "--config", cfg]) == 0
    assert "0 created, 0 updated, 30 unchanged, 0 archived" in capsys.readouterr()[0]


def test_kb_import_of_a_bad_file_names_it_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LINES_DATABASE_URL", raising=False)
    monkeypatch.delenv("LINES_DATA_DIR", raising=False)
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "broken.md").write_text("no front matter", encoding="utf-8")
    assert main(["kb", "import", str(folder), "--config", str(config(tmp_path))]) == 1
    assert "broken.md" in capsys.readouterr()[1]


def test_kb_eval_prints_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "kb",
            "eval",
            str(ROOT / "config" / "kb"),
            str(Path(__file__).parent / "eval" / "shop.jsonl"),
            "--encoder",
            "off",
        ]
    )
    out = capsys.readouterr()[0]
    assert code == 0
    for figure in ("top-1 accuracy", "top-3 recall", "false auto", "coverage"):
        assert figure in out


def test_kb_eval_refuses_a_malformed_eval_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "eval.jsonl"
    bad.write_text(json.dumps({"question": "x"}) + "\n", encoding="utf-8")
    assert main(["kb", "eval", str(ROOT / "config" / "kb"), str(bad), "--encoder", "off"]) == 1
    assert "eval.jsonl:1" in capsys.readouterr()[1]


def test_kb_eval_writes_per_category_figures_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = tmp_path / "eval.jsonl"
    rows = [
        {"q": "сколько стоит доставка", "lang": "ru", "expect": "delivery-cost", "cat": "paraphrase"},
        {"q": "cjkmrj cnjbn ljcnfdrf", "lang": "ru", "expect": "delivery-cost", "cat": "layout"},
        {"q": "как пройти в библиотеку", "lang": "ru", "expect": None, "cat": "offtopic"},
    ]
    cases.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "report.json"
    assert main(["kb", "eval", str(ROOT / "config" / "kb"), str(cases), "--json", str(out), "--encoder", "off"]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["answerable"] == 2 and report["out_of_scope"] == 1
    assert report["top1"] == 1.0 and report["false_auto"] == 0.0
    assert set(report["categories"]) == {"paraphrase", "layout", "offtopic"}
    assert report["categories"]["layout"]["answerable"] == 1
    assert report["latency_ms"]["p99"] >= report["latency_ms"]["p50"] > 0
    printed = capsys.readouterr()[0]
    assert "layout" in printed and "latency" in printed


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_kb_eval_shows_a_progress_bar_on_a_terminal_only(capsys: pytest.CaptureFixture[str]) -> None:
    shop = str(Path(__file__).parent / "eval" / "shop.jsonl")
    args = argparse.Namespace(
        kb_dir=str(ROOT / "config" / "kb"),
        eval_file=shop,
        threshold=None,
        margin=None,
        json=None,
        verbose=False,
        encoder="off",
    )
    terminal = Terminal()
    assert cmd_kb_eval(args, err=terminal) == 0
    total = len(load_cases(shop))
    assert f"{total}/{total}" in terminal.getvalue()
    pipe = io.StringIO()
    assert cmd_kb_eval(args, err=pipe) == 0
    assert pipe.getvalue() == ""
