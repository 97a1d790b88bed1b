"""Where to parse: spaCy at answer time (the best few sentences) or at ingest (every chunk)?

    .venv/bin/python benchmarks/parse.py [--articles N] [--repeat R] [--top 12]

Over the first N MultiHop-RAG articles, chunked as ingest chunks them, it measures with the
pinned pipeline (qa/answer/nlp.py), each timing the median of R interleaved rounds (the machine
is shared, so rounds see similar load):

- parse throughput: sentences/s and chunks/s of `nlp.pipe` over every chunk's sentences;
- embedding throughput of the same chunks (the model that dominates ingest), and the ingest
  ratio if every chunk were parsed too: 1 / (1 + embed_rate / parse_rate) of today's speed
  (the issue's bar: >= 0.6);
- answer-time cost: parsing the `--top` best sentences of one answer, uncached (ms; the
  question itself is one more short parse), and the same sentences from the LRU cache.
"""

from __future__ import annotations

from index.offline import apply_offline_defaults

apply_offline_defaults()

# ruff: noqa: E402 - imports after the offline env defaults
import argparse
import json
import random
import statistics
import time

from index.chunking import chunk_article
from index.embedding import make_embedding
from index.models import Article, parse_day
from index.settings import Settings
from qa.answer.nlp import ParseCache, pipeline
from qa.answer.sentences import split_sentences
from qa.eval.multihop import corpus_records


def _chunks(n_articles: int, settings: Settings) -> list[str]:
    texts: list[str] = []
    for record in corpus_records()[:n_articles]:
        article = Article(
            title=record["title"],
            body=record["body"],
            source=record["source"],
            url=record["url"],
            published=parse_day(record["published_at"]),
            category=record["category"],
        )
        texts += [
            c.text for c in chunk_article(article, settings.chunk_size, settings.chunk_overlap)
        ]
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=25)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--top", type=int, default=12, help="sentences parsed per answer")
    args = parser.parse_args()
    settings = Settings()
    chunks = _chunks(args.articles, settings)
    sentences = [s.text for chunk in chunks for s in split_sentences(chunk)]
    nlp = pipeline()
    embedding = make_embedding(settings)
    nlp("warm up")
    embedding.get_text_embedding_batch(chunks[:4])
    parse_s, embed_s, answer_ms, cached_ms = [], [], [], []
    rng = random.Random(0)
    for _ in range(args.repeat):
        started = time.perf_counter()
        list(nlp.pipe(sentences))
        parse_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        embedding.get_text_embedding_batch(chunks)
        embed_s.append(time.perf_counter() - started)
        for _ in range(10):
            top = rng.sample(sentences, args.top)
            cache = ParseCache()
            started = time.perf_counter()
            cache.parse_many(top)
            answer_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            cache.parse_many(top)
            cached_ms.append((time.perf_counter() - started) * 1000)
    parse_rate = len(chunks) / statistics.median(parse_s)
    embed_rate = len(chunks) / statistics.median(embed_s)
    answer_sorted = sorted(answer_ms)
    print(
        json.dumps(
            {
                "articles": args.articles,
                "chunks": len(chunks),
                "sentences": len(sentences),
                "parse_sentences_per_s": round(len(sentences) / statistics.median(parse_s), 1),
                "parse_chunks_per_s": round(parse_rate, 1),
                "embed_chunks_per_s": round(embed_rate, 1),
                "ingest_ratio_if_parsed_at_ingest": round(1 / (1 + embed_rate / parse_rate), 3),
                f"answer_time_parse_top{args.top}_ms_p50": round(statistics.median(answer_ms), 1),
                f"answer_time_parse_top{args.top}_ms_p95": round(
                    answer_sorted[int(0.95 * (len(answer_sorted) - 1))], 1
                ),
                "cached_parse_ms_p50": round(statistics.median(cached_ms), 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
