"""`Assistant`: the in-process Python API. CLI, HTTP API and UI all go through it.

It holds what is expensive to load (embedding model, Chroma client, BM25 index, answerers) and
nothing about any user: conversation history comes in with each call, so one Assistant can serve
many users and several server processes can serve one index.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from index.ingest import IngestReport, ProgressCallback
from index.limits import (
    check_history,
    check_k,
    check_period,
    check_question,
    check_sources,
)
from index.loaders import load_records
from index.models import Article, LoadProblem
from index.service import IndexService
from index.settings import Settings
from index.store import ArticleRecord, damage_named
from qa.types import Answer, Passage, SearchResult, Turn, history_turns
from qa.uploads import Upload, load_uploads

if TYPE_CHECKING:
    from index.poller import FeedPoller

Mode = Literal["extractive", "llm"]
log = logging.getLogger(__name__)

# What `Assistant.warm_up` answers: a made-up passage, so it needs nothing from the index.
WARM_UP_QUESTION = "Who chaired the meeting on Saturday?"
WARM_UP_TEXT = "Jorge Arreaza chaired the meeting on Saturday. He said the talks went well."


class AssistantError(ValueError):
    """A request the assistant cannot serve as asked (e.g. LLM mode with no LLM configured)."""


class Assistant:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        collection: str | None = None,
        service: IndexService | None = None,
        read_only: bool = False,
    ) -> None:
        """`read_only`: for askers only (`qa ask`, `qa chat`): they may run beside the process
        that writes an embedded index, and adding or deleting articles is refused."""
        from qa.answer import ExtractiveAnswerer, LLMAnswerer, llm_configured
        from qa.retrieval import Retriever

        self.settings = settings or Settings()
        self.service = service or IndexService(
            self.settings, collection=collection, write=not read_only
        )
        self.retriever = Retriever(self.service, self.settings)
        self.extractive = ExtractiveAnswerer(self.settings, self.service.embedding)
        self.llm = (
            LLMAnswerer(self.settings, fallback=self.extractive)
            if llm_configured(self.settings)
            else None
        )

    # --- questions ----------------------------------------------------------------------------
    def search(
        self,
        question: str,
        *,
        k: int | None = None,
        since: str | None = None,
        until: str | None = None,
        sources: Sequence[str] | None = None,
    ) -> SearchResult:
        """The passages for a question. Bad input raises `index.limits.InputError`, with the
        message every entry point (CLI, HTTP, chat window) shows for it."""
        question = check_question(question)
        check_k(k)
        check_sources(sources)
        since, until = check_period(since, until)
        with damage_named(self.settings, self.service.store.name):
            return self.retriever.search(question, k=k, since=since, until=until, sources=sources)

    def ask(self, question: str, **options: Any) -> Answer:
        """The final Answer of `ask_stream`: one code path for streaming and not."""
        final: Answer | None = None
        for event in self.ask_stream(question, **options):
            if isinstance(event, Answer):
                final = event
        assert final is not None, "ask_stream always ends with an Answer"
        return final

    def ask_stream(
        self,
        question: str,
        *,
        history: Sequence[Turn | dict[str, str]] = (),
        k: int | None = None,
        since: str | None = None,
        until: str | None = None,
        sources: Sequence[str] | None = None,
        mode: Mode | None = None,
    ) -> Iterator[str | Answer]:
        """Yield answer text deltas, then exactly one final Answer. Bad input raises
        `index.limits.InputError` before any work is done."""
        from qa.conversation import condense

        started = time.perf_counter()
        question = check_question(question)
        check_history(history)
        check_k(k)
        check_sources(sources)
        since, until = check_period(since, until)
        use_llm = self._use_llm(mode)
        # Plain {"role", "content"} dicts are accepted too: the Python API should not make
        # callers import our types to hold a conversation.
        turns = history_turns(history)
        condensed = condense(question, turns, self.llm if use_llm else None)
        standalone = condensed.question
        condensed_at = time.perf_counter()
        with damage_named(
            self.settings, self.service.store.name
        ):  # a read of a damaged index, in any step
            found = self.search(standalone, k=k, since=since, until=until, sources=sources)
            if not found.passages:  # nothing to read: say why, in the user's terms, no LLM call
                reason = nothing_found_reason(found, self.service.store.count_chunks(), sources)
                events = sentence_stream(
                    Answer(
                        question=standalone,
                        answer=reason,
                        abstained=True,
                        reason=reason,
                        mode="llm" if use_llm else "extractive",
                    )
                )
            elif use_llm and self.llm is not None:
                # An LLM that just timed out (or could not be reached) condensing this question is
                # not waited on again: the answer falls back at once, its notice stating that wait.
                events = self.llm.stream(
                    standalone, found.passages, turns, unavailable=condensed.unavailable
                )
            else:
                events = sentence_stream(self.extractive.answer(standalone, found.passages))
            for event in events:
                if isinstance(event, Answer):
                    event = self._finish(event, question, standalone, found, started, condensed_at)
                    yield with_usage(event, [standalone, *(t.content for t in turns)], found)
                else:
                    yield event

    def warm_up(self) -> float:
        """Load now what the first answer would otherwise load on the way (the spaCy pipeline,
        nltk's sentence splitter, the tokenizer, the retriever's lexical state: 1-7 s), so a
        server's "ready" means ready: the follow-up rewrite and one extractive answer over a
        made-up passage, and one search of the index. Nothing is stored and no LLM is called.
        Returns the seconds taken; a failure is logged, not raised (the first answer is then
        only slower)."""
        from qa.conversation import condense

        started = time.perf_counter()
        text = WARM_UP_TEXT
        passage = Passage(
            chunk_id="warm-up", article_id="warm-up", text=text, start=0, end=len(text)
        )
        try:
            condense("What did he say?", [Turn(role="user", content=WARM_UP_QUESTION)])
            answer = self.extractive.answer(WARM_UP_QUESTION, [passage])
            found = self.search(WARM_UP_QUESTION, k=1)
            with_usage(answer, [WARM_UP_QUESTION], found)
        except Exception as exc:  # a warm-up must never stop a start-up
            log.warning(
                "warm-up failed (the first answer will be slower): %s: %s", type(exc).__name__, exc
            )
        return time.perf_counter() - started

    def _use_llm(self, mode: Mode | None) -> bool:
        if mode == "llm" and self.llm is None:
            raise AssistantError(
                "answer mode 'llm' needs an LLM: set OPENAI_API_KEY or QA_LLM_BASE_URL"
            )
        return self.llm is not None and mode != "extractive"

    @staticmethod
    def _finish(
        answer: Answer,
        question: str,
        standalone: str,
        found: SearchResult,
        started: float,
        condensed_at: float,
    ) -> Answer:
        total_ms = (time.perf_counter() - started) * 1000
        retrieval_ms = sum(found.timings_ms.values())
        timings = {
            "condense": (condensed_at - started) * 1000,
            **{f"retrieve.{stage}": ms for stage, ms in found.timings_ms.items()},
            **answer.timings_ms,
            "total": total_ms,
        }
        timings.setdefault("answer", max(0.0, total_ms - retrieval_ms - timings["condense"]))
        return answer.model_copy(
            update={
                "question": question,
                "standalone_question": standalone if standalone != question else "",
                "filters": found.filters,
                "timings_ms": {name: round(ms, 2) for name, ms in timings.items()},
            }
        )

    # --- articles -----------------------------------------------------------------------------
    def ingest_paths(
        self, paths: Iterable[str | Path], progress: ProgressCallback | None = None
    ) -> IngestReport:
        return self.service.ingest_paths(paths, progress)

    def ingest_records(self, records: Iterable[dict], origin: str = "upload") -> IngestReport:
        return self.ingest_items(load_records(records, origin))

    def ingest_files(
        self,
        files: Sequence[Upload | tuple[str, bytes]],
        progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Ingest uploaded files given as (name, bytes): the name is metadata (the article's
        origin), checked like every upload's; InputError for a bad name, type, size or count."""
        uploads = [f if isinstance(f, Upload) else Upload(name=f[0], data=f[1]) for f in files]
        return self.ingest_items(load_uploads(uploads), progress)

    def ingest_items(
        self, items: Iterable[Article | LoadProblem], progress: ProgressCallback | None = None
    ) -> IngestReport:
        """Ingest already-loaded articles (e.g. parsed from an upload)."""
        return self.service.ingest_items(items, progress)

    @cached_property
    def feeds(self) -> FeedPoller:
        """The feed list and poller of this index (fetching, feed state in data_dir)."""
        from index.poller import FeedPoller

        return FeedPoller(self.settings, self.service)

    def list_articles(self) -> list[ArticleRecord]:
        with damage_named(self.settings, self.service.store.name):
            return self.service.store.list_articles()

    def get_article(self, article_id: str) -> ArticleRecord | None:
        with damage_named(self.settings, self.service.store.name):
            return self.service.store.get_article(article_id)

    def delete_article(self, article_id: str) -> bool:
        with damage_named(self.settings, self.service.store.name):
            return self.service.store.delete_article(article_id)

    def health(self) -> dict[str, Any]:
        store = self.service.store
        with damage_named(self.settings, self.service.store.name):
            articles, chunks = store.count_articles(), store.count_chunks()
        return {
            "status": "ok",
            "articles": articles,
            "chunks": chunks,
            "collection": store.name,
            "embedding_model": store.embedding_model,
            "chroma": self.settings.chroma_url or "embedded",
            "llm": (
                {
                    "model": self.settings.llm_model,
                    "base_url": self.settings.llm_base_url or "openai",
                }
                if self.llm is not None
                else None
            ),
        }


