"""Search over N chunks beside the 7,803-chunk MultiHop-RAG index, one run, a real `chroma run`.

    .venv/bin/python benchmarks/scale.py --chunks 1000000 --json \\
        [--source-dir /tmp/mhr] [--cache /tmp/newsqa-scale] [--queries 100] [--rounds 2]

- Builds once and caches under --cache: a `chroma run` data dir holding the MultiHop-RAG
  collection (copied from the embedded index in --source-dir, which `qa eval retrieval` builds)
  and a collection of N chunks (the corpus replicated under new ids with perturbed vectors,
  benchmarks/scale_build.py), and the lexical (BM25) index of each under --cache/bm25: the
  small one by the product's own sync from Chroma, the big one bulk-built from the replicated
  token lists (tokenising the same texts N / 7,803 times over would only cost time).
- Starts each worker as its own process (`--worker`), as `qa serve` would run: time from
  spawn to ready (imports, embedding model, index open), RSS after start-up and after the
  questions, p50 / p95 of the full pipeline over the first --queries dev questions. Rounds
  alternate small and large; figures are medians over rounds; ratios large / small.
- Then, on the large index: a worker searching in a loop while another process ingests a new
  article, and the seconds until the worker finds it, with the worker's lexical index either
  shared with the writer or its own copy (then the worker indexes the new chunks itself);
  neither may rebuild. The article is deleted again afterwards.

One JSON object on stdout with --json: {"small": {...}, "large": {...}, "ratios": {...},
"ingest_visible": {...}, "machine": {...}}. The machine is shared: load averages are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_STARTED = time.time()  # before the heavy imports: a worker's start-up counts them

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.offline import apply_offline_defaults  # noqa: E402

apply_offline_defaults()

HERE = Path(__file__).resolve()
WATCH_QUESTION = "How many megawatts does the Kervallec zorbium tidal plant supply?"
WATCH_ARTICLE = {
    "title": "Kervallec zorbium tidal plant opens",
    "source": "Benchmark Wire",
    "url": "https://bench.example/kervallec-zorbium",
    "published": "2023-12-20",
    "body": "The Kervallec zorbium tidal plant began supplying 57 megawatts to the grid on "
    "Tuesday. Engineer Aurelie Tanguy said the turbines sit 30 metres below the surface. " * 3,
}


def rss() -> dict[str, float]:
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def settings_for(collection: str, url: str, bm25_dir: Path, data_dir: Path):
    from index.settings import Settings

    return Settings(data_dir=data_dir, chroma_url=url, collection=collection, bm25_dir=bm25_dir)


# --- a worker process ---------------------------------------------------------------------------


def worker(args: argparse.Namespace) -> None:
    """One serving process: start up, answer the questions, report (stdout, one JSON line)."""
    from index.lexical import LexicalIndex, lexical_dir
    from index.service import IndexService
    from qa.eval.multihop import load_queries
    from qa.retrieval import Retriever

    with tempfile.TemporaryDirectory(prefix="scale-worker-") as data_dir:
        settings = settings_for(args.collection, args.url, args.bm25_dir, Path(data_dir))
        opened = time.time()
        service = IndexService(settings)  # the embedding model and the Chroma collections
        loaded = time.time()
        retriever = Retriever(service, settings)  # the reranker and the lexical index
        ready = time.time()
        view = retriever.index()
        index = LexicalIndex.at(lexical_dir(settings, args.collection))
        memory = rss()
        result: dict[str, Any] = {
            "collection": args.collection,
            "chunks": view.live,
            "segments": len(view.segments),
            "ready_at": ready,
            "startup_s": round(ready - _STARTED, 2),  # the parent replaces it: spawn to ready
            "open_s": round(ready - opened, 2),
            "retriever_open_s": round(ready - loaded, 2),
            "rss_mb": memory["VmRSS"],
            "rss_anon_mb": memory["RssAnon"],
            "rss_file_mb": memory["RssFile"],
            "full_builds": index.full_builds,
        }
        if args.watch:
            watch(retriever, index, result)
            return
        questions = [q.query for q in load_queries("dev")[: args.queries]]
        retriever.search(questions[0])  # warm-up
        totals, stages = [], []
        for question in questions:
            tick = time.perf_counter()
            found = retriever.search(question)
            totals.append((time.perf_counter() - tick) * 1000)
            stages.append(found.timings_ms)
        after = rss()
        totals.sort()
        result.update(
            p50_ms=round(statistics.median(totals), 1),
            p95_ms=round(totals[int(0.95 * (len(totals) - 1))], 1),
            stage_p50_ms={
                name: round(statistics.median(s.get(name, 0.0) for s in stages), 1)
                for name in stages[0]
            },
            rss_after_queries_mb=after["VmRSS"],
            rss_file_after_queries_mb=after["RssFile"],
            peak_rss_mb=after["VmHWM"],
        )
        print(json.dumps(result), flush=True)


def watch(retriever: Any, index: Any, result: dict[str, Any]) -> None:
    """Search for WATCH_ARTICLE until found; print when (time.time()) and what was indexed."""
    print(json.dumps(result), flush=True)
    builds, rows = index.full_builds, index.rows_indexed
    deadline = time.time() + 600
    while time.time() < deadline:
        passages = retriever.search(WATCH_QUESTION, k=5).passages
        if any(p.url == WATCH_ARTICLE["url"] for p in passages):
            print(
                json.dumps(
                    {
                        "found_at": time.time(),
                        "full_builds": index.full_builds - builds,
                        "rows_indexed": index.rows_indexed - rows,
                        "segments": len(retriever.index().segments),
                    }
                ),
                flush=True,
            )
            return
        time.sleep(0.05)
    print(json.dumps({"found_at": None}), flush=True)


def write_article(args: argparse.Namespace) -> None:
    """Another process: ingest (or delete) WATCH_ARTICLE; print when it returned."""
    from index.loaders import load_paths
    from index.service import IndexService

    with tempfile.TemporaryDirectory(prefix="scale-writer-") as data_dir:
        settings = settings_for(args.collection, args.url, args.bm25_dir, Path(data_dir))
        service = IndexService(settings)
        if args.delete:
            from index.models import Article

            article_id = Article(**WATCH_ARTICLE).article_id
            service.store.delete_article(article_id)
        else:
            source = Path(data_dir) / "article.json"
            source.write_text(json.dumps(WATCH_ARTICLE), encoding="utf-8")
            started = time.time()
            report = service.ingest_items(load_paths([source]))
            assert report.ok, report.to_dict()
            print(json.dumps({"done_at": time.time(), "ingest_s": time.time() - started}))


# --- the parent -----------------------------------------------------------------------------------


def spawn(mode: str, collection: str, url: str, bm25_dir: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, str(HERE), mode, "--collection", collection, "--url", url]
    cmd += ["--bm25-dir", str(bm25_dir), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)


def run_worker(collection: str, url: str, bm25_dir: Path, queries: int) -> dict[str, Any]:
    spawned = time.time()
    process = spawn("--worker", collection, url, bm25_dir, "--queries", str(queries))
    out, _ = process.communicate()
    if process.returncode:
        raise RuntimeError(f"worker for {collection} failed ({process.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    result["startup_s"] = round(result.pop("ready_at") - spawned, 2)  # spawn to ready
    print(f"  {collection}: {json.dumps(result)}", file=sys.stderr, flush=True)
    return result


def ingest_visible(collection: str, url: str, bm25_dir: Path, shared: bool) -> dict[str, Any]:
    """Seconds from another process's ingest returning to a running worker finding it."""
    worker_dir = bm25_dir
    scratch = None
    if not shared:  # the worker's own copy of the index: it must index the article itself
        scratch = Path(tempfile.mkdtemp(prefix="scale-own-bm25-"))
        name = f"{collection}.segments"
        shutil.copytree(bm25_dir / name, scratch / name)
        worker_dir = scratch
    try:
        spawned = time.time()
        watcher = spawn("--worker", collection, url, worker_dir, "--watch")
        assert watcher.stdout is not None
        ready = json.loads(watcher.stdout.readline())
        ready["startup_s"] = round(ready["ready_at"] - spawned, 2)
        writer = spawn("--write", collection, url, bm25_dir)
        written, _ = writer.communicate()
        done = json.loads(written.strip().splitlines()[-1])
        found = json.loads(watcher.stdout.readline())
        watcher.wait(60)
        deleter = spawn("--write", collection, url, bm25_dir, "--delete")
        deleter.communicate()
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    seconds = None if found["found_at"] is None else found["found_at"] - done["done_at"]
    return {
        "lexical_index": "shared with the writer" if shared else "the worker's own copy",
        "seconds": None if seconds is None else round(seconds, 2),
        "worker_full_builds": found.get("full_builds"),
        "worker_rows_indexed": found.get("rows_indexed"),
        "worker_startup_s": ready["startup_s"],
        "writer_ingest_s": round(done["ingest_s"], 2),
    }


