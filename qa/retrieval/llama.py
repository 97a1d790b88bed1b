"""The hybrid retriever as a llama-index `BaseRetriever`, for llama-index applications.

    from llama_index.core.query_engine import RetrieverQueryEngine
    from qa.assistant import Assistant
    from qa.retrieval.llama import NewsRetriever

    retriever = NewsRetriever(Assistant().retriever, k=6)
    engine = RetrieverQueryEngine.from_args(retriever, llm=my_llm)
    response = engine.query("Which countries back Maduro?")
    response.source_nodes[0].node.metadata["title"]

Each passage becomes a `NodeWithScore`: a `TextNode` whose id is the chunk id, whose text is
the passage, whose `start_char_idx`/`end_char_idx` are its offsets in the article body (so a
quote can be located in the stored article), and whose metadata carries the article's fields
and the per-stage scores. Its SOURCE relationship names the article. The LLM sees the title,
source and date beside the text; ids, urls and scores stay out of its prompt.

Only `search` is called: BM25 + dense, question priors, reranker and diversity all apply, with
the date and outlet filters given here (a question's own dates are read as in `qa ask`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import (
    NodeRelationship,
    NodeWithScore,
    QueryBundle,
    RelatedNodeInfo,
    TextNode,
)

from qa.types import Passage, SearchResult

# Metadata the LLM is not shown (it reads title, source and published beside the text).
HIDDEN_FROM_LLM = ("article_id", "chunk_id", "url", "author", "scores", "also_reported_by")


class Searcher(Protocol):
    """What the adapter needs: `Retriever.search` (or `Assistant.search`, same signature)."""

    def search(
        self,
        question: str,
        k: int | None = None,
        since: str | None = None,
        until: str | None = None,
        sources: Iterable[str] | None = None,
    ) -> SearchResult: ...


class NewsRetriever(BaseRetriever):
    """Retriever.search behind llama-index's retriever interface."""

    def __init__(
        self,
        searcher: Searcher,
        *,
        k: int | None = None,
        since: str | None = None,
        until: str | None = None,
        sources: Sequence[str] | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        super().__init__(callback_manager=callback_manager)
        self.searcher = searcher
        self.k = k
        self.since = since
        self.until = until
        self.sources = list(sources) if sources else None

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        found = self.searcher.search(
            query_bundle.query_str,
            k=self.k,
            since=self.since,
            until=self.until,
            sources=self.sources,
        )
        return [passage_node(passage) for passage in found.passages]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        # The search is synchronous (model, Chroma); keep it off the event loop.
        return await asyncio.to_thread(self._retrieve, query_bundle)


def passage_node(passage: Passage) -> NodeWithScore:
    """A retrieved passage as a scored llama-index node (see the module docstring)."""
    metadata: dict[str, Any] = {
        "title": passage.title,
        "source": passage.source,
        "published": passage.published,
        "article_id": passage.article_id,
        "chunk_id": passage.chunk_id,
        "url": passage.url,
        "author": passage.author,
        "category": passage.category,
        "scores": dict(passage.scores),
        "also_reported_by": list(passage.also_reported_by),
    }
    node = TextNode(
        id_=passage.chunk_id,
        text=passage.text,
        start_char_idx=passage.start,
        end_char_idx=passage.end,
        metadata=metadata,
        excluded_llm_metadata_keys=[*HIDDEN_FROM_LLM, "category"],
        excluded_embed_metadata_keys=list(metadata),
        relationships={
            NodeRelationship.SOURCE: RelatedNodeInfo(
                node_id=passage.article_id, metadata={"title": passage.title}
            )
        },
    )
    return NodeWithScore(node=node, score=passage.score)
