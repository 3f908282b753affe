"""`lines kb import DIR` and `lines kb eval KB_DIR EVAL.jsonl` (wired in console/cli.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from lines.bots.evaluate import EvalError, evaluate, load_cases
from lines.bots.kb import ArticleError, load_dir
from lines.bots.retrieval import Index
from lines.bots.semantic import load_encoder
from lines.bots.store import ImportResult, import_articles
from lines.console.db import create_engine, session_maker
from lines.console.migrate import upgrade
from lines.console.settings import Settings


def progress_bar(total: int, out: TextIO, width: int = 30) -> Callable[[int], None]:
    def show(done: int) -> None:
        filled = width * done // total if total else width
        out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            out.write("\n")
        out.flush()

    return show


async def run_import(
    settings: Settings, directory: str, archive: bool = True, out: TextIO | None = None
) -> ImportResult:
    out = out or sys.stderr
    articles = load_dir(directory)
    engine = create_engine(settings.database_url, settings.storage.database_schema)
    try:
        await upgrade(engine)
        return await import_articles(
            session_maker(engine),
            articles,
            archive_missing=archive,
            progress=progress_bar(len(articles), out),
            encoder=load_encoder() if settings.bot.encoder == "auto" else None,
        )
    finally:
        await engine.dispose()


def cmd_kb_import(args: argparse.Namespace, settings: Settings) -> int:
    try:
        result = asyncio.run(run_import(settings, args.directory, archive=not args.keep_missing))
    except (ArticleError, OSError) as err:
        print(f"kb import: {err}", file=sys.stderr)
        return 1
    print(
        f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged, {result.archived} archived"
    )
    return 0


def cmd_kb_eval(args: argparse.Namespace, err: TextIO | None = None) -> int:
    err = err or sys.stderr
    try:
        encoder = load_encoder() if args.encoder == "auto" else None
        index = Index(load_dir(args.kb_dir), encoder=encoder)
        if args.threshold is not None:
            index.threshold = args.threshold
        if args.margin is not None:
            index.margin = args.margin
        cases = load_cases(args.eval_file)
        progress = progress_bar(len(cases), err) if err.isatty() else None
        report = evaluate(index, cases, progress=progress)
        if args.json:
            body = {
                "kb": args.kb_dir,
                "eval": args.eval_file,
                "articles": len(index),
                "encoder": index.encoder.name if index.encoder else None,
                **report.as_dict(),
            }
            Path(args.json).write_text(json.dumps(body, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    except (ArticleError, EvalError, OSError) as error:
        print(f"kb eval: {error}", file=sys.stderr)
        return 1
    ranking = f"lexical + {index.encoder.name}" if index.encoder else "lexical"
    print(f"knowledge base   {len(index)} articles from {args.kb_dir}, ranked {ranking}")
    print("\n".join(report.lines()))
    if args.verbose:
        print("\n".join(report.misses))
    return 0


def add_parser(sub: Any, settings_of: Callable[[argparse.Namespace], Settings]) -> None:
    """Add `kb import` and `kb eval` to the `lines` parser; `settings_of(args)` loads the config."""
    kb = sub.add_parser("kb", help="knowledge base: import articles, evaluate retrieval")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)
    imp = kb_sub.add_parser("import", help="import a folder of Markdown articles (idempotent)")
    imp.add_argument("directory")
    imp.add_argument("--config")
    imp.add_argument("--keep-missing", action="store_true", help="do not archive articles missing from DIR")
    imp.set_defaults(func=lambda args: cmd_kb_import(args, settings_of(args)))
    ev = kb_sub.add_parser(
        "eval", help="top-1/top-3, false auto-answers, coverage and latency on an eval set, per category"
    )
    ev.add_argument("kb_dir")
    ev.add_argument("eval_file")
    ev.add_argument("--threshold", type=float)
    ev.add_argument("--margin", type=float)
    ev.add_argument(
        "--encoder", choices=("auto", "off"), default="auto", help="off: rank lexically only (default: auto)"
    )
    ev.add_argument("--json", metavar="FILE", help="also write the figures, per category, as JSON to FILE")
    ev.add_argument("-v", "--verbose", action="store_true", help="list the misses")
    ev.set_defaults(func=cmd_kb_eval)
