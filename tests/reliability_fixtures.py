"""Shared pieces of the reliability suites (state machine, crash safety, hostile input).

- `FakeHashEmbedding` / `fake_embed_texts`: a tiny deterministic 16-dim embedding (model id
  "fake-hash-16"), so thousands of index operations run in seconds; the real model is covered by
  tests/test_embedding.py.
- `fast_dir`: a scratch directory on tmpfs when there is one (Chroma's fsyncs dominate otherwise).
- `index_problems`: every way the stored index can disagree with the articles it should hold.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding

from index.chunking import chunk_article
from index.models import Article
from index.store import ArticleStore

REPO = Path(__file__).resolve().parent.parent
FAKE_MODEL_ID = "fake-hash-16"
FAKE_DIM = 16


def fake_vector(text: str) -> list[float]:
    """Unit vector from the text's sha256: equal texts -> equal vectors, else near-orthogonal."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()[:FAKE_DIM]
    vector = np.frombuffer(digest, dtype=np.uint8).astype(np.float64) - 127.5
    return (vector / np.linalg.norm(vector)).tolist()


def fake_embed_texts(texts: Iterable[str]) -> list[list[float]]:
    return [fake_vector(text) for text in texts]


class FakeHashEmbedding(BaseEmbedding):
    """llama-index face of `fake_vector`, for IndexService / Retriever wiring."""

    model_name: str = FAKE_MODEL_ID

    @classmethod
    def class_name(cls) -> str:
        return "FakeHashEmbedding"

    def embed_texts(self, texts: list[str]) -> list[list[float]]:
        return fake_embed_texts(texts)

    def _get_query_embedding(self, query: str) -> list[float]:
        return fake_vector(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return fake_vector(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return fake_embed_texts(texts)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return fake_vector(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return fake_vector(text)


# A process that takes the embedded writer lock of the data dir argv[1] and keeps it.
HOLD = """
import sys, time
from index.settings import Settings
from index.store import hold_writer_lock
hold_writer_lock(Settings(data_dir=sys.argv[1]))
print("held", flush=True)
time.sleep(120)
"""


@contextmanager
def fast_dir(prefix: str = "newsqa-rel-") -> Iterator[Path]:
    """A temporary directory on /dev/shm if present (10x faster Chroma writes), else on /tmp."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def unique_collection(prefix: str = "rel") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --- the index invariants ------------------------------------------------------------------------


def index_problems(
    store: ArticleStore,
    expected: Mapping[str, Article],
    chunk_size: int,
    chunk_overlap: int,
) -> list[str]:
    """Everything wrong with `store` as a home for exactly `expected` (article_id -> Article).

    Empty list = consistent: catalog ids, bodies and hashes match; every article has exactly the
    chunks chunk_article() gives (ids, offsets, texts == body[start:end]), no orphan and no
    duplicate chunk; near-duplicate links are symmetric and point at live articles only.
    """
    problems: list[str] = []
    records = {r.article_id: r for r in store.list_articles(with_body=True)}
    if set(records) != set(expected):
        problems.append(
            f"catalog ids differ: extra={sorted(set(records) - set(expected))[:5]} "
            f"missing={sorted(set(expected) - set(records))[:5]}"
        )
    stored = list(store.iter_chunks())
    ids = [c.chunk_id for c in stored]
    if len(ids) != len(set(ids)):
        problems.append(f"duplicate chunk ids: {len(ids) - len(set(ids))}")
    by_article: dict[str, dict[str, object]] = {}
    for chunk in stored:
        by_article.setdefault(str(chunk.metadata.get("article_id")), {})[chunk.chunk_id] = chunk
    orphans = sorted(set(by_article) - set(expected))
    if orphans:
        problems.append(
            f"orphan chunks of {len(orphans)} article(s) not in the catalog: {orphans[:3]}"
        )
    if store.count_chunks() != len(ids):
        problems.append(f"count_chunks()={store.count_chunks()} but {len(ids)} chunks listed")
    for article_id, article in expected.items():
        problems.extend(
            _article_problems(
                article,
                records.get(article_id),
                by_article.get(article_id, {}),
                chunk_size,
                chunk_overlap,
            )
        )
    problems.extend(link_problems(records))
    return problems


def _article_problems(
    article: Article, record, stored: Mapping[str, object], chunk_size: int, chunk_overlap: int
) -> list[str]:
    article_id = article.article_id
    if record is None:
        return []  # already reported as a missing catalog id
    problems = []
    if record.body != article.body:
        problems.append(f"{article_id}: catalog body differs")
    if record.content_hash != article.content_hash:
        problems.append(f"{article_id}: catalog content hash is stale")
    want = {c.chunk_id: c for c in expected_chunks(article, chunk_size, chunk_overlap)}
    if set(stored) != set(want):
        problems.append(
            f"{article_id}: chunk ids differ: extra={sorted(set(stored) - set(want))}"
            f" missing={sorted(set(want) - set(stored))}"
        )
    if record.n_chunks != len(want):
        problems.append(f"{article_id}: n_chunks={record.n_chunks}, expected {len(want)}")
    for chunk_id, chunk in stored.items():
        meta = chunk.metadata
        start, end = int(meta.get("start", -1)), int(meta.get("end", -1))
        if chunk.text != article.body[start:end]:
            problems.append(f"{chunk_id}: text != body[{start}:{end}]")
        expected_chunk = want.get(chunk_id)
        if expected_chunk is not None and (
            (start, end) != (expected_chunk.start, expected_chunk.end)
            or meta.get("header") != expected_chunk.header
            or meta.get("content_hash") != article.content_hash
        ):
            problems.append(f"{chunk_id}: offsets/header/hash differ from a fresh chunking")
    return problems


_CHUNKS_CACHE: dict[tuple[str, str, int, int], list] = {}


def expected_chunks(article: Article, chunk_size: int, chunk_overlap: int) -> list:
    """chunk_article(), memoised on (id, content hash): splitting costs ~50 ms per article."""
    key = (article.article_id, article.content_hash, chunk_size, chunk_overlap)
    if key not in _CHUNKS_CACHE:
        if len(_CHUNKS_CACHE) > 20_000:
            _CHUNKS_CACHE.clear()
        _CHUNKS_CACHE[key] = chunk_article(article, chunk_size, chunk_overlap)
    return _CHUNKS_CACHE[key]


def link_problems(records: Mapping[str, object]) -> list[str]:
    problems = []
    for article_id, record in records.items():
        for other in record.near_duplicates:
            if other not in records:
                problems.append(f"{article_id}: near-duplicate link to missing {other}")
            elif article_id not in records[other].near_duplicates:
                problems.append(f"near-duplicate link {article_id} -> {other} is one-way")
    return problems


def index_fingerprint(store: ArticleStore) -> dict[str, object]:
    """What two equal indexes share: ids, chunk ids, texts/offsets, hashes, links, counts."""
    records = store.list_articles(with_body=True)
    chunks = sorted(store.iter_chunks(), key=lambda c: c.chunk_id)
    return {
        "articles": sorted(
            (r.article_id, r.content_hash, r.n_chunks, tuple(r.near_duplicates)) for r in records
        ),
        "chunks": [
            (
                c.chunk_id,
                c.metadata.get("article_id"),
                c.metadata.get("start"),
                c.metadata.get("end"),
                hashlib.sha256(c.text.encode()).hexdigest()[:16],
            )
            for c in chunks
        ],
        "count_articles": store.count_articles(),
        "count_chunks": store.count_chunks(),
    }


def dump_json(path: Path, value: object) -> None:
    path.write_text(json.dumps(value), encoding="utf-8")


@contextmanager
def shared_clients() -> Iterator[None]:
    """Reuse one Chroma client per (data_dir, chroma_url) and cache datasketch's LSH parameters.

    Both are pure set-up costs (~0.3 s each: chromadb builds its pydantic settings per client;
    MinHashLSH integrates its error curves per instance) that would otherwise dominate a
    state-machine step. Behaviour is unchanged: the same client type talks to the same store.
    """
    import datasketch.lsh

    import index.store

    original_open = index.store.open_client
    original_param = datasketch.lsh._optimal_param
    clients: dict[tuple[str, str | None], object] = {}

    def cached_open(settings):
        key = (str(settings.data_dir), settings.chroma_url)
        if key not in clients:
            clients[key] = original_open(settings)
        return clients[key]

    index.store.open_client = cached_open
    datasketch.lsh._optimal_param = functools.lru_cache(maxsize=8)(original_param)
    try:
        yield
    finally:
        index.store.open_client = original_open
        datasketch.lsh._optimal_param = original_param