def filter_costs(
    collection: str, url: str, source: dict[str, Any], questions: list[str]
) -> dict[str, Any]:
    """Chroma's latency for the dense query with a filter pushed down (`where`) and without
    (an unfiltered query deep enough to keep `depth` rows after the filter), by the share of
    chunks the filter keeps: what DenseParams.push_down_below is set from."""
    import numpy as np

    from index.embedding import make_embedding
    from index.settings import Settings
    from index.store import open_client
    from qa.retrieval import DenseParams

    params = DenseParams()
    chunks = open_client(Settings(chroma_url=url)).get_collection(collection)
    embedding = make_embedding(Settings())
    vectors = [embedding.get_query_embedding(q) for q in questions]
    days = np.sort([int(m.get("published_ts", 0) or 0) for m in source["metadatas"]])
    outlets: dict[str, int] = {}
    for meta in source["metadatas"]:
        outlets[meta.get("source", "")] = outlets.get(meta.get("source", ""), 0) + 1
    outlet = min(outlets, key=lambda name: abs(outlets[name] / len(days) - 0.02))
    cases = {
        f"published after the {q:.1%} quantile": (
            1 - q,
            {"published_ts": {"$gte": int(days[int(q * (len(days) - 1))])}},
        )
        for q in (0.5, 0.9, 0.98, 0.995)
    }
    cases[f"one outlet ({outlet})"] = (outlets[outlet] / len(days), {"source": outlet})
    out: dict[str, Any] = {}
    for name, (share, where) in cases.items():
        wide = min(params.max_depth, int(params.depth / share * 1.2))
        timings: dict[str, list[float]] = {"pushed_down_ms": [], f"unfiltered_{wide}_ms": []}
        for vector in vectors:
            for key, kwargs in (
                ("pushed_down_ms", {"n_results": params.depth, "where": where}),
                (f"unfiltered_{wide}_ms", {"n_results": wide}),
            ):
                tick = time.perf_counter()
                chunks.query(query_embeddings=[vector], include=["distances"], **kwargs)
                timings[key].append((time.perf_counter() - tick) * 1000)
        out[name] = {"share": round(share, 4)} | {
            key: round(statistics.median(values), 1) for key, values in timings.items()
        }
        print(f"  filter {name}: {out[name]}", file=sys.stderr, flush=True)
    return out