def sentence_deltas(text: str) -> list[str]:
    """`text` in pieces of one sentence (or list line) each, for a stream: each piece ends with
    the markers and whitespace that follow its sentence, and the pieces add up to `text`.
    Sentences are index.sentences' (the splitter ingest uses), found with the markers blanked
    out so that "… Maduro. [1] China …" splits after the marker."""
    from index.sentences import sentence_spans
    from qa.render import MARKER

    masked = MARKER.sub(lambda marker: " " * len(marker.group()), text)
    cuts = [0, *(start for start, _ in sentence_spans(masked)[1:]), len(text)]
    return [text[a:b] for a, b in pairwise(cuts) if b > a]


def sentence_stream(answer: Answer) -> Iterator[str | Answer]:
    """An answer that exists whole (extractive) streamed as an LLM answer is: its text
    sentence by sentence, then the Answer, whose text the deltas add up to."""
    yield from sentence_deltas(answer.answer)
    yield answer


def with_usage(answer: Answer, read: Sequence[str], found: SearchResult) -> Answer:
    """The answer with its token usage: the LLM's own count when it reported one, else an
    estimate with the project's tokenizer over what was read and the answer written."""
    if answer.usage is not None:
        return answer
    from qa.usage import estimate_usage

    usage = estimate_usage([*read, *(p.text for p in found.passages)], answer.answer)
    return answer.model_copy(update={"usage": usage})


def nothing_found_reason(
    found: SearchResult, stored_chunks: int, sources: Sequence[str] | None
) -> str:
    """Why retrieval returned no passage: an empty index, or filters that leave no article."""
    if stored_chunks == 0:  # plain text: the CLI prints it and the chat window escapes it
        return (
            'The index holds no articles yet: add some (run "qa ingest PATH", or upload them '
            "in the app) and ask again."
        )
    from qa.answer.extractive import NO_PASSAGE_REASON

    limits = []
    since, until = found.filters.since, found.filters.until
    if since or until:
        span = (
            f"{since} to {until}"
            if since and until
            else f"on or after {since}"
            if since
            else f"on or before {until}"
        )
        reason = f" ({found.filters.reason})" if found.filters.reason else ""
        limits.append(f"dated {span}{reason}")
    if sources:
        limits.append("from " + " or ".join(sorted(set(sources))))
    if not limits:
        return NO_PASSAGE_REASON
    return "The articles don't say: no stored article is " + " and ".join(limits) + "."
