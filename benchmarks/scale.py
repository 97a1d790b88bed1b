"""Retrieval at 100k chunks beside the 7.8k-chunk MultiHop-RAG index, in one process.

    .venv/bin/python benchmarks/scale.py [--source-dir /tmp/mhr] [--target 100000] [--queries 100]

The big index replicates the corpus chunks under new ids (and new article ids, so they are
different articles to the retriever) with perturbed copies of their vectors: no re-embedding.
It is written once into its own data dir (default /tmp/mhr-scale) and reused afterwards. Both
indexes answer the same dev questions with the full pipeline; the script prints p50/p95 per
query and the process RSS after loading each, and the ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.offline import apply_offline_defaults

apply_offline_defaults()

from index.service import IndexService  # noqa: E402
from index.settings import Settings  # noqa: E402
from index.store import open_client  # noqa: E402
from qa.eval.multihop import load_queries  # noqa: E402
from qa.eval.retrieval import COLLECTION  # noqa: E402
from qa.retrieval import Retriever  # noqa: E402

NOISE = 0.02  # std of the gaussian added to each vector component before re-normalising
_PAGE = 2000


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def read_source(settings: Settings) -> tuple[list[str], list[str], list[dict], np.ndarray]:
    collection = open_client(settings).get_collection(COLLECTION, embedding_function=None)
    ids, docs, metas, vectors = [], [], [], []
    offset = 0
    while True:
        got = collection.get(
            include=["documents", "metadatas", "embeddings"], limit=_PAGE, offset=offset
        )
        if not got["ids"]:
            break
        ids += got["ids"]
        docs += got["documents"]
        metas += got["metadatas"]
        vectors.append(np.asarray(got["embeddings"], dtype=np.float32))
        offset += len(got["ids"])
    return ids, docs, metas, np.vstack(vectors)


def build_big(source: Settings, big: Settings, target: int, seed: int) -> None:
    service = IndexService(big, collection=COLLECTION)  # creates the collections
    if service.store.count_chunks() >= target:
        return
    ids, docs, metas, vectors = read_source(source)
    collection = open_client(big).get_collection(COLLECTION, embedding_function=None)
    rng = np.random.default_rng(seed)
    written, copy = 0, 0
    started = time.perf_counter()
    while written < target:
        for start in range(0, len(ids), 1000):
            n = min(1000, len(ids) - start, target - written)
            if n <= 0:
                break
            block = vectors[start : start + n]
            if copy:  # copy 0 keeps the original vectors
                block = block + rng.normal(0.0, NOISE, block.shape).astype(np.float32)
                block /= np.linalg.norm(block, axis=1, keepdims=True)
            suffix = f"#copy{copy}" if copy else ""
            collection.upsert(
                ids=[f"{cid}{suffix}" for cid in ids[start : start + n]],
                embeddings=block.tolist(),
                documents=docs[start : start + n],
                metadatas=[
                    {**m, "article_id": m["article_id"] + suffix, "url": m.get("url", "") + suffix}
                    for m in metas[start : start + n]
                ],
            )
            written += n
        copy += 1
        print(f"  {written} chunks written ({time.perf_counter() - started:.0f}s)", file=sys.stderr)
    service.store.bump_revision()


def measure(settings: Settings, questions: list[str], label: str) -> dict:
    before = rss_mb()
    started = time.perf_counter()
    retriever = Retriever(IndexService(settings, collection=COLLECTION), settings)
    load_s = time.perf_counter() - started
    loaded = rss_mb()
    retriever.search(questions[0])  # warm-up
    totals = []
    for question in questions:
        tick = time.perf_counter()
        retriever.search(question)
        totals.append((time.perf_counter() - tick) * 1000)
    totals.sort()
    result = {
        "index": label,
        "chunks": retriever.snapshot().n,
        "load_s": round(load_s, 1),
        "p50_ms": round(statistics.median(totals), 1),
        "p95_ms": round(totals[int(0.95 * (len(totals) - 1))], 1),
        "rss_mb_after_load": round(loaded, 0),
        "rss_mb_added": round(loaded - before, 0),
    }
    print(json.dumps(result), file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source-dir", type=Path, default=Path("/tmp/mhr"))
    parser.add_argument("--big-dir", type=Path, default=Path("/tmp/mhr-scale"))
    parser.add_argument("--target", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    source, big = Settings(data_dir=args.source_dir), Settings(data_dir=args.big_dir)
    build_big(source, big, args.target, args.seed)
    questions = [q.query for q in load_queries("dev")[: args.queries]]
    small_result = measure(source, questions, "multihop-rag")
    big_result = measure(big, questions, f"replicated x{args.target // small_result['chunks']}")
    print(
        json.dumps(
            {
                "small": small_result,
                "big": big_result,
                "p50_ratio": round(big_result["p50_ms"] / small_result["p50_ms"], 2),
                "p95_ratio": round(big_result["p95_ms"] / small_result["p95_ms"], 2),
                "goal": "p50 grows <= 2x",
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