def build_lexical(collection: str, url: str, bm25_dir: Path, source: Any) -> dict[str, Any]:
    """The lexical index of a benchmark collection, built once (cached)."""
    from index.lexical import LexicalDoc, LexicalIndex, lexical_dir, sentence_stems
    from index.service import IndexService

    settings = settings_for(collection, url, bm25_dir, Path(tempfile.gettempdir()))
    directory = lexical_dir(settings, collection)
    index = LexicalIndex.at(directory)
    if index.read_manifest() is not None:
        return {"cached": True}
    started = time.perf_counter()
    service = IndexService(settings)
    if source is None:  # the small one: the product's own path (a full sync from Chroma)
        report = index.sync(service.store)
        seconds = round(time.perf_counter() - started, 1)
        return {"cached": False, "seconds": seconds, "rows": report.added_rows}
    from index.tokens import tokenize_many

    ids, docs, metas = source["ids"], source["documents"], source["metadatas"]
    texts = [
        f"{m['header']}\n\n{d}" if m.get("header") else d for d, m in zip(docs, metas, strict=True)
    ]
    tokens = tokenize_many(texts)
    sentences = [sentence_stems(d) for d in docs]
    total = service.store.count_chunks()

    stamps = [float(m.get("indexed_at", 0.0) or 0.0) for m in metas]  # copied with the chunks

    def replicated():
        for done in range(total):
            copy, i = divmod(done, len(ids))
            suffix = f"#copy{copy}" if copy else ""
            meta = metas[i]
            yield LexicalDoc(
                chunk_id=ids[i] + suffix,
                article_id=str(meta["article_id"]) + suffix,
                tokens=tokens[i],
                published_ts=int(meta.get("published_ts", 0) or 0),
                source=str(meta.get("source", "")),
                stamp=stamps[i],
                sentences=sentences[i],
            )

    report = index.build(
        replicated(),
        revision=service.store.revision(),
        watermark=max(stamps, default=0.0),
        # The collection is complete before this runs (scale_build.py): nothing stamped
        # earlier can still appear, so the first write need not re-read the copies of the
        # last SKEW_S of the source ingest (they share its stamps: 20k rows at 257k chunks).
        looked_back_at=time.time(),
        rows_per_segment=125_000,
    )
    seconds = round(time.perf_counter() - started, 1)
    return {"cached": False, "seconds": seconds, "rows": report.added_rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--source-dir", type=Path, default=Path("/tmp/mhr"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/newsqa-scale"))
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--port", type=int, default=18765)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument(
        "--filters",
        type=int,
        default=0,
        help="also time Chroma's filtered queries over N questions",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--watch", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--write", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--delete", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--collection", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--bm25-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.write:
        return write_article(args)

    from benchmarks.scale_build import SMALL, build, chroma_server, large_name, read_all
    from index.settings import Settings
    from index.store import open_client
    from qa.eval.retrieval import open_multihop_index

    source_settings = Settings(data_dir=args.source_dir)
    try:  # an index there is used as it is (the JSON reports its size)
        open_client(source_settings).get_collection(SMALL, embedding_function=None)
    except Exception:  # none yet: ingest MultiHop-RAG into --source-dir (tens of minutes)
        open_multihop_index(source_settings)
    bm25_dir = args.cache / "bm25"
    large = large_name(args.chunks)
    loads: list[list[float]] = [list(os.getloadavg())]
    with chroma_server(args.cache / "chroma", args.port, args.cache / "chroma.log") as url:
        started = time.perf_counter()
        build(args.source_dir, url, args.chunks, args.seed)
        build_s = time.perf_counter() - started
        chunks = open_client(source_settings).get_collection(SMALL, embedding_function=None)
        source = read_all(chunks, ["documents", "metadatas"])
        lexical = {
            "small": build_lexical(SMALL, url, bm25_dir, None),
            "large": build_lexical(large, url, bm25_dir, source),
        }
        print(f"built: chroma {build_s:.0f} s, lexical {lexical}", file=sys.stderr)
        rounds: dict[str, list[dict[str, Any]]] = {"small": [], "large": []}
        for _ in range(args.rounds):
            for label, collection in (("small", SMALL), ("large", large)):
                rounds[label].append(run_worker(collection, url, bm25_dir, args.queries))
                loads.append(list(os.getloadavg()))
        visible = {
            "shared": ingest_visible(large, url, bm25_dir, shared=True),
            "own_copy": ingest_visible(large, url, bm25_dir, shared=False),
        }
        filters = None
        if args.filters:
            from qa.eval.multihop import load_queries

            questions = [q.query for q in load_queries("dev")[: args.filters]]
            filters = {
                "small": filter_costs(SMALL, url, source, questions),
                "large": filter_costs(large, url, source, questions),
            }
    small, big = _median(rounds["small"]), _median(rounds["large"])
    report = {
        "small": small,
        "large": big,
        "ratios": {
            key: round(big[key] / small[key], 2)
            for key in ("rss_mb", "startup_s", "p50_ms", "p95_ms")
        },
        "ingest_visible": visible,
        "filters": filters,
        "rounds": args.rounds,
        "queries": args.queries,
        "lexical_build": lexical,
        "machine": {
            "cores": os.cpu_count(),
            "load_average_1_5_15": [[round(x, 1) for x in load] for load in loads],
            "idle": False,
        },
    }
    print(json.dumps(report, indent=None if args.json else 1))


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per numeric field, the median over rounds (the per-round values kept beside it)."""
    out: dict[str, Any] = {}
    for key, value in results[0].items():
        values = [r[key] for r in results]
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = round(statistics.median(values), 2)
            if len(set(values)) > 1:
                out[f"{key}_rounds"] = values
        elif key == "stage_p50_ms":
            out[key] = {
                name: round(statistics.median(r[key].get(name, 0.0) for r in results), 1)
                for name in value
            }
        else:
            out[key] = value
    return out


if __name__ == "__main__":
    main()
