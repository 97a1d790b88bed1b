"""Server-sent events: the SSE payload models, running an answer stream in the threadpool,
and the native (`delta`/`replace`/`answer`/`error`) and OpenAI chunk event streams."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

import anyio
from pydantic import BaseModel
from sse_starlette import ServerSentEvent
from starlette.concurrency import run_in_threadpool

from index.store import is_unavailable
from qa.api.errors import ErrorBody
from qa.api.openai_schemas import ChatChunkChoice, ChatCompletionChunk, ChatDelta
from qa.render import WITHDRAWN_MARKDOWN, notices_markdown
from qa.types import Answer

log = logging.getLogger("qa.api")  # the name it logged under before the package split


class StreamText(BaseModel):
    """`data` of a `delta` (append) or `replace` (replace all text so far) SSE event."""

    text: str


class StreamError(BaseModel):
    """`data` of an `error` SSE event: the answer failed after the stream had started."""

    error: ErrorBody


def sse_event_schema(events: list[str] | None, data: str) -> dict[str, Any]:
    """OpenAPI schema of one server-sent event (what SSE-aware tools validate)."""
    properties: dict[str, Any] = {"data": {"type": "string", "description": data}}
    if events:
        properties["event"] = {"type": "string", "enum": events}
    return {"type": "object", "required": ["data"], "properties": properties}


# --- streaming helpers ------------------------------------------------------------------------
_END = object()


async def _first_event(events: Iterator[Any]) -> Any:
    """Run the stream up to its first event before answering, so that bad requests and an
    unreachable index become proper 4xx/503 responses instead of a broken 200 stream."""
    return await run_in_threadpool(next, events, _END)


async def _iterate_in_thread(first: Any, events: Iterator[Any]) -> AsyncIterator[Any]:
    """`first` then the rest of `events`, each `next()` in the threadpool; closes `events` when
    the client goes away (an LLM stream then stops instead of generating into the void)."""
    try:
        item = first
        while item is not _END:
            yield item
            item = await run_in_threadpool(next, events, _END)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(close)


def _last_event(first: Any, events: Iterator[Any]) -> Answer:
    """Drain the rest of a stream (in a worker thread): its final Answer."""
    final = first
    for final in events:  # noqa: B007 - only the last event matters
        pass
    if not isinstance(final, Answer):
        raise RuntimeError("the answer stream ended without an Answer")
    return final


def _stream_error(exc: Exception) -> str:
    """JSON StreamError for a failure after the 200 went out."""
    if is_unavailable(exc):
        message = "the article index became unavailable during the answer; retry shortly"
    else:
        log.exception("answer stream failed")
        message = f"the answer failed: {type(exc).__name__}"
    return StreamError(error=ErrorBody(message=message, type="server_error")).model_dump_json()


class _TextTracker:
    """Turns a stream of deltas + a final Answer into deltas whose concatenation is the final
    text: the missing tail is sent as one more delta (extractive answers come whole), and a
    final text that does not extend the deltas (LLM fallback, normalised markers) is flagged."""

    def __init__(self) -> None:
        self.sent = ""

    def delta(self, text: str) -> str:
        self.sent += text
        return text

    def finish(self, final: str) -> tuple[str, bool]:
        """(tail to send, whether the sent text must be replaced by `final` instead)."""
        if final.startswith(self.sent):
            tail = final[len(self.sent) :]
            self.sent = final
            return tail, False
        self.sent = final
        return final, True


# A citation marker as a model writes it ("[1, 2]", "[7]"), with the space before it.
_ANY_MARKER = re.compile(r"\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\]")


def _same_words_until(sent: str, final: str) -> int | None:
    """Where `final` goes on from what was sent, when the two differ only in citation markers
    (the answerer writes "[1, 2]" as "[1][2]" and drops markers naming no source): the client
    then keeps the model's own markers, and no withdrawal is needed. None otherwise."""
    words = _ANY_MARKER.sub("", sent).rstrip()
    position = 0
    for char in words:
        while (marker := _ANY_MARKER.match(final, position)) is not None:
            position = marker.end()
        if position >= len(final) or final[position] != char:
            return None
        position += 1
    while (marker := _ANY_MARKER.match(final, position)) is not None:
        position = marker.end()
    return position


def _text_event(kind: str, text: str) -> ServerSentEvent:
    return ServerSentEvent(StreamText(text=text).model_dump_json(), event=kind)


async def _answer_sse(first: Any, events: Iterator[Any]) -> AsyncIterator[ServerSentEvent]:
    tracker = _TextTracker()
    try:
        async for event in _iterate_in_thread(first, events):
            if isinstance(event, Answer):
                tail, replace = tracker.finish(event.answer)
                if replace:
                    yield _text_event("replace", tail)
                elif tail:
                    yield _text_event("delta", tail)
                yield ServerSentEvent(event.model_dump_json(), event="answer")
            elif event:
                yield _text_event("delta", tracker.delta(event))
    except Exception as exc:  # the 200 is already sent: say what happened in-band
        yield ServerSentEvent(_stream_error(exc), event="error")


def _closing_text(tracker: _TextTracker, answer: Answer) -> list[str]:
    """The last content deltas: the answer's unsent tail, then its notices (a plain chat
    client shows only `content`), so the content is the non-streamed one. An OpenAI stream
    cannot retract text: when the final text is another answer than the deltas (an LLM
    fallback), a line withdrawing what was sent comes first, then the non-streamed content
    whole (where the native SSE stream sends `replace`); when only its markers differ, the
    rest follows on."""
    sent = tracker.sent
    tail, replaced = tracker.finish(answer.answer)
    if replaced:
        resume = _same_words_until(sent, answer.answer)
        tail = WITHDRAWN_MARKDOWN + answer.answer if resume is None else answer.answer[resume:]
    return [text for text in (tail, notices_markdown(answer)) if text]


async def _chat_sse(
    first: Any,
    events: Iterator[Any],
    ident: str,
    created: int,
    model: str,
    *,
    include_usage: bool = False,
) -> AsyncIterator[ServerSentEvent]:
    def chunk(delta: ChatDelta, **extra: Any) -> ServerSentEvent:
        finish: Literal["stop"] | None = "stop" if extra else None
        payload = ChatCompletionChunk(
            id=ident,
            created=created,
            model=model,
            choices=[ChatChunkChoice(delta=delta, finish_reason=finish)],
            **extra,
        ).model_dump(mode="json")
        payload["choices"][0]["delta"] = delta.model_dump(exclude_none=True)
        for name in ("citations", "standalone_question", "answer", "usage"):
            if payload[name] is None:
                del payload[name]
        return ServerSentEvent(json.dumps(payload))

    tracker = _TextTracker()
    yield chunk(ChatDelta(role="assistant", content=""))
    try:
        async for event in _iterate_in_thread(first, events):
            if isinstance(event, Answer):
                for content in _closing_text(tracker, event):
                    yield chunk(ChatDelta(content=content))
                yield chunk(
                    ChatDelta(),
                    citations=event.citations,
                    standalone_question=event.standalone_question,
                    answer=event,
                )
                if include_usage:  # OpenAI's shape: one more chunk, no choices, the usage
                    usage = ChatCompletionChunk(
                        id=ident, created=created, model=model, choices=[], usage=event.usage
                    )
                    extra = {"citations", "standalone_question", "answer"}
                    yield ServerSentEvent(usage.model_dump_json(exclude=extra))
            elif event:
                yield chunk(ChatDelta(content=tracker.delta(event)))
    except Exception as exc:
        yield ServerSentEvent(_stream_error(exc))
    yield ServerSentEvent("[DONE]")
