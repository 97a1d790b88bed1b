"""The answering half: passages in, an Answer with verbatim citations out.

answerer = make_answerer(settings, embedding)
answer = answerer.answer(question, passages)                 # extractive
answer = answerer.answer(question, passages, history)        # LLM
for item in answerer.stream(question, passages, history):    # LLM: str deltas, then Answer
    ...
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from qa.answer.config import AnswerConfig
from qa.answer.extractive import ExtractiveAnswerer
from qa.answer.llm import LLMAnswerer

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from index.settings import Settings

__all__ = ["AnswerConfig", "ExtractiveAnswerer", "LLMAnswerer", "llm_configured", "make_answerer"]


def llm_configured(settings: Settings) -> bool:
    """An LLM is used when a server URL or an API key is configured."""
    return bool(settings.llm_base_url or settings.llm_api_key or os.environ.get("OPENAI_API_KEY"))


def make_answerer(
    settings: Settings, embedding: BaseEmbedding | None = None
) -> ExtractiveAnswerer | LLMAnswerer:
    extractive = ExtractiveAnswerer(settings, embedding)
    return LLMAnswerer(settings, fallback=extractive) if llm_configured(settings) else extractive
