"""What one search reads, and from where: nothing that grows with the corpus is held per worker.

- The lexical view (`index.lexical`): BM25 over every chunk plus four small per-row arrays
  (live, date, outlet, length norm), memory-mapped from the segments on disk. `LexicalCache`
  keeps one per index directory and process, and follows the store's revision.
- Chroma's vector index (`DenseSearch`): the nearest chunks to the question, with the date and
  outlet filters pushed down as `where` clauses when they are selective, and an unfiltered query
  post-filtered when they are not (a filtered query makes Chroma scan the matching rows).
- The candidates' data (`fetch_chunks`): text, metadata, sentence vectors and vector of the
  ~100 rows the reranker looks at, by id in one round trip, and the near-duplicate links of
  their articles from the catalog.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from index.lexical import LexicalIndex, LexicalView, lexical_dir
from index.sentences import METADATA_KEY as SENTENCE_VECTORS_KEY
from index.sentences import decode_vectors
from index.settings import Settings
from index.store import CATALOG_SUFFIX, ArticleStore, local_write_count

log = logging.getLogger(__name__)

# How long a revision check stays valid. Reading the revision is a Chroma round trip (a few ms,
# more on a busy server); questions arriving within this window reuse the last answer, so a write
# by any process is seen by searches that start at most this long after it.
REVISION_TTL_S = 0.5


class DenseParams(BaseModel):
    """How the dense candidates are asked of Chroma (set by measurement, docs/performance.md)."""

    depth: int = Field(
        default=100,
        ge=10,
        description="Nearest chunks asked for (the reranker's dense ranks are ranks among "
        "these; a chunk below them ranks `depth`).",
    )
    max_depth: int = Field(
        default=1000, ge=10, description="Cap on the depth of a post-filtered query."
    )
    push_down_below: float = Field(
        default=0.05,
        gt=0,
        le=1,
        description="Filters that keep less than this share of the chunks are pushed down to "
        "Chroma as a `where` clause; broader ones post-filter an unfiltered query of depth / "
        "share (Chroma scans every matching row of a filtered query).",
    )


# --- the lexical view, per process ---------------------------------------------------------------


class LexicalCache:
    """The current lexical view per index directory, shared by every Retriever in the process."""

    _lock = threading.Lock()
    _checked: dict[Path, tuple[float, int, str]] = {}  # noqa: RUF012 - (time, local writes, rev)
    # The indexes searched last, most recent last: they stay open (and their views with them)
    # even when no store of this process keeps them alive; older ones are released.
    _recent: list[LexicalIndex] = []  # noqa: RUF012
    KEEP_OPEN = 4

    @classmethod
    def get(cls, settings: Settings, store: ArticleStore) -> LexicalView:
        if not store.exists:  # nothing ingested yet: nothing to build (nor files to leave)
            return LexicalView({"revision": "0"}, [], [])
        directory = lexical_dir(settings, store.name).resolve()
        index = LexicalIndex.at(directory)
        cls._keep(index)
        now, writes = time.monotonic(), local_write_count()
        checked_at, writes_then, revision_then = cls._checked.get(directory, (0.0, -1, ""))
        view = index.view()
        if (
            view is not None
            and view.revision == revision_then
            and writes == writes_then
            and now - checked_at < REVISION_TTL_S
        ):
            return view
        revision = store.revision()
        if view is None or view.revision != revision:
            _retire_old_snapshot(settings, store.name)
            # Another process may be writing it (then we serve the view we have and look again
            # after REVISION_TTL_S); with no view at all we wait for it.
            index.sync(store, blocking=view is None)
            view = index.view()
            if view is None:
                raise RuntimeError(f"no lexical index in {directory}")
        with cls._lock:
            cls._checked[directory] = (time.monotonic(), writes, view.revision)
        return view

    @classmethod
    def _keep(cls, index: LexicalIndex) -> None:
        with cls._lock:
            if cls._recent and cls._recent[-1] is index:
                return
            cls._recent = [i for i in cls._recent if i is not index][-(cls.KEEP_OPEN - 1) :]
            cls._recent.append(index)
            if len(cls._checked) > 64:  # directories searched once long ago
                cls._checked = {
                    i.directory: cls._checked[i.directory]
                    for i in cls._recent
                    if i.directory in cls._checked
                }

    @classmethod
    def report_missing(
        cls, settings: Settings, store: ArticleStore, view: LexicalView, rows: list[int]
    ) -> None:
        """Rows a search found Chroma no longer holds: out of the view now, tombstoned on disk
        by the next sync."""
        LexicalIndex.at(lexical_dir(settings, store.name).resolve()).report_missing(view, rows)

    @classmethod
    def forget(cls) -> None:
        """Behave like a fresh process: no view, no revision check remembered."""
        with cls._lock:
            cls._checked.clear()
            cls._recent.clear()
        LexicalIndex.forget()


def _retire_old_snapshot(settings: Settings, collection: str) -> None:
    """Earlier builds kept a whole-corpus snapshot in bm25/<collection>/ (format 2); it is never
    read again and can be GBs."""
    old = settings.bm25_path / collection
    try:
        manifest = json.loads((old / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if manifest.get("format") == 2 and "chunks" in manifest:
        log.info("removing the retrieval snapshot of an earlier build: %s", old)
        shutil.rmtree(old, ignore_errors=True)


# --- dense candidates from Chroma ---------------------------------------------------------------


@dataclass(frozen=True)
class HardFilter:
    """The rows a search may return: a date range and outlets (all None: everything)."""

    since_ts: int | None = None
    until_ts: int | None = None  # exclusive
    sources: tuple[str, ...] = ()

    def where(self) -> dict[str, Any] | None:
        clauses: list[dict[str, Any]] = []
        if self.since_ts is not None:
            clauses.append({"published_ts": {"$gte": int(self.since_ts)}})
        if self.until_ts is not None:
            clauses.append({"published_ts": {"$lt": int(self.until_ts)}})
            if self.since_ts is None:  # an undated article (0) is in no date range
                clauses.append({"published_ts": {"$gt": 0}})
        if self.sources:
            clauses.append({"source": {"$in": list(self.sources)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


@dataclass
class DenseHits:
    """Nearest allowed rows, best first, and their cosines."""

    rows: np.ndarray
    cosines: np.ndarray
    # Every allowed row is among them (a pushed-down query that returned fewer than asked).
    complete: bool = False
    queries: int = 0  # Chroma round trips it took

    @classmethod
    def empty(cls) -> DenseHits:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0), complete=True)


class DenseSearch:
    """Chroma's HNSW index behind one question."""

    def __init__(self, store: ArticleStore, params: DenseParams) -> None:
        self.store = store
        self.dimension_guard = store.dimension_guard
        self.params = params

    @property
    def collection(self) -> Any:
        """Looked up per query: an index created after this process started is found."""
        return self.store.chunk_collection

    def nearest(
        self,
        view: LexicalView,
        vector: np.ndarray,
        allowed: np.ndarray,
        hard: HardFilter,
        depth: int | None = None,
        allowed_count: int | None = None,
    ) -> DenseHits:
        """The `depth` nearest allowed rows (allowed: live rows the hard filter keeps)."""
        depth = depth or self.params.depth
        live = max(view.live, 1)
        count = int(allowed.sum()) if allowed_count is None else allowed_count
        if count == 0:
            return DenseHits.empty()
        share = count / live
        where = hard.where()
        if where is None:
            return self._query(view, vector, allowed, depth, None, complete_if_short=True)
        if share < self.params.push_down_below:
            return self._query(view, vector, allowed, depth, where, complete_if_short=True)
        # Deep enough to keep `depth` allowed rows if they are spread like the rest; deeper
        # (at most max_depth) when they turn out to lie farther from the question.
        wide = min(self.params.max_depth, math.ceil(depth / share * 1.2))
        queries = 0
        while True:
            hits = self._query(view, vector, allowed, wide, None, complete_if_short=True)
            queries += 1
            if len(hits.rows) >= depth or hits.complete or wide >= self.params.max_depth:
                break
            wide = min(self.params.max_depth, wide * 4)
        hits.rows, hits.cosines = hits.rows[:depth], hits.cosines[:depth]
        hits.queries = queries
        return hits

    def _query(
        self,
        view: LexicalView,
        vector: np.ndarray,
        allowed: np.ndarray,
        n: int,
        where: dict[str, Any] | None,
        complete_if_short: bool,
    ) -> DenseHits:
        n = max(1, min(n, view.live))
        with self.dimension_guard():
            got = self.collection.query(
                query_embeddings=[vector.astype(np.float32).tolist()],
                n_results=n,
                where=where,
                include=["distances"],
            )
        ids, distances = got["ids"][0], got["distances"][0]
        rows = view.rows_of(ids)
        cosines = 1.0 - np.asarray(distances, dtype=np.float64)
        keep = rows >= 0
        keep[keep] = allowed[rows[keep]]
        complete = complete_if_short and len(ids) < n
        return DenseHits(rows[keep], cosines[keep], complete=complete, queries=1)


