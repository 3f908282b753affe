"""Ranking knowledge-base articles for a customer's message.

Each article is scored two ways and the two are averaged into a score between 0 and 1:
- BM25 over the whole article (title weighted x2, example questions x1.5, the answer x1),
  normalised by the best score the query could get, so it reads as "how much of the question the
  article covers";
- the best cosine similarity (IDF-weighted) between the query and the title or one example question,
  which rewards an article that was written for this very question.

Words the index does not know are looked up again as Russian typed in the English layout, as
transliterated Russian, as English typed in the Russian layout, and finally by character trigrams
(typos), discounted by how close the match is. Unknown words still count in the query's weight,
so a question about something the KB does not cover scores low even if one word matches.

The bot answers on its own only if the best score reaches `threshold` and beats the second article
by `margin` (both calibrated on the eval set, see docs/bot.md).

With a sentence encoder (bots/semantic.py) every article also gets its best cosine similarity
between the query and its title, example questions or answer; the final score mixes the lexical
score with that similarity rescaled to 0..1 (`LEX_WEIGHT`, `SIM_FLOOR`, `SIM_SPAN`). The bot then
answers on its own when the lexical rule above answers with the same article, or when the mixed
score reaches `SEMANTIC_THRESHOLD` ahead of the second by `SEMANTIC_MARGIN`. These five were picked
on the development halves of the held-out sets (benchmarks/eval/*/dev.jsonl) for false auto-answers
at most 3% there.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lines.bots import text as tx
from lines.bots.kb import Article
from lines.bots.semantic import Encoder, SemanticIndex

K1 = 1.2
B = 0.75
FIELD_WEIGHTS = {"title": 2.0, "questions": 1.5, "body": 1.0}
UNKNOWN_IDF_SHARE = 0.6  # an unknown word weighs this share of the rarest known word
FUZZY_MIN = 0.5
DEFAULT_THRESHOLD = 0.4
DEFAULT_MARGIN = 0.12
MAX_QUERY_CHARS = 4000
SINGLE_TERM_UNIT = 0.95
LEX_WEIGHT = 0.4
SIM_FLOOR = 0.82
SIM_SPAN = 0.10
SEMANTIC_THRESHOLD = 0.6
SEMANTIC_MARGIN = 0.04


@dataclass(frozen=True, slots=True)
class Suggestion:
    article: Article
    score: float

    def as_dict(self) -> dict[str, object]:
        return {
            "article_id": self.article.id,
            "title": self.article.title,
            "lang": self.article.lang,
            "score": round(self.score, 4),
            "answer": self.article.body,
        }


@dataclass(frozen=True, slots=True)
class Result:
    suggestions: list[Suggestion]
    auto_answer: bool
    lang: str
    terms: list[str]

    @property
    def best(self) -> Suggestion | None:
        return self.suggestions[0] if self.suggestions else None


@dataclass(frozen=True, slots=True)
class QueryTerm:
    term: str
    weight: float  # match confidence (1 exact, < 1 fuzzy), multiplied by the idf at scoring


class Index:
    """An immutable in-memory index of published articles; rebuild it when the KB changes."""

    def __init__(
        self,
        articles: Iterable[Article],
        threshold: float = DEFAULT_THRESHOLD,
        margin: float = DEFAULT_MARGIN,
        *,
        encoder: Encoder | None = None,
        semantic: SemanticIndex | None = None,
    ) -> None:
        """`semantic` holds the articles' stored vectors in order; given only `encoder`, they are
        encoded here (slow for a large KB: the store keeps them)."""
        self.articles: list[Article] = list(articles)
        self.threshold = threshold
        self.margin = margin
        self.encoder = encoder
        if encoder is not None and semantic is None:
            semantic = SemanticIndex([encoder.passages([a.title, *a.questions, a.body]) for a in self.articles])
        self.semantic = semantic if encoder is not None else None
        n = len(self.articles)
        self._tf: list[dict[str, float]] = []
        self._len: list[float] = []
        self._units: list[list[tuple[dict[str, float], float]]] = []
        df: Counter[str] = Counter()
        for article in self.articles:
            tf: dict[str, float] = defaultdict(float)
            title_terms = tx.terms(article.title)
            for term in title_terms:
                tf[term] += FIELD_WEIGHTS["title"]
            question_terms = [tx.terms(q) for q in article.questions]
            for qt in question_terms:
                for term in set(qt):
                    tf[term] += FIELD_WEIGHTS["questions"]
            for term in tx.terms(article.body):
                tf[term] += FIELD_WEIGHTS["body"]
            self._tf.append(dict(tf))
            self._len.append(sum(tf.values()))
            df.update(tf.keys())
            self._units.append([(dict.fromkeys(u, 1.0), 0.0) for u in [title_terms, *question_terms] if u])
        self._avglen = (sum(self._len) / n) if n else 1.0
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self._unknown_idf = UNKNOWN_IDF_SHARE * (max(self.idf.values()) if self.idf else 1.0)
        # Unit vectors weighted by idf, with their norms.
        for units in self._units:
            for i, (vec, _) in enumerate(units):
                weighted = {t: self.idf[t] for t in vec}
                units[i] = (weighted, math.sqrt(sum(w * w for w in weighted.values())))
        self._postings: dict[str, list[int]] = defaultdict(list)
        for i, tf in enumerate(self._tf):
            for term in tf:
                self._postings[term].append(i)
        self._grams: dict[str, list[str]] = defaultdict(list)
        for term in self.idf:
            if len(term) >= 3:
                for gram in tx.trigrams(term):
                    self._grams[gram].append(term)

    def __len__(self) -> int:
        return len(self.articles)

    # -- query understanding -------------------------------------------------------------------

    def _known(self, terms: Sequence[str]) -> int:
        return sum(1 for t in terms if t in self.idf)

    def _reading(self, text: str) -> str:
        """The reading of `text` (as typed, other keyboard layout, transliterated) the index knows best."""
        readings = [text]
        if tx.language_of(text) == "en":
            readings += [tx.layout_to_ru(text), " ".join(tx.transliterate(w) for w in tx.words(text))]
        else:
            readings.append(tx.layout_to_en(text))
        best, best_known = text, self._known(tx.terms(text))
        for reading in readings[1:]:
            known = self._known(tx.terms(reading))
            if known > best_known:
                best, best_known = reading, known
        return best

    def _fuzzy(self, term: str) -> tuple[str, float] | None:
        if len(term) < 4 or term.isdigit():
            return None
        grams = tx.trigrams(term)
        shared: Counter[str] = Counter()
        for gram in grams:
            for candidate in self._grams.get(gram, ()):
                shared[candidate] += 1
        best: tuple[str, float] | None = None
        for candidate, common in shared.most_common(30):
            sim = 2 * common / (len(grams) + len(tx.trigrams(candidate)))
            if len(term) >= 6 and _edit_distance_at_most_one(term, candidate):
                sim = max(sim, 0.75)
            if sim >= FUZZY_MIN and (best is None or sim > best[1]):
                best = (candidate, sim)
        return best

    def understand(self, text: str) -> tuple[list[QueryTerm], str]:
        """The query's terms with match weights, and its language."""
        text = text[:MAX_QUERY_CHARS]
        reading = self._reading(text)
        lang = tx.language_of(reading)
        out: list[QueryTerm] = []
        seen: set[str] = set()
        for word in tx.words(reading):
            if (len(word) < 2 and not word.isdigit()) or tx.is_stop(word):
                continue
            term = tx.stem(word)
            found: QueryTerm | None = None
            if term in self.idf:
                found = QueryTerm(term, 1.0)
            else:
                for alt in _alternatives(word):
                    if tx.is_stop(alt):
                        found = QueryTerm("", 0.0)
                        break
                    if tx.stem(alt) in self.idf:
                        found = QueryTerm(tx.stem(alt), 0.95)
                        break
                if found is None:
                    fuzzy = self._fuzzy(term)
                    if fuzzy is None and tx.script_of(word) == "en":
                        fuzzy = self._fuzzy(tx.stem(tx.transliterate(word)))
                    found = QueryTerm(fuzzy[0], fuzzy[1]) if fuzzy else QueryTerm(term, 0.0)
            if not found.term or found.term in seen:
                continue
            seen.add(found.term)
            out.append(found)
        return out, lang

    # -- scoring ---------------------------------------------------------------------------------

    def search(self, text: str, limit: int = 3, lang: str | None = None) -> Result:
        qterms, detected = self.understand(text)
        terms = [q.term for q in qterms]
        lexical, whole_unit, known = self._lexical(qterms)
        allowed = [i for i in lexical if not lang or self.articles[i].lang == lang]
        order = sorted(allowed, key=lambda i: (-lexical[i], self.articles[i].id))
        lex_auto = bool(order) and lexical[order[0]] >= self.threshold
        if lex_auto and known < 2:
            # One known word ("работа") is not enough to answer on the bot's own, unless it is the
            # whole title or example question ("Самовывоз?").
            lex_auto = whole_unit[order[0]]
        if lex_auto and len(order) > 1:
            lex_auto = lexical[order[0]] - lexical[order[1]] >= self.margin
        if self.semantic is None or self.encoder is None:
            top = [Suggestion(self.articles[i], lexical[i]) for i in order[:limit]]
            return Result(top, lex_auto, lang or detected, terms)
        sims = self.semantic.similarities(self.encoder.query(text[:MAX_QUERY_CHARS]))
        mixed = {
            i: LEX_WEIGHT * lexical.get(i, 0.0)
            + (1 - LEX_WEIGHT) * min(1.0, max(0.0, (float(s) - SIM_FLOOR) / SIM_SPAN))
            for i, s in enumerate(sims)
            if not lang or self.articles[i].lang == lang
        }
        ranked = sorted((i for i in mixed if mixed[i] > 0), key=lambda i: (-mixed[i], self.articles[i].id))
        top = [Suggestion(self.articles[i], mixed[i]) for i in ranked[:limit]]
        if not ranked:
            return Result([], False, lang or detected, terms)
        best = mixed[ranked[0]]
        runner_up = mixed[ranked[1]] if len(ranked) > 1 else 0.0
        auto = (lex_auto and order[0] == ranked[0]) or (
            best >= SEMANTIC_THRESHOLD and best - runner_up >= SEMANTIC_MARGIN
        )
        return Result(top, auto, lang or detected, terms)

    def _lexical(self, qterms: list[QueryTerm]) -> tuple[dict[int, float], dict[int, bool], int]:
        """Lexical scores by article position, whether the best unit is the whole query, known terms."""
        weights: dict[str, float] = {}
        unknown_mass = 0.0
        for qt in qterms:
            if qt.term in self.idf and qt.weight > 0:
                weights[qt.term] = self.idf[qt.term] * qt.weight
                unknown_mass += (self.idf[qt.term] * (1 - qt.weight)) ** 2
            else:
                unknown_mass += self._unknown_idf**2
        if not weights:
            return {}, {}, 0
        q_norm = math.sqrt(sum(w * w for w in weights.values()) + unknown_mass)
        q_total = sum(weights.values()) + math.sqrt(unknown_mass)
        bm: dict[int, float] = defaultdict(float)
        for term, w in weights.items():
            for i in self._postings[term]:
                tf = self._tf[i][term]
                norm = K1 * (1 - B + B * self._len[i] / self._avglen)
                bm[i] += w * tf * (K1 + 1) / (tf + norm) / (K1 + 1)
        scores: dict[int, float] = {}
        whole_unit: dict[int, bool] = {}
        for i, raw in bm.items():
            best_unit = 0.0
            for vec, norm in self._units[i]:
                dot = sum(w * vec[t] for t, w in weights.items() if t in vec)
                if dot:
                    best_unit = max(best_unit, dot / (q_norm * norm))
            whole_unit[i] = best_unit >= SINGLE_TERM_UNIT
            coverage = min(1.0, raw / q_total)
            scores[i] = 0.5 * coverage + 0.5 * best_unit
        return scores, whole_unit, len(weights)


def _alternatives(word: str) -> list[str]:
    if tx.script_of(word) == "en":
        return [tx.layout_to_ru(word), tx.transliterate(word)]
    return [tx.layout_to_en(word)]


def _edit_distance_at_most_one(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 1 or a == b:
        return a == b
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1 :] == b[i + 1 :] or (
            i + 1 < len(a) and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
        )
    return a[i:] == b[i + 1 :]
