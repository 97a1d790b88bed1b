"""Bad settings at the CLI's entry points: one line per bad value, naming the environment
variable (or option), the value and the reason, exit 2; never pydantic's or chromadb's
traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from qa.cli import app

COMMANDS = [
    ["articles", "list"],
    ["ask", "who?"],
    ["search", "who?"],
    ["ingest", "nothing.md"],
    ["chat"],
    ["feeds", "list"],
    ["serve", "--port", "8951"],
]


def run(args: list[str]):
    return CliRunner().invoke(app, args, catch_exceptions=False)


@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch) -> None:
    for name in ("QA_TOP_K", "QA_CHUNK_SIZE", "QA_EMBEDDING", "QA_CHROMA_TIMEOUT_S"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("QA_CHROMA_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0] + (c[1] if c[1:2] else ""))
@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("QA_TOP_K", "abc", "input should be a valid integer"),
        ("QA_CHUNK_SIZE", "10", "input should be greater than or equal to 32"),
        ("QA_EMBEDDING", "mpnet", "input should be 'minilm' or 'openai'"),
        ("QA_CHROMA_TIMEOUT_S", "0", "input should be greater than 0"),
        ("QA_ALLOW_OPEN", "maybe", "input should be a valid boolean"),
        ("QA_COLLECTION", "ab", "a Chroma collection name must be 3-503 characters long"),
        ("QA_COLLECTION", "my articles/2024", "must contain only letters"),
        ("QA_COLLECTION", "a..b", "two periods in a row"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(
    command: list[str], variable: str, value: str, reason: str, monkeypatch
) -> None:
    monkeypatch.setenv(variable, value)
    result = run(command)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {variable}={value!r}: ") and reason in lines[0]
    assert "Traceback" not in result.output and "top_k" not in result.stderr


def test_every_bad_setting_gets_its_line(monkeypatch) -> None:
    monkeypatch.setenv("QA_TOP_K", "abc")
    monkeypatch.setenv("QA_ALLOW_OPEN", "maybe")
    result = run(["articles", "list"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: QA_TOP_K='abc': input should be a valid integer",
        "error: QA_ALLOW_OPEN='maybe': input should be a valid boolean",
    ]


@pytest.mark.parametrize("name", ["ab", "my articles/2024", "192.168.1.1", "_x_", "a" * 504])
def test_a_bad_collection_option_is_refused_up_front(name: str) -> None:
    result = run(["articles", "list", "--collection", name])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --collection={name!r}: a Chroma")


def test_a_secret_is_not_echoed(monkeypatch) -> None:
    from index.settings import SettingsError, load_settings

    with pytest.raises(SettingsError) as refused:
        load_settings(api_key=["not", "a", "string"], top_k="x")
    assert "not" not in str(refused.value) and "QA_API_KEY=(hidden)" in str(refused.value)
