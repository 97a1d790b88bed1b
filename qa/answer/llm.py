"""The LLM answerer: an OpenAI-compatible model writes the answer, we check its citations.

One code path: `stream()` yields text deltas and then exactly one final Answer; `answer()`
is the last item of `stream()`. The model runs in a worker thread so the wait is bounded
even when the server trickles bytes slowly enough to dodge the HTTP read timeout. Whatever
goes wrong — timeout, HTTP error, empty or uncited output — the caller gets the extractive
answer with mode "llm-fallback" and a notice saying why; nothing is raised.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from qa.answer.citations import also_reported_by, make_citation
from qa.answer.extractive import ExtractiveAnswerer
from qa.answer.sentences import split_sentences
from qa.answer.terms import STOPWORDS, words
from qa.answer.verify import Support, best_support
from qa.types import Answer, AnswerItem, Citation, Passage, Turn
from qa.usage import reported_usage

if TYPE_CHECKING:
    from index.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

HISTORY_TURNS = 6  # most recent turns shown to the model
HISTORY_TURN_CHARS = 600
# Slack on top of the per-attempt timeout for the client's retry back-off.
RETRY_SLACK_S = 2.0
# However the tokens trickle in, stop waiting after this many timeouts in total.
TOTAL_BUDGET_TIMEOUTS = 4
MIN_CLAIM_WORDS = 4  # shorter uncited lines ("Sources:", "In short:") are not claims
NEAREST_PASSAGES = 3  # shown when the model says the articles don't answer

_MARKER = re.compile(r"\[(\d{1,3})\]")
# "[1]", "[1, 2]", "[Source 3]", "[1; source 4]"
_MARKER_GROUP = re.compile(
    r"\[\s*(?:sources?\s*)?(\d{1,3}(?:\s*[,;]\s*(?:sources?\s*)?\d{1,3})*)\s*\]", re.I
)
_LEADING_MARKERS = re.compile(r"^(?:\s*\[\d{1,3}\])+")
_LIST_LINE = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+(.*)$")
_ABSTAIN = re.compile(
    r"^\W*the (?:articles|sources) (?:do not|don['’]t) (?:say|answer|mention)", re.I
)
_DATA_TAG = re.compile(r"<\s*(/?)\s*article", re.I)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class LLMFailure(Exception):
    """The model did not produce a usable answer; the message says why, for the notice."""


class LLMUnavailable(LLMFailure):
    """The model timed out or could not be reached. Asking it again for the same question would
    only wait again, so the rest of that question goes on without it (`LLMAnswerer.stream`'s
    `unavailable`)."""


def waited(seconds: float) -> str:
    """A wait as the notice states it: what was actually waited, in whole seconds."""
    return f"{seconds:.0f} s" if seconds >= 1 else f"{seconds:.1f} s"


# --- prompts ---------------------------------------------------------------------------------
def fill(template: str, **values: str) -> str:
    """Substitute {name} placeholders in one pass, so text inside values is never re-read."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def load_prompt(prompts_dir: Path, name: str) -> str:
    return (Path(prompts_dir) / name).read_text(encoding="utf-8")


def as_data(text: str) -> str:
    """Article text cannot close (or open) the <article> delimiters it sits in."""
    return _DATA_TAG.sub(lambda m: "&lt;" + m.group(1) + "article", text)


def format_sources(template: str, passages: list[Passage]) -> str:
    return "\n\n".join(
        fill(
            template,
            n=str(n),
            title=as_data(passage.title) or "(untitled)",
            source=as_data(passage.source) or "(unknown)",
            published=(passage.published or "unknown")[:10],
            text=as_data(passage.text),
        ).strip()
        for n, passage in enumerate(passages, start=1)
    )


def format_history(history: list[Turn], limit: int = HISTORY_TURNS) -> str:
    lines = []
    for turn in history[-limit:]:
        # Old [n] markers point at old sources; drop them so they can't be confused with ours.
        content = _MARKER.sub("", turn.content).strip()[:HISTORY_TURN_CHARS]
        lines.append(f"{'User' if turn.role == 'user' else 'Assistant'}: {content}")
    return "\n".join(lines)


