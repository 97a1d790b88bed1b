"""`qa.client.Client` and `qa ask --url` against a real server: same types as the Assistant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from index.ingest import IngestReport
from index.store import ArticleRecord
from qa.api import create_app
from qa.client import (
    ApiError,
    BadRequestError,
    Client,
    ConnectionFailedError,
    iter_sse,
)
from qa.types import Answer, SearchResult, Turn
from tests.api_fixtures import (
    SEED_QUESTION,
    SMALL_DOCS,
    free_port,
    make_assistant,
    serve_in_thread,
)

KEY = "client-key"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_assistant(tmp_path_factory.mktemp("client-index"))


@pytest.fixture(scope="module")
def url(assistant: Any) -> Any:
    with serve_in_thread(create_app(assistant, assistant.settings)) as base:
        yield base


@pytest.fixture
def client(url: str) -> Any:
    with Client(url) as c:
        yield c


def test_ask_matches_the_in_process_assistant(client: Client, assistant: Any) -> None:
    remote = client.ask(SEED_QUESTION)
    local = assistant.ask(SEED_QUESTION)
    assert isinstance(remote, Answer)
    assert remote.answer == local.answer
    assert [(c.article_id, c.start, c.end) for c in remote.citations] == [
        (c.article_id, c.start, c.end) for c in local.citations
    ]


def test_ask_stream_yields_deltas_then_one_answer(client: Client) -> None:
    events = list(client.ask_stream(SEED_QUESTION, k=4))
    *deltas, final = events
    assert isinstance(final, Answer)
    assert deltas and all(isinstance(d, str) for d in deltas)
    assert "".join(deltas) == final.answer


def test_options_travel_with_the_request(client: Client) -> None:
    history = [
        Turn(role="user", content=SEED_QUESTION),
        {"role": "assistant", "content": "Russia and China [1]."},
    ]
    answer = client.ask("and who backs Guaido?", history=history, mode="extractive")
    assert answer.question == "and who backs Guaido?" and answer.mode == "extractive"
    result = client.search(
        "lighthouse lens", k=1, sources=("Coastal Gazette",), since="2023-01-01", until=None
    )
    assert isinstance(result, SearchResult)
    assert [p.source for p in result.passages] == ["Coastal Gazette"]


def test_articles_are_article_records(client: Client) -> None:
    records = client.list_articles()
    assert len(records) == 1 + len(SMALL_DOCS)
    assert all(isinstance(r, ArticleRecord) for r in records)
    (lighthouse,) = client.list_articles(q="lighthouse")
    assert lighthouse.source == "Coastal Gazette" and lighthouse.content_hash
    full = client.get_article(lighthouse.article_id)
    assert full is not None and "22 nautical miles" in (full.body or "")
    assert client.get_article("https://example.org/missing?x=1#y") is None


def test_upload_and_delete_round_trip(client: Client, tmp_path: Path) -> None:
    path = tmp_path / "ferry.md"
    path.write_text(
        "# Night ferry resumes\n\nThe Oskarshamn night ferry resumed service on "
        "Monday with a new 180-berth vessel.\n",
        encoding="utf-8",
    )
    report = client.upload([path])
    assert isinstance(report, IngestReport) and report.ok and report.added == 1
    (article_id,) = report.article_ids
    answer = client.ask("How many berths does the new night ferry vessel have?")
    assert "180" in answer.answer
    assert client.delete(article_id) is True
    assert client.delete(article_id) is False
    assert client.get_article(article_id) is None


def test_ingest_records_reports_problems(client: Client) -> None:
    report = client.ingest_records(
        [
            {"title": "Bridge", "body": "The Kessler bridge reopened.", "url": "https://ex.org/b"},
            {"body": ""},
        ],
        origin="test-batch",
    )
    assert report.added == 1 and report.failed == 1 and not report.ok
    assert report.errors[0].path == "test-batch"
    assert client.delete("https://ex.org/b")


def test_health(client: Client) -> None:
    health = client.health()
    assert health["status"] == "ok" and health["articles"] >= 1 + len(SMALL_DOCS)


def test_errors_map_to_exceptions(client: Client) -> None:
    with pytest.raises(BadRequestError) as empty:
        client.ask("   ")
    assert empty.value.status == 422 and empty.value.field == "question"
    with pytest.raises(ValueError, match="LLM"):  # like the in-process AssistantError
        client.ask(SEED_QUESTION, mode="llm")
    with pytest.raises(BadRequestError):
        list(client.ask_stream("x" * 5000))
    with (
        Client(f"http://127.0.0.1:{free_port()}", timeout=5) as dead,
        pytest.raises(ConnectionFailedError),
    ):
        dead.health()


def test_api_key_is_sent(assistant: Any) -> None:
    settings = assistant.settings.model_copy(update={"api_key": SecretStr(KEY)})
    with serve_in_thread(create_app(assistant, settings)) as base:
        with Client(base) as anonymous, pytest.raises(ApiError) as refused:
            anonymous.list_articles()
        assert refused.value.status == 401
        with Client(base, api_key=KEY) as keyed:
            assert keyed.list_articles()
            assert isinstance(list(keyed.ask_stream(SEED_QUESTION))[-1], Answer)


def test_iter_sse_parses_events_comments_and_multiline_data() -> None:
    lines = [
        ": ping",
        "event: delta",
        'data: {"text": "a"}',
        "",
        "data: x",
        "data: y",
        "",
        "event: answer",
        "data: {}",
    ]
    assert list(iter_sse(lines)) == [
        ("delta", '{"text": "a"}'),
        ("message", "x\ny"),
        ("answer", "{}"),
    ]


def test_cli_ask_url_uses_the_server(
    url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from qa.cli import app

    # An empty local data dir: the answer can only come from the server.
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "nothing-here"))
    runner = CliRunner()
    result = runner.invoke(app, ["ask", "--url", url, "--json", SEED_QUESTION])
    assert result.exit_code == 0, result.output
    answer = Answer.model_validate(json.loads(result.stdout))
    assert "Russia" in answer.answer and answer.citations
    assert not (tmp_path / "nothing-here").exists()
    result = runner.invoke(app, ["ask", "--url", url, "--mode", "llm", SEED_QUESTION])
    assert result.exit_code == 2 and "LLM" in result.output


def _other_service() -> Any:
    """An app that is not newsqa: an OpenAI-like JSON reply on one route, Starlette's 404."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def chat(request: Any) -> JSONResponse:
        return JSONResponse({"object": "chat.completion", "choices": []})

    return Starlette(routes=[Route("/api/v1/answer", chat, methods=["POST"])])


def test_a_url_that_is_not_newsqa_is_named_as_such(tmp_path: Path) -> None:
    """The scale-out sweep pointed the client at the LLM's port and Chroma's: a raw pydantic
    ValidationError, and "HTTP 405: Method Not Allowed", told the user nothing."""
    with serve_in_thread(_other_service()) as url, Client(url) as other:
        with pytest.raises(ApiError, match=r"not a newsqa reply \(is it a newsqa server"):
            other.ask("who?")
        with pytest.raises(ApiError, match="is it a newsqa server") as refused:
            other.search("who?")
    assert refused.value.status == 404
