"""Files of articles -> a Chroma index: load, diff against the catalog, chunk, embed, write.

Unchanged articles (same content hash) cost nothing: no chunking, no embedding, no write. A
changed article re-uses the stored embedding of every chunk whose text did not change. An edited
file (its article's id, a hash of the body, changed) replaces the article it gave before, matched
by the file's path or upload name (`Article.file_key`). Bad input is reported and skipped;
everything else is ingested.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from index.chunking import chunk_article
from index.dedup import THRESHOLD, DuplicateFinder, decode, encode, signature
from index.limits import article_too_long
from index.models import Article, Chunk, LoadProblem, without_future_date
from index.sentences import encode_vectors, sentence_spans
from index.store import (
    ArticleRecord,
    ArticleStore,
    ArticleWrite,
    LexicalDirError,
    StoredVectors,
)

EmbedTexts = Callable[[list[str]], list[list[float]]]
# texts + character spans of their sentences -> (one vector per text, (n_spans, dim) per text)
EmbedWithSentences = Callable[
    [list[str], list[list[tuple[int, int]]]], tuple[list[list[float]], list[np.ndarray]]
]

# Chunks embedded per model call group: large enough for length-sorted batching to pay off,
# small enough that progress moves and a crash loses little work.
EMBED_GROUP = 256


@dataclass
class Progress:
    """What a progress bar needs; `chunks_total` is known before embedding starts."""

    articles_done: int = 0
    articles_total: int = 0
    chunks_done: int = 0
    chunks_total: int = 0
    embedded: int = 0
    elapsed_s: float = 0.0

    @property
    def embeddings_per_s(self) -> float:
        return self.embedded / self.elapsed_s if self.elapsed_s > 0 else 0.0


ProgressCallback = Callable[[Progress], None]


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0
    errors: list[LoadProblem] = field(default_factory=list)
    warnings: list[LoadProblem] = field(default_factory=list)
    article_ids: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def resumed_by(self, rerun: IngestReport) -> IngestReport:
        """This report of a run stopped part-way, completed by a re-run of the same input: the
        re-run finds what this one wrote unchanged, and loads (and reports) the same problems."""
        written = self.added + self.updated
        self.added += rerun.added
        self.updated += rerun.updated
        self.unchanged = max(0, rerun.unchanged - written)
        self.failed = rerun.failed
        self.chunks += rerun.chunks
        self.embedded += rerun.embedded
        self.seconds += rerun.seconds
        self.errors, self.warnings = rerun.errors, rerun.warnings
        self.article_ids = list(dict.fromkeys([*self.article_ids, *rerun.article_ids]))
        return self

    def to_dict(self) -> dict[str, Any]:
        def rows(problems: list[LoadProblem]) -> list[dict[str, Any]]:
            return [{"path": p.path, "line": p.line, "reason": p.reason} for p in problems]

        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "chunks": self.chunks,
            "embedded": self.embedded,
            "seconds": round(self.seconds, 3),
            "errors": rows(self.errors),
            "warnings": rows(self.warnings),
        }


@dataclass
class _Pending:
    article: Article
    chunks: list[Chunk]
    is_new: bool
    reusable: dict[str, StoredVectors]
    minhash: str
    near_duplicates: list[str]


class Ingestor:
    """Writes articles into one store with one embedding model."""

    def __init__(
        self,
        store: ArticleStore,
        embed_texts: EmbedTexts,
        *,
        chunk_size: int = 256,
        chunk_overlap: int = 32,
        embed_with_sentences: EmbedWithSentences | None = None,
    ) -> None:
        self.store = store
        self.embed_texts = embed_texts
        self.embed_with_sentences = embed_with_sentences
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap

    def ingest(
        self,
        items: Iterable[Article | LoadProblem],
        progress: ProgressCallback | None = None,
        report: IngestReport | None = None,
    ) -> IngestReport:
        """Ingest and report. Pass `report` to keep what it counted if the run fails part-way
        (e.g. the Chroma server goes away): added/updated/chunks then count only the writes
        that completed."""
        started = time.perf_counter()
        report = IngestReport() if report is None else report
        self.store.catch_up()  # what an earlier run could not index; a broken dir stops here
        articles = self._collect(items, report)
        # Only these articles' records: the whole catalog grows with the archive.
        stored = self.store.article_records([article.article_id for article in articles])
        stored_hashes = {
            article_id: record.content_hash
            for article_id, record in stored.items()
            if record.has_sentence_vectors or self.embed_with_sentences is None
        }
        earlier = self._earlier_versions(articles, report)
        finder: DuplicateFinder | None = None  # built only when something is to be written
        pending: list[_Pending] = []
        for article in articles:
            article_id = article.article_id
            if stored_hashes.get(article_id) == article.content_hash:
                self._keep_place(article, stored[article_id])
                report.article_ids.append(article_id)
                report.unchanged += 1
                continue
            if finder is None:
                finder = DuplicateFinder(self.store.near_duplicate_candidates)
            try:
                pending.append(
                    self._prepare(
                        article, article_id in stored, finder, earlier.get(article_id, [])
                    )
                )
            except ValueError as error:  # e.g. the splitter refuses a header above chunk size
                _refuse(report, article, _chunking_problem(error, self.chunk_size))
                continue
            report.article_ids.append(article_id)

        state = Progress(
            articles_total=len(pending), chunks_total=sum(len(p.chunks) for p in pending)
        )

        def finish(write: Future[None], group: list[_Pending]) -> None:
            _settle(write, group, report, state)  # a failed write stops the ingest here
            state.elapsed_s = time.perf_counter() - started
            if progress:
                progress(state)

        # Group N is written to Chroma (one thread, in order) while group N+1 is embedded:
        # the model keeps both cores busy and the single-threaded write no longer adds to the
        # wall time. At most one write is in flight, so a crash loses at most two groups' work.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chroma-write") as writer:
            in_flight: tuple[Future[None], list[_Pending]] | None = None
            for group in _groups(pending, EMBED_GROUP):
                writes = self._embed_group(group, report, state)
                if in_flight is not None:
                    finish(*in_flight)
                in_flight = (writer.submit(self.store.write_articles, writes), group)
            if in_flight is not None:
                finish(*in_flight)
        # Only once the new version is stored: a crash before this point leaves both, and the
        # re-run (the new version now unchanged) finds the earlier one again and deletes it.
        self._delete_earlier_versions(earlier, set(report.article_ids))
        report.seconds = time.perf_counter() - started
        return report

    def _keep_place(self, article: Article, record: ArticleRecord) -> None:
        """An unchanged article found under another name or path (renamed, moved), or stored
        before file keys: the catalog follows it, so its origin names the file it is in now."""
        moved = record.origin != article.origin or record.file_key != article.file_key
        if moved and (article.file_key or article.origin):
            self.store.set_place(article.article_id, article.origin, article.file_key)

    def _delete_earlier_versions(self, earlier: dict[str, list[str]], stored: set[str]) -> None:
        for article_id, replaced in earlier.items():
            for earlier_id in replaced if article_id in stored else []:
                self.store.delete_article(earlier_id)

    def _earlier_versions(
        self, articles: list[Article], report: IngestReport
    ) -> dict[str, list[str]]:
        """New article id -> stored articles it replaces: ones keyed by the same file that
        this ingest does not hold, from the same outlet, and a near-duplicate of the new text
        (an edit). A stored article failing that guard (the file now holds another story) is
        kept, un-keyed, with a warning naming it."""
        by_file = {article.file_key: article for article in articles if article.file_key}
        if not by_file:
            return {}
        ingesting = {article.article_id for article in articles}
        earlier: dict[str, list[str]] = {}
        for record in self.store.records_by_file(sorted(by_file)):
            article = by_file[record.file_key]
            if record.article_id in ingesting:
                continue
            if _is_edit_of(article, record):
                earlier.setdefault(article.article_id, []).append(record.article_id)
                continue
            self.store.set_place(record.article_id, record.origin, "")
            report.warnings.append(
                LoadProblem(
                    path=article.origin,
                    reason=f"this file held another article before ({record.article_id}, "
                    f"{record.title!r}); both are kept: delete that one (qa articles delete "
                    "ID) if this file replaced it",
                    fatal=False,
                )
            )
        return earlier

    # --- steps --------------------------------------------------------------------------------
    @staticmethod
    def _collect(items: Iterable[Article | LoadProblem], report: IngestReport) -> list[Article]:
        """Keep the last version of each article id; sort problems into errors and warnings."""
        by_id: dict[str, Article] = {}
        for item in items:
            if isinstance(item, LoadProblem):
                if item.fatal:
                    report.failed += 1
                    report.errors.append(item)
                else:
                    report.warnings.append(item)
                continue
            problem = _unstorable(item)
            if problem is not None:  # one bad article must not stop the others
                _refuse(report, item, problem)
                continue
            item, future = without_future_date(item)  # whatever the input: file, record, URL
            if future is not None:
                report.warnings.append(future)
            if item.article_id in by_id:
                report.warnings.append(
                    LoadProblem(
                        path=item.origin,
                        reason=f"same article id as {by_id[item.article_id].origin}; "
                        "the later one is kept",
                        fatal=False,
                    )
                )
            by_id[item.article_id] = _with_storable_origin(item)
        return list(by_id.values())

    def _prepare(
        self, article: Article, exists: bool, finder: DuplicateFinder, replaces: list[str]
    ) -> _Pending:
        chunks = chunk_article(article, self.chunk_size, self.chunk_overlap)
        minhash = signature(article.body)
        near = [n for n in finder.matches(article.article_id, minhash) if n not in replaces]
        finder.add(article.article_id, minhash)
        reusable = self.store.chunk_embeddings(article.article_id) if exists else {}
        for earlier_id in replaces:  # an edit re-embeds only the chunks it changed
            reusable = {**self.store.chunk_embeddings(earlier_id), **reusable}
        if self.embed_with_sentences is not None:  # stored before sentence vectors: redo
            reusable = {h: v for h, v in reusable.items() if v.sentence_vectors}
        is_new = not exists and not replaces  # an edited file's article is updated, not added
        return _Pending(article, chunks, is_new, reusable, encode(minhash), near)

    def _embed_group(
        self, group: list[_Pending], report: IngestReport, state: Progress
    ) -> list[ArticleWrite]:
        """Vectors for the group's new or changed chunk texts; stored ones are reused."""
        todo = [
            (p_index, c_index)
            for p_index, item in enumerate(group)
            for c_index, chunk in enumerate(item.chunks)
            if chunk.text_hash not in item.reusable
        ]
        chunks = [group[p].chunks[c] for p, c in todo]
        fresh = dict(zip(todo, self._embed(chunks), strict=True))
        report.embedded += len(chunks)
        state.embedded += len(chunks)
        writes = []
        for p_index, item in enumerate(group):
            if not item.chunks:
                continue
            stored = [
                fresh.get((p_index, c_index)) or item.reusable[chunk.text_hash]
                for c_index, chunk in enumerate(item.chunks)
            ]
            writes.append(
                ArticleWrite(
                    item.article,
                    item.chunks,
                    [v.embedding for v in stored],
                    minhash=item.minhash,
                    near_duplicates=item.near_duplicates,
                    sentence_vectors=[v.sentence_vectors for v in stored],
                )
            )
        return writes

    def _embed(self, chunks: list[Chunk]) -> list[StoredVectors]:
        if not chunks:
            return []
        texts = [chunk.search_text for chunk in chunks]
        if self.embed_with_sentences is None:
            return [StoredVectors(vector) for vector in self.embed_texts(texts)]
        spans = [_search_text_spans(chunk) for chunk in chunks]
        vectors, per_sentence = self.embed_with_sentences(texts, spans)
        return [
            StoredVectors(vector, encode_vectors(sentences))
            for vector, sentences in zip(vectors, per_sentence, strict=True)
        ]


