"""MultiHop-RAG data and the paper's retrieval metrics, exactly as its `retrieval_evaluate.py`
computes them (see data/multihop-rag/README.md), plus evidence/article recall.

Relevance is fact-level: a chunk is relevant when a gold fact, with spaces and newlines removed,
is a substring of the chunk's body text with spaces and newlines removed.

The data ships with the package, xz-compressed (`data/multihop-rag/`), so a fresh clone needs
nothing beside it; `QA_MULTIHOP_DIR` or an explicit `path` points at another copy.
"""

from __future__ import annotations

import functools
import hashlib
import json
import lzma
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "data" / "multihop-rag"
Split = Literal["dev", "test", "all"]

# sha256 of the upstream files (uncompressed): a vendored copy that differs is refused, since
# every figure in docs/ is measured on exactly these bytes.
EXPECTED_SHA256 = {
    "corpus.json": "20b61b5ab84de84a927420c5d265b7ec8d859ae49980699958a787ade9e4d28f",
    "MultiHopRAG.json": "03cfb4926461f868684903aadc8024447bdda5bb3f6804741424cce338515bff",
}


class DataError(RuntimeError):
    """The evaluation data is missing or not the published bytes."""


@dataclass(frozen=True)
class MultiHopQuery:
    index: int  # position in MultiHopRAG.json
    query: str
    answer: str
    question_type: str
    facts: tuple[str, ...]  # one per evidence item, duplicates kept (the paper's denominator)
    urls: tuple[str, ...]  # distinct gold article urls
    urls_per_fact: tuple[str, ...] = ()  # the url of each fact, in `facts` order

    @property
    def is_null(self) -> bool:
        return self.question_type == "null_query"


def data_dir(path: Path | None = None) -> Path:
    return Path(path or os.environ.get("QA_MULTIHOP_DIR") or DEFAULT_DATA_DIR)


def read_bytes(name: str, path: Path | None = None) -> bytes:
    """`name` (e.g. "corpus.json") from the data folder, plain or as `name.xz`, hash-checked."""
    return _read_bytes(data_dir(path).resolve(), name)


@functools.cache
def _read_bytes(root: Path, name: str) -> bytes:
    plain, packed = root / name, root / f"{name}.xz"
    if plain.is_file():
        raw = plain.read_bytes()
    elif packed.is_file():
        raw = lzma.decompress(packed.read_bytes())
    else:
        raise DataError(f"MultiHop-RAG file {name} not found in {root} (plain or .xz)")
    expected = EXPECTED_SHA256.get(name)
    if expected and hashlib.sha256(raw).hexdigest() != expected:
        raise DataError(f"{root / name}: not the published MultiHop-RAG file (sha256 differs)")
    return raw


def read_json(name: str, path: Path | None = None) -> Any:
    return json.loads(read_bytes(name, path))


def corpus_records(path: Path | None = None) -> list[dict[str, Any]]:
    """The 609 articles as dicts (title, author, source, published_at, category, url, body)."""
    records: list[dict[str, Any]] = read_json("corpus.json", path)
    return records


def corpus_path(path: Path | None = None) -> Path:
    """A `corpus.json` file to ingest: the plain file when the folder has one, else the vendored
    `.xz` decompressed once into the temp folder (named by its hash, written atomically)."""
    root = data_dir(path)
    if (root / "corpus.json").is_file():
        return root / "corpus.json"
    raw = read_bytes("corpus.json", path)
    cached = Path(tempfile.gettempdir()) / f"newsqa-multihop-{EXPECTED_SHA256['corpus.json'][:16]}"
    target = cached / "corpus.json"
    if not target.is_file() or target.stat().st_size != len(raw):
        cached.mkdir(parents=True, exist_ok=True)
        partial = cached / f".corpus.json.{os.getpid()}"
        partial.write_bytes(raw)
        os.replace(partial, target)
    return target


def load_queries(
    split: Split = "all", path: Path | None = None, include_null: bool = False
) -> list[MultiHopQuery]:
    """Queries of a split (split.json holds 0-based indices), in file order."""
    records = read_json("MultiHopRAG.json", path)
    if split == "all":
        indices = list(range(len(records)))
    else:
        indices = sorted(read_json("split.json", path)[split])
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
            urls_per_fact=tuple(e["url"] for e in evidence),
        )
        if include_null or not query.is_null:
            queries.append(query)
    return queries


def fact_groups(queries: Sequence[MultiHopQuery], by_url: bool = True) -> list[int]:
    """Each query's group: queries sharing a gold (url, fact) pair, directly or through others,
    are one group (split.json keeps groups on one side). A group asks about one story, often
    with one answer, so a split's accuracy has about as many independent samples as groups:
    MultiHop-RAG test's 590 inference queries fall mostly into two groups. `by_url=False`
    joins queries on the fact text alone (the reranker's cross-validation folds)."""
    parent = list(range(len(queries)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[tuple[str, str] | str, int] = {}
    for i, query in enumerate(queries):
        keys = zip(query.urls_per_fact, query.facts, strict=True) if by_url else query.facts
        for key in keys:
            parent[root(i)] = root(first.setdefault(key, i))
    return [root(i) for i in range(len(queries))]


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
