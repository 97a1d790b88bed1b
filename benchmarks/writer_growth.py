"""What one article's ingest costs as the store grows (embedded Chroma, the tests' fake
16-dim embedding, so the model is not what is timed). Two sweeps, one JSON line each:

    .venv/bin/python benchmarks/writer_growth.py --catalog 20000      # catalog articles
    .venv/bin/python benchmarks/writer_growth.py --lexical-rows 250000  # BM25 index rows

--catalog N: 60 MultiHop-RAG articles ingested, their catalog records copied under new ids up
to N articles; the ingest's catalog read (`article_records`) and near-duplicate lookup
(`near_duplicate_candidates`) are timed apart. --lexical-rows N: 40 articles ingested, then the
lexical index rebuilt in bulk with N synthetic rows beside them; the BM25 sync is timed apart. Then
five one-article ingests, medians. Runs under /dev/shm when there is one.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.offline import apply_offline_defaults

apply_offline_defaults()

import index.ingest  # noqa: E402
import index.lexical  # noqa: E402
from index.lexical import LexicalDoc, LexicalIndex, lexical_dir  # noqa: E402
from index.service import IndexService  # noqa: E402
from index.settings import Settings  # noqa: E402
from qa.eval.multihop import corpus_path  # noqa: E402
from tests.reliability_fixtures import FakeHashEmbedding, fast_dir  # noqa: E402

COLLECTION = "growth"


def timed(spent: dict[str, float], key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        tick = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[key] = spent.get(key, 0.0) + time.perf_counter() - tick

    return wrapped


def ingest(service: IndexService, root: Path, records: list[dict[str, Any]]) -> None:
    path = root / f"batch-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    report = service.ingest_paths([str(path)])
    assert report.failed == 0, report.to_dict()


def grow_catalog(service: IndexService, articles: int) -> None:
    catalog = service.store.catalog_collection
    got = catalog.get(include=["metadatas", "documents"])
    copy = 0
    while len(got["ids"]) * (copy + 1) < articles:
        copy += 1
        ids = [f"{i}#copy{copy}" for i in got["ids"]]
        for start in range(0, len(ids), 1000):
            window = slice(start, start + 1000)
            catalog.add(
                ids=ids[window],
                embeddings=[[1.0]] * len(ids[window]),
                documents=got["documents"][window],
                metadatas=got["metadatas"][window],
            )


def grow_lexical(service: IndexService, settings: Settings, rows: int) -> None:
    rng = random.Random(0)
    vocabulary = [f"w{i}" for i in range(60_000)]
    real = LexicalDoc.from_chunks(list(service.store.iter_chunks()))

    def synthetic() -> Iterator[LexicalDoc]:
        for i in range(rows):
            tokens = rng.choices(vocabulary, k=180)
            sentences = [tokens[j : j + 20] for j in range(0, 180, 20)]
            yield LexicalDoc(
                f"syn{i}", f"art{i // 13}", tokens, 1_700_000_000, f"S{i % 40}", 1.0, sentences
            )
        yield from real

    index = LexicalIndex.at(lexical_dir(settings, COLLECTION))
    manifest = index.read_manifest()
    assert manifest is not None
    shutil.rmtree(index.directory)
    LexicalIndex.forget()
    LexicalIndex.at(lexical_dir(settings, COLLECTION)).build(
        synthetic(),
        revision=manifest["revision"],
        watermark=manifest["watermark"],
        looked_back_at=manifest.get("looked_back_at"),
        rows_per_segment=125_000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", type=int, default=0, help="catalog articles")
    parser.add_argument("--lexical-rows", type=int, default=0, help="synthetic BM25 rows")
    args = parser.parse_args()
    records = json.loads(corpus_path().read_text(encoding="utf-8"))
    spent: dict[str, float] = {}
    with fast_dir("newsqa-growth-") as root:
        settings = Settings(data_dir=root, chroma_url=None, collection=COLLECTION)
        service = IndexService(settings, embedding=FakeHashEmbedding())
        ingest(service, root, records[: 60 if args.catalog else 40])
        if args.catalog:
            grow_catalog(service, args.catalog)
        if args.lexical_rows:
            grow_lexical(service, settings, args.lexical_rows)
            service = IndexService(settings, embedding=FakeHashEmbedding())
        store = service.store
        store.article_records = timed(spent, "catalog_read_s", store.article_records)  # type: ignore[method-assign]
        store.near_duplicate_candidates = timed(  # type: ignore[method-assign]
            spent, "lsh_lookup_s", store.near_duplicate_candidates
        )
        sync = index.lexical.LexicalIndex.sync
        index.lexical.LexicalIndex.sync = timed(spent, "bm25_sync_s", sync)  # type: ignore[method-assign]
        times = []
        for k in range(5):
            tick = time.perf_counter()
            ingest(service, root, [records[200 + k]])
            times.append(time.perf_counter() - tick)
        view = LexicalIndex.at(lexical_dir(settings, COLLECTION)).view()
        result = {
            "catalog_articles": store.count_articles(),
            "lexical_rows": view.n if view else 0,
            "ingest_s_median": round(statistics.median(times), 2),
            "ingest_s": [round(t, 2) for t in times],
        } | {key: round(value / 5, 2) for key, value in spent.items()}
        print(json.dumps(result))


if __name__ == "__main__":
    main()
