"""An in-memory, on-disk-cached view of one collection at one store revision.

It holds what every query needs without a round trip to Chroma: the chunk texts and metadata, a
BM25 index over `search_text` (header + body, the same text that is embedded), the chunk vectors
(exact dense scores for any candidate, ~1 ms per query at 8k chunks) and the catalog's
near-duplicate links. It is persisted under `settings.bm25_path / <collection>` tagged with the
store revision it was built at, rebuilt only when the store's revision differs (which also catches
another process ingesting into a Chroma server), and loaded once per process.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

from index.sentences import METADATA_KEY as SENTENCE_VECTORS_KEY
from index.sentences import code_scale, decode_vectors, sentence_spans
from index.settings import Settings
from index.store import ArticleStore, local_write_count, open_client
from qa.retrieval.text import content_stems, tokenize, tokenize_many

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: sentence vectors (sentences.npz) moved out of the chunk metadata
_PAGE = 2000
# How long a revision check stays valid. Reading the revision is a Chroma round trip (a few ms,
# more on a busy server); questions arriving within this window reuse the last answer, so a write
# by any process is seen by searches that start at most this long after it.
REVISION_TTL_S = 0.5


@dataclass
class Snapshot:
    revision: str
    ids: list[str]
    texts: list[str]
    metas: list[dict[str, Any]]
    vectors: np.ndarray  # (n, dim) float32, unit norm; (n, 0) when the store has none
    bm25: bm25s.BM25 | None
    near_duplicates: dict[str, list[str]] = field(default_factory=dict)
    # Per row: int8 codes (n_sentences, dim) of index.sentences, or None (not stored).
    sentence_codes: list[np.ndarray | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.n = len(self.ids)
        if not self.sentence_codes:
            self.sentence_codes = [_pop_sentence_codes(meta) for meta in self.metas]
        self.row_of = {cid: i for i, cid in enumerate(self.ids)}
        self.published_ts = np.array(
            [int(m.get("published_ts", 0) or 0) for m in self.metas], dtype=np.int64
        )
        self.sources = [str(m.get("source", "")) for m in self.metas]
        self.source_names = sorted({s for s in self.sources if s})
        source_code = {s: i for i, s in enumerate(self.source_names)}
        self.source_codes = np.array([source_code.get(s, -1) for s in self.sources], dtype=np.int32)
        self.article_ids = [str(m.get("article_id", "")) for m in self.metas]
        article_code: dict[str, int] = {}
        self.article_codes = np.array(
            [article_code.setdefault(a, len(article_code)) for a in self.article_ids],
            dtype=np.int32,
        )
        self.chunk_index = np.array(
            [int(m.get("chunk_index", 0) or 0) for m in self.metas], dtype=np.int32
        )
        self.newest_ts = int(self.published_ts.max()) if self.n else 0
        self._title_stems: dict[int, set[str]] = {}
        self._lower_text: dict[int, str] = {}
        self._sentence_spans: dict[int, list[tuple[int, int]]] = {}
        self._sentence_ids: dict[int, list[list[int]]] = {}
        self._sentences: dict[int, np.ndarray] = {}
        self._pairs: dict[int, np.ndarray] = {}
        self._idf: np.ndarray | None = None

    def title_stems(self, row: int) -> set[str]:
        cached = self._title_stems.get(row)
        if cached is None:
            cached = content_stems(str(self.metas[row].get("title", "")))
            self._title_stems[row] = cached  # a racing thread computes the same value
        return cached

    def lower_search_text(self, row: int) -> str:
        cached = self._lower_text.get(row)
        if cached is None:
            cached = self.search_text(row).lower()
            self._lower_text[row] = cached
        return cached

    def sentence_spans(self, row: int) -> list[tuple[int, int]]:
        """(start, end) of the chunk body's sentences: the split ingest pooled vectors over."""
        cached = self._sentence_spans.get(row)
        if cached is None:
            cached = sentence_spans(self.texts[row])
            self._sentence_spans[row] = cached
        return cached

    def sentence_ids(self, row: int) -> list[list[int]]:
        """The chunk body's sentences as vocabulary ids, in text order (tokenised once per row;
        sentence_tokens and sentence_pairs are views of it)."""
        cached = self._sentence_ids.get(row)
        if cached is None:
            vocab = self.bm25.vocab_dict if self.bm25 is not None else {}
            text = self.texts[row]
            sentences = [text[start:end] for start, end in self.sentence_spans(row)]
            cached = [[vocab[t] for t in stems if t in vocab] for stems in tokenize_many(sentences)]
            self._sentence_ids[row] = cached
        return cached

    def sentence_tokens(self, row: int) -> np.ndarray:
        """Each sentence's distinct ids preceded by the sentinel id `vocab_size` (facts are
        single sentences; see sentence_matches)."""
        cached = self._sentences.get(row)
        if cached is None:
            sentinel = len(self.bm25.vocab_dict) if self.bm25 is not None else 0
            parts = [[sentinel, *sorted(set(ids))] for ids in self.sentence_ids(row)]
            cached = np.array([i for part in parts or [[sentinel]] for i in part], dtype=np.int32)
            self._sentences[row] = cached
        return cached

    def sentence_pairs(self, row: int) -> np.ndarray:
        """Codes of each sentence's adjacent content-stem pairs (order ignored), each sentence's
        pairs preceded by -1. A question paraphrases its evidence sentence but keeps phrases
        ("cut 870 jobs", "default search engine"); unigram matches cannot see them."""
        cached = self._pairs.get(row)
        if cached is None:
            size = len(self.bm25.vocab_dict) if self.bm25 is not None else 0
            codes: list[int] = []
            for ids in self.sentence_ids(row):
                codes.append(-1)
                codes.extend(_pair_code(a, b, size) for a, b in itertools.pairwise(ids))
            cached = np.array(codes or [-1], dtype=np.int64)
            self._pairs[row] = cached
        return cached

    def question_pairs(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The question's adjacent stem pairs as sorted codes, and each pair's mean idf."""
        vocab = self.bm25.vocab_dict if self.bm25 is not None else {}
        ids = [vocab[t] for t in tokenize(text) if t in vocab]
        weights = {
            _pair_code(a, b, len(vocab)): (self.idf[a] + self.idf[b]) / 2
            for a, b in itertools.pairwise(ids)
            if a != b
        }
        codes = np.array(sorted(weights), dtype=np.int64)
        return codes, np.array([weights[c] for c in codes.tolist()])

    def pair_matches(
        self, rows: Sequence[int], codes: np.ndarray, weights: np.ndarray
    ) -> np.ndarray:
        """Per row: the largest idf-weighted share of the question's stem pairs one sentence
        holds (at most 1)."""
        total = weights.sum()
        if total <= 0 or not len(rows):
            return np.zeros(len(rows))
        arrays = [self.sentence_pairs(r) for r in rows]
        sequence = np.concatenate(arrays)
        position = np.minimum(np.searchsorted(codes, sequence), len(codes) - 1)
        values = np.where(codes[position] == sequence, weights[position], 0.0)
        best = _best_sentence_sums(arrays, values, sequence == -1)
        return np.minimum(best / total, 1.0)

    def stem_weights(self, text: str) -> np.ndarray:
        """idf per vocabulary id for the stems of `text` (0 elsewhere, and at the sentinel)."""
        weights = np.zeros(len(self.idf) + 1)
        vocab = self.bm25.vocab_dict if self.bm25 is not None else {}
        for stem in set(tokenize(text)):
            if stem in vocab:
                weights[vocab[stem]] = self.idf[vocab[stem]]
        return weights

    def sentence_matches(self, rows: Sequence[int], weights: np.ndarray) -> np.ndarray:
        """Per row: the largest idf-weighted share of the query stems one sentence holds."""
        total = weights.sum()
        if total <= 0 or not len(rows):
            return np.zeros(len(rows))
        arrays = [self.sentence_tokens(r) for r in rows]
        tokens = np.concatenate(arrays)
        sentinel = len(weights) - 1
        return _best_sentence_sums(arrays, weights[tokens], tokens == sentinel) / total

    @property
    def idf(self) -> np.ndarray:
        """BM25's idf per vocabulary id (from the index's document frequencies)."""
        if self._idf is None:
            self._idf = _idf_array(self.bm25, self.n)
        return self._idf

    def sentence_cosines(
        self, rows: Sequence[int], query_vector: np.ndarray, fallback: np.ndarray
    ) -> np.ndarray:
        """Per row, the best cosine between the question and one of its sentences (the stored
        sentence vectors); `fallback` (the chunk's own cosine) where a row has none, or where
        they do not line up with this splitter's sentences."""
        best = np.array(fallback, dtype=np.float64)
        usable = [i for i, row in enumerate(rows) if self.has_sentence_vectors(row)]
        if not usable or query_vector.size == 0:
            return best
        codes = [code for i in usable if (code := self.sentence_codes[rows[i]]) is not None]
        if codes[0].shape[1] != query_vector.shape[0]:
            return best
        sims = np.vstack(codes).astype(np.float32) @ query_vector.astype(np.float32)
        starts = np.cumsum(np.array([0] + [len(c) for c in codes[:-1]], dtype=np.int64))
        best[usable] = np.maximum.reduceat(sims, starts) / code_scale()
        return best

    def has_sentence_vectors(self, row: int) -> bool:
        """Stored vectors that line up one-to-one with this splitter's sentences of the row."""
        codes = self.sentence_codes[row]
        return codes is not None and len(codes) > 0 and len(codes) == len(self.sentence_spans(row))

    def search_text(self, row: int) -> str:
        header = self.metas[row].get("header", "")
        return f"{header}\n\n{self.texts[row]}" if header else self.texts[row]

    def bm25_scores(self, query_tokens: list[str]) -> np.ndarray:
        if self.bm25 is None or not query_tokens:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self.bm25.get_scores(query_tokens), dtype=np.float32)


