"""/v1/chat/completions and /v1/models driven by the official `openai` client."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from pydantic import SecretStr

from qa.api import create_app
from qa.types import Answer, Citation
from tests.api_fixtures import SEED_QUESTION, make_assistant, serve_in_thread
from tests.fake_llm import FakeLLM

KEY = "sk-test-newsqa"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_assistant(tmp_path_factory.mktemp("openai-index"))


@pytest.fixture(scope="module")
def url(assistant: Any) -> Any:
    with serve_in_thread(create_app(assistant, assistant.settings)) as base:
        yield base


@pytest.fixture
def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=60)


def extra(obj: Any, name: str) -> Any:
    return (obj.model_extra or {}).get(name)


def test_completion_has_answer_markdown_and_citations(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="newsqa", messages=[{"role": "user", "content": SEED_QUESTION}]
    )
    content = completion.choices[0].message.content or ""
    assert completion.choices[0].finish_reason == "stop"
    assert "Russia" in content and "[1]" in content
    citations = [Citation.model_validate(c) for c in extra(completion, "citations")]
    assert citations and citations[0].n == 1 and citations[0].quote
    answer = Answer.model_validate(extra(completion, "answer"))
    assert answer.answer == content
    assert completion.id.startswith("chatcmpl-") and completion.model == "newsqa"


def test_stream_deltas_add_up_and_the_last_chunk_carries_citations(
    client: openai.OpenAI,
) -> None:
    stream = client.chat.completions.create(
        model="newsqa",
        stream=True,
        messages=[
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": SEED_QUESTION},
        ],
    )
    chunks = list(stream)  # the client stops at `data: [DONE]`
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop"
    answer = Answer.model_validate(extra(final, "answer"))
    assert text == answer.answer and "Russia" in text
    assert extra(final, "citations") == [c.model_dump() for c in answer.citations]
    assert all(extra(c, "citations") is None for c in chunks[:-1])


def test_stream_ends_with_done_on_the_wire(url: str) -> None:
    body = {
        "model": "newsqa",
        "stream": True,
        "messages": [{"role": "user", "content": SEED_QUESTION}],
    }
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=60) as reply:
        data = [line for line in reply.iter_lines() if line.startswith("data:")]
    assert data[-1] == "data: [DONE]"


def test_history_comes_from_earlier_messages(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="newsqa-extractive",
        messages=[
            {"role": "user", "content": SEED_QUESTION},
            {"role": "assistant", "content": "Russia, China, Iran [1]."},
            {"role": "user", "content": [{"type": "text", "text": "and who backs Guaido?"}]},
        ],
    )
    answer = Answer.model_validate(extra(completion, "answer"))
    assert answer.question == "and who backs Guaido?" and answer.mode == "extractive"


def test_what_a_follow_up_searched_for_is_an_extra_field_streamed_or_not(
    client: openai.OpenAI,
) -> None:
    """The rewritten question was only inside `answer`, where a client reading the extra
    `citations` would not look (round 20 sweep, finding 10): it sits beside them now."""
    messages: Any = [
        {"role": "user", "content": SEED_QUESTION},
        {"role": "assistant", "content": "Russia, China, Iran [1]."},
        {"role": "user", "content": "And which back Guaido?"},
    ]
    plain = client.chat.completions.create(model="newsqa", messages=messages)
    searched = extra(plain, "standalone_question")
    assert "Guaido" in searched and searched != "And which back Guaido?"
    assert searched == Answer.model_validate(extra(plain, "answer")).standalone_question
    chunks = list(client.chat.completions.create(model="newsqa", messages=messages, stream=True))
    assert extra(chunks[-1], "standalone_question") == searched
    assert all(extra(c, "standalone_question") is None for c in chunks[:-1])
    alone = client.chat.completions.create(model="newsqa", messages=messages[-1:])
    assert extra(alone, "standalone_question") == ""  # asked alone: searched as typed


def test_models_list(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert ids == {"newsqa", "newsqa-extractive"}  # no -llm without an LLM


def test_bad_requests_raise_openai_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="newsqa", messages=[])
    with pytest.raises(openai.UnprocessableEntityError, match="no user message"):
        client.chat.completions.create(
            model="newsqa", messages=[{"role": "system", "content": "hi"}]
        )
    with pytest.raises(openai.UnprocessableEntityError, match="limit is 2000"):
        client.chat.completions.create(
            model="newsqa", messages=[{"role": "user", "content": "x" * 2001}]
        )
    with pytest.raises(openai.NotFoundError, match="needs an LLM") as refused:
        client.chat.completions.create(
            model="newsqa-llm", messages=[{"role": "user", "content": SEED_QUESTION}]
        )
    assert refused.value.code == "model_not_found"
    many: Any = [{"role": ("user", "assistant")[i % 2], "content": "hi"} for i in range(51)]
    long_chat = client.chat.completions.with_raw_response.create(  # the oldest turn is dropped
        model="newsqa", messages=[*many, {"role": "user", "content": SEED_QUESTION}]
    )
    assert long_chat.headers["x-history-turns-dropped"] == "1"


def test_a_conversation_that_ends_with_the_answer_is_refused(client: openai.OpenAI) -> None:
    """[question, answer] re-answered the question with a 200 (round 20 sweep, finding 15):
    there is nothing to answer. System messages stay ignored wherever they stand."""
    asked: Any = [
        {"role": "user", "content": SEED_QUESTION},
        {"role": "assistant", "content": "Russia, China, Iran [1]."},
    ]
    for messages in (asked, [*asked, {"role": "system", "content": "Be brief."}]):
        with pytest.raises(openai.UnprocessableEntityError) as refused:
            client.chat.completions.create(model="newsqa", messages=messages)
        assert "the last message must be the user's" in refused.value.message
        assert refused.value.param == "messages.1.role"  # type: ignore[attr-defined]
    with_system: Any = [asked[0], {"role": "system", "content": "Be brief."}]
    answered = client.chat.completions.create(model="newsqa", messages=with_system)
    assert "Russia" in (answered.choices[0].message.content or "")


def test_api_key_with_the_openai_client(assistant: Any) -> None:
    settings = assistant.settings.model_copy(update={"api_key": SecretStr(KEY)})
    with serve_in_thread(create_app(assistant, settings)) as base:
        wrong = openai.OpenAI(base_url=f"{base}/v1", api_key="sk-wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            wrong.models.list()
        right = openai.OpenAI(base_url=f"{base}/v1", api_key=KEY, max_retries=0)
        completion = right.chat.completions.create(
            model="newsqa", messages=[{"role": "user", "content": SEED_QUESTION}]
        )
        assert "Russia" in (completion.choices[0].message.content or "")


def test_llm_answers_stream_through_the_openai_surface(assistant: Any) -> None:
    """With an (OpenAI-compatible, fake) LLM behind us: real deltas, then the cited answer."""
    from qa.assistant import Assistant

    with FakeLLM(reply="Russia, China and Turkey back Maduro [1].") as fake:
        settings = assistant.settings.model_copy(
            update={"llm_base_url": fake.base_url, "llm_timeout_s": 10.0}
        )
        llm_assistant = Assistant(settings, service=assistant.service)
        with serve_in_thread(create_app(llm_assistant, settings)) as base:
            client = openai.OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
            assert "newsqa-llm" in {m.id for m in client.models.list()}
            chunks = list(
                client.chat.completions.create(
                    model="newsqa-llm",
                    stream=True,
                    messages=[{"role": "user", "content": SEED_QUESTION}],
                )
            )
            health = httpx.get(f"{base}/api/v1/health").json()
    pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    answer = Answer.model_validate(extra(chunks[-1], "answer"))
    assert answer.mode == "llm" and len(pieces) > 3  # streamed word by word
    assert "".join(pieces) == answer.answer == "Russia, China and Turkey back Maduro [1]."
    assert extra(chunks[-1], "citations")[0]["n"] == 1
    assert health["llm"]["configured"] is True and health["llm"]["base_url"] == fake.base_url


# --- only listed models; usage; sentence-by-sentence streams --------------------------------------
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("model", ["gpt-4o", "newsqa-LLM", ""])
def test_a_model_not_listed_is_refused_in_openais_error_shape(
    client: openai.OpenAI, url: str, model: str, stream: bool
) -> None:
    with pytest.raises(openai.NotFoundError) as refused:
        client.chat.completions.create(
            model=model, stream=stream, messages=[{"role": "user", "content": SEED_QUESTION}]
        )
    assert refused.value.code == "model_not_found" and refused.value.param == "model"
    assert refused.value.type == "invalid_request_error"
    assert "newsqa, newsqa-extractive" in refused.value.message
    body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": "q"}]}
    reply = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=60)
    error = reply.json()["error"]
    assert reply.status_code == 404 and reply.headers["content-type"] == "application/json"
    assert {k: error[k] for k in ("type", "param", "code")} == {
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }


def test_every_listed_model_is_accepted(client: openai.OpenAI) -> None:
    for model in client.models.list():
        completion = client.chat.completions.create(
            model=model.id, messages=[{"role": "user", "content": SEED_QUESTION}]
        )
        assert completion.model == model.id and "Russia" in (
            completion.choices[0].message.content or ""
        )


def test_extractive_usage_is_estimated_with_the_projects_tokenizer(client: openai.OpenAI) -> None:
    from qa.usage import count_tokens

    completion = client.chat.completions.create(
        model="newsqa", messages=[{"role": "user", "content": SEED_QUESTION}]
    )
    usage = completion.usage
    assert usage is not None
    content = completion.choices[0].message.content or ""
    assert usage.completion_tokens == count_tokens(content) > 5
    assert usage.prompt_tokens > 10 * usage.completion_tokens  # the passages read
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert extra(usage, "counted_by") == "tokenizer"
    # A stream reports the same usage in a last chunk when asked, as OpenAI's API does.
    chunks = list(
        client.chat.completions.create(
            model="newsqa",
            stream=True,
            stream_options={"include_usage": True},
            messages=[{"role": "user", "content": SEED_QUESTION}],
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage == usage
    assert all(c.usage is None for c in chunks[:-1])
    assert Answer.model_validate(extra(chunks[-2], "answer")).answer == content


def test_extractive_answers_stream_sentence_by_sentence(client: openai.OpenAI) -> None:
    from qa.assistant import sentence_deltas

    question = [{"role": "user", "content": "Who is Juan Guaido?"}]
    whole = client.chat.completions.create(model="newsqa", messages=question)
    content = whole.choices[0].message.content or ""
    chunks = list(client.chat.completions.create(model="newsqa", stream=True, messages=question))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(pieces) >= 2 and pieces == sentence_deltas(content)
    assert "".join(pieces) == content
    assert all(piece.endswith((" ", "\n")) for piece in pieces[:-1])  # whole sentences


@pytest.mark.parametrize("reports_usage", [True, False], ids=["reported", "not-reported"])
def test_llm_usage_is_the_models_own_count_or_else_estimated(
    assistant: Any, reports_usage: bool
) -> None:
    from qa.assistant import Assistant

    with FakeLLM(reply="Russia, China and Turkey back Maduro [1].") as fake:
        if not reports_usage:
            fake.usage = None
        settings = assistant.settings.model_copy(
            update={"llm_base_url": fake.base_url, "llm_timeout_s": 10.0}
        )
        llm_assistant = Assistant(settings, service=assistant.service)
        with serve_in_thread(create_app(llm_assistant, settings)) as base:
            client = openai.OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
            messages = [{"role": "user", "content": SEED_QUESTION}]
            whole = client.chat.completions.create(model="newsqa-llm", messages=messages)
            chunks = list(
                client.chat.completions.create(
                    model="newsqa-llm",
                    stream=True,
                    stream_options={"include_usage": True},
                    messages=messages,
                )
            )
        asked = fake.requests[-1]
    assert asked["stream_options"] == {"include_usage": True}  # we ask the model for its count
    for usage in (whole.usage, chunks[-1].usage):
        assert usage is not None
        if reports_usage:
            assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (
                321,
                12,
                333,
            )
            assert extra(usage, "counted_by") == "llm"
        else:
            assert usage.prompt_tokens > 100 and usage.completion_tokens > 5
            assert extra(usage, "counted_by") == "tokenizer"


def test_a_doubtful_answer_says_so_in_the_content_a_plain_client_shows(assistant: Any) -> None:
    """A chat client shows only `content`: the low-confidence caution the chat window and the
    CLI show must be there too, the same whether streamed or not, after the answer's text."""
    from qa.answer import AnswerConfig, ExtractiveAnswerer
    from qa.assistant import Assistant
    from qa.render import DOUBTFUL

    doubting = Assistant(assistant.settings, service=assistant.service)
    doubting.extractive = ExtractiveAnswerer(
        assistant.settings, assistant.service.embedding, config=AnswerConfig(doubtful_below=1.0)
    )
    with serve_in_thread(create_app(doubting, assistant.settings)) as base:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0, timeout=60)
        messages: Any = [{"role": "user", "content": SEED_QUESTION}]
        whole = client.chat.completions.create(model="newsqa", messages=messages)
        chunks = list(
            client.chat.completions.create(model="newsqa", stream=True, messages=messages)
        )
    content = whole.choices[0].message.content or ""
    answer = Answer.model_validate(extra(whole, "answer"))
    assert answer.doubtful and "Russia" in answer.answer
    assert content == f"{answer.answer}\n\n*Low confidence: {DOUBTFUL}*"
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == content
