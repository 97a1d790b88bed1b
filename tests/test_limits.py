"""One validation for every entry point (issue 16 item 3): the CLI, the Python Assistant, the
HTTP API (native and OpenAI-compatible) and the chat window refuse the same bad input with the
same message, the one `index.limits` gives.

Before, the CLI answered `qa ask ""` and a 5,000-character question, the chat window applied no
question limit at all, and a file name over 255 bytes was a 500 on the Gradio side.
Left out on purpose: a blank question in the chat window changes nothing (no message, as
before); the CLI takes no history and reads names from disk, which cannot hold NUL or exceed
255 bytes, so its file cases are type and size.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from index.limits import (
    MAX_CHAT_MESSAGES,
    MAX_FILE_BYTES,
    MAX_HISTORY_TURNS,
    MAX_QUESTION_CHARS,
    MAX_TURN_CHARS,
    MAX_UPLOAD_FILES,
    InputError,
    check_file_count,
    check_file_name,
    check_file_size,
    check_history,
    check_period,
    check_question,
    check_turn_length,
)
from qa.uploads import Upload
from tests.access_fixtures import event_index, file_data, run_event
from tests.api_fixtures import make_assistant, serve_in_thread

QUESTIONS = {
    "empty": "",
    "blank": "  \n ",
    "one over": "x" * (MAX_QUESTION_CHARS + 1),
    "5,000 characters": "which countries back Maduro? " * 173,
}
HISTORY = [{"role": ("user", "assistant")[i % 2], "content": "t"} for i in range(51)]
FILES: dict[str, list[tuple[str, bytes]]] = {
    "name over 255 bytes": [("n" * 300 + ".txt", b"text")],
    "NUL in the name": [("nul\x00.txt", b"text")],
    "only dots": [("...", b"text")],
    "unsupported type": [("report.docx", b"PK\x03\x04")],
    "over the size limit": [("big.txt", b"w" * (MAX_FILE_BYTES + 1))],
    "too many files": [(f"f{i}.txt", b"text") for i in range(MAX_UPLOAD_FILES + 1)],
}


def message_of(check: Callable[..., Any], *args: Any) -> str:
    with pytest.raises(InputError) as refused:
        check(*args)
    return str(refused.value)


def file_message(files: list[tuple[str, bytes]]) -> str:
    def check_all() -> None:
        check_file_count(len(files))
        for name, data in files:
            check_file_name(name)
            check_file_size(name, len(data))

    return message_of(check_all)


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_assistant(tmp_path_factory.mktemp("limits") / "data")


@pytest.fixture(scope="module")
def http(assistant: Any) -> Iterator[httpx.Client]:
    from qa.server import build_server

    app = build_server(assistant.settings, assistant)
    with (
        serve_in_thread(app, lifespan="on") as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        yield client


@pytest.fixture
def cli(assistant: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    import qa.cli

    monkeypatch.setattr(qa.cli, "_assistant", lambda collection=None: assistant)
    return lambda *args: CliRunner().invoke(qa.cli.app, list(args))


# --- questions ----------------------------------------------------------------------------------
@pytest.mark.parametrize("case", list(QUESTIONS))
def test_every_entry_point_refuses_a_bad_question_with_one_message(
    case: str, assistant: Any, http: httpx.Client, cli: Callable[..., Any]
) -> None:
    question = QUESTIONS[case]
    expected = message_of(check_question, question)

    assert message_of(assistant.ask, question) == expected
    assert message_of(assistant.search, question) == expected
    for command in ("ask", "search"):
        result = cli(command, question)
        assert result.exit_code == 2 and f"error: {expected}" in result.output, result.output

    for path in ("/api/v1/answer", "/api/v1/search"):
        reply = http.post(path, json={"question": question})
        assert reply.status_code == 422 and reply.json()["detail"] == expected, reply.text
    chat = {"messages": [{"role": "user", "content": question}]}
    reply = http.post("/v1/chat/completions", json=chat)
    assert reply.status_code == 422 and reply.json()["detail"] == expected, reply.text

    if not question.strip():
        return  # the chat window ignores a blank question (nothing to refuse)
    from qa.chat_handlers import ChatController

    chat_window = ChatController(assistant, assistant.settings)
    assert chat_window.validate_question(question, None)[0]["message"] == expected
    shown = list(chat_window.respond(question, None))[-1][0][-1]["content"]
    assert expected in html.unescape(shown)
    reply = http.post(
        "/gradio_api/queue/join",
        json={
            "data": [question, None, "", "", [], "extractive", 8],
            "fn_index": event_index(http, "qa-ask"),
            "session_hash": f"limits-{case}",
        },
    )
    assert reply.status_code == 422, reply.text
    assert expected in [check["message"] for check in reply.json()["detail"]]


def test_the_native_entry_points_refuse_too_much_history_with_one_message(
    assistant: Any, http: httpx.Client
) -> None:
    """The project's own API (Python, REST) says what is wrong and what to send; the
    OpenAI-compatible route reads the most recent turns instead (next test)."""
    expected = message_of(check_history, HISTORY)
    assert str(MAX_HISTORY_TURNS) in expected and "most recent" in expected
    assert message_of(lambda: assistant.ask("q", history=HISTORY)) == expected
    reply = http.post("/api/v1/answer", json={"question": "q", "history": HISTORY})
    assert reply.status_code == 422 and reply.json()["detail"] == expected, reply.text


def test_the_openai_route_reads_the_most_recent_turns_of_a_long_chat(
    assistant: Any, http: httpx.Client
) -> None:
    """An OpenAI client sends the whole conversation each time: its 26th question was a 422
    ("history has 51 turns; the limit is 50"), and a 101st a 422 from `messages` maxItems 200
    (round 20 sweep, finding 11). The oldest turns are left out, the answer is the one the
    most recent 50 give, and a header says how many were dropped; streamed or not."""
    long = [{"role": ("user", "assistant")[i % 2], "content": f"turn {i}"} for i in range(210)]
    question = {"role": "user", "content": "And which back Guaido?"}
    for stream in (False, True):
        body = {"messages": [*long, question], "stream": stream}
        reply = http.post("/v1/chat/completions", json=body)
        assert reply.status_code == 200, reply.text
        assert reply.headers["x-history-turns-dropped"] == str(210 - MAX_HISTORY_TURNS)
    recent = http.post("/v1/chat/completions", json={"messages": [*long[-50:], question]})
    assert "x-history-turns-dropped" not in recent.headers
    whole = http.post("/v1/chat/completions", json={"messages": [*long, question]}).json()
    assert whole["answer"]["answer"] == recent.json()["answer"]["answer"]
    assert whole["answer"]["usage"] == recent.json()["answer"]["usage"]  # the same turns read


def test_the_openai_routes_message_count_limit_is_the_one_it_advertises(
    http: httpx.Client,
) -> None:
    spec = http.get("/openapi.json").json()["components"]["schemas"]["ChatCompletionRequest"]
    assert spec["properties"]["messages"]["maxItems"] == MAX_CHAT_MESSAGES
    many = [{"role": "user", "content": "q"}] * MAX_CHAT_MESSAGES
    assert http.post("/v1/chat/completions", json={"messages": many}).status_code == 200
    reply = http.post("/v1/chat/completions", json={"messages": [*many, many[0]]})
    assert reply.status_code == 422 and reply.json()["error"]["param"] == "messages", reply.text
    assert reply.json()["detail"].startswith(
        f"messages has {MAX_CHAT_MESSAGES + 1} entries; the limit is {MAX_CHAT_MESSAGES}"
    )


def test_every_entry_point_refuses_an_over_long_earlier_turn(
    assistant: Any, http: httpx.Client
) -> None:
    """The per-turn size limit holds everywhere; /v1 used to cut such a message to the limit
    without a word (the question itself has always been refused alike)."""
    turns = [
        {"role": "user", "content": "who backs Maduro?"},
        {"role": "assistant", "content": "x" * (MAX_TURN_CHARS + 1)},
    ]
    expected = message_of(check_turn_length, turns[1]["content"], "history.1.content")
    assert message_of(lambda: assistant.ask("q", history=turns)) == expected
    reply = http.post("/api/v1/answer", json={"question": "q", "history": turns})
    assert reply.status_code == 422 and reply.json()["detail"] == expected, reply.text
    system = {"role": "system", "content": "Be brief."}
    messages = [system, *turns, {"role": "user", "content": "q"}]
    reply = http.post("/v1/chat/completions", json={"messages": messages})
    assert reply.status_code == 422, reply.text
    assert reply.json()["detail"] == expected.replace("history.1", "messages.2")
    assert reply.json()["error"]["param"] == "messages.2.content"


# --- date filters ---------------------------------------------------------------------------------
PERIODS = {
    "a word": {"since": "yesterday"},
    "no such day": {"until": "2019-02-30"},
    "since after until": {"since": "2020-01-01", "until": "2019-01-01"},
}


@pytest.mark.parametrize("case", list(PERIODS))
def test_every_entry_point_refuses_a_bad_date_filter_with_one_message(
    case: str, assistant: Any, http: httpx.Client, cli: Callable[..., Any]
) -> None:
    """Before, the CLI and the Python API raised a bare ValueError with a traceback, the chat
    window had its own wording, and a range ending before it starts was searched."""
    period = PERIODS[case]
    expected = message_of(check_period, period.get("since"), period.get("until"))
    assert any(value[:10] in expected for value in period.values()), expected

    assert message_of(lambda: assistant.ask("who backs Maduro?", **period)) == expected
    assert message_of(lambda: assistant.search("who backs Maduro?", **period)) == expected
    flags = [part for name, value in period.items() for part in (f"--{name}", value)]
    for command in ("ask", "search"):
        result = cli(command, "who backs Maduro?", *flags)
        assert result.exit_code == 2 and f"error: {expected}" in result.output, result.output
    for path in ("/api/v1/answer", "/api/v1/search"):
        reply = http.post(path, json={"question": "who backs Maduro?", **period})
        assert reply.status_code == 422 and reply.json()["detail"] == expected, reply.text

    from qa.chat_handlers import ChatController

    chat_window = ChatController(assistant, assistant.settings)
    dates = (period.get("since", ""), period.get("until", ""))
    shown = list(chat_window.respond("who backs Maduro?", None, *dates))[-1][0][-1]["content"]
    assert expected in html.unescape(shown)


def test_the_python_api_refuses_a_filter_or_turn_of_the_wrong_shape(assistant: Any) -> None:
    """A publisher given as text, not a list, filtered on its characters; a turn with an
    unknown role raised pydantic's ValidationError, not the entry points' InputError."""
    assert "list of publisher names" in message_of(
        lambda: assistant.ask("who backs Maduro?", sources="TechCrunch")
    )
    turn = {"role": "bot", "content": "hello"}
    refused = message_of(lambda: assistant.ask("who backs Maduro?", history=[turn]))
    assert refused.startswith("history turn 0: role:"), refused


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ("Who fired Sam Altman?", "history must be a list of turns, each {"),
        ({"role": "user", "content": "Who fired Sam Altman?"}, "history must be a list of turns"),
        ([("user", "Who fired Sam Altman?")], "history turn 0 must be {"),
        (["Who fired Sam Altman?"], "history turn 0 must be {"),
    ],
    ids=["text", "one dict", "pairs", "list of text"],
)
def test_a_history_of_the_wrong_shape_says_what_a_history_is(
    assistant: Any, history: Any, expected: str
) -> None:
    """history="a string" was read as a list of one-character turns: "history turn 0: turn:
    Input should be a valid dictionary or instance of Turn", or "history has 60 turns" for a
    longer string; ("user", "…") pairs got the same pydantic line (round 20 sweep, finding 15).
    The Python API and the HTTP client now say what a history is, naming the input."""
    from qa.client import Client

    refused = message_of(lambda: assistant.ask("When was he fired?", history=history))
    assert refused.startswith(expected), refused
    assert '"role": "user" or "assistant", "content": text' in refused and "Turn" in refused
    wrong = history if expected.startswith("history must") else history[0]
    assert f"not {type(wrong).__name__}: {repr(wrong)[:20]}" in refused
    with Client("http://127.0.0.1:9") as client:  # refused before any request is made
        assert message_of(lambda: client.ask("When was he fired?", history=history)) == refused


def test_the_api_gives_a_shared_limit_its_own_code(http: httpx.Client) -> None:
    """The same over-long question: "too_long" from both HTTP endpoints."""
    question = QUESTIONS["one over"]
    native = http.post("/api/v1/answer", json={"question": question}).json()
    chat = {"messages": [{"role": "user", "content": question}]}
    compatible = http.post("/v1/chat/completions", json=chat).json()
    assert native["error"]["code"] == compatible["error"]["code"] == "too_long", native


# --- files --------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", list(FILES))
def test_every_entry_point_refuses_a_bad_upload_with_one_message(
    case: str, assistant: Any, http: httpx.Client, tmp_path: Path
) -> None:
    files = FILES[case]
    expected = file_message(files)

    assert message_of(assistant.ingest_files, [Upload(n, d) for n, d in files]) == expected
    body, content_type = multipart(files)
    api = http.post("/api/v1/articles", content=body, headers={"content-type": content_type})
    assert 400 <= api.status_code < 500, api.text[:300]
    assert api.json()["detail"] == expected, api.text[:300]
    gradio = http.post("/gradio_api/upload", content=body, headers={"content-type": content_type})
    if case == "too many files":  # refuses the whole upload, and the chat window's own check
        from qa.chat_handlers import ChatController

        # Gradio's browser client toasts the body as HTML: the sentence alone, not JSON.
        assert html.unescape(gradio.text) == expected
        assert gradio.headers["content-type"].startswith("text/plain")
        assert api.status_code == gradio.status_code
        chat_window = ChatController(assistant, assistant.settings, upload_dir=str(tmp_path))
        paths = [str(tmp_path / n) for n, _ in files]
        assert chat_window.validate_files(paths, "")[0]["message"] == expected
        assert expected in html.unescape(chat_window.ingest(paths, "")[0])
    else:  # one bad file: the chat window names it at the ingest, and a batch goes on
        assert gradio.status_code == 200, gradio.text[:300]
        _, done = run_event(http, event_index(http, "qa-ingest"), [file_objects(gradio), ""])
        assert done is not None and expected in html.unescape(done["output"]["data"][0]), done


def file_objects(reply: httpx.Response) -> list[dict[str, Any]]:
    return [file_data(path) for path in reply.json()]


@pytest.mark.parametrize("name", ["report..final.txt", "..hidden.md", "v2...md", "a . .txt"])
def test_dots_inside_a_file_name_are_no_path(name: str) -> None:
    """A name holds no '/' or '\\', so only '.' or '..' as the whole name could name a folder."""
    assert check_file_name(name) == name


@pytest.mark.parametrize("name", [".", "..", "...", ". .", ".. "])
def test_a_file_name_of_dots_alone_is_refused(name: str) -> None:
    assert "nor be only dots" in message_of(check_file_name, name)


@pytest.mark.parametrize("case", ["unsupported type", "over the size limit"])
def test_the_cli_refuses_a_bad_file_with_the_same_message(
    case: str, cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (name, data) = FILES[case][0]
    expected = file_message([(name, data)])
    path = tmp_path / name
    path.write_bytes(data)
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    result = cli("ingest", "--json", str(path))
    assert result.exit_code == 1, result.output
    errors = json.loads(result.stdout)["errors"]
    assert [e["reason"] for e in errors] == [expected]


def multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart body with each file name's bytes as they are (httpx would escape them)."""
    parts = [
        b'--b0undary\r\nContent-Disposition: form-data; name="files"; filename="'
        + name.encode("utf-8")
        + b'"\r\nContent-Type: text/plain\r\n\r\n'
        + data
        + b"\r\n"
        for name, data in files
    ]
    return b"".join(parts) + b"--b0undary--\r\n", "multipart/form-data; boundary=b0undary"
