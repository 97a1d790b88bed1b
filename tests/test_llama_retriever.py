"""The hybrid retriever inside llama-index's own engines: a RetrieverQueryEngine and a chat
engine over NewsRetriever, with a fake LLM that records what it was asked."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.chat_engine import CondensePlusContextChatEngine
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import NodeRelationship, NodeWithScore, TextNode
from pydantic import Field

from qa.retrieval.llama import NewsRetriever
from tests.api_fixtures import SEED_QUESTION, make_assistant

BACKERS = "Russia, China, Iran, Syria, Cuba and Turkey"
REPLY = "Russia and China back Maduro."


class RecordingLLM(CustomLLM):
    """A fake LLM: answers REPLY and keeps every prompt it was given."""

    prompts: list[str] = Field(default_factory=list)

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=8192, num_output=256, model_name="recording")

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.prompts.append(prompt)
        return CompletionResponse(text=REPLY)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        self.prompts.append(prompt)
        yield CompletionResponse(text=REPLY, delta=REPLY)


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_assistant(Path(tmp_path_factory.mktemp("llama")) / "data")


def assert_our_node(scored: NodeWithScore, assistant: Any) -> None:
    node = scored.node
    assert isinstance(node, TextNode) and scored.score is not None
    meta = node.metadata
    record = assistant.get_article(meta["article_id"])
    assert record is not None and meta["title"] == record.title
    assert record.body[node.start_char_idx : node.end_char_idx] == node.text  # offsets kept
    assert node.node_id == meta["chunk_id"] and meta["scores"]
    assert node.relationships[NodeRelationship.SOURCE].node_id == meta["article_id"]


def test_retrieve_returns_scored_text_nodes_with_article_metadata_and_offsets(
    assistant: Any,
) -> None:
    retriever = NewsRetriever(assistant.retriever, k=4)
    nodes = retriever.retrieve(SEED_QUESTION)
    assert 1 <= len(nodes) <= 4
    for scored in nodes:
        assert_our_node(scored, assistant)
    assert BACKERS in nodes[0].node.get_content()
    assert nodes[0].node.metadata["published"].startswith("2019-01-26")
    passages = assistant.search(SEED_QUESTION, k=4).passages
    assert [n.node.node_id for n in nodes] == [p.chunk_id for p in passages]  # search's order
    assert asyncio.run(retriever.aretrieve(SEED_QUESTION))[0].node.node_id == nodes[0].node.node_id


def test_filters_given_to_the_retriever_apply(assistant: Any) -> None:
    gazette = NewsRetriever(assistant.retriever, sources=["Coastal Gazette"])
    assert {n.node.metadata["source"] for n in gazette.retrieve(SEED_QUESTION)} <= {
        "Coastal Gazette"
    }
    assert NewsRetriever(assistant.retriever, until="2000-01-01").retrieve(SEED_QUESTION) == []


def test_llama_index_query_engine_answers_with_our_source_nodes(assistant: Any) -> None:
    llm = RecordingLLM()
    engine = RetrieverQueryEngine.from_args(NewsRetriever(assistant.retriever, k=3), llm=llm)
    response = engine.query(SEED_QUESTION)
    assert str(response) == REPLY
    assert response.source_nodes
    for scored in response.source_nodes:
        assert_our_node(scored, assistant)
    prompt = "\n".join(llm.prompts)
    assert BACKERS in prompt  # the passages reached the LLM, with the fields it should see
    assert "title: Venezuela's political showdown" in prompt and "article_id" not in prompt


def test_llama_index_chat_engine_uses_it_for_each_turn(assistant: Any) -> None:
    llm = RecordingLLM()
    engine = CondensePlusContextChatEngine.from_defaults(
        NewsRetriever(assistant.retriever, k=3), llm=llm
    )
    reply = engine.chat(SEED_QUESTION)
    assert str(reply) == REPLY and reply.source_nodes
    assert_our_node(reply.source_nodes[0], assistant)
    follow_up = engine.chat("And when did the lighthouse in Pellworth reopen?")
    assert follow_up.source_nodes and len(llm.prompts) >= 3  # condense + answer, per turn
    assert_our_node(follow_up.source_nodes[0], assistant)
