"""The retrieval harness: every ablation row over one split in one run, plus stage latencies.

    run_retrieval_eval(settings, "test") -> {"split", "queries", "metrics", "latency_ms",
                                             "ablation": [{"name", "stages", "metrics"}], ...}

The corpus lives in its own collection ("multihop-rag") under `settings.data_dir`; it is ingested
when missing or incomplete and reused otherwise (ingestion skips articles already stored).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from index.settings import Settings
from qa.eval.multihop import (
    METRIC_NAMES,
    MultiHopQuery,
    Split,
    corpus_path,
    load_queries,
    mean_metrics,
    retrieval_metrics,
)
from qa.types import SearchResult

COLLECTION = "multihop-rag"
CORPUS_ARTICLES = 609
ABLATION = (
    "bm25",
    "dense",
    "rrf",
    "hybrid",
    "hybrid+priors",
    "hybrid+priors+diversity",
    "rerank",
    "full",
)
MAIN = "full"


def open_multihop_index(
    settings: Settings, data_dir: Path | None = None, progress: Callable[..., None] | None = None
):
    """The MultiHop-RAG index service, ingesting the corpus first if it is not all there."""
    from index.service import IndexService

    service = IndexService(settings, collection=COLLECTION)
    if service.store.count_articles() < CORPUS_ARTICLES:
        service.ingest_paths([corpus_path(data_dir)], progress=progress)
    return service


def run_retrieval_eval(
    settings: Settings,
    split: Split = "test",
    k: int = 10,
    limit: int | None = None,
    ablation: Sequence[str] = ABLATION,
    data_dir: Path | None = None,
    retriever: Any = None,
    queries: Sequence[MultiHopQuery] | None = None,
) -> dict[str, Any]:
    """Evaluate retrieval on the non-null queries of `split` (the first `limit` of them).

    `retriever` and `queries` let tests run the harness over a small index and the queries whose
    gold articles are in it."""
    from qa.retrieval import Retriever

    if queries is None:
        queries = load_queries(split, data_dir)
    queries = list(queries)[:limit]
    if retriever is None:
        retriever = Retriever(open_multihop_index(settings, data_dir), settings)
    names = list(dict.fromkeys([*ablation, MAIN]))
    # The main pipeline runs first for each question, so its timings include embedding the
    # question; the ablation rows after it reuse the cached query vector.
    run_order = [MAIN, *(name for name in names if name != MAIN)]
    per_stage: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    timings: list[dict[str, float]] = []
    started = time.perf_counter()
    for query in queries:
        for name in run_order:
            result = retriever.search(query.query, k=k, stages=name)
            per_stage[name].append(_score(result, query, k))
            if name == MAIN:
                timings.append({**result.timings_ms, "total": sum(result.timings_ms.values())})
    return {
        "split": split,
        "queries": len(queries),
        "k": k,
        "metrics": mean_metrics(per_stage[MAIN]),
        "latency_ms": _latency(timings),
        "ablation": [
            {"name": name, "stages": _describe(name), "metrics": mean_metrics(per_stage[name])}
            for name in names
        ],
        "by_type": _by_type(queries, per_stage[MAIN]),
        "reranker": getattr(getattr(retriever, "model", None), "info", {}) or {},
        "wall_s": round(time.perf_counter() - started, 1),
    }


def _score(result: SearchResult, query, k: int) -> dict[str, float]:
    return retrieval_metrics(
        [p.text for p in result.passages],
        query.facts,
        [{p.article_id, *p.also_reported_by} for p in result.passages],
        query.urls,
        k=k,
    )


def _describe(name: str) -> str:
    from qa.retrieval import resolve_stages

    return resolve_stages(name).describe()


def _latency(timings: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    stages = sorted({key for t in timings for key in t})
    out = {}
    for stage in stages:
        values = sorted(t[stage] for t in timings if stage in t)
        out[stage] = {
            "p50": round(statistics.median(values), 2),
            "p95": round(values[min(len(values) - 1, int(0.95 * len(values)))], 2),
        }
    return out


def _by_type(queries, per_query: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[dict[str, float]]] = {}
    for query, metrics in zip(queries, per_query, strict=True):
        groups.setdefault(query.question_type, []).append(metrics)
    return {
        name: {"queries": len(group), **mean_metrics(group)}
        for name, group in sorted(groups.items())
    }


def format_retrieval_report(report: dict[str, Any]) -> str:
    """The human-readable tables: ablation, per question type, latency."""
    short = {
        "hits@10": "Hits@10",
        "hits@4": "Hits@4",
        "mrr@10": "MRR@10",
        "map@10": "MAP@10",
        "evidence_recall@10": "EvRec@10",
        "all_evidence@10": "AllEv@10",
        "article_recall@10": "ArtRec@10",
    }
    width = max([len(row["name"]) for row in report["ablation"]] + [24])
    header = f"{'stages':<{width}} " + " ".join(f"{short[m]:>9}" for m in METRIC_NAMES)
    lines = [
        f"MultiHop-RAG retrieval — split {report['split']}, {report['queries']} non-null "
        f"queries, k={report.get('k', 10)}",
        "",
        header,
        "-" * len(header),
    ]
    for row in report["ablation"]:
        lines.append(
            f"{row['name']:<{width}} "
            + " ".join(f"{row['metrics'][m]:>9.4f}" for m in METRIC_NAMES)
        )
    if report.get("by_type"):
        lines += ["", "full pipeline by question type:"]
        for name, row in report["by_type"].items():
            label = f"{name} ({row['queries']})"
            lines.append(f"{label:<{width}} " + " ".join(f"{row[m]:>9.4f}" for m in METRIC_NAMES))
    lines += [
        "",
        "latency per query (ms, full pipeline): "
        + ", ".join(
            f"{stage} p50 {v['p50']:.1f} / p95 {v['p95']:.1f}"
            for stage, v in report["latency_ms"].items()
        ),
    ]
    return "\n".join(lines)
