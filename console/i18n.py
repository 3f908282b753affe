"""Console translations: gettext catalogs read from `.po` files once, and the locale of a request.

The catalogs live as `web/locale/<lang>/LC_MESSAGES/messages.po` and are compiled in memory with
Babel at start, so no compiled `.mo` files are kept in git. Strings used by `console.js` are found by
scanning the script for `t("...")` calls and handed to the page as a JSON block.
"""

from __future__ import annotations

import gettext
import io
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web
from babel.messages.catalog import Catalog
from babel.messages.extract import extract
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from jinja2 import pass_context
from jinja2.ext import babel_extract
from jinja2.runtime import Context

LOCALES = ("en", "ru")
DEFAULT_KEYWORDS = ("_", "gettext", "ngettext")
LANG_COOKIE = "lines_lang"
PYTHON_PACKAGES = ("console", "routing", "sla", "bots")
"""Where `N_("...")` marks strings shown in the console."""
# `t("text")` in console.js; the strings are plain double-quoted literals without escapes.
JS_MESSAGE = re.compile(r"""\bt\(\s*"((?:[^"\\\n]|\\.)*)"\s*\)""")


def load_catalog(lang: str) -> gettext.GNUTranslations:
    """Read `messages.po` for `lang` and compile it in memory into a translations object."""
    po = resources.files("lines.web").joinpath("locale", lang, "LC_MESSAGES", "messages.po")
    with po.open("rb") as source:
        catalog = read_po(source, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def js_messages(script: str) -> list[str]:
    """The msgids `console.js` asks for with `t("...")`, in order of first use."""
    seen: dict[str, None] = {}
    for match in JS_MESSAGE.finditer(script):
        seen.setdefault(json.loads(f'"{match.group(1)}"'), None)
    return list(seen)


@dataclass
class Translations:
    """Every catalog, loaded once; `strings(lang)` is the JS dictionary for one language."""

    catalogs: dict[str, gettext.GNUTranslations]
    default: str
    js_ids: list[str] = field(default_factory=list)
    _js_cache: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, default: str) -> Translations:
        script = resources.files("lines.web").joinpath("static", "console.js")
        js_ids = js_messages(script.read_text(encoding="utf-8")) if script.is_file() else []
        return cls({lang: load_catalog(lang) for lang in LOCALES}, default, js_ids)

    def get(self, lang: str) -> gettext.GNUTranslations:
        return self.catalogs.get(lang) or self.catalogs[self.default]

    def strings(self, lang: str) -> dict[str, str]:
        if lang not in self._js_cache:
            catalog = self.get(lang)
            self._js_cache[lang] = {msgid: catalog.gettext(msgid) for msgid in self.js_ids}
        return self._js_cache[lang]


def parse_accept_language(header: str) -> list[str]:
    """Primary language tags by preference (RFC 9110 §12.5.4): `ru-RU,en;q=0.8` -> ["ru", "en"]."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower()
        if not tag:
            continue
        quality = 1.0
        for param in pieces[1:]:
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranked.append((-quality, index, tag.split("-")[0]))
    ranked.sort()
    return [tag for _, _, tag in ranked]


def choose_locale(request: web.Request, default: str) -> str:
    """The `lines_lang` cookie, else the browser's most preferred language we speak, else `default`."""
    cookie = request.cookies.get(LANG_COOKIE, "")
    if cookie in LOCALES:
        return cookie
    for tag in parse_accept_language(request.headers.get("Accept-Language", "")):
        if tag in LOCALES:
            return tag
    return default


# Jinja's i18n extension calls these through `Context.call`, so they read the catalog of the page
# being rendered from its context: one shared Environment serves every language.
@pass_context
def _gettext(context: Context, message: str) -> str:
    catalog: gettext.NullTranslations = context.get("catalog") or gettext.NullTranslations()
    return catalog.gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    catalog: gettext.NullTranslations = context.get("catalog") or gettext.NullTranslations()
    return catalog.ngettext(singular, plural, n)


def extract_messages() -> dict[str, list[str]]:
    """Every msgid the console uses, with where: templates (`_`, `{% trans %}`), the parts' Python
    modules (`N_`: navigation labels, page errors, the SLA mail), console.js."""
    web = Path(str(resources.files("lines.web")))
    found: dict[str, list[str]] = {}

    def add(message: str | tuple[str | None, ...] | None, where: str) -> None:
        # `_(item.label)` in a template has no literal: its msgid is marked where the item is made.
        for msgid in (message,) if isinstance(message, str) else message or ():
            if msgid:
                found.setdefault(msgid, []).append(where)

    for template in sorted((web / "templates").glob("*.html")):
        with template.open("rb") as source:
            for lineno, _func, message, _comments in babel_extract(
                source, list(DEFAULT_KEYWORDS), [], {"extensions": "jinja2.ext.i18n"}
            ):
                add(message, f"templates/{template.name}:{lineno}")
    for package in PYTHON_PACKAGES:
        folder = Path(str(resources.files(f"lines.{package}")))
        for module in sorted(folder.rglob("*.py")):
            with module.open("rb") as source:
                for lineno, message, _comments, _context in extract("python", source, keywords={"N_": None}):
                    add(message, f"{package}/{module.relative_to(folder).as_posix()}:{lineno}")
    for message in js_messages((web / "static" / "console.js").read_text(encoding="utf-8")):
        add(message, "static/console.js")
    return found


def update_catalogs() -> None:
    """Merge newly used msgids into every `messages.po`, keeping the translations already made."""
    template = Catalog(project="Lines")
    for msgid, places in extract_messages().items():
        template.add(
            msgid, locations=[(p.rsplit(":", 1)[0], int(p.rsplit(":", 1)[1]) if ":" in p else 0) for p in places]
        )
    web = Path(str(resources.files("lines.web")))
    for lang in LOCALES:
        path = web / "locale" / lang / "LC_MESSAGES" / "messages.po"
        if path.exists():
            with path.open("rb") as source:
                catalog = read_po(source, locale=lang)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=lang, project="Lines")
        catalog.update(template, no_fuzzy_matching=True)
        with path.open("wb") as out:
            write_po(out, catalog, width=100, omit_header=False, ignore_obsolete=True, include_previous=False)


def install(environment: Any) -> None:
    """Install context-aware gettext callables into a Jinja environment with `jinja2.ext.i18n`."""
    environment.install_gettext_callables(_gettext, _ngettext, newstyle=True)


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


if __name__ == "__main__":
    # `python -m lines.console.i18n` after changing UI text; then translate the new entries.
    update_catalogs()
