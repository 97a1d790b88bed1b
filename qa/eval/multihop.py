"""MultiHop-RAG data and the paper's retrieval metrics, exactly as its `retrieval_evaluate.py`
computes them (see /work/shared/data/multihop-rag/README.md), plus evidence/article recall.

Relevance is fact-level: a chunk is relevant when a gold fact, with spaces and newlines removed,
is a substring of the chunk's body text with spaces and newlines removed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from index.settings import MULTIHOP_DIR

DEFAULT_DATA_DIR = MULTIHOP_DIR
Split = Literal["dev", "test", "all"]


@dataclass(frozen=True)
class MultiHopQuery:
    index: int  # position in MultiHopRAG.json
    query: str
    answer: str
    question_type: str
    facts: tuple[str, ...]  # one per evidence item, duplicates kept (the paper's denominator)
    urls: tuple[str, ...]  # distinct gold article urls

    @property
    def is_null(self) -> bool:
        return self.question_type == "null_query"


def data_dir(path: Path | None = None) -> Path:
    return Path(path or os.environ.get("QA_MULTIHOP_DIR") or DEFAULT_DATA_DIR)


def load_corpus_path(path: Path | None = None) -> Path:
    return data_dir(path) / "corpus.json"


def load_queries(
    split: Split = "all", path: Path | None = None, include_null: bool = False
) -> list[MultiHopQuery]:
    """Queries of a split (split.json holds 0-based indices), in file order."""
    root = data_dir(path)
    records = json.loads((root / "MultiHopRAG.json").read_text(encoding="utf-8"))
    if split == "all":
        indices = list(range(len(records)))
    else:
        indices = sorted(json.loads((root / "split.json").read_text(encoding="utf-8"))[split])
    queries = []
    for i in indices:
        record = records[i]
        evidence = record.get("evidence_list") or []
        query = MultiHopQuery(
            index=i,
            query=record["query"],
            answer=str(record.get("answer", "")),
            question_type=record["question_type"],
            facts=tuple(e["fact"] for e in evidence),
            urls=tuple(dict.fromkeys(e["url"] for e in evidence)),
        )
        if include_null or not query.is_null:
            queries.append(query)
    return queries


def _squash(text: str) -> str:
    return text.replace(" ", "").replace("\n", "")


def fact_in_chunk(fact: str, chunk_text: str) -> bool:
    return _squash(fact) in _squash(chunk_text)


def retrieval_metrics(
    retrieved_texts: Sequence[str],
    facts: Sequence[str],
    retrieved_articles: Sequence[set[str]] = (),
    gold_urls: Sequence[str] = (),
    k: int = 10,
) -> dict[str, float]:
    """One query's metrics. Hits/MRR/MAP follow the paper's code line by line (its MAP divides by
    min(#evidence items, 10), duplicates included); the recall figures count distinct facts/urls.
    `retrieved_articles[i]` is the set of article ids chunk i stands for (itself + near-dups)."""
    gold = [_squash(f) for f in facts]
    chunks = [_squash(t) for t in retrieved_texts[:k]]
    hits10 = hits4 = False
    first_rank = None
    found: list[str] = []
    precision_sum = 0.0
    for rank, chunk in enumerate(chunks, start=1):
        if not any(g in chunk for g in gold):
            continue
        hits10 = True
        hits4 = hits4 or rank <= 4
        first_rank = first_rank or rank
        new = 0
        for g in gold:
            if g in chunk and g not in found:
                new += 1
                found.append(g)
        precision_sum += new / rank
    distinct = set(gold)
    covered = {g for g in distinct if any(g in chunk for chunk in chunks)}
    articles = set().union(*retrieved_articles[:k]) if retrieved_articles else set()
    urls = set(gold_urls)
    return {
        "hits@10": float(hits10),
        "hits@4": float(hits4),
        "mrr@10": 1.0 / first_rank if first_rank else 0.0,
        "map@10": precision_sum / min(len(gold), 10) if gold else 0.0,
        "evidence_recall@10": len(covered) / len(distinct) if distinct else 0.0,
        "all_evidence@10": float(bool(distinct) and covered == distinct),
        "article_recall@10": len(urls & articles) / len(urls) if urls else 0.0,
    }


METRIC_NAMES = (
    "hits@10",
    "hits@4",
    "mrr@10",
    "map@10",
    "evidence_recall@10",
    "all_evidence@10",
    "article_recall@10",
)


def mean_metrics(per_query: Sequence[dict[str, float]]) -> dict[str, float]:
    if not per_query:
        return dict.fromkeys(METRIC_NAMES, 0.0)
    return {
        name: round(sum(m[name] for m in per_query) / len(per_query), 4) for name in METRIC_NAMES
    }
