"""The HTTP API over real HTTP: uvicorn on a loopback port, one small seeded index."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from pydantic import SecretStr

from index.settings import Settings
from qa import render
from qa.api import (
    MAX_BODY_BYTES,
    MAX_HISTORY_TURNS,
    MAX_QUESTION_CHARS,
    MAX_UPLOAD_BYTES,
    _TextTracker,
    create_app,
)
from qa.client import iter_sse
from qa.retrieval.corpus import REVISION_TTL_S
from qa.types import Answer, SearchResult
from tests.api_fixtures import (
    SEED_QUESTION,
    SMALL_DOCS,
    ChromaServer,
    make_assistant,
    serve_in_thread,
)

API = "/api/v1"
KEY = "test-key-123"
LIGHTHOUSE_ID = "https://example.org/news/lighthouse-reopens"
UNIQUE_DOC = (
    "# Quentaro hosts the Zorblax lantern festival\n\n"
    "The Zorblax lantern festival in Quentaro drew 41,000 visitors this year, the organiser "
    "Mirela Oskarsdottir said. The festival has been held every autumn since 1987.\n"
)


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_assistant(tmp_path_factory.mktemp("api-index"))


@pytest.fixture(scope="module")
def url(assistant: Any) -> Any:
    with serve_in_thread(create_app(assistant, assistant.settings)) as base:
        yield base


@pytest.fixture(scope="module")
def keyed_url(assistant: Any) -> Any:
    settings = assistant.settings.model_copy(update={"api_key": SecretStr(KEY)})
    with serve_in_thread(create_app(assistant, settings)) as base:
        yield base


@pytest.fixture
def http(url: str) -> Any:
    with httpx.Client(base_url=url, timeout=60) as client:
        yield client


def sse_events(reply: httpx.Response) -> list[tuple[str, str]]:
    return list(iter_sse(reply.iter_lines()))


def error_field(reply: httpx.Response) -> str | None:
    return reply.json()["error"]["field"]


# --- questions ------------------------------------------------------------------------------
def test_answer_cites_verbatim_passages(http: httpx.Client) -> None:
    reply = http.post(f"{API}/answer", json={"question": SEED_QUESTION})
    assert reply.status_code == 200, reply.text
    answer = Answer.model_validate(reply.json())
    assert "Russia" in answer.answer and "China" in answer.answer
    assert answer.citations and not answer.abstained
    for citation in answer.citations:
        article = http.get(f"{API}/articles/{citation.article_id}").json()
        assert article["body"][citation.start : citation.end] == citation.quote


def test_answer_stream_deltas_add_up_to_the_final_answer(http: httpx.Client) -> None:
    body = {"question": SEED_QUESTION, "stream": True}
    with http.stream("POST", f"{API}/answer", json=body) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        events = sse_events(reply)
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "answer" and kinds.count("answer") == 1
    assert set(kinds[:-1]) == {"delta"}
    final = Answer.model_validate_json(events[-1][1])
    streamed = "".join(json.loads(data)["text"] for kind, data in events if kind == "delta")
    assert streamed == final.answer and "Russia" in streamed
    assert final.citations


def test_an_extractive_answer_streams_sentence_by_sentence(http: httpx.Client) -> None:
    from qa.assistant import sentence_deltas

    question = {"question": "Who is Juan Guaido?"}
    whole = Answer.model_validate(http.post(f"{API}/answer", json=question).json())
    with http.stream("POST", f"{API}/answer", json={**question, "stream": True}) as reply:
        events = sse_events(reply)
    deltas = [json.loads(data)["text"] for kind, data in events if kind == "delta"]
    assert len(deltas) >= 2 and deltas == sentence_deltas(whole.answer)
    final = Answer.model_validate_json(events[-1][1])
    assert "".join(deltas) == whole.answer == final.answer


def test_answer_stream_errors_before_streaming_are_plain_http_errors(http: httpx.Client) -> None:
    reply = http.post(f"{API}/answer", json={"question": "x", "mode": "llm", "stream": True})
    assert reply.status_code == 400
    assert reply.headers["content-type"].startswith("application/json")


def test_answer_takes_history_and_filters(http: httpx.Client) -> None:
    history = [
        {"role": "user", "content": SEED_QUESTION},
        {"role": "assistant", "content": "Russia, China and Iran [1]."},
    ]
    reply = http.post(
        f"{API}/answer",
        json={
            "question": "and which countries back Guaido?",
            "history": history,
            "k": 3,
        },
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["question"] == "and which countries back Guaido?"
    # The seed is from 2019-01-26: a later window leaves it out.
    reply = http.post(f"{API}/answer", json={"question": SEED_QUESTION, "since": "2019-02-01"})
    assert reply.status_code == 200
    cited = {c["article_id"] for c in reply.json()["citations"]}
    seed_id = http.post(f"{API}/search", json={"question": SEED_QUESTION}).json()
    seed_id = seed_id["passages"][0]["article_id"]
    assert seed_id not in cited


def test_search_returns_scored_passages(http: httpx.Client) -> None:
    reply = http.post(f"{API}/search", json={"question": SEED_QUESTION, "k": 2})
    assert reply.status_code == 200
    result = SearchResult.model_validate(reply.json())
    assert 1 <= len(result.passages) <= 2
    assert "Maduro" in result.passages[0].text
    reply = http.post(
        f"{API}/search",
        json={
            "question": "lighthouse lens",
            "sources": ["Coastal Gazette"],
            "until": "2023-12-31",
        },
    )
    assert reply.status_code == 200
    assert {p["source"] for p in reply.json()["passages"]} == {"Coastal Gazette"}


def test_llm_mode_without_llm_is_a_400_naming_mode(http: httpx.Client) -> None:
    reply = http.post(f"{API}/answer", json={"question": SEED_QUESTION, "mode": "llm"})
    assert reply.status_code == 400
    assert error_field(reply) == "mode" and "LLM" in reply.json()["detail"]


# --- limits ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"question": ""}, "question"),
        ({"question": "   \n "}, "question"),
        ({"question": "x" * (MAX_QUESTION_CHARS + 1)}, "question"),
        ({}, "question"),
        ({"question": 42}, "question"),
        (
            {
                "question": "q",
                "history": [{"role": "user", "content": "hi"}] * (MAX_HISTORY_TURNS + 1),
            },
            "history",
        ),
        ({"question": "q", "history": [{"role": "robot", "content": "hi"}]}, "history.0.role"),
        ({"question": "q", "mode": "poetry"}, "mode"),
        ({"question": "q", "k": 0}, "k"),
        ({"question": "q", "k": 51}, "k"),
        ({"question": "q", "since": "last tuesday"}, "since"),
        ({"question": "q", "until": "2019-13-45"}, "until"),
        ({"question": "q", "sources": "Reuters"}, "sources"),
        ({"question": "q", "colour": "blue"}, "colour"),
    ],
)
def test_invalid_answer_requests_are_422_naming_the_field(
    http: httpx.Client, body: dict, field: str
) -> None:
    reply = http.post(f"{API}/answer", json=body)
    assert reply.status_code == 422, reply.text
    assert error_field(reply) == field
    assert reply.json()["detail"].startswith(field)


def test_question_at_the_limit_is_accepted(http: httpx.Client) -> None:
    question = ("which countries back Maduro? " * 100)[:MAX_QUESTION_CHARS]
    reply = http.post(f"{API}/search", json={"question": question})
    assert reply.status_code == 200


def test_history_at_the_limit_is_accepted(http: httpx.Client) -> None:
    history = [
        {"role": ("user", "assistant")[i % 2], "content": f"turn {i}"}
        for i in range(MAX_HISTORY_TURNS)
    ]
    reply = http.post(f"{API}/answer", json={"question": SEED_QUESTION, "history": history})
    assert reply.status_code == 200


def test_malformed_json_is_422(http: httpx.Client) -> None:
    reply = http.post(
        f"{API}/answer", content=b'{"question": ', headers={"content-type": "application/json"}
    )
    assert reply.status_code == 422
    assert "JSON" in reply.json()["detail"]
    # Each error names the body, not the character offset where parsing stopped.
    assert [e["field"] for e in reply.json()["errors"]] == ["body"], reply.text


def test_a_body_that_is_not_json_is_415_and_says_so(http: httpx.Client) -> None:
    """Before, a text/plain body got "body: Input should be a valid dictionary"."""
    for path in ("answer", "search"):
        reply = http.post(
            f"{API}/{path}", content=b"who backs Maduro?", headers={"content-type": "text/plain"}
        )
        assert reply.status_code == 415, reply.text
        assert "application/json" in reply.json()["detail"] and error_field(reply) == "Content-Type"


def test_oversized_body_is_413_before_reading_it(http: httpx.Client) -> None:
    reply = http.post(
        f"{API}/answer",
        content=b"x" * (MAX_BODY_BYTES + 1),
        headers={"content-type": "application/json"},
    )
    assert reply.status_code == 413
    assert error_field(reply) == "body"


def test_oversized_chunked_body_is_413(http: httpx.Client) -> None:
    def chunks() -> Any:
        for _ in range(12):
            yield b" " * (1024 * 1024)

    reply = http.post(
        f"{API}/articles", content=chunks(), headers={"content-type": "application/json"}
    )
    assert reply.status_code == 413


# --- articles -------------------------------------------------------------------------------
def test_list_articles_with_title_search_and_paging(http: httpx.Client) -> None:
    listing = http.get(f"{API}/articles").json()
    assert listing["total"] == 1 + len(SMALL_DOCS)
    titles = [a["title"] for a in listing["articles"]]
    assert "Harbour lighthouse reopens after restoration" in titles
    found = http.get(f"{API}/articles", params={"q": "LIGHTHOUSE reopens"}).json()
    assert [a["article_id"] for a in found["articles"]] == [LIGHTHOUSE_ID]
    assert http.get(f"{API}/articles", params={"q": "zeppelin"}).json()["total"] == 0
    page = http.get(f"{API}/articles", params={"limit": 1, "offset": 1}).json()
    assert page["total"] == listing["total"]
    assert [a["article_id"] for a in page["articles"]] == [listing["articles"][1]["article_id"]]
    assert http.get(f"{API}/articles", params={"limit": 0}).status_code == 422


@pytest.mark.parametrize("path_id", [LIGHTHOUSE_ID, quote(LIGHTHOUSE_ID, safe="")])
def test_get_article_by_url_id_raw_or_encoded(http: httpx.Client, path_id: str) -> None:
    reply = http.get(f"{API}/articles/{path_id}")
    assert reply.status_code == 200, reply.text
    article = reply.json()
    assert article["article_id"] == LIGHTHOUSE_ID
    assert article["source"] == "Coastal Gazette" and "22 nautical miles" in article["body"]


def test_missing_article_is_404(http: httpx.Client) -> None:
    for method in ("GET", "DELETE"):
        reply = http.request(method, f"{API}/articles/https://example.org/none")
        assert reply.status_code == 404
        assert error_field(reply) == "article_id"


def test_upload_ask_delete_round_trip(http: httpx.Client) -> None:
    question = "How many visitors did the Zorblax lantern festival draw?"
    files = [("files", ("zorblax.md", UNIQUE_DOC.encode(), "text/markdown"))]
    reply = http.post(f"{API}/articles", files=files)
    assert reply.status_code == 200, reply.text
    report = reply.json()
    assert report["added"] == 1 and report["failed"] == 0 and report["chunks"] >= 1
    (article_id,) = report["article_ids"]
    article = http.get(f"{API}/articles/{article_id}").json()
    assert article["origin"] == "upload:zorblax.md"
    assert article["title"] == "Quentaro hosts the Zorblax lantern festival"

    answer = http.post(f"{API}/answer", json={"question": question}).json()
    assert "41,000" in answer["answer"]
    assert article_id in {c["article_id"] for c in answer["citations"]}

    again = http.post(f"{API}/articles", files=files).json()
    assert again["unchanged"] == 1 and again["added"] == 0

    assert http.delete(f"{API}/articles/{article_id}").json() == {"deleted": article_id}
    assert http.get(f"{API}/articles/{article_id}").status_code == 404
    assert http.delete(f"{API}/articles/{article_id}").status_code == 404
    after = http.post(f"{API}/answer", json={"question": question}).json()
    assert article_id not in {c["article_id"] for c in after["citations"]}


def test_json_records_round_trip_with_url_id(http: httpx.Client) -> None:
    record = {
        "title": "Glacier museum opens",
        "source": "Alpine Post",
        "url": "https://example.org/a/b/glacier?id=7&x=1",
        "published_at": "2021-03-02T10:00:00+00:00",
        "body": "A glacier museum opened in Vennhorn. It shows 300 years of ice cores.",
    }
    reply = http.post(f"{API}/articles", json={"records": [record, {"title": "no body"}]})
    assert reply.status_code == 200, reply.text
    report = reply.json()
    assert report["added"] == 1 and report["failed"] == 1
    assert "body" in report["errors"][0]["reason"] or report["errors"][0]["reason"]
    encoded = quote(record["url"], safe="")
    assert http.get(f"{API}/articles/{encoded}").json()["title"] == "Glacier museum opens"
    assert http.delete(f"{API}/articles/{encoded}").status_code == 200
    assert http.get(f"{API}/articles/{encoded}").status_code == 404


@pytest.mark.parametrize("name", ["../evil.md", "..", "a/b.md", "a\\b.md", "/etc/x.txt", "..."])
def test_upload_refuses_path_traversal_names(http: httpx.Client, name: str) -> None:
    reply = http.post(f"{API}/articles", files=[("files", (name, b"Title\n\nSome text.\n"))])
    assert reply.status_code == 400, reply.text
    assert error_field(reply) == "files"


@pytest.mark.parametrize("name", ["report.docx", "archive.zip", "noext", "data.csv"])
def test_upload_refuses_unsupported_types(http: httpx.Client, name: str) -> None:
    reply = http.post(f"{API}/articles", files=[("files", (name, b"text"))])
    assert reply.status_code == 415
    assert error_field(reply) == "files" and name in reply.json()["detail"]


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        b"Looks like text\x00\x00\x00 but is not",
    ],
)
def test_binary_content_is_reported_per_file_and_the_rest_is_ingested(
    http: httpx.Client, content: bytes
) -> None:
    """Before, one binary file refused the whole upload (400), while an empty file or an
    encrypted PDF was reported on its own and `qa ingest` went on with the rest."""
    good = b"The Pellworth ferry resumed its winter crossings on Monday after the storm."
    files = [("files", ("sneaky.txt", content)), ("files", ("ferry.txt", good))]
    reply = http.post(f"{API}/articles", files=files)
    assert reply.status_code == 200, reply.text
    report = reply.json()
    assert report["failed"] == 1 and report["added"] + report["unchanged"] == 1, report
    (error,) = report["errors"]
    assert error["path"] == "sneaky.txt" and "binary file" in error["reason"], error


def test_upload_over_10_mb_is_413(http: httpx.Client) -> None:
    big = b"word " * (MAX_UPLOAD_BYTES // 5 + 1)
    reply = http.post(f"{API}/articles", files=[("files", ("big.txt", big))])
    assert reply.status_code == 413
    assert error_field(reply) == "files" and "10 MB" in reply.json()["detail"]


def test_upload_needs_files_and_a_known_content_type(http: httpx.Client) -> None:
    reply = http.post(
        f"{API}/articles", data={"note": "no file here"}, files=[("other", ("", b""))]
    )
    assert reply.status_code == 400
    reply = http.post(f"{API}/articles", content=b"hello", headers={"content-type": "text/plain"})
    assert reply.status_code == 415 and error_field(reply) == "Content-Type"
    reply = http.post(f"{API}/articles", json={"records": {"not": "a list"}})
    assert reply.status_code == 422 and error_field(reply) == "records"


def test_bad_file_contents_are_reported_not_raised(http: httpx.Client) -> None:
    files = [
        ("files", ("broken.json", b'{"title": "x", "body": ')),
        ("files", ("empty.txt", b"   ")),
    ]
    reply = http.post(f"{API}/articles", files=files)
    assert reply.status_code == 200
    report = reply.json()
    assert report["failed"] == 2 and report["added"] == 0
    assert {e["path"] for e in report["errors"]} == {"broken.json", "empty.txt"}


# --- health, docs, auth -----------------------------------------------------------------------
def test_health_reports_index_and_models(http: httpx.Client) -> None:
    health = http.get(f"{API}/health").json()
    assert health["status"] == "ok"
    assert health["articles"] >= 1 + len(SMALL_DOCS) and health["chunks"] >= health["articles"]
    assert health["embedding_model"] == "all-MiniLM-L6-v2-int8"
    assert health["chroma"] == "embedded"
    assert health["llm"] == {
        "configured": False,
        "model": None,
        "base_url": None,
        "reachable": None,
        "detail": "",
    }
    assert health["auth_required"] is False


def test_openapi_documents_every_endpoint(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    expected = {
        (f"{API}/answer", "post"),
        (f"{API}/search", "post"),
        (f"{API}/articles", "get"),
        (f"{API}/articles", "post"),
        (f"{API}/articles/{{article_id}}", "get"),
        (f"{API}/articles/{{article_id}}", "delete"),
        (f"{API}/health", "get"),
        ("/v1/chat/completions", "post"),
        ("/v1/models", "get"),
    }
    present = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert expected <= present
    for path, method in expected:
        operation = spec["paths"][path][method]
        assert "$ref" in json.dumps(operation["responses"]["200"]), (path, method)
        if method == "post":
            assert operation["requestBody"]["content"], (path, method)
    upload = spec["paths"][f"{API}/articles"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= set(upload)


def test_the_docs_page_works_offline(http: httpx.Client) -> None:
    """Swagger UI loads from a CDN (blank offline); /docs lists the routes with no script and
    nothing fetched from elsewhere."""
    page = http.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f"<code>{API}/answer</code>" in page.text and "/v1/chat/completions" in page.text
    assert 'href="/openapi.json"' in page.text
    assert "<script" not in page.text and "://" not in page.text, page.text
    assert http.head("/docs").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", f"{API}/answer", {"question": SEED_QUESTION}),
        ("POST", f"{API}/search", {"question": SEED_QUESTION}),
        ("GET", f"{API}/articles", None),
        ("GET", f"{API}/articles/{LIGHTHOUSE_ID}", None),
        ("DELETE", f"{API}/articles/https://example.org/none", None),
        ("POST", f"{API}/articles", {"records": []}),
        ("GET", "/v1/models", None),
        ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
    ],
)
def test_api_key_is_required_everywhere_but_health(
    keyed_url: str, method: str, path: str, body: dict | None
) -> None:
    with httpx.Client(base_url=keyed_url, timeout=60) as client:
        missing = client.request(method, path, json=body)
        wrong = client.request(method, path, json=body, headers={"Authorization": "Bearer nope"})
        right = client.request(method, path, json=body, headers={"Authorization": f"Bearer {KEY}"})
    for reply in (missing, wrong):
        assert reply.status_code == 401
        assert reply.headers["www-authenticate"] == "Bearer"
        assert reply.json()["error"]["type"] == "authentication_error"
    assert right.status_code in (200, 404), right.text


def test_health_stays_open_with_a_key(keyed_url: str) -> None:
    reply = httpx.get(f"{keyed_url}{API}/health")
    assert reply.status_code == 200 and reply.json()["auth_required"] is True


# --- concurrency --------------------------------------------------------------------------------
class SlowSearch:
    """Delegates to a real Assistant; `search` blocks for a while like a cold index would."""

    def __init__(self, inner: Any, delay_s: float) -> None:
        self._inner = inner
        self._delay_s = delay_s

    def search(self, *args: Any, **kwargs: Any) -> Any:
        time.sleep(self._delay_s)
        return self._inner.search(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_blocking_calls_leave_the_event_loop_free(assistant: Any) -> None:
    app = create_app(SlowSearch(assistant, 4.0), assistant.settings)  # type: ignore[arg-type]
    with serve_in_thread(app) as base:
        done: dict[str, Any] = {}

        def slow_search() -> None:
            done["reply"] = httpx.post(
                f"{base}{API}/search", json={"question": SEED_QUESTION}, timeout=60
            )
            done["at"] = time.monotonic()

        worker = threading.Thread(target=slow_search)
        worker.start()
        time.sleep(0.5)
        health = httpx.get(f"{base}{API}/health", timeout=60)
        health_at = time.monotonic()
        worker.join()
    assert health.status_code == 200 and done["reply"].status_code == 200
    # A blocked event loop would answer health only after the 4 s search.
    assert health_at < done["at"] - 0.5, "health waited behind a blocking search"


class ScriptedAssistant:
    """Stands in for the Assistant in stream tests: yields a scripted list of events."""

    llm = None  # no LLM: /v1 serves the extractive model ids

    def __init__(self, events: list[Any], delay_s: float = 0.0) -> None:
        self.events = events
        self.delay_s = delay_s
        self.closed = threading.Event()

    def ask_stream(self, question: str, **_: Any) -> Any:
        try:
            for event in self.events:
                time.sleep(self.delay_s)
                if isinstance(event, Exception):
                    raise event
                yield event
        finally:
            self.closed.set()


def scripted_stream(events: list[Any], url_suffix: str = f"{API}/answer") -> list[tuple]:
    fake = ScriptedAssistant(events)
    app = create_app(fake, Settings())  # type: ignore[arg-type]
    with (
        serve_in_thread(app) as base,
        httpx.stream(
            "POST", f"{base}{url_suffix}", json={"question": "q", "stream": True}, timeout=30
        ) as reply,
    ):
        return sse_events(reply)


def test_stream_replaces_deltas_the_final_answer_rewrote() -> None:
    final = Answer(question="q", answer="Quoted from the article [1].", mode="llm-fallback")
    events = scripted_stream(["The model ", "started [1, 2]", final])
    assert [kind for kind, _ in events] == ["delta", "delta", "replace", "answer"]
    assert json.loads(events[2][1]) == {"text": "Quoted from the article [1]."}


def _openai_content(script: list) -> tuple[str, str]:
    """(non-streamed content, streamed content) of one scripted answer."""
    body = {"messages": [{"role": "user", "content": "q"}]}
    app = create_app(ScriptedAssistant(script), Settings())  # type: ignore[arg-type]
    with serve_in_thread(app) as base:
        whole = httpx.post(f"{base}/v1/chat/completions", json=body, timeout=30).json()
    app = create_app(ScriptedAssistant(script), Settings())  # type: ignore[arg-type]
    with (
        serve_in_thread(app) as base,
        httpx.stream(
            "POST", f"{base}/v1/chat/completions", json={**body, "stream": True}, timeout=30
        ) as reply,
    ):
        chunks = [json.loads(d) for _, d in sse_events(reply) if d != "[DONE]"]
    streamed = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    return whole["choices"][0]["message"]["content"], streamed


def test_openai_stream_withdraws_text_the_final_answer_replaced() -> None:
    """A plain OpenAI client cannot be sent `replace`: the streamed content is what was sent,
    a line withdrawing it, then exactly the non-streamed content (answer, then notice)."""
    final = Answer(
        question="q",
        answer="Quoted from the article [1].",
        mode="llm-fallback",
        notice="The language model stopped before finishing the answer, so this answer is "
        "quoted directly from the articles.",
    )
    content, streamed = _openai_content(["The model ", "started [1, 2]", final])

    assert content.startswith("Quoted from the article [1].") and "*Note: " in content
    assert streamed == "The model started [1, 2]" + render.WITHDRAWN_MARKDOWN + content


def test_openai_stream_goes_on_when_only_the_markers_were_rewritten() -> None:
    """A successful LLM answer whose "[1, 2]" the answerer writes "[1][2]" (and whose marker
    naming no source it drops) is the same answer: nothing is withdrawn."""
    final = Answer(question="q", answer="Russia and China [1][2] back Maduro. Iran too [3].")
    script = ["Russia and China [1, 2] back", " Maduro [9]. Iran", final]

    content, streamed = _openai_content(script)

    assert render.WITHDRAWN not in streamed
    assert streamed == "Russia and China [1, 2] back Maduro [9]. Iran too [3]."
    assert content == final.answer


def test_stream_failure_after_the_first_event_is_an_error_event() -> None:
    events = scripted_stream(["partial ", RuntimeError("boom")])
    assert [kind for kind, _ in events] == ["delta", "error"]
    error = json.loads(events[1][1])["error"]
    assert error["type"] == "server_error" and "RuntimeError" in error["message"]


def test_openai_stream_failure_is_an_error_chunk_then_done() -> None:
    fake = ScriptedAssistant(["partial ", RuntimeError("boom")])
    app = create_app(fake, Settings())  # type: ignore[arg-type]
    body = {"stream": True, "messages": [{"role": "user", "content": "q"}]}
    with (
        serve_in_thread(app) as base,
        httpx.stream("POST", f"{base}/v1/chat/completions", json=body, timeout=30) as reply,
    ):
        data = [d for _, d in sse_events(reply)]
    assert "error" in json.loads(data[-2]) and data[-1] == "[DONE]"


def test_client_disconnect_closes_the_answer_stream() -> None:
    fake = ScriptedAssistant([f"word{i} " for i in range(100)], delay_s=0.1)
    app = create_app(fake, Settings())  # type: ignore[arg-type]
    with serve_in_thread(app) as base:
        with httpx.stream(
            "POST", f"{base}{API}/answer", json={"question": "q", "stream": True}, timeout=30
        ) as reply:
            lines = reply.iter_lines()
            assert next(lines).startswith("event: delta")
        assert fake.closed.wait(5), "the generator kept running after the client left"


def test_text_tracker_flags_a_final_text_that_rewrites_the_deltas() -> None:
    tracker = _TextTracker()
    tracker.delta("Russia backs ")
    assert tracker.finish("Russia backs Maduro [1].") == ("Maduro [1].", False)
    tracker = _TextTracker()
    tracker.delta("The model said [1, 2]")
    assert tracker.finish("Quoted instead [1].") == ("Quoted instead [1].", True)


# --- Chroma server down -------------------------------------------------------------------------
def test_chroma_down_is_503_and_recovers_after_restart(tmp_path: Path) -> None:
    chroma = ChromaServer(tmp_path / "chroma")
    chroma.start()
    try:
        remote = make_assistant(tmp_path / "data", chroma_url=chroma.url)
        with (
            serve_in_thread(create_app(remote, remote.settings)) as base,
            httpx.Client(base_url=base, timeout=30) as client,
        ):
            assert client.post(f"{API}/answer", json={"question": SEED_QUESTION}).status_code == 200
            chroma.stop()
            # Searches reuse the loaded snapshot and re-check Chroma's revision at most every
            # REVISION_TTL_S, so for that long an answer can still come from memory; after it
            # every request must reach Chroma and report it down.
            time.sleep(REVISION_TTL_S + 0.2)
            for method, path, body in [
                ("POST", f"{API}/answer", {"question": SEED_QUESTION}),
                ("POST", f"{API}/search", {"question": SEED_QUESTION}),
                ("GET", f"{API}/articles", None),
                ("GET", f"{API}/health", None),
            ]:
                reply = client.request(method, path, json=body)
                assert reply.status_code == 503, (path, reply.text)
                assert "Chroma server" in reply.json()["detail"]
                assert reply.headers["retry-after"] == "5"
            stream = client.post(f"{API}/answer", json={"question": SEED_QUESTION, "stream": True})
            assert stream.status_code == 503
            chroma.start()
            restarted = time.monotonic()
            while True:
                reply = client.post(f"{API}/answer", json={"question": SEED_QUESTION})
                if reply.status_code == 200 or time.monotonic() - restarted > 5:
                    break
                time.sleep(0.1)
            recovered_s = time.monotonic() - restarted
            print(f"answering again {recovered_s:.2f} s after Chroma's heartbeat came back")
            assert reply.status_code == 200, reply.text
            assert recovered_s < 5
            assert "Russia" in reply.json()["answer"]
    finally:
        chroma.stop()


# --- the server process pieces ------------------------------------------------------------------
def test_server_serves_ui_at_root_beside_the_api(assistant: Any) -> None:
    from qa.server import build_server

    app = build_server(assistant.settings, assistant)
    assert not hasattr(app.state, "ui_error"), app.state.ui_error
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        page = client.get("/")
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert client.get(f"{API}/health").json()["status"] == "ok"
        assert client.get("/docs").status_code == 200
        assert client.post(f"{API}/search", json={"question": ""}).status_code == 422


def test_an_unknown_gradio_session_logs_no_traceback(assistant: Any) -> None:
    """Gradio's queue/data sends `session_not_found`, then re-raises its 404 after the
    response started; uvicorn logged that as a ~100-line "Exception in ASGI application"."""
    import logging

    from qa.server import build_server

    app = build_server(assistant.settings, assistant)
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    with serve_in_thread(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        logging.getLogger("uvicorn.error").addHandler(handler)  # uvicorn's start resets it
        try:
            reply = client.get("/gradio_api/queue/data", params={"session_hash": "nonexistent1"})
        finally:
            logging.getLogger("uvicorn.error").removeHandler(handler)
    assert reply.status_code == 200 and '"session_not_found":true' in reply.text
    assert [r.getMessage() for r in records] == []


def test_empty_index_gets_the_sample_corpus(tmp_path: Path) -> None:
    from qa.server import SAMPLE_CORPUS, ensure_sample_corpus, parse_ui_users, sample_corpus

    assert sample_corpus() == SAMPLE_CORPUS
    empty = make_assistant(tmp_path / "data", ingest=False)
    assert ensure_sample_corpus(empty) >= 1
    assert ensure_sample_corpus(empty) == 0  # only when empty
    assert "Russia" in empty.ask(SEED_QUESTION).answer
    assert parse_ui_users("ann:pw1, bob:pw:2,broken,:x") == [("ann", "pw1"), ("bob", "pw:2")]


@pytest.mark.parametrize(("args", "sample"), [([], False), (["--sample"], True)])
def test_qa_serve_adds_the_sample_article_only_when_asked(monkeypatch, args, sample) -> None:
    """A worker starting on an empty shared collection must not seed it with the demo article
    (round 19 sweep: every worker of a fresh deployment did); `make serve` asks for it."""
    from typer.testing import CliRunner

    import qa.server
    from index.settings import REPO_ROOT
    from qa.cli import app

    calls: list[dict] = []
    monkeypatch.setattr(qa.server, "serve", lambda **kwargs: calls.append(kwargs))

    result = CliRunner().invoke(app, ["serve", *args], catch_exceptions=False)

    assert result.exit_code == 0 and [call["sample"] for call in calls] == [sample]
    assert "qa serve --sample" in (REPO_ROOT / "Makefile").read_text()


# --- fuzzing ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_schemathesis_finds_no_server_errors_or_schema_violations(tmp_path: Path) -> None:
    """Property-based requests from the OpenAPI schema: no 5xx, every response as documented,
    invalid input rejected. (Semantic refusals of schema-valid input, e.g. mode "llm" without
    an LLM, are expected, so positive_data_acceptance is not checked.)"""
    import subprocess
    import sys

    fuzzed = make_assistant(tmp_path / "data")
    with serve_in_thread(create_app(fuzzed, fuzzed.settings)) as base:
        run = subprocess.run(
            [
                str(Path(sys.executable).parent / "st"),
                "run",
                f"{base}/openapi.json",
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance,use_after_free,ensure_resource_availability",
                "--max-examples",
                "40",
                "--workers",
                "1",
                "--seed",
                "1",
                "--phases",
                "examples,coverage,fuzzing",
            ],
            capture_output=True,
            text=True,
            timeout=900,
            cwd=tmp_path,
        )
    assert run.returncode == 0, run.stdout[-6000:]
