"""Translations: every UI string has a Russian translation, catalogs compile, the JS gets its strings."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from babel.messages.pofile import read_po

from lines.console.i18n import LOCALES, Translations, extract_messages, js_messages, load_catalog

WEB = Path(str(resources.files("lines.web")))
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def catalog(lang: str):  # type: ignore[no-untyped-def]
    with (WEB / "locale" / lang / "LC_MESSAGES" / "messages.po").open("rb") as source:
        return read_po(source, locale=lang)


def test_every_msgid_used_has_a_russian_translation() -> None:
    used = extract_messages()
    assert len(used) > 50, "extraction found suspiciously few strings"
    ru = catalog("ru")
    missing = [msgid for msgid in used if not (ru.get(msgid) and ru.get(msgid).string)]
    assert not missing, f"untranslated in ru/messages.po (run `python -m lines.console.i18n`): {missing}"
    fuzzy = [m.id for m in ru if m.id and m.fuzzy]
    assert not fuzzy, f"fuzzy entries in ru/messages.po: {fuzzy}"


def test_translations_keep_their_placeholders() -> None:
    for message in catalog("ru"):
        if message.id and message.string:
            assert set(PLACEHOLDER.findall(str(message.id))) == set(PLACEHOLDER.findall(str(message.string))), (
                message.id
            )


def test_the_english_catalog_knows_every_msgid_too() -> None:
    en = catalog("en")
    assert not [msgid for msgid in extract_messages() if en.get(msgid) is None]


def test_catalogs_compile_in_memory() -> None:
    for lang in LOCALES:
        assert load_catalog(lang).gettext("Inbox") == {"en": "Inbox", "ru": "Входящие"}[lang]
    assert not list((WEB / "locale").rglob("*.mo")), "compiled catalogs are built at start, not kept in git"


def test_js_strings_are_found_and_translated() -> None:
    ids = js_messages('t("A"); t( "B \\"q\\"" ); x.t("C"); it("no"); t(variable); t("A")')
    assert ids == ["A", 'B "q"', "C"]
    translations = Translations.load("en")
    strings = translations.strings("ru")
    assert strings["Private note"] == "Внутренняя заметка"
    assert set(strings) == set(translations.js_ids)
    assert "%(names)s is also viewing this conversation" in strings
