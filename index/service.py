"""Wiring for ingestion: settings -> embedding model + store + ingestor. No globals."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from llama_index.core.base.embeddings.base import BaseEmbedding

from index.embedding import embedding_model_id, make_embedding
from index.ingest import Ingestor, IngestReport, ProgressCallback
from index.loaders import load_paths
from index.models import Article, LoadProblem
from index.repair import (
    Probe,
    RepairReport,
    forget_chroma_clients,
    looks_damaged,
    mark_for_repair,
    probe,
    probe_damaged,
    repair_done,
    repair_pending,
    repair_progress,
    reset_vector_segments,
    rewrite_vectors,
    save_progress,
)
from index.settings import Settings
from index.store import (
    CATALOG_SUFFIX,
    CATALOG_VECTOR,
    ArticleStore,
    StoredChunk,
    StoreError,
    damage_named,
    damaged_index_error,
    forget_dead_writer,
    writer_died,
)

log = logging.getLogger(__name__)


def embed_function(embedding: BaseEmbedding):
    """The fastest batch call the embedding offers (ours skips llama-index's per-batch events)."""
    fast = getattr(embedding, "embed_texts", None)
    if fast is not None:
        return lambda texts: fast(list(texts))
    return lambda texts: embedding.get_text_embedding_batch(list(texts))


class IndexService:
    """One index: its embedding model and its Chroma collections, loaded once."""

    def __init__(
        self,
        settings: Settings,
        embedding: BaseEmbedding | None = None,
        collection: str | None = None,
        *,
        create: bool = True,
        write: bool = True,
    ) -> None:
        """The collections are created by the first write, never by opening or reading.
        `create=False`: a missing index is an IndexMissingError (`qa articles`).
        `write=False`: only reads, so it may run beside the process writing an embedded index
        (a writer holds its lock: StoreBusyError for a second one)."""
        self.settings = settings
        self.embedding = embedding or make_embedding(settings)
        self.store = ArticleStore.open(
            settings, embedding_model_id(self.embedding), collection, create=create, write=write
        )
        # This service's last repair of the vector index (None: it never needed one).
        self.repaired: RepairReport | None = None
        if self._may_repair:
            self._repair_if_damaged()
        elif not settings.chroma_url:
            self._refuse_if_damaged()

    @property
    def _collection_names(self) -> list[str]:
        return [self.store.name, self.store.name + CATALOG_SUFFIX]

    @property
    def _may_repair(self) -> bool:
        """Only the writer of an embedded index repairs it (it holds the writer lock)."""
        return not self.settings.chroma_url and not self.store.read_only

    def _repair_if_damaged(self) -> None:
        """A writer that died holding the lock may have died in Chroma's vector save: probe in
        a child process (a damaged index can crash its reader) and repair what it finds."""
        path, name = self.settings.chroma_path, self.store.name
        died = self.store.previous_writer_died
        if died and not repair_pending(path, name) and probe_damaged(path, self._collection_names):
            mark_for_repair(path, name)
        if repair_pending(path, name):
            self.repair_vectors()

    def _refuse_if_damaged(self) -> None:
        """A reader cannot repair, but must not load a damaged index either (it may crash):
        refused in one line saying what to run, when the index is marked, or the last writer
        died holding its lock and the probe finds damage."""
        path, name = self.settings.chroma_path, self.store.name
        if repair_pending(path, name):
            raise damaged_index_error(self.settings, "it is marked for repair")
        if not writer_died(self.settings):
            return
        found = probe(path, self._collection_names)
        if found is Probe.DAMAGED:
            mark_for_repair(path, name)
            raise damaged_index_error(self.settings, "found after its last writer died")
        if found is Probe.SOUND:  # UNKNOWN keeps the dead writer's name: the next one checks
            forget_dead_writer(self.settings)

    def repair_vectors(self) -> RepairReport:
        """Rebuild both collections' vector indexes from the records Chroma keeps in SQLite
        (index.repair): chunk vectors re-embedded from their stored text. Embedded writer only."""
        if not self._may_repair:
            raise StoreError("only the process writing an embedded index can repair it")
        from chromadb.errors import ChromaError

        path, name = self.settings.chroma_path, self.store.name
        started = time.monotonic()
        try:
            try:
                report = self._rebuild(path)
            except Exception as exc:
                if not looks_damaged(exc):
                    raise
                # Damage the probe cannot see (it shows only on a write) met while resuming
                # a repair: start over, once.
                mark_for_repair(path, name)
                report = self._rebuild(path)
        except (sqlite3.Error, OSError, ChromaError) as exc:  # busy, full, or damaged again
            raise StoreError(
                f"the repair of the vector index in {path} stopped: {type(exc).__name__}: "
                f"{exc}; what it did is kept: run `qa articles repair` again"
            ) from exc
        repair_done(path, name)
        report.seconds = time.monotonic() - started
        log.warning("rebuilt the vector index: %s", report)
        self.repaired = report
        return report

    def _rebuild(self, path: Path) -> RepairReport:
        progress = self._reset_unless_resuming(path)
        report = RepairReport()
        if not self.store.exists:
            return report
        log.warning(
            "the vector index in %s was damaged by an interrupted save; re-embedding its %d "
            "chunks from their stored text, from chunk %d (nothing stored is lost)",
            path,
            self.store.count_chunks(),
            progress["chunks"],
        )
        name = self.store.name

        def done_up_to(kind: str) -> Callable[[int], None]:
            return lambda offset: save_progress(path, name, {**progress, kind: offset})

        report.chunks = rewrite_vectors(
            self.store.chunk_collection,
            self._chunk_vectors,
            progress["chunks"],
            done_up_to("chunks"),
        )
        progress["chunks"] += report.chunks
        report.articles = rewrite_vectors(
            self.store.catalog_collection,
            lambda docs, _metas: [list(CATALOG_VECTOR)] * len(docs),
            progress["articles"],
            done_up_to("articles"),
        )
        self.store.bump_revision()  # readers in other processes reload
        return report

    def _reset_unless_resuming(self, path: Path) -> dict[str, int]:
        """How far an earlier repair got: it goes on from there, unless its own writes were
        damaged in turn (it too was killed in a save); else the segments are reset. Either
        way the store gets a fresh client (the old one may hold the damaged segments)."""
        names, name = self._collection_names, self.store.name
        progress = repair_progress(path, name)
        self.store.close_client()
        forget_chroma_clients()
        if progress is None or probe_damaged(path, names):
            progress = {"chunks": 0, "articles": 0}
            save_progress(path, name, progress)  # before the reset: cleared when all is written
            reset_vector_segments(path, names)
        self.store.reconnect()
        return progress

    def _chunk_vectors(self, documents: list[str | None], metadatas: list[dict]) -> list:
        """What ingest embedded for each stored chunk: its search text (header and text)."""
        texts = [
            StoredChunk("", doc or "", meta).search_text
            for doc, meta in zip(documents, metadatas, strict=True)
        ]
        return list(embed_function(self.embedding)(texts))

    def ingestor(self) -> Ingestor:
        return Ingestor(
            self.store,
            embed_function(self.embedding),
            chunk_size=self.settings.chunk_size,
            chunk_overlap=self.settings.chunk_overlap,
            embed_with_sentences=getattr(self.embedding, "embed_with_sentences", None),
        )

    def ingest_paths(
        self,
        paths: Iterable[str | Path],
        progress: ProgressCallback | None = None,
        report: IngestReport | None = None,
    ) -> IngestReport:
        paths = list(paths)  # read twice if a repair has to interrupt the first run
        report = report if report is not None else IngestReport()
        try:
            return self.ingestor().ingest(load_paths(paths), progress, report)
        except Exception as exc:
            if not (self._may_repair and looks_damaged(exc)):
                raise
        # Chroma's vector index broke under this ingest (a crash before it left it damaged):
        # repair, then go on. What was written stays written; the re-run skips it.
        mark_for_repair(self.settings.chroma_path, self.store.name)
        self.repair_vectors()
        rerun = self.ingestor().ingest(load_paths(paths), progress, IngestReport())
        return report.resumed_by(rerun)

    def ingest_items(
        self,
        items: Iterable[Article | LoadProblem],
        progress: ProgressCallback | None = None,
        report: IngestReport | None = None,
    ) -> IngestReport:
        """Articles already loaded (uploads, feeds): a damaged vector index is named (and
        marked for repair) rather than raised as Chroma's own error."""
        with damage_named(self.settings, self.store.name):
            return self.ingestor().ingest(items, progress, report)