# --- the answerer ------------------------------------------------------------------------------
class LLMAnswerer:
    def __init__(self, settings: Settings, fallback: ExtractiveAnswerer):
        self.settings = settings
        self.fallback = fallback
        self._llm: Any = None
        self._lock = threading.Lock()

    @property
    def llm(self) -> Any:
        """The llama-index OpenAILike client, built on first use (importing it is slow)."""
        with self._lock:
            if self._llm is None:
                self._llm = build_llm(self.settings)
            return self._llm

    def warm_up(self) -> None:
        """Build the client (slow imports) ahead of the first question, e.g. at server start."""
        _ = self.llm

    def messages(self, question: str, passages: list[Passage], history: list[Turn]) -> list[Any]:
        from llama_index.core.llms import ChatMessage, MessageRole

        prompts_dir = self.settings.prompts_dir
        history_text = ""
        if history:
            history_text = fill(
                load_prompt(prompts_dir, "answer_history.txt"), turns=format_history(history)
            )
        user = fill(
            load_prompt(prompts_dir, "answer_user.txt"),
            sources=format_sources(load_prompt(prompts_dir, "answer_source.txt"), passages),
            history=history_text,
            question=question.strip(),
        )
        system = load_prompt(prompts_dir, "answer_system.txt")
        return [
            ChatMessage(role=MessageRole.SYSTEM, content=system),
            ChatMessage(role=MessageRole.USER, content=user),
        ]

    def stream(
        self,
        question: str,
        passages: list[Passage],
        history: list[Turn] | None = None,
        *,
        unavailable: LLMUnavailable | None = None,
    ) -> Iterator[str | Answer]:
        """Text deltas as the model writes them, then exactly one Answer.

        The final Answer is authoritative: markers are cleaned and, if the model failed part
        way (timeout, garbage), it is the extractive fallback — replace the streamed text.
        `unavailable`: the model already timed out or was unreachable earlier in this question
        (condensing it): fall back at once, with that reason, instead of waiting again.
        """
        started = time.perf_counter()
        if not passages:
            answer = self.fallback.answer(question, passages)
            answer.mode = "llm"
            yield answer
            return
        parts: list[str] = []
        counts: dict[str, Any] = {}  # the token usage the server reports, if it does
        try:
            if unavailable is not None:
                raise unavailable
            for delta in self._generate(self.messages(question, passages, history or []), counts):
                parts.append(delta)
                yield delta
            answer = finalize(
                question,
                "".join(parts),
                passages,
                self.fallback.vectors,
                roles=self.fallback.role_checker(question),
            )
        except LLMFailure as failure:
            answer = self._fall_back(question, passages, str(failure))
        except Exception as exc:  # never raise to the caller; say what happened instead
            log.exception("LLM answer failed")
            answer = self._fall_back(question, passages, f"failed ({type(exc).__name__})")
        answer.timings_ms["answer"] = (time.perf_counter() - started) * 1000
        answer.usage = reported_usage(counts)  # None: the assistant estimates it
        yield answer

    def answer(
        self, question: str, passages: list[Passage], history: list[Turn] | None = None
    ) -> Answer:
        for item in self.stream(question, passages, history):
            if isinstance(item, Answer):  # the last item, and the only Answer
                return item
        raise RuntimeError("stream() ended without an Answer")

    def _fall_back(self, question: str, passages: list[Passage], why: str) -> Answer:
        log.warning("LLM fallback: the language model %s", why)
        answer = self.fallback.answer(question, passages)
        answer.mode = "llm-fallback"
        answer.notice = (
            f"The language model {why}, so this answer is quoted directly from the articles."
        )
        return answer

    @property
    def first_reply_budget_s(self) -> float:
        """How long to wait for the first token: every client attempt, plus back-off."""
        return self.settings.llm_timeout_s * (self.settings.llm_max_retries + 1) + RETRY_SLACK_S

    def _generate(self, messages: list[Any], counts: dict[str, Any]) -> Iterator[str]:
        """Text deltas from the model, with the whole wait bounded (see module docstring).
        The token usage the server reports (in the stream's last chunk) goes into `counts`."""
        timeout = self.settings.llm_timeout_s
        first_wait = self.first_reply_budget_s
        deadline = time.monotonic() + first_wait + TOTAL_BUDGET_TIMEOUTS * timeout
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        stop = threading.Event()
        llm = self.llm

        def work() -> None:
            finish, wrote = None, False
            _replies.content_type = None
            try:
                for chunk in llm.stream_chat(messages):
                    if stop.is_set():
                        return
                    if chunk.additional_kwargs.get("total_tokens"):
                        counts.update(chunk.additional_kwargs)
                    finish = _finish_reason(chunk) or finish
                    wrote = wrote or bool(chunk.delta)
                    events.put(("delta", chunk.delta or ""))
                # A reply cut at the token limit, or a stream closed before the model said it
                # was done, reads as a whole answer but is not one (no text at all is an empty
                # answer, said so after the stream).
                unfinished = _UNFINISHED.get(finish) if wrote else _not_an_answer()
                events.put(("error", LLMFailure(unfinished)) if unfinished else ("done", None))
            except Exception as exc:
                events.put(("error", exc))

        threading.Thread(target=work, name="llm-stream", daemon=True).start()
        try:
            yield from _relay(events, timeout, first_wait, deadline)
        finally:
            stop.set()