def _settle(
    write: Future[None], group: list[_Pending], report: IngestReport, state: Progress
) -> None:
    """Wait for a group's write and count it. A LexicalDirError comes after the write was
    stored in Chroma (only the lexical index missed it): counted, then raised to stop."""
    try:
        write.result()
    except LexicalDirError:
        _count_written(group, report, state)
        raise
    _count_written(group, report, state)


def _is_edit_of(article: Article, record: ArticleRecord) -> bool:
    """The same file's earlier version: same outlet, and a near-duplicate text."""
    stored = decode(record.minhash)
    return (
        stored is not None
        and " ".join(article.source.casefold().split())
        == " ".join(record.source.casefold().split())
        and signature(article.body).jaccard(stored) >= THRESHOLD
    )


def _search_text_spans(chunk: Chunk) -> list[tuple[int, int]]:
    """The chunk body's sentences, as spans of its search text (header, blank line, body)."""
    shift = len(chunk.header) + 2 if chunk.header else 0
    return [(start + shift, end + shift) for start, end in sentence_spans(chunk.text)]


def _count_written(group: list[_Pending], report: IngestReport, state: Progress) -> None:
    for item in group:
        if not item.chunks:
            continue
        report.chunks += len(item.chunks)
        if item.is_new:
            report.added += 1
        else:
            report.updated += 1
        state.articles_done += 1
        state.chunks_done += len(item.chunks)


