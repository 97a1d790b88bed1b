"""The types every surface shares: CLI, Python API, HTTP API and UI all speak these."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr, ValidationError

from index.limits import TURN_SHAPE, InputError, check_history, shown_value


class Passage(BaseModel):
    """A retrieved chunk with its article fields and the scores of each retrieval stage."""

    chunk_id: str
    article_id: str
    text: str
    start: int = Field(description="Offset of `text` in the article body.")
    end: int
    title: str = ""
    source: str = ""
    url: str = ""
    author: str = ""
    published: str = Field(default="", description="ISO datetime, '' when unknown.")
    published_ts: int = 0
    category: str = ""
    score: float = 0.0
    scores: dict[str, float] = Field(default_factory=dict, description="Per-stage scores.")
    also_reported_by: list[str] = Field(
        default_factory=list, description="article_ids of near-duplicate articles."
    )
    # In-process only (never serialised): the chunk's stored sentence vectors, as
    # ([(start, end) of each sentence in `text`], int8 codes (n, dim) of index.sentences), so
    # the answerer gets sentence cosines without running the model again.
    _sentence_vectors: tuple[list[tuple[int, int]], Any] | None = PrivateAttr(default=None)

    def attach_sentence_vectors(self, spans: list[tuple[int, int]], codes: Any) -> None:
        self._sentence_vectors = (spans, codes)

    @property
    def sentence_vectors(self) -> tuple[list[tuple[int, int]], Any] | None:
        return self._sentence_vectors


class DateFilter(BaseModel):
    """A date range applied to retrieval, and why (so the user can see it)."""

    since: str | None = None
    until: str | None = None
    reason: str = ""


class SearchResult(BaseModel):
    question: str
    passages: list[Passage]
    filters: DateFilter = Field(default_factory=DateFilter)
    sources: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)


class Citation(BaseModel):
    n: int = Field(description="The number used by the inline [n] marker.")
    article_id: str
    chunk_id: str
    title: str = ""
    source: str = ""
    url: str = ""
    published: str = ""
    quote: str = Field(description="The cited span, verbatim from the article body.")
    start: int = Field(description="Start offset of `quote` in the article body.")
    end: int
    passage: str = Field(default="", description="The whole passage the quote sits in.")
    passage_start: int = 0
    scores: dict[str, float] = Field(default_factory=dict)
    supported: bool = Field(
        default=True, description="Verification found the claim in the cited passage."
    )


class AnswerItem(BaseModel):
    """One item of a list answer ("which countries …?"), with its own citations."""

    text: str
    citations: list[int] = Field(default_factory=list)


class Lead(BaseModel):
    """What an answer says first: a name, a day, a figure, or what someone is."""

    text: str = Field(description="'Jorge Arreaza', 'Thursday, January 24, 2019', '$4.3 billion'.")
    citations: list[int] = Field(default_factory=list)
    subject: str = Field(
        default="", description="For a description: whom it describes ('Jorge Arreaza')."
    )
    note: str = Field(
        default="", description="How it was read: '“Thursday” in an article of 2019-01-26'."
    )


AnswerKind = Literal["name", "list", "date", "figure", "description", "sentences", "abstention"]


class Usage(BaseModel):
    """The tokens one answer took, in OpenAI's terms (`usage` of a chat completion)."""

    prompt_tokens: int = Field(ge=0, description="What was read: question, history, passages.")
    completion_tokens: int = Field(ge=0, description="The answer text.")
    total_tokens: int = Field(ge=0)
    counted_by: Literal["llm", "tokenizer"] = Field(
        default="tokenizer",
        description="'llm': the model's own count; 'tokenizer': estimated with the project's "
        "tokenizer (extractive answers, or a model that reports no usage).",
    )


class Answer(BaseModel):
    question: str
    answer: str = Field(
        description="Markdown with inline [n] citation markers (made by qa/render.py from the "
        "structured fields for extractive answers; the model's text for LLM answers)."
    )
    kind: AnswerKind = Field(default="sentences", description="What the answer leads with.")
    lead: Lead | None = Field(default=None, description="The lead, when the answer has one.")
    confidence: float = Field(
        default=0.0,
        description="Offline answerer's modelled chance that the answer is right (0..1).",
    )
    doubtful: bool = Field(
        default=False,
        description="The offline answer's confidence is below AnswerConfig.doubtful_below: "
        "answers like it are more often wrong than right, and the chat says so.",
    )
    confidence_signals: dict[str, float] = Field(
        default_factory=dict,
        exclude=True,  # for fitting the confidence (scripts/fit_confidence.py), not the API
        description="What the confidence was computed from (qa/answer/confidence.py).",
    )
    citations: list[Citation] = Field(default_factory=list)
    items: list[AnswerItem] = Field(default_factory=list)
    abstained: bool = False
    reason: str = ""
    nearest: list[Passage] = Field(
        default_factory=list, description="When abstaining: the closest passages found."
    )
    also_reported_by: dict[str, list[str]] = Field(
        default_factory=dict, description="Cited article_id -> near-duplicate article titles."
    )
    mode: Literal["extractive", "llm", "llm-fallback"] = "extractive"
    notice: str = Field(default="", description="User-visible notice, e.g. LLM fallback.")
    filters: DateFilter = Field(default_factory=DateFilter)
    standalone_question: str = Field(
        default="", description="The question after folding in the conversation history."
    )
    timings_ms: dict[str, float] = Field(default_factory=dict)
    usage: Usage | None = Field(default=None, description="Tokens read and written.")


class Turn(BaseModel):
    """One conversation turn. History travels with each request: servers keep no state."""

    role: Literal["user", "assistant"]
    content: str


def history_turns(history: Sequence[Turn | dict[str, str]]) -> list[Turn]:
    """A Python caller's history as Turns: Turn objects or plain {"role", "content"} dicts (a
    caller need not import our types to hold a conversation). Anything else - text, ("user",
    "…") pairs - is refused with an `InputError` naming the turn, as every entry point refuses
    input."""
    check_history(history)
    return [_turn(turn, index) for index, turn in enumerate(history)]


def _turn(turn: Turn | dict[str, str], index: int) -> Turn:
    if not isinstance(turn, Turn | dict):  # a ("user", "…") pair, a bare string, …
        raise InputError(
            f"history turn {index} must be {TURN_SHAPE} (or a qa.types.Turn), not "
            f"{type(turn).__name__}: {shown_value(turn)}",
            field=f"history.{index}",
        )
    try:
        return Turn.model_validate(turn)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "turn"
        raise InputError(
            f"history turn {index}: {where}: {problem['msg']}", field=f"history.{index}.{where}"
        ) from None