# The content type of the last reply the LLM client received, per thread (each stream runs in
# its own thread): a proxy's HTML error page with status 200 streams no events at all, which
# must not read as "an empty answer".
_replies = threading.local()
_ANSWER_TYPES = ("text/event-stream", "application/json")


def _note_reply(response: Any) -> None:
    """httpx response hook of the LLM client (headers only; the body is not read here)."""
    _replies.content_type = response.headers.get("content-type", "")


def _not_an_answer() -> str | None:
    """Why this thread's last reply, which streamed no text, was not an answer at all (its
    content type is no event stream or JSON), or None (an empty answer)."""
    content_type = (getattr(_replies, "content_type", None) or "").split(";")[0].strip().lower()
    if not content_type or content_type in _ANSWER_TYPES:
        return None
    if content_type in ("text/html", "application/xhtml+xml"):
        return f"returned a web page ({content_type}), not an answer"
    return f"returned something that is not an answer ({content_type})"


_UNFINISHED = {
    "length": "stopped at its length limit before finishing the answer",
    None: "stopped before finishing the answer (its stream ended without a finish reason)",
}


def _finish_reason(chunk: Any) -> str | None:
    """The OpenAI chunk's finish_reason ("stop", "length", …), None until the last one."""
    choices = getattr(getattr(chunk, "raw", None), "choices", None) or []
    return getattr(choices[0], "finish_reason", None) if choices else None


def _relay(
    events: queue.Queue[tuple[str, Any]], timeout: float, first_wait: float, deadline: float
) -> Iterator[str]:
    """The stream thread's deltas until it is done; LLMFailure on its error, or
    LLMUnavailable when the first delta takes longer than `first_wait`, a later one longer
    than `timeout`, or the whole stream passes `deadline`."""
    got_any, started = False, time.monotonic()
    while True:
        wait = min(timeout if got_any else first_wait, deadline - time.monotonic())
        try:
            kind, value = events.get(timeout=max(wait, 0.0))
        except queue.Empty:
            elapsed = time.monotonic() - started
            raise LLMUnavailable(f"did not answer within {waited(elapsed)}") from None
        if kind == "done":
            return
        if kind == "error":
            if isinstance(value, LLMFailure):
                raise value
            raise describe_error(value, time.monotonic() - started) from value
        if value:
            got_any = True
            yield value


def call_with_deadline(fn: Callable[[], T], seconds: float) -> T:
    """fn() in a worker thread; LLMFailure if it takes longer than `seconds`.

    llama-index retries chat() itself on top of the client's retries, so a non-streaming
    call can otherwise wait several timeouts over.
    """
    results: queue.Queue[tuple[bool, Any]] = queue.Queue()

    def work() -> None:
        try:
            results.put((True, fn()))
        except Exception as exc:
            results.put((False, exc))

    started = time.monotonic()
    threading.Thread(target=work, name="llm-call", daemon=True).start()
    try:
        ok, value = results.get(timeout=seconds)
    except queue.Empty:
        raise LLMUnavailable(f"did not answer within {waited(seconds)}") from None
    if not ok:
        failure = describe_error(value, time.monotonic() - started)
        if isinstance(failure, LLMUnavailable):
            raise failure from value
        raise value
    return value


