"""Ingestion benchmark: our pipeline vs the embedding model alone vs plain llama-index.

    .venv/bin/python benchmarks/ingest.py [--limit N] [--repeat R] [--dir DIR] [--skip-llama]

From an empty index in a temp dir (on disk unless --dir says otherwise) it ingests the
MultiHop-RAG corpus (or its first N articles) and prints: articles, chunks, wall and CPU seconds,
chunks/s, peak RSS; the throughput of `embed_texts` alone on the very same chunk texts and our
ratio to it (goal >= 0.85: the pipeline costs little beyond the model); a plain llama-index
`VectorStoreIndex.from_documents` with the same embedding object and SentenceSplitter(256, 32)
and our speed ratio to it (goal >= 1.0); and a re-ingest of the unchanged corpus (goal: 0
embeddings, <= 5 s). With --repeat R each timed run is repeated R times, interleaved (the
machine is shared, so rounds see similar load), and medians are printed.
"""

from __future__ import annotations

from index.offline import apply_offline_defaults

apply_offline_defaults()

# ruff: noqa: E402 - imports after the offline env defaults
import argparse
import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.embedding import make_embedding
from index.loaders import load_paths
from index.models import Article
from index.service import IndexService, embed_function
from index.settings import Settings
from qa.eval.multihop import corpus_path, corpus_records

CORPUS = corpus_path()
GOAL_VS_MODEL = 0.85
GOAL_VS_LLAMA = 1.0
GOAL_REINGEST_S = 5.0


@dataclass
class Timing:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self, wall: float, cpu: float) -> None:
        self.wall.append(wall)
        self.cpu.append(cpu)

    @property
    def wall_s(self) -> float:
        return statistics.median(self.wall)

    @property
    def cpu_s(self) -> float:
        return statistics.median(self.cpu)


def timed(run: Callable[[], Any], timing: Timing) -> Any:
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    timing.add(time.perf_counter() - wall, time.process_time() - cpu)
    return result


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def warm_up(articles: list[Article], embedding: Any) -> None:
    """Pay one-time costs (chromadb/nltk/tiktoken imports, onnxruntime's first run) outside
    any timer, so whichever contender runs first is not charged for them."""
    import chromadb  # noqa: F401 - ~2 s of imports on first use

    from index.chunking import chunk_article

    chunks = chunk_article(articles[0])
    embed_function(embedding)([c.search_text for c in chunks[:4]])


def corpus_file(limit: int | None, scratch: Path) -> Path:
    if limit is None:
        return CORPUS
    records = corpus_records()[:limit]
    path = scratch / "corpus.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


# --- the three contenders ----------------------------------------------------------------------


def run_pipeline(path: Path, embedding: Any, base: Path | None) -> tuple[IndexService, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-ingest-", dir=base))
    service = IndexService(Settings(data_dir=data_dir, chroma_url=None), embedding=embedding)
    report = service.ingest_paths([path])
    if report.failed:
        raise SystemExit(f"ingest failed: {report.errors[:3]}")
    return service, report


def run_model_only(texts: list[str], embedding: Any) -> int:
    vectors = embed_function(embedding)(texts)
    return len(vectors)


def run_llama_index(articles: list[Article], embedding: Any, scratch: Path) -> int:
    """Plain llama-index: Documents -> SentenceSplitter(256, 32) -> embed -> vector store.

    Everything is passed explicitly; llama-index's global Settings are never touched.
    """
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter

    documents = [
        Document(
            text=a.body,
            id_=a.article_id,
            metadata={"title": a.title, "source": a.source, "published": a.published_date},
        )
        for a in articles
    ]
    store, count = _llama_vector_store(scratch)
    index = VectorStoreIndex.from_documents(
        documents,
        storage_context=StorageContext.from_defaults(vector_store=store),
        embed_model=embedding,
        transformations=[SentenceSplitter(chunk_size=256, chunk_overlap=32)],
        show_progress=False,
    )
    # A vector store that keeps the text (Chroma) leaves nodes_dict empty: count in the store.
    return count() if count else len(index.index_struct.nodes_dict)


def _llama_vector_store(scratch: Path) -> tuple[Any, Callable[[], int] | None]:
    """An on-disk Chroma (like ours) when llama-index-vector-stores-chroma is installed, else
    llama-index's in-memory default; and a function counting what was stored."""
    try:
        import chromadb
        from llama_index.vector_stores.chroma import ChromaVectorStore
    except ImportError:
        return None, None
    path = Path(tempfile.mkdtemp(prefix="bench-llama-", dir=scratch))
    collection = chromadb.PersistentClient(path=str(path)).get_or_create_collection("bench")
    return ChromaVectorStore(chroma_collection=collection), collection.count


def llama_store_name() -> str:
    try:
        import llama_index.vector_stores.chroma  # noqa: F401
    except ImportError:
        return "SimpleVectorStore (in memory; llama-index-vector-stores-chroma not installed)"
    return "ChromaVectorStore (PersistentClient on disk, like ours)"


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="first N articles only")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs each (medians)")
    parser.add_argument("--dir", type=Path, default=None, help="where temp indexes go")
    parser.add_argument("--skip-llama", action="store_true", help="no llama-index baseline")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="bench-scratch-", dir=args.dir))
    made: list[Path] = [scratch]
    try:
        results = bench(args, scratch, made)
    finally:
        for path in made:
            shutil.rmtree(path, ignore_errors=True)
    print(json.dumps(results))


