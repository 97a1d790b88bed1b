"""Wiring for ingestion: settings -> embedding model + store + ingestor. No globals."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from llama_index.core.base.embeddings.base import BaseEmbedding

from index.embedding import embedding_model_id, make_embedding
from index.ingest import Ingestor, IngestReport, ProgressCallback
from index.loaders import load_paths
from index.models import Article, LoadProblem
from index.settings import Settings
from index.store import ArticleStore


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
        return self.ingestor().ingest(load_paths(paths), progress, report)

    def ingest_items(
        self,
        items: Iterable[Article | LoadProblem],
        progress: ProgressCallback | None = None,
        report: IngestReport | None = None,
    ) -> IngestReport:
        return self.ingestor().ingest(items, progress, report)