# --- the candidates' data ------------------------------------------------------------------------


@dataclass
class Chunks:
    """The data of one search's candidate rows (keyed by row of the view), fetched from Chroma.

    Attribute names follow the old whole-corpus snapshot, so code that reads `texts[row]` or
    `article_ids[row]` of a candidate reads it here."""

    view: LexicalView
    chunk_ids: dict[int, str] = field(default_factory=dict)
    texts: dict[int, str] = field(default_factory=dict)
    metas: dict[int, dict[str, Any]] = field(default_factory=dict)
    article_ids: dict[int, str] = field(default_factory=dict)
    sources: dict[int, str] = field(default_factory=dict)
    vectors: dict[int, np.ndarray] = field(default_factory=dict)
    sentence_codes: dict[int, np.ndarray | None] = field(default_factory=dict)
    near_duplicates: dict[str, list[str]] = field(default_factory=dict)

    def search_text(self, row: int) -> str:
        header = self.metas[row].get("header", "")
        return f"{header}\n\n{self.texts[row]}" if header else self.texts[row]

    def __contains__(self, row: int) -> bool:
        return row in self.texts


def fetch_chunks(
    store: ArticleStore, view: LexicalView, rows: list[int], chunks: Chunks | None = None
) -> tuple[Chunks, list[int]]:
    """Text, metadata, vector and sentence vectors of `rows` (one get by id), and the
    near-duplicate links of their articles (one catalog get). Returns the chunks and the rows
    Chroma no longer holds (deleted by another process)."""
    chunks = chunks or Chunks(view)
    todo = [r for r in rows if r not in chunks]
    if not todo:
        return chunks, []
    ids = view.chunk_ids(todo)
    articles = sorted({view.article_id(r) for r in todo} - set(chunks.near_duplicates))
    # The two gets are independent: the catalog's runs beside the chunks' (a round trip each).
    links = _POOL.submit(_near_duplicates, store, articles) if articles else None
    got = store.chunk_collection.get(ids=ids, include=["documents", "metadatas", "embeddings"])
    by_id = {
        cid: (doc, meta, vector)
        for cid, doc, meta, vector in zip(
            got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True
        )
    }
    missing = []
    for row, chunk_id in zip(todo, ids, strict=True):
        found = by_id.get(chunk_id)
        if found is None:
            missing.append(row)
            continue
        doc, meta, vector = found
        meta = dict(meta or {})
        codes = meta.pop(SENTENCE_VECTORS_KEY, None)
        chunks.chunk_ids[row] = chunk_id
        chunks.texts[row] = doc or ""
        chunks.metas[row] = meta
        chunks.article_ids[row] = str(meta.get("article_id", ""))
        chunks.sources[row] = str(meta.get("source", ""))
        chunks.vectors[row] = np.asarray(vector, dtype=np.float32)
        chunks.sentence_codes[row] = decode_vectors(codes) if codes else None
    if links is not None:
        chunks.near_duplicates.update(links.result())
    return chunks, missing


_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="chroma-fetch")


def _near_duplicates(store: ArticleStore, article_ids: list[str]) -> dict[str, list[str]]:
    catalog = store.catalog_collection
    got = catalog.get(ids=article_ids, include=["metadatas"])
    links: dict[str, list[str]] = {a: [] for a in article_ids}
    for article_id, meta in zip(got["ids"], got["metadatas"], strict=True):
        links[article_id] = json.loads(str((meta or {}).get("near_duplicates", "[]")) or "[]")
    return links


__all__ = [
    "CATALOG_SUFFIX",
    "REVISION_TTL_S",
    "Chunks",
    "DenseHits",
    "DenseParams",
    "DenseSearch",
    "HardFilter",
    "LexicalCache",
    "fetch_chunks",
]