def bench(args: argparse.Namespace, scratch: Path, made: list[Path]) -> dict[str, Any]:
    path = corpus_file(args.limit, scratch)
    articles = [a for a in load_paths([path]) if isinstance(a, Article)]
    log(f"{len(articles)} articles from {path}")
    settings = Settings()
    started = time.perf_counter()
    embedding = make_embedding(settings)
    log(f"embedding model loaded in {time.perf_counter() - started:.1f} s")

    warm_up(articles, embedding)

    ours, model, llama, reingest = Timing(), Timing(), Timing(), Timing()
    state: dict[str, Any] = {"texts": [], "rss": 0.0, "llama_nodes": 0}

    def pipeline() -> None:
        service, report = timed(lambda: run_pipeline(path, embedding, args.dir), ours)
        made.append(service.settings.data_dir)
        # Round 1 runs our pipeline first, so this peak is ours (model included), not llama's.
        state.update(service=service, report=report, rss=state["rss"] or peak_rss_mb())
        if not state["texts"]:
            state["texts"] = [chunk.search_text for chunk in service.store.iter_chunks()]

    def model_only() -> None:  # on the pipeline's own chunk texts (round 1 made them first)
        timed(lambda: run_model_only(state["texts"], embedding), model)

    def llama_index() -> None:
        state["llama_nodes"] = timed(lambda: run_llama_index(articles, embedding, scratch), llama)

    contenders = [("our pipeline", pipeline), ("embed_texts alone", model_only)]
    if not args.skip_llama:
        contenders.append(("llama-index VectorStoreIndex.from_documents", llama_index))
    run_rounds(contenders, args.repeat)
    service, report = state.get("service"), state.get("report")
    texts, llama_nodes, rss_after_pipeline = state["texts"], state["llama_nodes"], state["rss"]
    assert service is not None and report is not None
    check_reingest_is_free(service, path, reingest)

    results = summarise(service, args, ours, model, reingest, len(texts), rss_after_pipeline)
    if not args.skip_llama:
        results.update(llama_figures(ours, llama, llama_nodes))
    print_summary(results)
    return results


def run_rounds(contenders: list[tuple[str, Callable[[], None]]], repeat: int) -> None:
    for round_no in range(repeat):
        # Rotate who goes first: load on a shared machine drifts, and drift then evens out.
        shift = round_no % len(contenders)
        for name, run in contenders[shift:] + contenders[:shift]:
            log(f"round {round_no + 1}/{repeat}: {name}")
            run()


def check_reingest_is_free(service: Any, path: Path, reingest: Timing) -> None:
    """Time three unchanged re-ingests (cheap: nothing is embedded or written) and fail loudly
    if one did work."""
    for _ in range(3):
        again = timed(lambda: service.ingest_paths([path]), reingest)
        if again.embedded or again.added or again.updated:
            raise SystemExit(f"unchanged re-ingest did work: {again.to_dict()}")


