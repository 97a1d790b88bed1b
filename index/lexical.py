"""BM25 over a collection's chunks, on disk in segments that every process memory-maps and shares.

Why not one bm25s index: bm25s stores each (chunk, term) score with the corpus-wide idf and mean
chunk length already multiplied in, so a single new article changes every stored score and
needs a full rebuild (minutes at a million chunks). A segment here stores raw term counts; idf
and length normalisation are applied at query time from statistics summed over all segments,
with bm25s' default formula and constants ("lucene", k1 1.5, b 0.75), so the scores are those
of a bm25s index over the same chunks. New chunks become a new small segment, small segments
are merged into bigger ones (tiers of MERGE_FACTOR), and a reader opens a segment once and keeps
it mapped: start-up and refresh read a few small files, never the corpus.

Directory layout (one per collection):
    manifest.json     the segments that make the index now, the store revision, the write
                      stamp it reflects and when writes were last looked back for; replaced
                      atomically (os.replace), never edited in place
    .lock             flock-ed by the one process writing at a time
    s<n>/             one immutable segment: segment.bin (the arrays below, back to back,
                      mapped read-only once by readers) and segment.json (rows, source
                      names, each array's offset, dtype and length in segment.bin):
                      ids, id_order                     chunk ids and their sorted order
                      article, source, published_ts,    per row (article/source: codes into the
                      length, stamp                     segment's tables)
                      article_ids, article_first,       per article; an article's rows are
                      article_count                     contiguous
                      terms, indptr, docs, tf           postings: term hash -> rows, term counts
                      body, body_ptr, sent_len,         each row's body as term numbers, sentence
                      sent_ptr                          by sentence (the reranker's sentence
                                                        features read them: no re-tokenising)
    s<n>/dead-<g>.npy rows of that segment superseded or deleted since it was written

Writes: `sync(store)` reads the chunks written since its watermark (every chunk carries the
time of its write, `indexed_at`), indexes the new and changed ones as a segment, marks the rows
they replace and the chunks this process deleted as dead, merges, and swaps the manifest. The
store calls it after each of its writes, so an ingest leaves the index up to date for every
process sharing the directory; a process with a directory of its own syncs when it sees a new
store revision. Deletes made by another process with another directory are found when a search
fetches a chunk Chroma no longer has (`report_missing`), and tombstoned then.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import logging
import math
import os
import shutil
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from index.kernels import add_bm25, add_bm25_at
from index.sentences import sentence_spans
from index.store import STAMP_KEY
from index.tokens import tokenize_many

if TYPE_CHECKING:
    from index.settings import Settings
    from index.store import ArticleStore, StoredChunk

log = logging.getLogger(__name__)

# 2: the body of each row (term numbers by sentence). 3: a segment's arrays in one file, mapped
# once (one file descriptor per segment: CPython's mmap keeps a dup of the file's descriptor per
# mapping, and 18 mapped .npy files per segment ran processes out of descriptors). An index of
# another format is not read: the next sync rebuilds it from the store.
FORMAT = 3
DATA_FILE = "segment.bin"
_ALIGN = 64  # each array starts on a 64-byte boundary of DATA_FILE
MANIFEST = "manifest.json"
K1 = 1.5  # bm25s defaults ("lucene" variant)
B = 0.75
# Writes are found by their stamp; a write stamped this long before the newest one seen may
# still become visible later (a slow batch upsert, clocks of other machines), so a sync looks
# back this far and skips what it already holds. A writer's sync right after its own write
# looks back at most once per SKEW_S (it reads its own write and anything newer than the
# watermark otherwise): looking back on every write re-read the last SKEW_S of writes each
# time, which made a fast ingest quadratic in its write rate.
SKEW_S = 30.0
MERGE_FACTOR = 8  # this many segments of one size tier are merged into one
MAX_MERGE_ROWS = 400_000  # segments above MAX_MERGE_ROWS / MERGE_FACTOR rows are not merged...
PURGE_DEAD_SHARE = 0.3  # ...but any segment is rewritten alone once this share of it is dead
BUILD_ROWS = 50_000  # rows per segment when indexing a whole store
_PAGE = 1000


def lexical_dir(settings: Settings, collection: str) -> Path:
    """Where a collection's lexical index lives (share it between workers: QA_BM25_DIR)."""
    return settings.bm25_path / f"{collection}.segments"


@dataclass
class LexicalDoc:
    """One chunk as the lexical index sees it."""

    chunk_id: str
    article_id: str
    tokens: list[str]  # of the search text (header + body): what BM25 counts
    published_ts: int = 0
    source: str = ""
    stamp: float = 0.0  # the `indexed_at` of the write that stored this version
    sentences: list[list[str]] = field(default_factory=list)  # the body's, by sentence_spans

    @classmethod
    def from_chunks(cls, chunks: Sequence[StoredChunk]) -> list[LexicalDoc]:
        tokens = tokenize_many([c.search_text for c in chunks])
        return [
            cls(
                chunk_id=c.chunk_id,
                article_id=str(c.metadata.get("article_id", "")),
                tokens=t,
                published_ts=int(c.metadata.get("published_ts", 0) or 0),
                source=str(c.metadata.get("source", "")),
                stamp=_stamp(c),
                sentences=sentence_stems(c.text),
            )
            for c, t in zip(chunks, tokens, strict=True)
        ]


def sentence_stems(text: str) -> list[list[str]]:
    """Stems of each sentence of a chunk body (the split its sentence vectors follow)."""
    return tokenize_many([text[start:end] for start, end in sentence_spans(text)])


