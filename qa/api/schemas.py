"""Request and response models of the native /api/v1 routes, their validators, and the
request limits."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from index.ingest import IngestReport
from index.limits import (
    MAX_BODY_BYTES,
    MAX_FILE_BYTES,
    MAX_HISTORY_TURNS,
    MAX_K,
    MAX_QUESTION_CHARS,
    MAX_SOURCES,
    MAX_TURN_CHARS,
    MAX_UPLOAD_FILES,
    check_day,
    check_history,
    check_k,
    check_period,
    check_question,
    check_sources,
    check_text,
)
from index.store import ArticleRecord
from qa.types import Turn

MAX_UPLOAD_BYTES = MAX_FILE_BYTES  # the name the API used before the limits moved to one place
MAX_RECORDS = 10_000

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_HISTORY_TURNS",
    "MAX_QUESTION_CHARS",
    "MAX_SOURCES",
    "MAX_TURN_CHARS",
    "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_FILES",
]

Mode = Literal["extractive", "llm"]


# --- request and response schemas --------------------------------------------------------------
# The checks are index.limits', so the API refuses what the CLI, the Python API and the chat
# window refuse, with the same message; the JSON-schema bounds below only document them.
def _check_question(text: str) -> str:
    return check_question(text)


def _check_day(value: str | None, info: ValidationInfo) -> str | None:
    return check_day(value, info.field_name or "date")


class HistoryTurn(Turn):
    model_config = ConfigDict(strict=True)  # JSON types as documented: no "0" for 0

    content: str = Field(json_schema_extra={"maxLength": MAX_TURN_CHARS})


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    k: int | None = Field(
        default=None,
        description="Passages to use (default 8).",
        json_schema_extra={"minimum": 1, "maximum": MAX_K},
    )
    since: str | None = Field(default=None, description="Earliest publication day, YYYY-MM-DD.")
    until: str | None = Field(default=None, description="Latest publication day, YYYY-MM-DD.")
    sources: list[str] | None = Field(
        default=None,
        description="Only these publishers.",
        json_schema_extra={"maxItems": MAX_SOURCES},
    )

    _days = field_validator("since", "until")(_check_day)
    _k = field_validator("k")(check_k)
    _sources = field_validator("sources")(check_sources)

    @model_validator(mode="after")
    def _period(self) -> Filters:
        check_period(self.since, self.until)
        return self

    def options(self) -> dict[str, Any]:
        return {"k": self.k, "since": self.since, "until": self.until, "sources": self.sources}


class SearchRequest(Filters):
    question: str = Field(
        description=f"1 to {MAX_QUESTION_CHARS} characters.",
        json_schema_extra={"maxLength": MAX_QUESTION_CHARS},
    )

    _question = field_validator("question")(_check_question)


class AnswerRequest(SearchRequest):
    history: list[HistoryTurn] = Field(
        default_factory=list,
        description="Earlier turns, oldest first; the server keeps no conversation state.",
        json_schema_extra={"maxItems": MAX_HISTORY_TURNS},
    )
    mode: Mode | None = Field(default=None, description="Default: llm when configured.")
    stream: bool = Field(
        default=False,
        description='Server-sent events: `delta` events ({"text"}), then one `answer` event '
        '(the Answer JSON). A `replace` event ({"text"}) means the final text differs from '
        "the deltas so far (e.g. LLM fallback) and replaces them.",
    )

    @field_validator("history", mode="before")
    @classmethod
    def _history_within_limits(cls, history: Any) -> Any:
        return check_history(history) if isinstance(history, list) else history

    @field_validator("history")
    @classmethod
    def _turns_are_text(cls, history: list[HistoryTurn]) -> list[HistoryTurn]:
        for index, turn in enumerate(history):
            check_text(turn.content, f"history.{index}.content")
        return history


class RecordsRequest(BaseModel):
    model_config = ConfigDict(strict=True)

    records: list[dict[str, Any]] = Field(
        max_length=MAX_RECORDS,
        description="Article objects: title, body (or text/content), url, source, "
        "published_at, author, category.",
    )
    origin: str = Field(default="api", max_length=200, description="Names this batch.")


class ArticleSummary(BaseModel):
    article_id: str
    title: str
    source: str
    url: str
    author: str
    published: str
    published_ts: int
    category: str
    caption: str
    content_hash: str
    n_chunks: int
    near_duplicates: list[str]
    origin: str

    @classmethod
    def of(cls, record: ArticleRecord) -> ArticleSummary:
        return cls(
            **record.summary(),
            published_ts=record.published_ts,
            caption=record.caption,
            content_hash=record.content_hash,
        )


class ArticleDetail(ArticleSummary):
    body: str


class ArticleList(BaseModel):
    total: int = Field(description="Articles matching `q` (before limit/offset).")
    articles: list[ArticleSummary]


class Problem(BaseModel):
    path: str
    line: int | None = None
    reason: str


class IngestResponse(BaseModel):
    added: int
    updated: int
    unchanged: int
    failed: int
    chunks: int
    embedded: int
    seconds: float
    errors: list[Problem]
    warnings: list[Problem]
    article_ids: list[str] = Field(description="Ids of every article in the upload.")

    @classmethod
    def of(cls, report: IngestReport) -> IngestResponse:
        return cls(**report.to_dict(), article_ids=report.article_ids)


class Deleted(BaseModel):
    deleted: str


class LLMHealth(BaseModel):
    configured: bool
    model: str | None = None
    base_url: str | None = None
    reachable: bool | None = Field(
        default=None, description="GET {base_url}/models answered 200 (cached 30 s)."
    )
    detail: str = ""


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    articles: int
    chunks: int
    collection: str
    embedding_model: str
    chroma: str = Field(description="Chroma server URL, or 'embedded'.")
    llm: LLMHealth
    auth_required: bool