_TEXT_FIELDS = ("title", "body", "source", "url", "author", "caption", "category")


def _unstorable(article: Article) -> str | None:
    """Why this article is not stored: too long for one article (index.limits), or Chroma
    would reject it (and abort the whole group write); None when it can be.

    Lone surrogates (JSON "\\ud800") are valid Python str but not UTF-8: the article id hash,
    and later the Chroma write of the whole group, would fail with UnicodeEncodeError.
    """
    too_long = article_too_long(article.body)
    if too_long:
        return too_long
    for name in _TEXT_FIELDS:
        try:
            getattr(article, name).encode("utf-8")
        except UnicodeEncodeError as error:
            return (
                f"the {name} is not valid Unicode (lone surrogate at character "
                f"{error.start}); fix the encoding of the source"
            )
    return None


def _refuse(report: IngestReport, article: Article, reason: str) -> None:
    report.failed += 1
    report.errors.append(LoadProblem(path=_storable_text(article.origin), reason=reason))


def _with_storable_origin(article: Article) -> Article:
    """A file name with undecodable bytes (surrogate escapes) is kept readable, not refused;
    so is the path that keys the file (the same path each time, so the same key)."""
    update = {
        name: _storable_text(getattr(article, name))
        for name in ("origin", "file_key")
        if _storable_text(getattr(article, name)) != getattr(article, name)
    }
    return article.model_copy(update=update) if update else article


def _storable_text(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _chunking_problem(error: ValueError, chunk_size: int) -> str:
    if "Metadata length" in str(error):  # llama-index SentenceSplitter's wording
        return (
            f"the title/source/date header is longer than one chunk ({chunk_size} tokens); "
            "shorten the title or raise QA_CHUNK_SIZE"
        )
    return f"cannot be chunked: {error}"


def _groups(pending: Sequence[_Pending], max_chunks: int) -> Iterable[list[_Pending]]:
    """Whole articles per group, about `max_chunks` chunks each (an article is never split)."""
    group: list[_Pending] = []
    size = 0
    for item in pending:
        group.append(item)
        size += len(item.chunks)
        if size >= max_chunks:
            yield group
            group, size = [], 0
    if group:
        yield group
