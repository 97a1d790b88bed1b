"""The same ingest/upsert/delete flow against a real `chroma run` server (HttpClient)."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import index.service
from index.chunking import chunk_article
from index.loaders import load_paths
from index.models import Article
from index.service import IndexService
from index.settings import Settings
from index.store import (
    MODEL_KEY,
    CollectionMetricError,
    EmbeddingMismatchError,
    ForeignCollectionError,
    StoreError,
    StoreUnavailableError,
)
from qa.cli import app


def _articles(path: Path) -> list[Article]:
    return [item for item in load_paths([path]) if isinstance(item, Article)]


@pytest.fixture
def server_settings(chroma_server: str, settings: Settings) -> Settings:
    """Server mode with a collection of its own (the server is shared by the session)."""
    return settings.model_copy(
        update={"chroma_url": chroma_server, "collection": f"t-{uuid.uuid4().hex[:12]}"}
    )


def test_ingest_upsert_delete_through_the_server(server_settings, hash_embedding, corpus_slice):
    articles = _articles(corpus_slice(5))
    service = IndexService(server_settings, embedding=hash_embedding)
    assert not server_settings.chroma_path.exists(), "server mode must not write locally"

    first = service.ingest_items(articles)
    assert (first.added, first.failed) == (5, 0)
    assert (
        service.store.count_chunks() == first.chunks == sum(len(chunk_article(a)) for a in articles)
    )

    revision = service.store.revision()
    again = service.ingest_items(articles)
    assert (again.unchanged, again.embedded) == (5, 0)
    assert service.store.revision() == revision

    article = articles[0]
    short = article.model_copy(update={"body": article.body[: len(article.body) // 3]})
    updated = service.ingest_items([short])
    assert updated.updated == 1
    ids = sorted(
        c.chunk_id
        for c in service.store.iter_chunks()
        if c.metadata["article_id"] == article.article_id
    )
    assert ids == [c.chunk_id for c in chunk_article(short)]
    assert service.store.revision() != revision

    assert service.store.delete_article(articles[1].article_id)
    assert service.store.get_article(articles[1].article_id) is None
    assert service.store.count_articles() == 4
    assert service.store.orphan_chunk_ids() == []
    assert not server_settings.chroma_path.exists()


def test_a_second_service_sees_what_the_first_wrote(server_settings, hash_embedding, corpus_slice):
    articles = _articles(corpus_slice(3))
    writer = IndexService(server_settings, embedding=hash_embedding)
    writer.ingest_items(articles[:2])

    reader = IndexService(server_settings, embedding=hash_embedding)
    assert reader.store.count_articles() == 2
    assert reader.store.count_chunks() == writer.store.count_chunks()
    record = reader.store.get_article(articles[0].article_id)
    assert record is not None and record.body == articles[0].body
    hits = reader.store.query(hash_embedding.get_query_embedding(articles[1].title), k=3)
    assert hits and hits[0].metadata["article_id"] == articles[1].article_id

    # Later writes by the first are visible to the second, and its revision tells it so.
    seen = reader.store.revision()
    writer.ingest_items(articles[2:])
    assert reader.store.revision() != seen
    assert reader.store.count_articles() == 3
    # And the model guard works over HTTP too.
    with pytest.raises(EmbeddingMismatchError):
        IndexService(server_settings, embedding=type(hash_embedding)(model_name="another"))


def test_unreachable_server_is_a_clear_error(settings: Settings, hash_embedding):
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(StoreUnavailableError, match=url.replace(".", r"\.")):
        IndexService(settings.model_copy(update={"chroma_url": url}), embedding=hash_embedding)


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A loopback port that takes connections (the kernel's backlog) and never answers: what
    a frozen (SIGSTOPped) Chroma or a firewall that drops replies looks like to a client."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(50)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.timeout(60)
def test_a_server_that_never_answers_fails_within_the_timeout(
    black_hole: str, settings: Settings, hash_embedding
):
    # chromadb.HttpClient's constructor makes its first request with no timeout at all.
    bounded = settings.model_copy(update={"chroma_url": black_hole, "chroma_timeout_s": 1.0})
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match=r"cannot reach the Chroma server at .*1 s"):
        IndexService(bounded, embedding=hash_embedding)
    assert time.monotonic() - started < 10


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", [["articles", "list"], ["ingest", "nothing.md"]])
def test_cli_against_a_server_that_never_answers_is_one_line_and_exit_2(
    black_hole: str, settings: Settings, hash_embedding, monkeypatch, command
):
    monkeypatch.setenv("QA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("QA_CHROMA_URL", black_hole)
    monkeypatch.setenv("QA_CHROMA_TIMEOUT_S", "1")
    monkeypatch.setattr(index.service, "make_embedding", lambda _settings: hash_embedding)
    started = time.monotonic()
    result = CliRunner().invoke(app, command)
    assert time.monotonic() - started < 10
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        f"error: cannot reach the Chroma server at {black_hole}: no answer within 1 s "
        "(QA_CHROMA_TIMEOUT_S)"
    ]


class _NotChroma(BaseHTTPRequestHandler):
    """Any GET: 200 with an OpenAI-style JSON body (an LLM server on the wrong port), or an
    HTML 404 page (some web server)."""

    html = False

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        status, kind, body = (
            (404, "text/html", b"<html>Not Found</html>")
            if self.html
            else (200, "application/json", b'{"object": "list", "data": []}')
        )
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.parametrize("html", [False, True], ids=["json-200", "html-404"])
def test_a_url_that_is_not_chroma_says_so(settings: Settings, hash_embedding, html: bool):
    handler = type("Handler", (_NotChroma,), {"html": html})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with pytest.raises(StoreError) as raised:
            IndexService(settings.model_copy(update={"chroma_url": url}), embedding=hash_embedding)
    finally:
        server.shutdown()
        server.server_close()
    message = str(raised.value)
    assert f"QA_CHROMA_URL={url} answered, but not as a Chroma server" in message
    assert "is the URL/port right?" in message
    assert not isinstance(raised.value, StoreUnavailableError)


def _plain_chromadb(url: str):
    """A client of the server as another application would use it (not through newsqa)."""
    import chromadb

    port = int(url.rsplit(":", 1)[1])
    return chromadb.HttpClient(host="127.0.0.1", port=port)


COSINE: Any = {"hnsw": {"space": "cosine"}}


def _names(client) -> set[str]:
    return {c.name for c in client.list_collections()}


def test_a_collection_newsqa_did_not_make_is_refused_and_left_alone(
    server_settings, hash_embedding, corpus_slice, monkeypatch
):
    other = _plain_chromadb(server_settings.chroma_url)
    foreign = other.create_collection(server_settings.collection)  # no metadata, l2, 3-dim
    foreign.add(ids=["x", "y", "z"], embeddings=[[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    before = _names(other)

    with pytest.raises(ForeignCollectionError) as raised:
        IndexService(server_settings, embedding=hash_embedding)
    message = str(raised.value)
    assert f"collection {server_settings.collection!r}" in message
    assert f"QA_CHROMA_URL={server_settings.chroma_url}" in message
    assert "QA_COLLECTION" in message and "3 records" in message

    # Through the CLI: reading, asking or ingesting is one line and exit 2; nothing is created
    # on that server (before, even `articles list` made a '<name>-articles' catalog there).
    monkeypatch.setenv("QA_DATA_DIR", str(server_settings.data_dir))
    monkeypatch.setenv("QA_CHROMA_URL", server_settings.chroma_url)
    monkeypatch.setenv("QA_COLLECTION", server_settings.collection)
    monkeypatch.setattr(index.service, "make_embedding", lambda _settings: hash_embedding)
    for command in (
        ["articles", "list"],
        ["articles", "show", "x"],
        ["ask", "--mode", "extractive", "who?"],
        ["ingest", str(corpus_slice(2))],
    ):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, (command, result.output)
        assert result.output.strip().splitlines() == [f"error: {message}"], command
    assert _names(other) == before
    assert other.get_collection(server_settings.collection).count() == 3


def test_read_only_commands_create_no_collection(server_settings, hash_embedding, monkeypatch):
    other = _plain_chromadb(server_settings.chroma_url)
    before = _names(other)
    monkeypatch.setenv("QA_DATA_DIR", str(server_settings.data_dir))
    monkeypatch.setenv("QA_CHROMA_URL", server_settings.chroma_url)
    monkeypatch.setenv("QA_COLLECTION", server_settings.collection)
    monkeypatch.setattr(index.service, "make_embedding", lambda _settings: hash_embedding)
    listed = CliRunner().invoke(app, ["articles", "list", "--json"])
    assert (listed.exit_code, listed.stdout.strip()) == (0, "[]"), listed.output
    shown = CliRunner().invoke(app, ["articles", "show", "nope"])
    assert shown.exit_code == 1 and "no article with id 'nope'" in shown.output
    deleted = CliRunner().invoke(app, ["articles", "delete", "nope"])
    assert deleted.exit_code == 1 and "deleted 0 articles" in deleted.output
    assert _names(other) == before


def test_an_empty_collection_made_elsewhere_is_adopted(
    server_settings, hash_embedding, corpus_slice
):
    other = _plain_chromadb(server_settings.chroma_url)
    other.create_collection(server_settings.collection, configuration=COSINE)  # ahead of time
    service = IndexService(server_settings, embedding=hash_embedding)
    assert service.ingest_items(_articles(corpus_slice(2))).added == 2
    # ... and it is newsqa's from now on: opening it again is not refused.
    assert IndexService(server_settings, embedding=hash_embedding).store.count_articles() == 2


def test_vectors_of_another_size_are_a_clear_error(server_settings, hash_embedding, corpus_slice):
    other = _plain_chromadb(server_settings.chroma_url)
    emptied = other.create_collection(server_settings.collection, configuration=COSINE)
    emptied.add(ids=["x"], embeddings=[[1.0, 0.0, 0.0]])
    emptied.delete(ids=["x"])  # empty again, but Chroma keeps its 3 dimensions
    service = IndexService(server_settings, embedding=hash_embedding)
    with pytest.raises(EmbeddingMismatchError, match=r"vectors of another size.*QA_COLLECTION"):
        service.ingest_items(_articles(corpus_slice(1)))


@pytest.mark.parametrize("space", ["l2", "ip"])
def test_an_empty_collection_of_another_metric_is_refused_not_adopted(
    server_settings, hash_embedding, corpus_slice, monkeypatch, space: str
):
    """Before: an empty collection made ahead of time with Chroma's default metric (l2) or ip
    was adopted, and every dense score (read as 1 - cosine distance) was then wrong."""
    other = _plain_chromadb(server_settings.chroma_url)
    other.create_collection(server_settings.collection, configuration={"hnsw": {"space": space}})
    with pytest.raises(CollectionMetricError) as raised:
        IndexService(server_settings, embedding=hash_embedding)
    message = str(raised.value)
    assert f"collection {server_settings.collection!r} (QA_COLLECTION)" in message
    assert f"QA_CHROMA_URL={server_settings.chroma_url}" in message
    assert f"{space!r}, newsqa needs 'cosine'" in message

    monkeypatch.setenv("QA_DATA_DIR", str(server_settings.data_dir))
    monkeypatch.setenv("QA_CHROMA_URL", server_settings.chroma_url)
    monkeypatch.setenv("QA_COLLECTION", server_settings.collection)
    monkeypatch.setattr(index.service, "make_embedding", lambda _settings: hash_embedding)
    for command in (["ingest", str(corpus_slice(1))], ["ask", "--mode", "extractive", "who?"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, (command, result.output)
        assert result.output.strip().splitlines() == [f"error: {message}"], command
    left = other.get_collection(server_settings.collection)
    assert left.count() == 0 and MODEL_KEY not in (left.metadata or {})
