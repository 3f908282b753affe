"""Knowledge-base files, the import (idempotent, archives what is gone) and versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lines.bots.kb import ArticleError, load_dir, parse_article
from lines.bots.models import KbArticle, KbArticleVersion
from lines.bots.store import KnowledgeBase, import_articles, save_article, set_status

ARTICLE = """---
id: delivery-times
title: Сроки доставки
lang: ru
tags: [delivery]
questions:
  - Когда привезут заказ?
---
Завтра.
"""


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def test_an_article_is_parsed_from_markdown_with_yaml_front_matter() -> None:
    article = parse_article(ARTICLE)
    assert (article.id, article.title, article.lang, article.tags) == (
        "delivery-times",
        "Сроки доставки",
        "ru",
        ("delivery",),
    )
    assert article.questions == ("Когда привезут заказ?",) and article.body == "Завтра."
    assert parse_article(article.to_markdown()) == article


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("no front matter", "front matter"),
        ("---\nid: [\n---\nbody", "YAML"),
        ("---\nid: Bad Id\ntitle: t\nlang: ru\n---\nbody", "id"),
        ("---\nid: a\ntitle: t\nlang: de\n---\nbody", "lang"),
        ("---\nid: a\ntitle: t\nlang: ru\n---\n", "body"),
    ],
)
def test_a_bad_article_is_refused_naming_the_problem(text: str, problem: str) -> None:
    with pytest.raises(ArticleError, match=problem):
        parse_article(text, "x.md")


def test_duplicate_ids_in_a_folder_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.md", ARTICLE)
    write(tmp_path, "b.md", ARTICLE)
    with pytest.raises(ArticleError, match="also used"):
        load_dir(tmp_path)


async def test_import_is_idempotent_updates_changes_and_archives_removed_files(
    session_maker_for: Any, tmp_path: Path
) -> None:
    sessions = session_maker_for
    write(tmp_path, "a.md", ARTICLE)
    write(tmp_path, "b.md", ARTICLE.replace("delivery-times", "other").replace("Завтра.", "Другое."))
    first = await import_articles(sessions, load_dir(tmp_path))
    again = await import_articles(sessions, load_dir(tmp_path))
    assert (first.created, first.unchanged) == (2, 0)
    assert (again.created, again.updated, again.unchanged, again.archived) == (0, 0, 2, 0)

    write(tmp_path, "a.md", ARTICLE.replace("Завтра.", "Послезавтра."))
    (tmp_path / "b.md").unlink()
    third = await import_articles(sessions, load_dir(tmp_path))
    assert (third.updated, third.archived) == (1, 1)
    async with sessions() as session:
        rows = {r.slug: r for r in (await session.execute(select(KbArticle))).scalars()}
        versions = (await session.execute(select(KbArticleVersion.body).order_by(KbArticleVersion.id))).scalars().all()
    assert rows["delivery-times"].body == "Послезавтра." and rows["delivery-times"].version == 2
    assert rows["other"].status == "archived"
    assert "Завтра." in versions and "Послезавтра." in versions


async def test_an_edited_article_is_used_by_the_next_search(session_maker_for: Any) -> None:
    sessions = session_maker_for
    kb = KnowledgeBase(sessions)
    article = parse_article(ARTICLE)
    await save_article(sessions, article, status="published")
    assert (await kb.search("когда привезут заказ")).best.article.body == "Завтра."  # type: ignore[union-attr]
    await save_article(sessions, parse_article(ARTICLE.replace("Завтра.", "Через час.")))
    kb.invalidate()
    assert (await kb.search("когда привезут заказ")).best.article.body == "Через час."  # type: ignore[union-attr]


async def test_drafts_and_archived_articles_are_not_searched(session_maker_for: Any) -> None:
    sessions = session_maker_for
    kb = KnowledgeBase(sessions)
    await save_article(sessions, parse_article(ARTICLE))
    assert (await kb.search("когда привезут заказ")).suggestions == []
    await set_status(sessions, "delivery-times", "published")
    kb.invalidate()
    assert (await kb.search("когда привезут заказ")).suggestions
    await set_status(sessions, "delivery-times", "archived")
    kb.invalidate()
    assert (await kb.search("когда привезут заказ")).suggestions == []


async def test_the_demo_imports_the_sample_shop_kb_in_both_languages(session_maker_for: Any) -> None:
    from lines.bots.demo import seed_demo_kb

    await seed_demo_kb(session_maker_for)
    await seed_demo_kb(session_maker_for)
    async with session_maker_for() as session:
        rows = (await session.execute(select(KbArticle))).scalars().all()
    assert len(rows) >= 20 and {r.status for r in rows} == {"published"}
    assert {r.lang for r in rows} == {"ru", "en"} and {r.version for r in rows} == {1}