def describe_error(exc: BaseException, elapsed_s: float) -> LLMFailure:
    """The failure an exception from the client means. A timeout states the wait it ended
    (every attempt the client made, not one `llm_timeout_s`)."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return LLMUnavailable(f"did not answer within {waited(elapsed_s)}")
    if isinstance(exc, openai.APIStatusError):
        return LLMFailure(f"failed (HTTP {exc.status_code})")
    if isinstance(exc, openai.APIConnectionError):
        return LLMUnavailable("could not be reached")
    return LLMFailure(f"failed ({type(exc).__name__})")


def build_llm(settings: Settings) -> Any:
    # openai imports its resource modules lazily on the first request — seconds of work on
    # a busy machine that would otherwise be billed to the LLM timeout. Import them now.
    import openai
    import openai.resources  # the resource modules (openai itself is used below)
    from llama_index.llms.openai_like import OpenAILike

    api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    api_key = api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
    # OpenAI.__init__ takes http_client; mypy's pydantic plugin sees only OpenAILike's fields.
    llm = OpenAILike(  # type: ignore[call-arg]
        model=settings.llm_model,
        api_base=settings.llm_base_url or "https://api.openai.com/v1",
        api_key=api_key,
        is_chat_model=True,
        timeout=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        temperature=0.0,
        # The last chunk of a stream then reports the tokens used (OpenAI, vLLM, llama.cpp,
        # Ollama); llama-index drops the option from non-streaming calls.
        additional_kwargs={"stream_options": {"include_usage": True}},
        # openai's own defaults, plus a hook noting each reply's content type (_not_an_answer)
        http_client=openai.DefaultHttpxClient(event_hooks={"response": [_note_reply]}),
    )
    # The HTTP client (SSL context, httpcore import: ~1 s) is otherwise built inside the
    # first request's timed wait. llama-index caches it (reuse_client), so build it now.
    get_client = getattr(llm, "_get_client", None)
    if callable(get_client):
        get_client()
    return llm


# --- after generation --------------------------------------------------------------------------
def normalise_markers(text: str, n_sources: int) -> tuple[str, int]:
    """ "[1, 2]" -> "[1][2]"; markers naming no source are dropped. Returns (text, dropped)."""
    dropped = 0

    def rewrite(match: re.Match[str]) -> str:
        nonlocal dropped
        numbers = [int(n) for n in re.findall(r"\d{1,3}", match.group(1))]
        kept = [n for n in numbers if 1 <= n <= n_sources]
        dropped += len(numbers) - len(kept)
        return "".join(f"[{n}]" for n in kept)

    text = _MARKER_GROUP.sub(rewrite, text)
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text)  # "claim [9]." -> "claim ." -> "claim."
    text = re.sub(r"[ \t]{2,}", " ", text)
    return text.strip(), dropped


def claims(text: str) -> list[tuple[str, list[int]]]:
    """(claim text without markers, source numbers cited) for each sentence of the answer.

    Markers written after the full stop ("… said. [2] Next …") belong to the sentence before.
    """
    result: list[tuple[str, list[int]]] = []
    for sentence in split_sentences(text):
        body = sentence.text
        leading = _LEADING_MARKERS.match(body)
        if leading and result:
            result[-1][1].extend(int(n) for n in _MARKER.findall(leading.group(0)))
            body = body[leading.end() :]
        numbers = [int(n) for n in _MARKER.findall(body)]
        claim = re.sub(r"\s+([.,;:!?])", r"\1", _MARKER.sub("", body)).strip()
        if claim or numbers:
            result.append((claim, numbers))
    return result


def list_items(text: str) -> list[AnswerItem]:
    items = []
    for line in text.splitlines():
        if match := _LIST_LINE.match(line):
            numbers = [int(n) for n in _MARKER.findall(match.group(1))]
            label = _MARKER.sub("", match.group(1)).strip().rstrip(".;,").strip("*_ ")
            if label:
                items.append(AnswerItem(text=label, citations=list(dict.fromkeys(numbers))))
    return items


def finalize(
    question: str,
    raw: str,
    passages: list[Passage],
    vectors: Any = None,
    roles: Callable[[str, str], bool] | None = None,
) -> Answer:
    """Turn the model's text into an Answer with verified citations, or raise LLMFailure."""
    text, dropped = normalise_markers(raw, len(passages))
    if not text:
        raise LLMFailure("returned an empty answer")
    if not _MARKER.search(text):
        if not _ABSTAIN.match(text):
            raise LLMFailure("gave no valid citations")
        nearest = passages[:NEAREST_PASSAGES]
        return Answer(
            question=question, answer=text, abstained=True, reason=text, nearest=nearest, mode="llm"
        )
    best: dict[int, Support] = {}
    unsupported: dict[int, bool] = {}
    uncited: list[str] = []
    for claim, numbers in claims(text):
        if not numbers:
            if len([w for w in words(claim) if w not in STOPWORDS]) >= MIN_CLAIM_WORDS:
                uncited.append(claim)
            continue
        for n in dict.fromkeys(numbers):
            support = best_support(claim, passages[n - 1].text, vectors)
            if n not in best or support.score > best[n].score:
                best[n] = support
            # Lexical support, and the roles: a quote naming the claim's answer in another
            # role than the question asks ("backing for Maduro's government") supports nothing.
            in_role = roles is None or roles(claim, support.quote.text)
            unsupported[n] = unsupported.get(n, False) or not support.supported or not in_role
    citations = [
        make_citation(
            n,
            passages[n - 1],
            best[n].quote,
            supported=not unsupported[n],
            scores={"support": round(best[n].score, 4)},
        )
        for n in sorted(best)
    ]
    return Answer(
        question=question,
        answer=text,
        citations=citations,
        items=list_items(text),
        mode="llm",
        notice=verification_notice(dropped, uncited, citations),
        also_reported_by=also_reported_by(citations, passages),
    )


def verification_notice(dropped: int, uncited: list[str], citations: list[Citation]) -> str:
    notes = []
    if dropped:
        notes.append(f"{dropped} citation marker(s) pointing at no source were removed.")
    weak = [f"[{c.n}]" for c in citations if not c.supported]
    if weak:
        notes.append(f"Could not verify {', '.join(weak)} against the cited passage.")
    if uncited:
        shown = "; ".join(f"“{c[:80]}”" for c in uncited[:3])
        notes.append(f"{len(uncited)} statement(s) cite no source: {shown}.")
    return " ".join(notes)
