"""Commands that only read create no collection: `qa ask`, `qa search`, `qa chat`, the
Python API, the HTTP API and `qa serve`'s start-up, embedded and against a `chroma run`
server. They say the index is empty and how to fill it; the first write creates it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import index.service
import qa.server
from index.service import IndexService
from index.settings import Settings
from qa.assistant import Assistant
from qa.cli import app
from qa.server import build_server

EMPTY = "The index holds no articles yet"
DOC = (
    b"---\ntitle: Harbour lighthouse reopens\nsource: Coastal Gazette\ndate: 2024-03-02\n---\n\n"
    b"The old harbour lighthouse reopened on Saturday after a two-year restoration.\n"
)


def _collections(settings: Settings) -> set[str]:
    import chromadb

    if settings.chroma_url:
        port = int(settings.chroma_url.rsplit(":", 1)[1])
        client: Any = chromadb.HttpClient(host="127.0.0.1", port=port)
    elif not (settings.chroma_path / "chroma.sqlite3").exists():
        return set()  # no database: opening one here would create it
    else:
        client = chromadb.PersistentClient(path=str(settings.chroma_path))
    return {c.name for c in client.list_collections()}


@pytest.fixture(params=["embedded", "server"])
def where(request, settings: Settings) -> Settings:
    if request.param == "embedded":
        return settings
    url = request.getfixturevalue("chroma_server")
    return settings.model_copy(
        update={"chroma_url": url, "collection": f"t-{uuid.uuid4().hex[:12]}"}
    )


@pytest.mark.timeout(300)
def test_reading_an_index_never_made_creates_nothing_and_says_how_to_fill_it(
    where: Settings, hash_embedding, monkeypatch, tmp_path: Path
):
    """Before: each of these left two empty collections ('<name>' and '<name>-articles')
    behind, e.g. on a shared server after a mistyped QA_COLLECTION."""
    monkeypatch.setenv("QA_DATA_DIR", str(where.data_dir))
    monkeypatch.setenv("QA_COLLECTION", where.collection)
    if where.chroma_url:
        monkeypatch.setenv("QA_CHROMA_URL", where.chroma_url)
    else:
        monkeypatch.delenv("QA_CHROMA_URL", raising=False)
    monkeypatch.setattr(index.service, "make_embedding", lambda _settings: hash_embedding)
    mine = {where.collection, where.collection + "-articles"}
    runner = CliRunner()

    asked = runner.invoke(app, ["ask", "--mode", "extractive", "who reopened it?"])
    assert asked.exit_code == 0, asked.output
    assert EMPTY in asked.stdout and "qa ingest PATH" in asked.stdout
    assert not mine & _collections(where)
    searched = runner.invoke(app, ["search", "lighthouse"])
    assert searched.exit_code == 0, searched.output
    assert EMPTY in searched.stderr and "qa ingest PATH" in searched.stderr
    chatted = runner.invoke(app, ["chat", "--mode", "extractive"], input="who reopened it?\n")
    assert chatted.exit_code == 0 and EMPTY in chatted.stdout, chatted.output
    # Nor any file: before, an embedded reader left an empty chroma.sqlite3 and bm25 folder.
    assert not where.data_dir.exists() or not any(where.data_dir.iterdir())

    # qa serve's start-up (everything before it binds) reads and creates nothing either.
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: None)
    monkeypatch.setattr(qa.server, "build_server", lambda *args, **kwargs: None)
    served = runner.invoke(app, ["serve", "--port", "7601"])
    assert served.exit_code == 0 and "0 articles (add some: qa ingest PATH" in served.output
    assert not mine & _collections(where)

    # The Python and HTTP APIs: the same answer; the first upload creates the index.
    assistant = Assistant(where, service=IndexService(where, embedding=hash_embedding))
    assert assistant.ask("who reopened it?", mode="extractive").reason.startswith(EMPTY)
    with TestClient(build_server(where, assistant)) as http:
        assert http.get("/api/v1/health").json()["articles"] == 0
        assert http.post("/api/v1/search", json={"question": "lighthouse"}).json()["passages"] == []
        assert not mine & _collections(where)
        uploaded = http.post("/api/v1/articles", files=[("files", ("harbour.md", DOC))])
        assert uploaded.status_code == 200 and uploaded.json()["added"] == 1, uploaded.text
        assert mine <= _collections(where)
        found = http.post("/api/v1/search", json={"question": "lighthouse"}).json()
        assert found["passages"] and "lighthouse" in found["passages"][0]["text"]


@pytest.mark.timeout(300)
def test_a_reader_started_before_the_index_existed_finds_it_once_written(
    where: Settings, hash_embedding
):
    """A `qa serve` worker started on an empty server sees the first ingest of another
    process (here another service) without a restart."""
    reader = Assistant(where, service=IndexService(where, embedding=hash_embedding))
    assert reader.search("lighthouse").passages == []
    writer = IndexService(where, embedding=hash_embedding)
    from index.loaders import load_records

    assert (
        writer.ingest_items(
            load_records([{"title": "Lighthouse", "body": DOC.decode().split("---\n\n")[1]}], "t")
        ).added
        == 1
    )
    assert reader.search("lighthouse").passages


@pytest.mark.timeout(300)
def test_a_read_only_asker_on_an_empty_folder_makes_no_file_and_sees_the_first_ingest(
    settings: Settings, hash_embedding
):
    """`qa chat` (a reader) started on an empty embedded QA_DATA_DIR: it opens Chroma only
    once the writer has made the database, then reads what the writer added."""
    reader = Assistant(
        settings, service=IndexService(settings, embedding=hash_embedding, write=False)
    )
    assert reader.ask("who reopened it?", mode="extractive").reason.startswith(EMPTY)
    assert not settings.data_dir.exists() or not any(settings.data_dir.iterdir())
    from index.loaders import load_records

    writer = IndexService(settings, embedding=hash_embedding)
    body = DOC.decode().split("---\n\n")[1]
    assert writer.ingest_items(load_records([{"title": "Lighthouse", "body": body}], "t")).added
    assert "lighthouse" in reader.search("lighthouse").passages[0].text


def test_a_reader_waits_for_the_writer_to_finish_making_the_database(
    settings: Settings, hash_embedding
):
    """A writer that has just created chroma.sqlite3 is still setting it up: a reader that
    opened it then set up the same tables at once, and one of the two failed ("table
    collections already exists"). The reader now sees an empty index until the writer's
    collections are there, and touches nothing."""
    settings.chroma_path.mkdir(parents=True)
    database = settings.chroma_path / "chroma.sqlite3"
    database.touch()  # made, not yet set up
    reader = Assistant(
        settings, service=IndexService(settings, embedding=hash_embedding, write=False)
    )
    assert reader.ask("who reopened it?", mode="extractive").reason.startswith(EMPTY)
    assert database.stat().st_size == 0
    database.unlink()
    from index.loaders import load_records

    writer = IndexService(settings, embedding=hash_embedding)
    body = DOC.decode().split("---\n\n")[1]
    assert writer.ingest_items(load_records([{"title": "Lighthouse", "body": body}], "t")).added
    assert "lighthouse" in reader.search("lighthouse").passages[0].text
