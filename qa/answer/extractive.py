"""The offline answerer: classify the question once, then let the strategies answer.

    shape = analyse(question)                 # qa/answer/shape.py, from the spaCy parse
    scored = score_sentences(shape, passages)  # qa/answer/relevance.py
    abstain if nothing is relevant enough, or the asked thing is never mentioned
    for strategy in STRATEGIES:                # qa/answer/strategies.py, in order
        answer = strategy.answer(shape, evidence)

Tuned numbers come from one injected `AnswerConfig` (qa/answer/config.py).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from qa.answer.config import AnswerConfig
from qa.answer.evidence import NO_PASSAGE_REASON, Evidence, abstain, seen_stems
from qa.answer.nlp import ParseCache, shared_cache
from qa.answer.relevance import Scored, ranked, score_sentences
from qa.answer.roles import claim_in_role
from qa.answer.shape import QuestionShape, analyse, without_condensed_suffix
from qa.answer.strategies import STRATEGIES, Strategy
from qa.answer.terms import true_cased
from qa.answer.vectors import SentenceVectors
from qa.types import Answer, Passage, Turn

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from index.settings import Settings

__all__ = ["NO_PASSAGE_REASON", "ExtractiveAnswerer"]


class ExtractiveAnswerer:
    def __init__(
        self,
        settings: Settings,
        embedding: BaseEmbedding | None = None,
        config: AnswerConfig | None = None,
        strategies: tuple[Strategy, ...] = STRATEGIES,
        parser: ParseCache | None = None,
    ):
        self.settings = settings
        self.config = config or AnswerConfig()
        self.vectors = SentenceVectors(embedding) if embedding is not None else None
        self.strategies = strategies
        self.parser = parser or shared_cache(self.config.parse_cache)

    @property
    def scorer(self) -> str:
        return "embedding" if self.vectors is not None else "lexical"

    def shape(self, question: str, passages: list[Passage] | None = None) -> QuestionShape:
        """The question's shape, from one parse of it (of its words as the passages write
        them, when it is written in capitals; the shape keeps the question as asked)."""
        read = true_cased(question, (p.text for p in passages or ()))
        shape = analyse(read, self.parser.parse(without_condensed_suffix(read)), self.config)
        return shape if read == question else dataclasses.replace(shape, text=question)

    def role_checker(self, question: str) -> Callable[[str, str], bool]:
        """claim, quote -> whether the quote holds the claim's names in the asked role."""
        shape = self.shape(question)
        return lambda claim, quote: claim_in_role(shape, claim, quote, self.parser.parse)

    def stream(
        self, question: str, passages: list[Passage], history: list[Turn] | None = None
    ) -> Iterator[Answer]:
        """Same shape as LLMAnswerer.stream (no text deltas: the answer comes whole)."""
        yield self.answer(question, passages, history)

    def answer(
        self, question: str, passages: list[Passage], history: list[Turn] | None = None
    ) -> Answer:
        """`history` is accepted for a uniform interface; the question should already be
        condensed (condense_question)."""
        started = time.perf_counter()
        shape = self.shape(question, passages)
        scored = score_sentences(shape, passages, self.config, self.vectors)
        answer = self.answer_shape(shape, passages, scored)
        answer.timings_ms["answer"] = (time.perf_counter() - started) * 1000
        return answer

    def answer_shape(
        self, shape: QuestionShape, passages: list[Passage], scored: list[Scored]
    ) -> Answer:
        # "Who is Ohtani's wife?" over passages none of which says "wife": the articles don't
        # say, however well the name matches.
        if not self.answerable(shape, scored) or (
            shape.attribute is not None and shape.attribute not in seen_stems(passages, scored)
        ):
            return abstain(shape, passages, ranked(scored), self.config)
        evidence = Evidence(shape, passages, scored, self.config, self.parser)
        for strategy in self.strategies:
            answer = strategy.answer(shape, evidence)
            if answer is not None:
                return answer
        raise AssertionError("the last strategy (SentenceAnswer) always answers")

    def answerable(self, shape: QuestionShape, scored: list[Scored]) -> bool:
        """The best sentence is relevant enough, and matches at least one average question
        term's worth of IDF mass (long multi-hop questions meet the first bar with a few terms;
        "capital of Australia" must not pass on "capital" alone)."""
        if not scored or not shape.terms:
            return False
        relevant = max(s.relevance for s in scored) >= self.config.abstain_threshold(self.scorer)
        best_lexical = max(s.parts.get("lexical", 0.0) for s in scored)
        return relevant and best_lexical >= self.config.min_term_share / len(shape.terms)