def _pop_sentence_codes(meta: dict[str, Any]) -> np.ndarray | None:
    """Take the sentence vectors out of a chunk's metadata (5 KB of text each; nothing else
    reads them) and decode them."""
    text = meta.pop(SENTENCE_VECTORS_KEY, None)
    return decode_vectors(text) if text else None


def _idf_array(bm25: bm25s.BM25 | None, n_docs: int) -> np.ndarray:
    if bm25 is None:
        return np.zeros(0)
    df = np.diff(np.asarray(bm25.scores["indptr"]))
    idf = np.zeros(len(bm25.vocab_dict))
    idf[: len(df)] = np.log(1.0 + (n_docs - df[: len(idf)] + 0.5) / (df[: len(idf)] + 0.5))
    return idf


# --- building -------------------------------------------------------------------------------------


def build_snapshot(settings: Settings, store: ArticleStore) -> Snapshot:
    """Read every chunk (text, metadata, vector) and the catalog links; index BM25."""
    started = time.perf_counter()
    revision = store.revision()  # read first: a write during the build makes it stale, not wrong
    collection = open_client(settings).get_collection(store.name, embedding_function=None)
    ids: list[str] = []
    texts: list[str] = []
    metas: list[dict[str, Any]] = []
    vectors: list[np.ndarray] = []
    offset = 0
    while True:
        got = collection.get(
            include=["documents", "metadatas", "embeddings"], limit=_PAGE, offset=offset
        )
        if not got["ids"]:
            break
        ids.extend(got["ids"])
        texts.extend(got["documents"])
        metas.extend(got["metadatas"])
        embeddings = got.get("embeddings")
        if embeddings is not None and len(embeddings):
            vectors.append(np.asarray(embeddings, dtype=np.float32))
        offset += len(got["ids"])
        if len(got["ids"]) < _PAGE:
            break
    matrix = np.vstack(vectors) if vectors else np.zeros((len(ids), 0), dtype=np.float32)
    snapshot = Snapshot(
        revision=revision,
        ids=ids,
        texts=texts,
        metas=metas,
        vectors=matrix,
        bm25=_index_bm25(ids, texts, metas),
        near_duplicates={
            r.article_id: list(r.near_duplicates)
            for r in store.list_articles()
            if r.near_duplicates
        },
    )
    log.info(
        "built retrieval snapshot of %s: %d chunks in %.1fs",
        store.name,
        len(ids),
        time.perf_counter() - started,
    )
    return snapshot


