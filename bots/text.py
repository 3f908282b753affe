"""Text normalisation for retrieval: tokens, stems, keyboard layout, transliteration, language.

Russian and English words are reduced to Snowball stems; `ё` is folded to `е`; stop words
(greetings, pronouns, particles) are dropped so that a long, polite message keeps only the words
that carry its question. A Latin word may be Russian typed in the wrong keyboard layout
(`ljcnfdrf` -> `доставка`) or transliterated (`dostavka`); a Cyrillic word may be English typed in
the Russian layout (`руддщ` -> `hello`). The retriever tries these readings and keeps the one whose
words it knows best.
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

from lines.console.language import detect_language

WORD = re.compile(r"[0-9a-zа-яё]+(?:['’][a-z]+)?", re.IGNORECASE)
WORD_WITH_LAYOUT = re.compile(r"[0-9a-zа-яё\[\];',.`{}:\"<>~]+", re.IGNORECASE)
CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
LATIN = re.compile(r"[a-z]", re.IGNORECASE)

_EN_KEYS = "qwertyuiop[]asdfghjkl;'zxcvbnm,.`"
_RU_KEYS = "йцукенгшщзхъфывапролджэячсмитьбюё"
EN_TO_RU = str.maketrans(_EN_KEYS + _EN_KEYS.upper(), _RU_KEYS + _RU_KEYS.upper())
RU_TO_EN = str.maketrans(_RU_KEYS + _RU_KEYS.upper(), _EN_KEYS + _EN_KEYS.upper())

_TRANSLIT_MULTI = (
    ("shch", "щ"),
    ("sch", "щ"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ts", "ц"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("yu", "ю"),
    ("ju", "ю"),
    ("ya", "я"),
    ("ja", "я"),
    ("yo", "е"),
    ("jo", "е"),
    ("ye", "е"),
    ("iy", "ий"),
    ("yi", "ый"),
    ("'", "ь"),
)
_TRANSLIT_ONE = str.maketrans(
    {
        "a": "а",
        "b": "б",
        "v": "в",
        "w": "в",
        "g": "г",
        "d": "д",
        "e": "е",
        "z": "з",
        "i": "и",
        "j": "й",
        "k": "к",
        "l": "л",
        "m": "м",
        "n": "н",
        "o": "о",
        "p": "п",
        "r": "р",
        "s": "с",
        "t": "т",
        "u": "у",
        "f": "ф",
        "h": "х",
        "c": "к",
        "y": "ы",
        "x": "кс",
        "q": "к",
    }
)

_words_of = str.split

STOP_RU = frozenset(
    _words_of(
        """
    а ага без благодарю блин более будет будут бы был была были было быть в вам вас весь вечер
    вечера во вообще вопрос вопросик вот все всего всем всех вчера вы где да даже день для дня до
    добрая доброго добрый его ее если есть еще ещё же за заранее здесь здравствуй здравствуйте и из
    или им интересно интересует их к как какая какие какое какой каком ко когда коллеги короче
    кстати кто ли либо меня мне мной мое можно мои мой моя мы на над надо наш не него нее нет ни них
    но ночи ну о об однако ок он она они оно от очень по под подскажи подскажите пожалуйста помоги
    помогите при привет про просто ребята с свое свои свой своя сегодня скажи скажите скока со
    спасибо так также такой там те тем типа то того тоже той только том тут ты у уважаемые уважаемый
    уже утра утро хотел хотела хотелось хотя хочу чего чей чем что чтобы чье чья эта эти это этот я
        """
    )
)
STOP_EN = frozenset(
    _words_of(
        """
    a about above after afternoon again all also am an and any anyone are as at be been before being
    below between both but by can could day dear did do does doing down during each evening few
    folks for from further good guys had has have having he hello her here hers hey hi him his hope
    how i i'm i've if im in into is it its itself ive just kindly know let me more morning most my
    myself no nor not of off ok okay on once only or other our ours out over own please pls plz
    question really regards same she should so some somebody someone such team tell than thank
    thanks that the their theirs them then there these they this those through thx to today too
    under until up very want wanted was we were what when where which while who whom why will with
    wonder wondering would yesterday you your yours yourself
        """
    )
)

_stemmers = {"ru": snowballstemmer.stemmer("russian"), "en": snowballstemmer.stemmer("english")}


def script_of(word: str) -> str:
    """`ru` for a Cyrillic word, `en` for a Latin one (digits count as neither)."""
    cyr = len(CYRILLIC.findall(word))
    lat = len(LATIN.findall(word))
    return "ru" if cyr > lat else "en"


def language_of(text: str) -> str:
    """`ru` or `en`, whichever the text's letters lean to; `en` when it has none."""
    return detect_language(text, min_letters=1) or "en"


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    word = word.lower().replace("ё", "е").replace("’", "'")
    lang = script_of(word)
    if lang == "en" and word.endswith("'s"):
        word = word[:-2]
    return _stemmers[lang].stemWord(word)


def is_stop(word: str) -> bool:
    word = word.lower().replace("ё", "е")
    return word in STOP_RU or word in STOP_EN


def words(text: str) -> list[str]:
    return [w.lower().replace("ё", "е") for w in WORD.findall(text)]


def terms(text: str) -> list[str]:
    """Stems of the content words of `text`, in order, stop words and one-letter words dropped."""
    out = []
    for word in words(text):
        if len(word) < 2 and not word.isdigit():
            continue
        if is_stop(word):
            continue
        out.append(stem(word))
    return out


def layout_to_ru(text: str) -> str:
    return text.translate(EN_TO_RU)


def layout_to_en(text: str) -> str:
    return text.translate(RU_TO_EN)


def transliterate(word: str) -> str:
    """Latin transliteration of Russian back to Cyrillic (`dostavka` -> `доставка`)."""
    word = word.lower()
    for latin, cyr in _TRANSLIT_MULTI:
        word = word.replace(latin, cyr)
    return word.translate(_TRANSLIT_ONE)


def trigrams(term: str) -> frozenset[str]:
    padded = f"^{term}$"
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))
