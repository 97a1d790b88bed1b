"""`qa chat`: one warm process answering question after question from stdin, with follow-ups;
and `qa ask --help` saying where a call's time goes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

import qa.cli
from qa.types import Answer
from tests.api_fixtures import make_assistant


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_assistant(Path(tmp_path_factory.mktemp("chat")) / "data")


@pytest.fixture
def built(assistant: Any, monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """`qa chat` gets the shared assistant; the list records each time one is built."""
    calls: list[str | None] = []

    def build(collection: str | None = None) -> Any:
        calls.append(collection)
        return assistant

    monkeypatch.setattr(qa.cli, "_assistant", build)
    return calls


def chat(*args: str, lines: str) -> Any:
    return CliRunner().invoke(qa.cli.app, ["chat", *args], input=lines, catch_exceptions=False)


def test_each_line_is_answered_in_one_process_and_follow_ups_use_the_history(
    built: list[str | None],
) -> None:
    result = chat("--json", lines="Who is Juan Guaido?\n\n   \nWhat did he say?\n")
    assert result.exit_code == 0, result.output
    answers = [Answer.model_validate_json(line) for line in result.stdout.splitlines()]
    assert len(answers) == 2 and built == [None]  # blank lines skipped, models loaded once
    assert answers[0].question == "Who is Juan Guaido?" and answers[0].citations
    assert answers[1].question == "What did he say?"
    assert "Guaido" in answers[1].standalone_question  # read with the first question


def test_new_starts_a_new_conversation(built: list[str | None]) -> None:
    result = chat("--json", lines="Who is Juan Guaido?\n/new\nWhat did he say?\n")
    answers = [Answer.model_validate_json(line) for line in result.stdout.splitlines()]
    assert len(answers) == 2 and "Guaido" not in answers[1].standalone_question
    assert "(new conversation)" in result.stderr


def test_a_slash_word_is_a_command_not_a_question(built: list[str | None]) -> None:
    """ "/help" was answered as a question about the articles (a doubtful Guaido sentence)."""
    result = chat("--json", lines="/help\n/quit\nWho is Juan Guaido?\n")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1  # only the real question was answered
    assert "/new: new conversation" in result.stderr
    assert "unknown command /quit" in result.stderr


def test_text_output_streams_the_answer_then_its_quoted_sources(built: list[str | None]) -> None:
    result = chat(lines="which countries back Maduro?\n")
    assert result.exit_code == 0
    assert "- Russia [1]" in result.stdout and "\n[1] " in result.stdout
    assert '"' in result.stdout.split("\n[1] ")[1]  # the cited sentence, quoted


def test_text_output_says_what_a_rewritten_follow_up_searched_for(
    built: list[str | None],
) -> None:
    """The chat window shows "Understood as: …" above a rewritten follow-up; `qa chat` in text
    mode showed nothing, so a misread follow-up looked like a wrong answer (round 20 sweep,
    finding 10)."""
    lines = "Who is Juan Guaido?\nWhat did he say?\n"
    searched = [
        Answer.model_validate_json(line).standalone_question
        for line in chat("--json", lines=lines).stdout.splitlines()
    ]
    assert searched[0] == "" and "Guaido" in searched[1]
    result = chat(lines=lines)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("Understood as: ") == 1  # the first question was asked as typed
    assert f"\nUnderstood as: {searched[1]}\n" in result.stdout


def test_a_failed_question_is_reported_and_the_session_goes_on(built: list[str | None]) -> None:
    result = chat("--mode", "llm", lines="Who is Juan Guaido?\nWhich countries back Maduro?\n")
    assert result.exit_code == 2
    assert result.stderr.count("error: answer mode 'llm' needs an LLM") == 2


def test_chat_warms_the_answerer_before_the_first_question(
    built: list[str | None], assistant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first answer of a session waited 6 s for the answerer to load (round 20 sweep,
    finding 12): it loads before the first question is read; `--url` leaves it to the server."""
    events: list[str] = []
    monkeypatch.setattr(assistant, "warm_up", lambda: events.append("warm-up") or 0.0)
    ask_stream = assistant.ask_stream
    monkeypatch.setattr(
        assistant, "ask_stream", lambda *a, **k: events.append("ask") or ask_stream(*a, **k)
    )
    assert chat("--json", lines="Who is Juan Guaido?\nWhat did he say?\n").exit_code == 0
    assert events == ["warm-up", "ask", "ask"]


def test_serve_warms_the_answerer_before_it_says_ready(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import uvicorn

    import qa.assistant
    import qa.server
    from index.settings import Settings
    from qa.access.policy import AccessPolicy

    events: list[str] = []

    class Loaded:  # what qa serve builds, without the models
        def __init__(self, settings: Any) -> None:
            self.service = SimpleNamespace(store=SimpleNamespace(count_articles=lambda: 1))

        def warm_up(self) -> float:
            events.append("warm-up")
            return 0.0

    monkeypatch.setattr(qa.assistant, "Assistant", Loaded)
    monkeypatch.setattr(qa.server, "build_server", lambda *a, **k: object())
    monkeypatch.setattr(qa.server, "ready_line", lambda *a: events.append("ready") or "ready")
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: events.append("serving"))
    settings = Settings(data_dir=tmp_path, poll_interval_s=0)
    policy = AccessPolicy.from_settings(settings)
    qa.server._serve("127.0.0.1", 7799, settings, policy, sample=False)
    assert events == ["warm-up", "ready", "serving"]


def test_ask_help_says_where_the_time_goes_and_points_at_chat() -> None:
    help_text = " ".join(CliRunner().invoke(qa.cli.app, ["ask", "--help"]).stdout.split())
    assert "loads the embedding model and the index" in help_text
    assert "qa chat" in help_text