def _index_bm25(ids: list[str], texts: list[str], metas: list[dict[str, Any]]) -> bm25s.BM25 | None:
    if not ids:
        return None
    searchable = [
        f"{m.get('header', '')}\n\n{t}" if m.get("header") else t
        for t, m in zip(texts, metas, strict=True)
    ]
    retriever = bm25s.BM25()
    retriever.index(tokenize_many(searchable), show_progress=False)
    return retriever


# --- persistence ----------------------------------------------------------------------------------


def save_snapshot(snapshot: Snapshot, directory: Path) -> None:
    """Write to a sibling temp dir, then swap it in, so readers never see half a snapshot."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = directory.with_name(f".{directory.name}.{uuid.uuid4().hex}")
    staging.mkdir()
    try:
        if snapshot.bm25 is not None:
            snapshot.bm25.save(str(staging / "bm25"), show_progress=False)
        np.save(staging / "vectors.npy", snapshot.vectors)
        _save_sentence_codes(staging / "sentences.npz", snapshot.sentence_codes)
        with open(staging / "chunks.json", "w", encoding="utf-8") as fh:
            json.dump(
                {
                    "ids": snapshot.ids,
                    "texts": snapshot.texts,
                    "metas": snapshot.metas,
                    "near_duplicates": snapshot.near_duplicates,
                },
                fh,
            )
        with open(staging / "manifest.json", "w", encoding="utf-8") as fh:
            json.dump(
                {"format": FORMAT_VERSION, "revision": snapshot.revision, "chunks": snapshot.n}, fh
            )
        retired = directory.with_name(f".{directory.name}.old.{uuid.uuid4().hex}")
        if directory.exists():
            os.replace(directory, retired)
        os.replace(staging, directory)
        shutil.rmtree(retired, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def stored_revision(directory: Path) -> str | None:
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("format") != FORMAT_VERSION:
        return None
    return str(manifest.get("revision"))


def load_snapshot(directory: Path) -> Snapshot | None:
    revision = stored_revision(directory)
    if revision is None:
        return None
    try:
        with open(directory / "chunks.json", encoding="utf-8") as fh:
            chunks = json.load(fh)
        vectors = np.load(directory / "vectors.npy")
        sentence_codes = _load_sentence_codes(directory / "sentences.npz", len(chunks["ids"]))
        bm25 = None
        if (directory / "bm25").is_dir():
            bm25 = bm25s.BM25.load(str(directory / "bm25"), show_progress=False)
    except (OSError, ValueError) as exc:  # half-deleted by a concurrent swap: rebuild
        log.warning("cannot load retrieval snapshot %s: %s", directory, exc)
        return None
    return Snapshot(
        revision=revision,
        ids=chunks["ids"],
        texts=chunks["texts"],
        metas=chunks["metas"],
        vectors=vectors,
        bm25=bm25,
        near_duplicates=chunks.get("near_duplicates", {}),
        sentence_codes=sentence_codes,
    )


def _save_sentence_codes(path: Path, codes: list[np.ndarray | None]) -> None:
    """All rows' codes as one int8 matrix plus per-row counts (-1: none)."""
    present = [c for c in codes if c is not None and c.size]
    dim = present[0].shape[1] if present else 0
    counts = np.array([-1 if c is None else len(c) for c in codes], dtype=np.int32)
    flat = np.vstack(present) if present else np.zeros((0, dim), dtype=np.int8)
    np.savez(path, counts=counts, flat=flat.astype(np.int8))