def term_keys(stems: Iterable[str]) -> np.ndarray:
    """64-bit hashes of stems: fixed-size, sortable term ids shared by every segment."""
    return np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=8).digest(), "little")
            for s in stems
        ),
        dtype=np.uint64,
    )


def idf(df: np.ndarray | float, n_docs: int) -> Any:
    return np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


# --- segments -------------------------------------------------------------------------------------


class Segment:
    """One immutable segment, memory-mapped."""

    ARRAYS = (
        "ids",
        "id_order",
        "article",
        "source",
        "published_ts",
        "length",
        "stamp",
        "article_ids",
        "article_first",
        "article_count",
        "terms",
        "indptr",
        "docs",
        "tf",
        "body",
        "body_ptr",
        "sent_len",
        "sent_ptr",
    )

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        meta = json.loads((path / "segment.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: segment format {meta.get('format')}, not {FORMAT}")
        self.rows = int(meta["rows"])
        self.sources: list[str] = list(meta["sources"])
        data = path / DATA_FILE
        # One mapping (one descriptor) for the whole segment; the arrays are views of it.
        buffer = (
            np.memmap(data, dtype=np.uint8, mode="r")
            if data.stat().st_size
            else np.zeros(0, dtype=np.uint8)  # an empty file cannot be mapped
        )
        for name in self.ARRAYS:
            offset, dtype, count = meta["arrays"][name]
            kind = np.dtype(dtype)
            view = buffer[offset : offset + count * kind.itemsize]
            setattr(self, name, view.view(kind) if count else np.zeros(0, dtype=kind))
        self.ids: np.ndarray
        self.id_order: np.ndarray
        self.article: np.ndarray
        self.source: np.ndarray
        self.published_ts: np.ndarray
        self.length: np.ndarray
        self.stamp: np.ndarray
        self.article_ids: np.ndarray
        self.article_first: np.ndarray
        self.article_count: np.ndarray
        self.terms: np.ndarray
        self.indptr: np.ndarray
        self.docs: np.ndarray
        self.tf: np.ndarray
        self.body: np.ndarray
        self.body_ptr: np.ndarray
        self.sent_len: np.ndarray
        self.sent_ptr: np.ndarray

    def sentences(self, local: int) -> tuple[np.ndarray, np.ndarray]:
        """(term hashes of the row's body, in order; token count of each sentence)."""
        body = self.body[int(self.body_ptr[local]) : int(self.body_ptr[local + 1])]
        lengths = self.sent_len[int(self.sent_ptr[local]) : int(self.sent_ptr[local + 1])]
        return np.asarray(self.terms)[np.asarray(body, dtype=np.int64)], np.asarray(lengths)

    def postings(self) -> tuple[np.ndarray, np.ndarray]:
        """(docs, tf) as plain arrays over the mapping, which is what the compiled loops take."""
        return np.asarray(self.docs), np.asarray(self.tf)

    def find_terms(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(start, stop) into docs/tf per key; start == stop where the term is absent."""
        if not len(self.terms):
            empty = np.zeros(len(keys), dtype=np.int64)
            return empty, empty
        pos = np.minimum(np.searchsorted(self.terms, keys), len(self.terms) - 1)
        found = self.terms[pos] == keys
        start = np.where(found, self.indptr[pos], 0)
        stop = np.where(found, self.indptr[pos + 1], 0)
        return start, stop

    def find_ids(self, keys: np.ndarray) -> np.ndarray:
        """Local row per key, -1 where the segment does not hold it."""
        if not self.rows:
            return np.full(len(keys), -1, dtype=np.int64)
        pos = np.searchsorted(self.ids, keys, sorter=self.id_order)
        pos = np.minimum(pos, self.rows - 1)
        rows = np.asarray(self.id_order[pos], dtype=np.int64)
        return np.where(self.ids[rows] == keys, rows, -1)


def _id_array(values: Sequence[str]) -> np.ndarray:
    return np.array([v.encode("utf-8") for v in values], dtype=bytes)


def write_segment(directory: Path, name: str, docs: Sequence[LexicalDoc]) -> Path:
    """Index `docs` into a new segment directory (written aside, then renamed into place)."""
    docs = _grouped_by_article(docs)
    n = len(docs)
    articles = list(dict.fromkeys(d.article_id for d in docs))
    article_code = {a: i for i, a in enumerate(articles)}
    article = np.array([article_code[d.article_id] for d in docs], dtype=np.int32)
    first = np.searchsorted(article, np.arange(len(articles))).astype(np.int32)
    count = np.bincount(article, minlength=len(articles)).astype(np.int32)
    sources = sorted({d.source for d in docs})
    source_code = {s: i for i, s in enumerate(sources)}
    ids = _id_array([d.chunk_id for d in docs])
    terms, indptr, rows, tf, number = _postings(
        [d.tokens for d in docs], [s for d in docs for s in d.sentences]
    )
    arrays = {
        "ids": ids,
        "id_order": np.argsort(ids, kind="stable").astype(np.int32),
        "article": article,
        "source": np.array([source_code[d.source] for d in docs], dtype=np.int32),
        "published_ts": np.array([d.published_ts for d in docs], dtype=np.int64),
        "length": np.array([len(d.tokens) for d in docs], dtype=np.int32),
        "stamp": np.array([d.stamp for d in docs], dtype=np.float64),
        "article_ids": _id_array(articles),
        "article_first": first,
        "article_count": count,
        "terms": terms,
        "indptr": indptr,
        "docs": rows,
        "tf": tf,
        **_bodies(docs, number),
    }
    return _publish_segment(directory, name, arrays, n, sources)


def _publish_segment(
    directory: Path, name: str, arrays: dict[str, np.ndarray], rows: int, sources: list
) -> Path:
    """Write a segment aside, then rename it into place (a reader never sees half of one)."""
    staging = directory / f".{name}.{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    try:
        _save_segment(staging, arrays, rows, sources)
        final = directory / name
        os.replace(staging, final)
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _bodies(docs: Sequence[LexicalDoc], number: dict[str, int]) -> dict[str, np.ndarray]:
    """Each row's body as term numbers, and its sentences' token counts."""
    flat = [number[stem] for d in docs for sentence in d.sentences for stem in sentence]
    lengths = [len(sentence) for d in docs for sentence in d.sentences]
    body_counts = [sum(len(sentence) for sentence in d.sentences) for d in docs]
    return {
        "body": np.array(flat, dtype=np.uint32),
        "body_ptr": _pointers(body_counts),
        "sent_len": np.minimum(np.array(lengths, dtype=np.int64), 65535).astype(np.uint16),
        "sent_ptr": _pointers([len(d.sentences) for d in docs]),
    }


def _pointers(counts: Sequence[int] | np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.asarray(counts, dtype=np.int64))]).astype(np.int64)


def _save_segment(path: Path, arrays: dict[str, np.ndarray], rows: int, sources: list) -> None:
    """The arrays back to back in one file (each aligned), and where each one is."""
    table: dict[str, tuple[int, str, int]] = {}
    with open(path / DATA_FILE, "wb") as fh:
        for key in Segment.ARRAYS:
            value = np.ascontiguousarray(arrays[key])
            offset = fh.tell()
            padding = -offset % _ALIGN
            if padding:
                fh.write(b"\0" * padding)
                offset += padding
            fh.write(value.tobytes())
            table[key] = (offset, value.dtype.str, int(value.size))
    (path / "segment.json").write_text(
        json.dumps({"format": FORMAT, "rows": rows, "sources": sources, "arrays": table}),
        encoding="utf-8",
    )


def _grouped_by_article(docs: Sequence[LexicalDoc]) -> list[LexicalDoc]:
    """Each article's rows contiguous, articles in order of first appearance."""
    first: dict[str, int] = {}
    for d in docs:
        first.setdefault(d.article_id, len(first))
    return sorted(docs, key=lambda d: first[d.article_id])


def _postings(
    token_lists: Sequence[list[str]], more_stems: Iterable[list[str]] = ()
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, int]]:
    """(sorted term hashes, indptr, rows, term counts): a CSC matrix of counts; and each stem's
    term number. Stems of `more_stems` are terms too (without postings if no row counts them)."""
    n = len(token_lists)
    flat = list(itertools.chain.from_iterable(token_lists))
    vocab = dict.fromkeys(flat)
    for stems in more_stems:
        vocab.update(dict.fromkeys(stems))
    stems = list(vocab)
    for i, stem in enumerate(stems):
        vocab[stem] = i
    term_of = np.fromiter(map(vocab.__getitem__, flat), dtype=np.int64, count=len(flat))
    lengths = np.fromiter(map(len, token_lists), dtype=np.int64, count=n)
    row_of = np.repeat(np.arange(n, dtype=np.int64), lengths)
    # Hash order is the term order; equal hashes (never seen at 64 bits) would share a term.
    terms, rank = np.unique(term_keys(stems), return_inverse=True)
    keys, counts = np.unique(rank[term_of] * max(n, 1) + row_of, return_counts=True)
    term_rank = keys // max(n, 1)
    indptr = np.searchsorted(term_rank, np.arange(len(terms) + 1)).astype(np.int64)
    rows = (keys % max(n, 1)).astype(np.int32)
    number = {stem: int(rank[i]) for i, stem in enumerate(stems)}
    return terms, indptr, rows, np.minimum(counts, 65535).astype(np.uint16), number


def merge_segments(
    directory: Path, name: str, segments: Sequence[Segment], dead: Sequence[np.ndarray]
) -> Path:
    """One segment holding the live rows of `segments`, in their order (no re-tokenising)."""
    keeps = []
    for seg, gone in zip(segments, dead, strict=True):
        keep = np.ones(seg.rows, dtype=bool)
        keep[np.asarray(gone, dtype=np.int64)] = False
        keeps.append(keep)
    new_row = []
    base = 0
    for keep in keeps:
        new_row.append(np.where(keep, base + np.cumsum(keep) - 1, -1))
        base += int(keep.sum())
    n = base
    per_row = {
        key: np.concatenate(
            [np.asarray(getattr(s, key))[k] for s, k in zip(segments, keeps, strict=True)]
        )
        for key in ("published_ts", "length", "stamp")
    }
    ids = np.concatenate([np.asarray(s.ids)[k] for s, k in zip(segments, keeps, strict=True)])
    sources = sorted({name for s in segments for name in s.sources})
    source_code = {s: i for i, s in enumerate(sources)}
    source = np.concatenate(
        [
            np.array([source_code[x] for x in s.sources], dtype=np.int32)[np.asarray(s.source)[k]]
            for s, k in zip(segments, keeps, strict=True)
        ]
    )
    article_names = np.concatenate(
        [
            np.asarray(s.article_ids)[np.asarray(s.article)[k]]
            for s, k in zip(segments, keeps, strict=True)
        ]
    )
    # Articles stay contiguous: rows keep their order and each segment's articles were.
    change = np.ones(n, dtype=bool)
    change[1:] = article_names[1:] != article_names[:-1]
    article = (np.cumsum(change) - 1).astype(np.int32)
    starts = np.flatnonzero(change)
    # Postings: every live (term, row, count), re-sorted by term then row.
    term_parts, row_parts, tf_parts = [], [], []
    for seg, remap in zip(segments, new_row, strict=True):
        lengths = np.diff(np.asarray(seg.indptr))
        rows = remap[np.asarray(seg.docs)]
        live = rows >= 0
        term_parts.append(np.repeat(np.asarray(seg.terms), lengths)[live])
        row_parts.append(rows[live])
        tf_parts.append(np.asarray(seg.tf)[live])
    all_terms = np.concatenate(term_parts) if term_parts else np.zeros(0, dtype=np.uint64)
    all_rows = np.concatenate(row_parts) if row_parts else np.zeros(0, dtype=np.int64)
    order = np.lexsort((all_rows, all_terms))
    all_terms, all_rows = all_terms[order], all_rows[order]
    all_tf = np.concatenate(tf_parts)[order] if tf_parts else np.zeros(0, dtype=np.uint16)
    terms = np.unique(np.concatenate([np.asarray(s.terms) for s in segments]))
    indptr = np.searchsorted(all_terms, terms).astype(np.int64)
    bodies = _merged_bodies(segments, keeps, terms)
    arrays = {
        "ids": ids,
        "id_order": np.argsort(ids, kind="stable").astype(np.int32),
        "article": article,
        "source": source,
        "published_ts": per_row["published_ts"].astype(np.int64),
        "length": per_row["length"].astype(np.int32),
        "stamp": per_row["stamp"].astype(np.float64),
        "article_ids": article_names[starts] if n else np.zeros(0, dtype="S1"),
        "article_first": starts.astype(np.int32),
        "article_count": np.diff(np.append(starts, n)).astype(np.int32),
        "terms": terms,
        "indptr": np.append(indptr, len(all_terms)).astype(np.int64),
        "docs": all_rows.astype(np.int32),
        "tf": all_tf.astype(np.uint16),
        **bodies,
    }
    return _publish_segment(directory, name, arrays, n, sources)


def _merged_bodies(
    segments: Sequence[Segment], keeps: Sequence[np.ndarray], terms: np.ndarray
) -> dict[str, np.ndarray]:
    """The live rows' bodies and sentence counts, with term numbers of the merged terms."""
    body, lengths, body_counts, sentence_counts = [], [], [], []
    for seg, keep in zip(segments, keeps, strict=True):
        per_row_tokens = np.diff(np.asarray(seg.body_ptr))
        per_row_sentences = np.diff(np.asarray(seg.sent_ptr))
        old = np.asarray(seg.body)[np.repeat(keep, per_row_tokens)].astype(np.int64)
        body.append(np.searchsorted(terms, np.asarray(seg.terms)[old]).astype(np.uint32))
        lengths.append(np.asarray(seg.sent_len)[np.repeat(keep, per_row_sentences)])
        body_counts.append(per_row_tokens[keep])
        sentence_counts.append(per_row_sentences[keep])
    return {
        "body": _concat(body, np.uint32),
        "body_ptr": _pointers(_concat(body_counts, np.int64)),
        "sent_len": _concat(lengths, np.uint16),
        "sent_ptr": _pointers(_concat(sentence_counts, np.int64)),
    }


# --- the view readers search --------------------------------------------------------------------


@dataclass(frozen=True)
class QueryTerms:
    """Where some stems' postings lie in each segment of a view, and each stem's idf: what
    scoring them reads (the postings themselves stay mapped, never copied)."""

    stems: tuple[str, ...]
    idf: np.ndarray  # float32 per stem (stems no segment holds have empty spans)
    spans: tuple[tuple[np.ndarray, np.ndarray], ...]  # per segment: (starts, stops) per stem


class LexicalView:
    """The index at one manifest generation: what a search reads. Immutable but for `alive`,
    which only ever loses rows (deletes found by searches)."""

    def __init__(self, manifest: dict[str, Any], segments: list[Segment], dead: list[np.ndarray]):
        self.revision = str(manifest.get("revision", ""))
        self.generation = int(manifest.get("generation", 0))
        self.segments = segments
        self.offsets = np.cumsum([0] + [s.rows for s in segments]).astype(np.int64)
        self.n = int(self.offsets[-1])
        self.alive = np.ones(self.n, dtype=bool)
        for offset, gone in zip(self.offsets, dead, strict=False):
            self.alive[offset + np.asarray(gone, dtype=np.int64)] = False
        self.published_ts = _concat([s.published_ts for s in segments], np.int64)
        names = sorted({name for s in segments for name in s.sources})
        code = {name: i for i, name in enumerate(names)}
        self.source_codes = _concat(
            [np.array([code[x] for x in s.sources], dtype=np.int32)[s.source] for s in segments],
            np.int32,
        )
        lengths = _concat([s.length for s in segments], np.float32)
        avg = float(lengths.mean()) if self.n else 1.0
        self._norm = (K1 * (1.0 - B + B * lengths / max(avg, 1e-9))).astype(np.float32)
        live_count = np.bincount(self.source_codes[self.alive], minlength=len(names))
        self.source_names = [
            name for name, c in zip(names, live_count.tolist(), strict=True) if c and name
        ]
        self.all_source_names = names
        live_ts = self.published_ts[self.alive]
        self.newest_ts = int(live_ts.max()) if live_ts.size else 0
        self.live = int(self.alive.sum())
        self._source_rows: dict[int, np.ndarray] = {}

    def source_rows(self, code: int) -> np.ndarray:
        """The rows (ascending) of one outlet, by its number in `all_source_names` (kept: the
        view is immutable, and most questions name an outlet)."""
        rows = self._source_rows.get(code)
        if rows is None:
            rows = self._source_rows[code] = np.flatnonzero(self.source_codes == code)
        return rows

    # -- BM25 --
    def terms(self, stems: Iterable[str]) -> QueryTerms:
        """The stems' postings in each segment (duplicates in `stems` are looked up once)."""
        unique = tuple(dict.fromkeys(stems))
        keys = term_keys(list(unique))
        spans = tuple(seg.find_terms(keys) for seg in self.segments)
        df = sum((stop - start for start, stop in spans), np.zeros(len(unique), dtype=np.int64))
        weights = np.asarray(idf(df, self.n), dtype=np.float32)
        return QueryTerms(unique, weights, spans)

    def bm25(self, terms: QueryTerms, counts: Sequence[float] | None = None) -> np.ndarray:
        """BM25 of every row for the stems of `terms`, each counted as often as the query
        holds it (`counts`, aligned with `terms.stems`; 1 each by default)."""
        out = np.zeros(self.n)
        query_counts = self._query_counts(terms, counts)
        for seg, offset, (starts, stops) in self._by_segment(terms):
            add_bm25(
                out, *seg.postings(), starts, stops, int(offset), self._norm,
                terms.idf, query_counts,
            )  # fmt: skip
        return out

    def bm25_at(
        self, terms: QueryTerms, counts: Sequence[float] | None, rows: np.ndarray
    ) -> np.ndarray:
        """`bm25(terms, counts)[rows]` for some ascending rows (one outlet's), without a
        score per row of the view."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros(len(rows))
        query_counts = self._query_counts(terms, counts)
        for seg, offset, (starts, stops) in self._by_segment(terms):
            lo, hi = np.searchsorted(rows, (offset, offset + seg.rows)).tolist()
            if hi > lo:  # the rows in this segment
                add_bm25_at(
                    out[lo:hi], rows[lo:hi], *seg.postings(), starts, stops, int(offset),
                    self._norm[offset : offset + seg.rows], terms.idf, query_counts,
                )  # fmt: skip
        return out

    def _by_segment(self, terms: QueryTerms) -> Iterator[tuple[Segment, int, tuple[Any, Any]]]:
        """(segment, its first row in the view, the terms' spans in it), per segment."""
        yield from zip(self.segments, self.offsets[:-1].tolist(), terms.spans, strict=True)

    @staticmethod
    def _query_counts(terms: QueryTerms, counts: Sequence[float] | None) -> np.ndarray:
        if counts is None:
            return np.ones(len(terms.stems), dtype=np.float32)
        if len(counts) != len(terms.stems):
            raise ValueError(f"{len(counts)} counts for {len(terms.stems)} stems")
        return np.asarray(counts, dtype=np.float32)

    def document_frequencies(self, stems: Sequence[str]) -> np.ndarray:
        keys = term_keys(stems)
        df = np.zeros(len(stems), dtype=np.int64)
        for seg in self.segments:
            start, stop = seg.find_terms(keys)
            df += stop - start
        return df

    def idf_of(self, stems: Iterable[str]) -> dict[str, float]:
        """BM25's idf of each stem the index holds (stems it does not hold are left out)."""
        stems = list(dict.fromkeys(stems))
        df = self.document_frequencies(stems)
        return {s: float(idf(d, self.n)) for s, d in zip(stems, df.tolist(), strict=True) if d > 0}

    # -- rows --
    def rows_of(self, chunk_ids: Sequence[str]) -> np.ndarray:
        """The live row of each chunk id, -1 where there is none."""
        out = np.full(len(chunk_ids), -1, dtype=np.int64)
        if not chunk_ids or not self.n:
            return out
        keys = _id_array(chunk_ids)
        for seg, offset in zip(self.segments, self.offsets, strict=False):
            local = seg.find_ids(keys)
            rows = np.where(local >= 0, offset + local, -1)
            live = (rows >= 0) & self.alive[np.maximum(rows, 0)]
            out[live] = rows[live]
        return out

    def locate(self, row: int) -> tuple[Segment, int, int]:
        """(segment, its offset, local row)."""
        i = int(np.searchsorted(self.offsets, row, side="right")) - 1
        return self.segments[i], int(self.offsets[i]), row - int(self.offsets[i])

    def chunk_ids(self, rows: Iterable[int]) -> list[str]:
        out = []
        for row in rows:
            seg, _, local = self.locate(int(row))
            out.append(bytes(seg.ids[local]).decode("utf-8"))
        return out

    def article_span(self, row: int) -> tuple[int, int]:
        """The rows [start, stop) of the row's article in the row's segment."""
        seg, offset, local = self.locate(row)
        a = int(seg.article[local])
        start = offset + int(seg.article_first[a])
        return start, start + int(seg.article_count[a])

    def article_id(self, row: int) -> str:
        seg, _, local = self.locate(row)
        return bytes(seg.article_ids[int(seg.article[local])]).decode("utf-8")

    def sentences(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(term hashes of the row's body in order, token count of each of its sentences)."""
        seg, _, local = self.locate(row)
        return seg.sentences(local)

    def live_chunk_ids(self) -> list[str]:
        return self.chunk_ids(np.flatnonzero(self.alive).tolist())

    def segment_row(self, row: int) -> tuple[str, int]:
        seg, _, local = self.locate(row)
        return seg.name, local


def _concat(parts: Sequence[np.ndarray], dtype: Any) -> np.ndarray:
    if not parts:
        return np.zeros(0, dtype=dtype)
    return np.concatenate([np.asarray(p, dtype=dtype) for p in parts])


# --- the index: manifest, sync, merges ------------------------------------------------------------


@dataclass
class SyncReport:
    synced: bool = False  # False: another process held the lock, nothing was done
    full_build: bool = False
    added_rows: int = 0
    dead_rows: int = 0
    merged: int = 0
    seconds: float = 0.0
    looked_back: bool = False  # read the writes of the last SKEW_S again (see _read_from)


class LexicalIndex:
    """One lexical index directory; one instance per directory per process (`at`) while
    anything uses it. Instances are held weakly: a store (its after-write sync) or a search
    cache keeps one alive, and once nothing does, its segments are unmapped and their file
    descriptors closed (a process that opens many collections, one after another, does not
    keep every segment it ever mapped)."""

    _instances: ClassVar[weakref.WeakValueDictionary[Path, LexicalIndex]] = (
        weakref.WeakValueDictionary()
    )
    _instances_lock = threading.Lock()

    @classmethod
    def at(cls, directory: Path) -> LexicalIndex:
        directory = Path(directory).resolve()
        with cls._instances_lock:
            index = cls._instances.get(directory)
            if index is None:
                index = cls._instances[directory] = cls(directory)
            return index

    def check_usable(self, create: bool = True) -> None:
        """OSError unless this process can create the directory and take its lock, as every
        sync (readers' included) does: found at start-up instead of at the first write.
        Without `create` (a reader) a missing directory is not made: its nearest existing
        parent must be writable, for the first sync after a writer has made the index."""
        if not create and not self.directory.exists():
            self._check_by_trying()
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "a+"):
            pass

    def _check_by_trying(self) -> None:
        """Make the missing directories and the lock file, then remove them again: only
        trying says whether they can be made (root may write anywhere but /proc)."""
        missing = [p for p in (self.directory, *self.directory.parents) if not p.exists()]
        try:
            self.directory.mkdir(parents=True)
        except FileExistsError:  # a writer made it meanwhile: it is theirs, and usable
            return
        try:
            with open(self.directory / ".lock", "a+"):
                pass
        finally:
            with contextlib.suppress(OSError):
                (self.directory / ".lock").unlink()
            for directory in missing:  # deepest first
                with contextlib.suppress(OSError):
                    directory.rmdir()

    @classmethod
    def forget(cls) -> None:
        """Drop every instance (tests: behave like a fresh process)."""
        with cls._instances_lock:
            cls._instances.clear()

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._segments: dict[str, Segment] = {}
        self._view: LexicalView | None = None
        self._lock = threading.RLock()  # this process's threads; .lock is for processes
        self._missing: set[tuple[str, int]] = set()  # (segment, row) found deleted by searches
        self._deletions_seen = 0
        # What this process indexed itself (tests and benchmarks read them): whole stores, and
        # rows (a process sharing the directory of the writer indexes none).
        self.full_builds = 0
        self.rows_indexed = 0

    # -- reading --
    def read_manifest(self) -> dict[str, Any] | None:
        try:
            manifest = json.loads((self.directory / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return manifest if manifest.get("format") == FORMAT else None

    def view(self) -> LexicalView | None:
        """The current view (None before the first sync); re-read when the manifest moved."""
        for attempt in range(5):
            manifest = self.read_manifest()
            if manifest is None:
                return None
            with self._lock:
                if self._view is not None and self._view.generation == manifest["generation"]:
                    return self._view
                try:
                    view = self._open_view(manifest)
                except (OSError, ValueError) as exc:  # a merge retired a segment meanwhile
                    log.debug("lexical view %s: retry after %s", self.directory, exc)
                    time.sleep(0.05 * (attempt + 1))
                    continue
                for segment_name, row in self._missing:
                    for i, seg in enumerate(view.segments):
                        if seg.name == segment_name:
                            view.alive[view.offsets[i] + row] = False
                self._view = view
                return view
        raise RuntimeError(f"cannot open the lexical index in {self.directory}")

    def _open_view(self, manifest: dict[str, Any]) -> LexicalView:
        segments, dead = [], []
        for entry in manifest["segments"]:
            seg = self._segments.get(entry["name"]) or Segment(self.directory / entry["name"])
            segments.append(seg)
            dead.append(self._dead_rows(seg, entry))
        self._segments = {seg.name: seg for seg in segments}
        return LexicalView(manifest, segments, dead)

    def _dead_rows(self, seg: Segment, entry: dict[str, Any]) -> np.ndarray:
        if not entry.get("dead"):
            return np.zeros(0, dtype=np.int32)
        return np.load(seg.path / entry["dead"])

    def report_missing(self, view: LexicalView, rows: Iterable[int]) -> None:
        """Rows whose chunks Chroma no longer has (deleted by a process that does not share
        this directory): out of this view at once, tombstoned on disk at the next sync."""
        with self._lock:
            for row in rows:
                view.alive[row] = False
                self._missing.add(view.segment_row(int(row)))

    # -- writing --
    def sync(
        self, store: ArticleStore, *, blocking: bool = True, written_at: float | None = None
    ) -> SyncReport:
        """Bring the index up to the store; skipped (synced=False) when another process holds
        the lock and `blocking` is False. `written_at`: the stamp of a write this process has
        just made (its after-write sync), which must be read whatever the watermark."""
        started = time.perf_counter()
        with self._lock, _flock(self.directory, blocking) as held:
            if not held:
                return SyncReport()
            report = self._sync_locked(store, written_at)
            report.seconds = time.perf_counter() - started
            self.rows_indexed += report.added_rows
            return report

    def _sync_locked(self, store: ArticleStore, written_at: float | None) -> SyncReport:
        report = SyncReport(synced=True)
        now = time.time()  # before any read: what is visible now is read below
        revision = store.revision()  # first: a write during the sync leaves us stale, not wrong
        manifest = self.read_manifest()
        deletions, self._deletions_seen = store.deletions_after(self._deletions_seen)
        if (
            manifest is not None
            and manifest["revision"] == revision
            and not deletions
            and not self._missing
        ):
            return report
        segments = list(manifest["segments"]) if manifest else []
        # A writer killed after renaming a segment into place, before its manifest, left a
        # directory under the name this sync is about to use: clear what the manifest does
        # not name first (we hold the lock, so nothing else is writing).
        self._collect_garbage(segments)
        generation = int(manifest["generation"]) + 1 if manifest else 1
        next_name = int(manifest.get("next", 0)) if manifest else 0
        watermark = float(manifest["watermark"]) if manifest else 0.0
        view = self._open_view(manifest) if manifest else None
        looked_back_at = now
        if manifest is None:  # an index of an older format, or a crashed first build
            report.full_build = True
            self.full_builds += 1
            batches = _batched(store.iter_chunks(), BUILD_ROWS)
        else:
            since, looked_back_at = _read_from(manifest, now, written_at)
            report.looked_back = looked_back_at == now
            batches = _batched(store.chunks_written_since(since), BUILD_ROWS)
        dead: dict[str, set[int]] = {e["name"]: set() for e in segments}
        for chunks in batches:
            if view is not None:  # before tokenising: most of the look-back window is held
                chunks = _changed(view, chunks)
            if not chunks:
                continue
            docs = LexicalDoc.from_chunks(chunks)
            watermark = max(watermark, max(d.stamp for d in docs))
            if view is not None:
                _supersede(view, [d.chunk_id for d in docs], dead)
            name = f"s{next_name:06d}"
            next_name += 1
            write_segment(self.directory, name, docs)
            segments.append({"name": name, "rows": len(docs), "dead": None, "dead_rows": 0})
            dead[name] = set()
            report.added_rows += len(docs)
        if view is not None:
            report.dead_rows += _tombstone_deleted(view, deletions, dead)
            for segment_name, row in self._missing:
                if segment_name in dead:
                    dead[segment_name].add(row)
                    report.dead_rows += 1
        self._missing.clear()
        segments = self._write_dead(segments, dead, generation)
        segments, next_name, report.merged = self._merge(segments, next_name, generation)
        self._write_manifest(
            {
                "format": FORMAT,
                "generation": generation,
                "revision": revision,
                "watermark": watermark,
                "looked_back_at": looked_back_at,
                "next": next_name,
                "segments": segments,
                "written_at": time.time(),
            }
        )
        self._collect_garbage(segments)
        return report

    def _write_dead(
        self, segments: list[dict[str, Any]], dead: dict[str, set[int]], generation: int
    ) -> list[dict[str, Any]]:
        out = []
        for entry in segments:
            fresh = dead.get(entry["name"], set())
            if not fresh:
                out.append(entry)
                continue
            seg = self._segments.get(entry["name"]) or Segment(self.directory / entry["name"])
            rows = np.union1d(self._dead_rows(seg, entry), np.array(sorted(fresh), dtype=np.int32))
            file_name = f"dead-{generation}.npy"
            np.save(seg.path / file_name, rows.astype(np.int32))
            out.append({**entry, "dead": file_name, "dead_rows": len(rows)})
        return out

    def _merge(
        self, segments: list[dict[str, Any]], next_name: int, generation: int
    ) -> tuple[list[dict[str, Any]], int, int]:
        """Tiered merging: MERGE_FACTOR segments of a size tier become one of the next; a
        segment mostly dead is rewritten alone."""
        merged = 0
        while True:
            group = _merge_group(segments)
            if not group:
                return segments, next_name, merged
            chosen = [segments[i] for i in group]
            opened = [
                self._segments.get(e["name"]) or Segment(self.directory / e["name"]) for e in chosen
            ]
            dead = [self._dead_rows(seg, e) for seg, e in zip(opened, chosen, strict=True)]
            keep = [e for i, e in enumerate(segments) if i not in set(group)]
            merged += len(group)
            if sum(e["rows"] - e["dead_rows"] for e in chosen) == 0:
                segments = keep  # nothing left alive in them
                continue
            name = f"s{next_name:06d}"
            next_name += 1
            path = merge_segments(self.directory, name, opened, dead)
            entry = {"name": name, "rows": Segment(path).rows, "dead": None, "dead_rows": 0}
            segments = [*keep[: group[0]], entry, *keep[group[0] :]]

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        temp = self.directory / f".{MANIFEST}.{uuid.uuid4().hex}"
        with open(temp, "w", encoding="utf-8") as fh:
            json.dump(manifest, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, self.directory / MANIFEST)

    def _collect_garbage(self, segments: list[dict[str, Any]]) -> None:
        """Segments and dead files the manifest no longer names, and half-written leftovers of
        a crashed writer. Readers that still map them keep their mappings."""
        live = {e["name"]: e.get("dead") for e in segments}
        if not self.directory.is_dir():
            return
        for path in self.directory.iterdir():
            if path.name in (MANIFEST, ".lock"):
                continue
            if path.name not in live:
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                continue
            for file in path.glob("dead-*.npy"):
                if file.name != live[path.name]:
                    file.unlink(missing_ok=True)

    def build(
        self,
        docs: Iterable[LexicalDoc],
        *,
        revision: str,
        watermark: float = 0.0,
        looked_back_at: float | None = None,
        rows_per_segment: int = BUILD_ROWS,
    ) -> SyncReport:
        """Index a whole corpus into an empty directory (bulk loads: the benchmark).
        `looked_back_at`: a time at which every write in `docs` was visible (then the first
        sync need not look back from `watermark`)."""
        report = SyncReport(synced=True, full_build=True)
        with self._lock, _flock(self.directory, True):
            if self.read_manifest() is not None:
                raise RuntimeError(f"{self.directory} already holds a lexical index")
            self._collect_garbage([])
            segments = []
            for i, batch in enumerate(_batched(docs, rows_per_segment)):
                name = f"s{i:06d}"
                write_segment(self.directory, name, batch)
                segments.append({"name": name, "rows": len(batch), "dead": None, "dead_rows": 0})
                report.added_rows += len(batch)
            self._write_manifest(
                {
                    "format": FORMAT,
                    "generation": 1,
                    "revision": revision,
                    "watermark": watermark,
                    "looked_back_at": looked_back_at,
                    "next": len(segments),
                    "segments": segments,
                    "written_at": time.time(),
                }
            )
        return report


def _read_from(
    manifest: dict[str, Any], now: float, written_at: float | None
) -> tuple[float, float]:
    """(the oldest stamp to read, when the index last looked back after this sync).

    A look-back reads from SKEW_S before the watermark and the last look-back: a write not yet
    visible then was stamped at most SKEW_S before it. A writer's own sync looks back only
    when the last look-back is SKEW_S old; otherwise it reads its own write and what is newer
    than the watermark. Other syncs (a reader that saw a new revision) always look back."""
    watermark = float(manifest["watermark"])
    last = manifest.get("looked_back_at")
    if written_at is None or last is None or now - float(last) >= SKEW_S:
        start = watermark if last is None else min(watermark, float(last))
        return start - SKEW_S, now
    return min(watermark, written_at), float(last)


def _changed(view: LexicalView, chunks: list[StoredChunk]) -> list[StoredChunk]:
    """The chunks this view does not hold in that version (same chunk id and stamp)."""
    rows = view.rows_of([c.chunk_id for c in chunks])
    out = []
    for chunk, row in zip(chunks, rows.tolist(), strict=True):
        if row >= 0:
            seg, _, local = view.locate(row)
            if float(seg.stamp[local]) == _stamp(chunk):
                continue
        out.append(chunk)
    return out


def _stamp(chunk: StoredChunk) -> float:
    return float(chunk.metadata.get(STAMP_KEY, 0.0) or 0.0)


def _supersede(view: LexicalView, chunk_ids: list[str], dead: dict[str, set[int]]) -> None:
    for row in view.rows_of(chunk_ids).tolist():
        if row >= 0:
            segment_name, local = view.segment_row(row)
            dead.setdefault(segment_name, set()).add(local)


def _tombstone_deleted(
    view: LexicalView, deletions: Sequence[tuple[str, float]], dead: dict[str, set[int]]
) -> int:
    """Rows of chunks this process deleted (chunk id, time), unless written again after."""
    if not deletions:
        return 0
    count = 0
    rows = view.rows_of([chunk_id for chunk_id, _ in deletions])
    for (_, deleted_at), row in zip(deletions, rows.tolist(), strict=True):
        if row < 0:
            continue
        seg, _, local = view.locate(row)
        if float(seg.stamp[local]) <= deleted_at:
            dead.setdefault(seg.name, set()).add(local)
            count += 1
    return count


def _merge_group(segments: list[dict[str, Any]]) -> list[int]:
    """Indexes of segments to merge now (adjacent in the list), or []."""
    for i, entry in enumerate(segments):
        if entry["rows"] and entry["dead_rows"] / entry["rows"] >= PURGE_DEAD_SHARE:
            return [i]
    small = MAX_MERGE_ROWS // MERGE_FACTOR
    tiers: dict[int, list[int]] = {}
    for i, entry in enumerate(segments):
        live = entry["rows"] - entry["dead_rows"]
        if live < small:
            tiers.setdefault(int(math.log(max(live, 1), MERGE_FACTOR)), []).append(i)
    for members in tiers.values():
        if len(members) >= MERGE_FACTOR:
            return members[:MERGE_FACTOR]
    return []


def _batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


@contextlib.contextmanager
def _flock(directory: Path, blocking: bool) -> Iterator[bool]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


__all__ = [
    "LexicalDoc",
    "LexicalIndex",
    "LexicalView",
    "QueryTerms",
    "Segment",
    "SyncReport",
    "idf",
    "lexical_dir",
    "merge_segments",
    "term_keys",
    "write_segment",
]
