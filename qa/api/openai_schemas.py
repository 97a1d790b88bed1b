"""The OpenAI-compatible chat completion and model list models (/v1)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from index.limits import MAX_CHAT_MESSAGES, MAX_HISTORY_TURNS, InputError, check_text
from qa.api.schemas import Filters, Mode
from qa.types import Answer, Citation, Usage

MODEL_ID = "newsqa"
# OpenAI `model` names: the plain id answers like the default mode; the suffixed ones pin a mode.
MODEL_MODES: dict[str, Literal["extractive", "llm"] | None] = {
    MODEL_ID: None,
    f"{MODEL_ID}-extractive": "extractive",
    f"{MODEL_ID}-llm": "llm",
}


STANDALONE_QUESTION = (
    "What was searched for when the earlier messages rewrote the question (a follow-up such as "
    "'and Guaido?'), as answer.standalone_question"
)


# --- OpenAI-compatible schemas ------------------------------------------------------------------
class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """Plain text of the message (text parts of a multi-part content list, joined)."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(
            str(part.get("text", "")) for part in self.content if part.get("type") == "text"
        )


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(Filters):
    # temperature, max_tokens, … are accepted and unused
    model_config = ConfigDict(extra="allow", strict=True)

    model: str = Field(
        default=MODEL_ID,
        description=f"One of GET /v1/models ({', '.join(MODEL_MODES)}; -llm only with an LLM "
        "configured); any other is refused with 404 model_not_found.",
    )
    _model_is_text = field_validator("model")(lambda name: check_text(name, "model"))  # echoed
    messages: list[ChatMessage] = Field(
        min_length=1,
        description="The last message (system and developer messages aside) is the user's "
        "question, refused with 422 when it is another role's; earlier user/assistant messages "
        f"are the history, of which the most recent {MAX_HISTORY_TURNS} are read (older ones "
        "are dropped, and the X-History-Turns-Dropped header says how many); system messages "
        "are ignored.",
        json_schema_extra={"maxItems": MAX_CHAT_MESSAGES},
    )
    stream: bool = False
    stream_options: StreamOptions | None = Field(
        default=None, description="With include_usage, a last chunk carries the usage."
    )
    mode: Mode | None = Field(default=None, description="Overrides the mode the model implies.")

    @field_validator("messages", mode="before")
    @classmethod
    def _not_too_many(cls, messages: Any) -> Any:
        if isinstance(messages, list) and len(messages) > MAX_CHAT_MESSAGES:
            raise InputError(
                f"messages has {len(messages)} entries; the limit is {MAX_CHAT_MESSAGES} (only "
                f"the most recent {MAX_HISTORY_TURNS} turns are read: drop older messages)",
                field="messages",
                code="too_long",
            )
        return messages


class ChatResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatResponseMessage
    finish_reason: Literal["stop"] = "stop"


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage | None = Field(
        description="Tokens read and written: the LLM's count, else estimated (counted_by). "
        "A notice or caution the server adds after the answer is not counted."
    )
    citations: list[Citation] = Field(description="The sources behind the [n] markers.")
    standalone_question: str = Field(
        description=STANDALONE_QUESTION + " ('' when the question was searched as asked)."
    )
    answer: Answer = Field(description="The full newsqa Answer.")


class ChatDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChatChunkChoice(BaseModel):
    index: int = 0
    delta: ChatDelta
    finish_reason: Literal["stop"] | None = None


class ChatCompletionChunk(BaseModel):
    """One `data:` line of a streamed completion; the last one carries citations + answer."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatChunkChoice]
    usage: Usage | None = Field(
        default=None, description="Only in the extra last chunk of `include_usage` streams."
    )
    citations: list[Citation] | None = None
    standalone_question: str | None = Field(
        default=None, description=STANDALONE_QUESTION + ": in the chunk that carries `answer`."
    )
    answer: Answer | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "newsqa"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