def summarise(
    service: Any,
    args: argparse.Namespace,
    ours: Timing,
    model: Timing,
    reingest: Timing,
    n_texts: int,
    rss_after_pipeline: float,
) -> dict[str, Any]:
    """The pipeline-vs-model figures of one benchmark run."""
    n_chunks = service.store.count_chunks()
    return {
        "articles": service.store.count_articles(),
        "chunks": n_chunks,
        "repeat": args.repeat,
        "pipeline_wall_s": round(ours.wall_s, 2),
        "pipeline_cpu_s": round(ours.cpu_s, 2),
        "pipeline_chunks_per_s": round(n_chunks / ours.wall_s, 2),
        "peak_rss_mb_after_pipeline": round(rss_after_pipeline, 1),
        "model_wall_s": round(model.wall_s, 2),
        "model_cpu_s": round(model.cpu_s, 2),
        "model_chunks_per_s": round(n_texts / model.wall_s, 2),
        "ratio_pipeline_to_model": round(model.wall_s / ours.wall_s, 3),
        "ratio_pipeline_to_model_cpu": round(model.cpu_s / ours.cpu_s, 3),
        "reingest_wall_s": round(reingest.wall_s, 2),
        "reingest_embedded": 0,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def llama_figures(ours: Timing, llama: Timing, llama_nodes: int) -> dict[str, Any]:
    """Plain llama-index against our pipeline, same embedding object, same run."""
    return {
        "llama_store": llama_store_name(),
        "llama_nodes": llama_nodes,
        "llama_wall_s": round(llama.wall_s, 2),
        "llama_cpu_s": round(llama.cpu_s, 2),
        "llama_chunks_per_s": round(llama_nodes / llama.wall_s, 2),
        "speedup_vs_llama": round(llama.wall_s / ours.wall_s, 3),
        "speedup_vs_llama_cpu": round(llama.cpu_s / ours.cpu_s, 3),
    }


def print_summary(r: dict[str, Any]) -> None:
    def verdict(ok: bool) -> str:
        return "ok" if ok else "BELOW GOAL"

    lines = [
        f"articles {r['articles']}, chunks {r['chunks']} (medians of {r['repeat']} run(s))",
        f"our pipeline     {r['pipeline_wall_s']:8.1f} s wall  {r['pipeline_cpu_s']:8.1f} s cpu"
        f"  {r['pipeline_chunks_per_s']:7.1f} chunks/s",
        f"embed_texts only {r['model_wall_s']:8.1f} s wall  {r['model_cpu_s']:8.1f} s cpu"
        f"  {r['model_chunks_per_s']:7.1f} chunks/s",
        f"pipeline/model   {r['ratio_pipeline_to_model']:.3f} wall, "
        f"{r['ratio_pipeline_to_model_cpu']:.3f} cpu  (goal >= {GOAL_VS_MODEL}: "
        f"{verdict(r['ratio_pipeline_to_model'] >= GOAL_VS_MODEL)})",
    ]
    if "llama_wall_s" in r:
        lines += [
            f"llama-index      {r['llama_wall_s']:8.1f} s wall  {r['llama_cpu_s']:8.1f} s cpu"
            f"  {r['llama_chunks_per_s']:7.1f} chunks/s  ({r['llama_nodes']} nodes, "
            f"{r['llama_store']})",
            f"ours vs llama    {r['speedup_vs_llama']:.3f}x wall, "
            f"{r['speedup_vs_llama_cpu']:.3f}x cpu  (goal >= {GOAL_VS_LLAMA}: "
            f"{verdict(r['speedup_vs_llama'] >= GOAL_VS_LLAMA)})",
        ]
    lines += [
        f"re-ingest unchanged {r['reingest_wall_s']:.2f} s, 0 embedded "
        f"(goal <= {GOAL_REINGEST_S} s: {verdict(r['reingest_wall_s'] <= GOAL_REINGEST_S)})",
        f"peak RSS {r['peak_rss_mb_after_pipeline']:.0f} MB after our pipeline, "
        f"{r['peak_rss_mb']:.0f} MB overall",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
