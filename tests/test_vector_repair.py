"""A vector index left damaged by a crash is rebuilt, nothing stored lost (index/repair.py).

chromadb 1.5.9 saves an embedded collection's HNSW files in place and its id map after them;
a process killed between the two leaves a torn id map and every later read or write fails
(or crashes). These tests tear the id map as such a kill does, then check each way the
damage is met: a writer opening after a writer that died, an ingest meeting it part-way, a
reader, and `qa articles repair`."""

from __future__ import annotations

import functools
import gc
import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import chromadb
import pytest
from typer.testing import CliRunner

import index.repair
import index.service
from index.offline import apply_offline_defaults
from index.repair import Probe, RepairReport, marker
from index.service import IndexService
from index.settings import Settings
from index.store import (
    CATALOG_SUFFIX,
    WRITER_LOCK,
    StoreError,
    VectorIndexDamagedError,
    store_failure,
    vector_damage,
)
from qa.cli import app
from tests.reliability_fixtures import HOLD

# Small enough that a few articles make Chroma save its HNSW files (it saves every N records).
SYNC_THRESHOLD = 10


def _articles(path: Path, count: int = 12) -> Path:
    lines = []
    for n in range(count):
        body = " ".join(
            f"Report {n} paragraph {p}: the council of town {n} voted on measure {p * 7 + n}."
            for p in range(12)
        )
        lines.append(json.dumps({"title": f"Town {n} votes", "body": body}))
    path.write_text("\n".join(lines) + "\n")
    return path


def _premade_collections(settings: Settings) -> None:
    """Made ahead of time with a low save threshold (newsqa adopts empty collections)."""
    apply_offline_defaults()
    client = chromadb.PersistentClient(path=str(settings.chroma_path))
    hnsw = {"space": "cosine", "sync_threshold": SYNC_THRESHOLD, "batch_size": SYNC_THRESHOLD}
    client.create_collection(settings.collection, configuration={"hnsw": hnsw})
    client.create_collection(settings.collection + CATALOG_SUFFIX, configuration={"hnsw": hnsw})
    index.repair.forget_chroma_clients()