def _load_sentence_codes(path: Path, n: int) -> list[np.ndarray | None]:
    with np.load(path) as stored:
        counts, flat = stored["counts"], stored["flat"]
    if len(counts) != n:
        raise ValueError(f"{path}: {len(counts)} rows of sentence vectors for {n} chunks")
    out: list[np.ndarray | None] = []
    start = 0
    for count in counts.tolist():
        if count < 0:
            out.append(None)
            continue
        out.append(flat[start : start + count] if count else None)
        start += count
    return out


# --- the per-process cache ------------------------------------------------------------------------


class SnapshotCache:
    """One current snapshot per index directory, shared by every Retriever in the process."""

    _lock = threading.Lock()
    _current: dict[Path, Snapshot] = {}  # noqa: RUF012 - process-wide on purpose
    _checked: dict[Path, tuple[float, int]] = {}  # noqa: RUF012 - (time, local writes) at check
    builds = 0  # how many times this process built (not loaded) a snapshot; tests read it

    @classmethod
    def get(cls, settings: Settings, store: ArticleStore) -> Snapshot:
        directory = (settings.bm25_path / store.name).resolve()
        current = cls._current.get(directory)
        now, writes = time.monotonic(), local_write_count()
        checked_at, writes_then = cls._checked.get(directory, (0.0, -1))
        if current is not None and writes == writes_then and now - checked_at < REVISION_TTL_S:
            return current
        revision = store.revision()
        if current is not None and current.revision == revision:
            cls._checked[directory] = (now, writes)
            return current
        with cls._lock:
            current = cls._current.get(directory)
            if current is not None and current.revision == revision:
                return current
            snapshot = None
            if stored_revision(directory) == revision:
                snapshot = load_snapshot(directory)
            if snapshot is None or snapshot.revision != revision:
                snapshot = build_snapshot(settings, store)
                cls.builds += 1
                save_snapshot(snapshot, directory)
            cls._current[directory] = snapshot
            cls._checked[directory] = (time.monotonic(), writes)
            return snapshot

    @classmethod
    def forget(cls) -> None:
        with cls._lock:
            cls._current.clear()
            cls._checked.clear()


def _pair_code(a: int, b: int, vocab_size: int) -> int:
    low, high = (a, b) if a <= b else (b, a)
    return low * (vocab_size + 1) + high


def _best_sentence_sums(
    arrays: list[np.ndarray], values: np.ndarray, boundary: np.ndarray
) -> np.ndarray:
    """Per row (one array per row, concatenated into `values`, each sentence starting at a
    boundary): the largest sum of values over one sentence."""
    starts = np.flatnonzero(boundary)
    per_sentence = np.add.reduceat(values, starts)
    row_first_sentence = np.searchsorted(starts, np.cumsum([0] + [len(a) for a in arrays[:-1]]))
    return np.maximum.reduceat(per_sentence, row_first_sentence)
