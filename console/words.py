"""Words of a text and their Snowball stems, Russian and English, for matching other word forms.

`доставки` and `доставка` share the stem `доставк`; `deliveries` and `delivery` share `deliveri`.
A word's language is its script: Cyrillic words get the Russian stemmer, the rest the English one.
`ё` is folded to `е`. Digits are words too (order numbers, phones).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

import snowballstemmer

WORD = re.compile(r"[0-9a-zа-яё]+", re.IGNORECASE)
CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)


@lru_cache(maxsize=4)
def _stemmer(language: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer(language)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The stem of one word (any case)."""
    word = word.lower().replace("ё", "е")
    return str(_stemmer("russian" if CYRILLIC.search(word) else "english").stemWord(word))


def spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, stem) of each word in `text`, in order."""
    for match in WORD.finditer(text):
        yield match.start(), match.end(), stem(match.group())


def stems(text: str) -> list[str]:
    """The stems of the words of `text`, in order, repeats kept."""
    return [s for _, _, s in spans(text)]
