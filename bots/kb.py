"""Knowledge-base articles: Markdown files with YAML front matter (docs/bot.md).

```
---
id: delivery-times
title: Сроки доставки
lang: ru
tags: [delivery]
questions:
  - Когда привезут заказ?
---
Answer in Markdown.
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ARTICLE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
LANGS = ("ru", "en")
MAX_TITLE = 200
MAX_BODY = 50_000
MAX_QUESTIONS = 100


class ArticleError(ValueError):
    """An article file or form that cannot be accepted; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Article:
    id: str
    title: str
    lang: str
    body: str
    questions: tuple[str, ...] = ()
    tags: tuple[str, ...] = field(default_factory=tuple)

    def to_markdown(self) -> str:
        front = {"id": self.id, "title": self.title, "lang": self.lang, "tags": list(self.tags)}
        front["questions"] = list(self.questions)
        head = yaml.safe_dump(front, allow_unicode=True, sort_keys=False).strip()
        return f"---\n{head}\n---\n{self.body.strip()}\n"


def make_article(
    id: str, title: str, lang: str, body: str, questions: object = (), tags: object = (), where: str = "article"
) -> Article:
    """Validate the fields of an article; raises `ArticleError` naming the field."""
    if not isinstance(id, str) or not ARTICLE_ID.match(id):
        raise ArticleError(f"{where}: id must be lowercase letters, digits, '.', '_' or '-' (got {id!r})")
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
        raise ArticleError(f"{where}: title must be 1..{MAX_TITLE} characters")
    if lang not in LANGS:
        raise ArticleError(f"{where}: lang must be one of {', '.join(LANGS)} (got {lang!r})")
    if not isinstance(body, str) or not body.strip() or len(body) > MAX_BODY:
        raise ArticleError(f"{where}: the answer (body) must be 1..{MAX_BODY} characters")
    qs = _strings(questions, "questions", where)
    if len(qs) > MAX_QUESTIONS:
        raise ArticleError(f"{where}: at most {MAX_QUESTIONS} questions")
    return Article(id, title.strip(), lang, body.strip(), qs, _strings(tags, "tags", where))


def _strings(value: object, name: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str | int) for v in value):
        raise ArticleError(f"{where}: {name} must be a list of strings")
    return tuple(str(v).strip() for v in value if str(v).strip())


def parse_article(text: str, where: str = "article") -> Article:
    """Parse one Markdown file with YAML front matter."""
    text = text.lstrip("\ufeff")
    match = re.match(r"^---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|$)(.*)$", text, re.DOTALL)
    if not match:
        raise ArticleError(f"{where}: no YAML front matter (the file must start with a '---' line)")
    try:
        front = yaml.safe_load(match.group(1))
    except yaml.YAMLError as err:
        raise ArticleError(f"{where}: front matter is not valid YAML: {err}") from err
    if not isinstance(front, dict):
        raise ArticleError(f"{where}: front matter must be a mapping")
    return make_article(
        front.get("id"),  # type: ignore[arg-type]
        front.get("title"),  # type: ignore[arg-type]
        front.get("lang"),  # type: ignore[arg-type]
        match.group(2),
        front.get("questions"),
        front.get("tags"),
        where,
    )


def load_dir(path: str | Path) -> list[Article]:
    """Every `*.md` article under `path`, sorted by file name; raises on a bad file or a duplicate id."""
    root = Path(path)
    if not root.is_dir():
        raise ArticleError(f"{root}: not a directory")
    articles: list[Article] = []
    seen: dict[str, Path] = {}
    for file in sorted(root.rglob("*.md")):
        article = parse_article(file.read_text(encoding="utf-8"), str(file))
        if article.id in seen:
            raise ArticleError(f"{file}: id {article.id!r} is also used by {seen[article.id]}")
        seen[article.id] = file
        articles.append(article)
    return articles