def _tear_id_map(settings: Settings) -> Path:
    """What a SIGKILL in the middle of Chroma writing the chunks' id map leaves: half of it."""
    with sqlite3.connect(settings.chroma_path / "chroma.sqlite3") as db:
        (segment,) = db.execute(
            "SELECT s.id FROM segments s JOIN collections c ON s.collection = c.id "
            "WHERE s.scope = 'VECTOR' AND c.name = ?",
            (settings.collection,),
        ).fetchone()
    torn = settings.chroma_path / str(segment) / "index_metadata.pickle"
    assert torn.exists(), "Chroma saved no HNSW id map: the chunks never reached its threshold"
    torn.write_bytes(torn.read_bytes()[: torn.stat().st_size // 2])
    return torn


def _writer_died(settings: Settings) -> None:
    """The lock file still names its holder: it never released the lock (killed)."""
    (settings.chroma_path / WRITER_LOCK).write_text("PID 999999 (qa ingest articles/)\n")


def _counts(report: RepairReport | None) -> tuple[int, int]:
    assert report is not None, "no repair ran"
    return report.chunks, report.articles


def _snapshot(service: IndexService) -> tuple[int, int, list[str]]:
    chunks = service.store.chunk_collection
    query = service.embedding.get_query_embedding("council of town 3 measure 17")
    hits = chunks.query(query_embeddings=[query], n_results=5)["ids"][0]
    return chunks.count(), service.store.count_articles(), hits


@pytest.fixture
def damaged(settings: Settings, hash_embedding, tmp_path: Path, monkeypatch):
    """An index of 12 articles, its snapshot before the damage, and its id map torn."""
    monkeypatch.setattr(index.service, "make_embedding", lambda _settings: hash_embedding)
    _premade_collections(settings)
    corpus = _articles(tmp_path / "towns.jsonl")
    service = IndexService(settings, hash_embedding)
    assert service.ingest_paths([corpus]).added == 12
    before = _snapshot(service)
    del service
    index.repair.forget_chroma_clients()
    gc.collect()
    _tear_id_map(settings)
    return corpus, before


def _reopen(settings: Settings, hash_embedding, **kwargs) -> IndexService:
    index.repair.forget_chroma_clients()
    gc.collect()
    return IndexService(settings, hash_embedding, **kwargs)


@pytest.mark.timeout(180)
def test_a_writer_after_one_that_died_finds_the_damage_and_rebuilds(
    damaged, settings: Settings, hash_embedding
):
    _corpus, before = damaged
    _writer_died(settings)
    service = _reopen(settings, hash_embedding)
    assert _counts(service.repaired) == before[:2]  # every chunk and catalog vector
    assert _snapshot(service) == before  # same records, same nearest chunks
    assert not marker(settings.chroma_path, settings.collection).exists()
    service.store.delete_article(service.store.list_articles()[0].article_id)
    assert service.store.count_articles() == before[1] - 1  # and it takes writes again


@pytest.mark.timeout(180)
def test_an_ingest_that_meets_the_damage_repairs_and_goes_on(
    damaged, settings: Settings, hash_embedding, tmp_path: Path
):
    _corpus, before = damaged
    service = _reopen(settings, hash_embedding)  # the lock was released: no probe
    assert service.repaired is None
    more = _articles(tmp_path / "more.jsonl", 14)  # 12 unchanged, 2 new
    report = service.ingest_paths([more])
    assert (report.added, report.unchanged, report.failed) == (2, 12, 0)
    count, articles, hits = _snapshot(service)
    assert (count, articles) == (before[0] + 2, 14)  # one chunk per article
    assert hits[0] == before[2][0]  # the old vectors are back (the nearest chunk)


@pytest.mark.timeout(180)
def test_a_reader_is_told_and_the_next_writer_repairs(damaged, settings: Settings, hash_embedding):
    _corpus, before = damaged
    reader = _reopen(settings, hash_embedding, write=False)
    with pytest.raises(Exception) as caught:
        _snapshot(reader)  # a search
    failure = store_failure(caught.value, settings)
    assert isinstance(failure, VectorIndexDamagedError)
    assert "qa articles repair" in str(failure) and "nothing stored is lost" in str(failure)
    assert marker(settings.chroma_path, settings.collection).exists()  # the next writer repairs
    del reader, caught
    writer = _reopen(settings, hash_embedding)
    assert _counts(writer.repaired) == before[:2]
    assert _snapshot(writer) == before


@pytest.mark.timeout(180)
def test_qa_articles_repair(damaged, settings: Settings, monkeypatch):
    _corpus, before = damaged
    monkeypatch.setenv("QA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("QA_COLLECTION", settings.collection)
    monkeypatch.delenv("QA_CHROMA_URL", raising=False)
    index.repair.forget_chroma_clients()
    gc.collect()
    result = CliRunner().invoke(app, ["articles", "repair"])
    assert result.exit_code == 0, result.output
    assert f"{before[0]} chunks re-embedded and {before[1]} articles re-indexed" in result.stdout
    monkeypatch.setenv("QA_CHROMA_URL", "http://127.0.0.1:9")
    refused = CliRunner().invoke(app, ["articles", "repair"])
    assert refused.exit_code == 2 and "embedded" in refused.stderr


@pytest.mark.parametrize(
    ("child", "found"),
    [
        (f"import os; os.kill(os.getpid(), {int(signal.SIGSEGV)})", Probe.DAMAGED),
        ("raise SystemExit(3)", Probe.DAMAGED),  # the child met Chroma's damage error
        (f"import os; os.kill(os.getpid(), {int(signal.SIGKILL)})", Probe.UNKNOWN),  # OOM killer
        ("raise SystemExit(1)", Probe.UNKNOWN),
        ("raise SystemExit(0)", Probe.SOUND),
    ],
)
def test_what_a_probe_finds(monkeypatch, tmp_path: Path, child: str, found: Probe):
    """A damaged index can crash its reader with SIGSEGV: that death is the finding. A probe
    killed from outside, or failing otherwise, finds nothing either way."""
    monkeypatch.setattr(
        index.repair, "_probe_command", lambda path, names: [sys.executable, "-c", child]
    )
    assert index.repair.probe(tmp_path, ["news"]) is found


@pytest.mark.parametrize(
    ("message", "damage"),
    [
        ("Error in compaction: Failed to apply logs to the hnsw segment writer", True),
        ("Error creating hnsw segment reader: Error deserializing pickle file: EOF", True),
        (
            "Error creating hnsw segment reader: Error reading from sqlite: database is locked",
            False,
        ),
        (
            "Error creating hnsw segment reader: Error opening pickle file: Too many open files",
            False,
        ),
        ("Error executing plan: Internal error: Error finding id", False),
    ],
)
def test_which_chroma_errors_are_damage(message: str, damage: int):
    from chromadb.errors import InternalError

    assert index.repair.looks_damaged(InternalError(message)) is bool(damage)


def test_a_reader_beside_a_live_writer_does_not_mark(settings: Settings):
    """A reader can catch a live writer's save half-done: that is no damage of the files."""
    from chromadb.errors import InternalError

    torn = InternalError("Error creating hnsw segment reader: Error deserializing pickle file")
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(settings.data_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert isinstance(vector_damage(torn, settings), VectorIndexDamagedError)
        assert not marker(settings.chroma_path, settings.collection).exists()
    finally:
        holder.kill()
        holder.wait()
    assert isinstance(vector_damage(torn, settings), VectorIndexDamagedError)
    assert marker(settings.chroma_path, settings.collection).exists()


@pytest.mark.timeout(180)
def test_a_mark_on_another_index_is_not_this_ones(damaged, settings: Settings, hash_embedding):
    index.repair.mark_for_repair(settings.chroma_path, "another-index")
    assert _reopen(settings, hash_embedding).repaired is None


@pytest.mark.timeout(180)
def test_a_repair_that_cannot_go_on_says_so_in_one_line(
    damaged, settings: Settings, hash_embedding, monkeypatch
):
    def locked(*_args):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(index.service, "reset_vector_segments", locked)
    _writer_died(settings)
    with pytest.raises(StoreError, match="run `qa articles repair` again"):
        _reopen(settings, hash_embedding)
    assert marker(settings.chroma_path, settings.collection).exists()


@pytest.mark.timeout(180)
def test_the_http_api_says_503_and_the_restarted_server_repairs(
    damaged, settings: Settings, hash_embedding
):
    from fastapi.testclient import TestClient

    from qa.assistant import Assistant
    from qa.server import build_server

    _corpus, before = damaged
    service = _reopen(settings, hash_embedding)  # qa serve's start: the last writer exited
    with TestClient(build_server(settings, Assistant(settings, service=service))) as http:
        failed = http.post("/api/v1/search", json={"question": "council of town 3"})
    assert failed.status_code == 503, failed.text
    message = failed.json()["error"]["message"]
    assert "qa articles repair" in message and str(settings.data_dir) not in message
    del service, http
    restarted = _reopen(settings, hash_embedding)
    assert _counts(restarted.repaired) == before[:2]


@pytest.mark.timeout(180)
def test_a_reader_after_a_writer_died_is_refused_before_chroma_loads_the_damage(
    damaged, settings: Settings, hash_embedding, monkeypatch
):
    """A damaged index can crash the process reading it: the reader checks in a child first."""
    _corpus, before = damaged
    _writer_died(settings)
    with pytest.raises(VectorIndexDamagedError, match="qa articles repair"):
        _reopen(settings, hash_embedding, write=False)
    assert marker(settings.chroma_path, settings.collection).exists()
    monkeypatch.setenv("QA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("QA_COLLECTION", settings.collection)
    monkeypatch.delenv("QA_CHROMA_URL", raising=False)
    asked = CliRunner().invoke(app, ["ask", "who voted on measure 17?"])
    assert asked.exit_code == 2 and "qa articles repair" in asked.stderr, asked.output
    writer = _reopen(settings, hash_embedding)
    assert _counts(writer.repaired) == before[:2]
    del writer
    reader = _reopen(settings, hash_embedding, write=False)  # repaired: readers go on
    assert _snapshot(reader) == before


@pytest.mark.timeout(180)
def test_a_reader_after_a_writer_died_checks_once_when_nothing_is_damaged(
    settings: Settings, hash_embedding, tmp_path: Path, monkeypatch
):
    probes: list[list[str]] = []
    real = index.repair.probe

    def counted(path: Path, names: list[str]) -> index.repair.Probe:
        probes.append(names)
        return real(path, names)

    monkeypatch.setattr(index.service, "probe", counted)
    service = IndexService(settings, hash_embedding)
    service.ingest_paths([_articles(tmp_path / "towns.jsonl", 3)])
    del service
    gc.collect()
    _writer_died(settings)
    for _ in range(2):
        reader = _reopen(settings, hash_embedding, write=False)
        assert reader.store.count_articles() == 3
    assert len(probes) == 1  # the sound index cleared the dead writer's name


@pytest.mark.timeout(180)
def test_every_entry_point_names_the_damage_in_one_line(
    damaged, settings: Settings, hash_embedding, tmp_path: Path, monkeypatch
):
    """No dead writer to give it away: the damage is met by a read. The CLI's readers say it in
    one line (exit 2), the Python API raises VectorIndexDamagedError, and the next ingest
    repairs and says so."""
    from qa.assistant import Assistant

    monkeypatch.setenv("QA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("QA_COLLECTION", settings.collection)
    monkeypatch.delenv("QA_CHROMA_URL", raising=False)
    index.repair.forget_chroma_clients()
    gc.collect()
    runner = CliRunner()
    for args, stdin in (
        (["search", "council of town 3"], None),
        (["ask", "who voted on measure 17?"], None),
        (["chat"], "who voted on measure 17?\n"),
    ):
        result = runner.invoke(app, args, input=stdin)
        assert result.exit_code == 2, (args, result.output)
        assert "qa articles repair" in result.stderr and "Traceback" not in result.output, args
        del result
        gc.collect()
    assert marker(settings.chroma_path, settings.collection).exists()
    marker(settings.chroma_path, settings.collection).unlink()  # as if nothing had noticed yet
    assistant = Assistant(settings, service=_reopen(settings, hash_embedding))
    with pytest.raises(VectorIndexDamagedError):
        assistant.search("council of town 3")
    with pytest.raises(VectorIndexDamagedError):
        assistant.health()
    with pytest.raises(VectorIndexDamagedError):  # an upload: Assistant.ingest_items
        assistant.ingest_records([{"title": "Town 3 votes again", "body": "A new vote."}])
    del assistant
    index.repair.forget_chroma_clients()
    gc.collect()
    ingested = runner.invoke(app, ["ingest", str(_articles(tmp_path / "again.jsonl", 12))])
    assert ingested.exit_code == 0, ingested.output
    # 13 chunks: the failed upload's chunk reached Chroma's records before its vector failed
    # (an orphan until that article is ingested again, as after any interrupted first ingest)
    assert "note: repaired the damaged vector index: 13 chunks re-embedded" in ingested.stderr


class _Killed(BaseException):
    """A SIGKILL in the middle of the repair, as far as the repair can tell."""


@pytest.mark.timeout(180)
def test_a_repair_stopped_part_way_goes_on_where_it_stopped(
    damaged, settings: Settings, hash_embedding, monkeypatch
):
    _corpus, before = damaged
    monkeypatch.setattr(
        index.service, "rewrite_vectors", functools.partial(index.repair.rewrite_vectors, page=4)
    )
    real = IndexService._chunk_vectors
    calls = []

    def dies_on_the_second_page(self, documents, metadatas):
        calls.append(len(documents))
        if len(calls) == 2:
            raise _Killed
        return real(self, documents, metadatas)

    monkeypatch.setattr(IndexService, "_chunk_vectors", dies_on_the_second_page)
    _writer_died(settings)
    with pytest.raises(_Killed):
        _reopen(settings, hash_embedding)
    assert json.loads(marker(settings.chroma_path, settings.collection).read_text()) == {
        "chunks": 4,
        "articles": 0,
    }
    monkeypatch.setattr(IndexService, "_chunk_vectors", real)
    _writer_died(settings)
    resumed = _reopen(settings, hash_embedding)
    assert _counts(resumed.repaired) == (before[0] - 4, before[1])  # the first page was done
    assert _snapshot(resumed) == before
    assert not marker(settings.chroma_path, settings.collection).exists()


@pytest.mark.timeout(180)
def test_a_resumed_repair_that_meets_damage_starts_over(
    damaged, settings: Settings, hash_embedding, monkeypatch
):
    """Damage that shows only on a write gets past the probe: the resumed repair's first
    write meets it, and the repair starts over from the reset."""
    _corpus, before = damaged
    index.repair.save_progress(
        settings.chroma_path, settings.collection, {"chunks": 4, "articles": 0}
    )
    monkeypatch.setattr(index.service, "probe_damaged", lambda _path, _names: False)
    repaired = _reopen(settings, hash_embedding)
    assert _counts(repaired.repaired) == before[:2]  # all of it, from the start
    assert _snapshot(repaired) == before


@pytest.mark.timeout(180)
def test_a_writer_whose_open_fails_leaves_the_dead_writers_name(
    damaged, settings: Settings, hash_embedding
):
    """`qa articles delete X --collection typo` after a crash takes the lock and fails to
    open: the dead writer's name must stay, or the next reader would skip its check."""
    from index.store import IndexMissingError

    _writer_died(settings)
    with pytest.raises(IndexMissingError):
        _reopen(settings, hash_embedding, collection="no-such-index", create=False)
    assert "PID 999999" in (settings.chroma_path / WRITER_LOCK).read_text()
    with pytest.raises(VectorIndexDamagedError):
        _reopen(settings, hash_embedding, write=False)
