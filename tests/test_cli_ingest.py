"""`qa ingest` and `qa articles` through the real Typer app (in-process, real MiniLM)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import index.service
from index.service import IndexService
from index.settings import Settings
from qa.cli import app

REPORT_KEYS = {"added", "updated", "unchanged", "failed", "chunks", "embedded", "seconds", "errors"}


@pytest.fixture
def cli_env(settings: Settings, embedding, monkeypatch) -> Settings:
    """The CLI reads QA_* from the env; point it at a fresh dir and reuse the loaded model."""
    monkeypatch.setenv("QA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("QA_COLLECTION", settings.collection)
    monkeypatch.delenv("QA_CHROMA_URL", raising=False)
    monkeypatch.delenv("QA_EMBEDDING", raising=False)
    monkeypatch.setattr(index.service, "make_embedding", lambda _settings: embedding)
    return settings


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def good_folder(root: Path) -> Path:
    folder = root / "good"
    folder.mkdir()
    _write(
        folder,
        "harbour.md",
        "---\ntitle: Harbour lighthouse reopens\nsource: Coastal "
        "Gazette\ndate: 2024-03-02\nurl: https://gazette.test/lighthouse\n---\n\nThe old "
        "harbour lighthouse reopened on Saturday after a two-year restoration.\n",
    )
    _write(
        folder,
        "bridge.txt",
        "Bridge closed for repairs\n\nThe river bridge will stay "
        "closed to cars until June while engineers replace its bearings.\n",
    )
    return folder


def bad_folder(root: Path) -> tuple[Path, dict[str, Path]]:
    folder = good_folder(root)
    bad = {
        "empty": _write(folder, "empty.txt", ""),
        "malformed": _write(folder, "broken.json", '{"title": "Half a record", "body": \n'),
        "jsonl": _write(
            folder,
            "feed.jsonl",
            "\n".join(
                [
                    json.dumps(
                        {
                            "title": "Ferry timetable changes",
                            "url": "https://feed.test/ferry",
                            "body": "Ferries will leave every forty minutes from May.",
                        }
                    ),
                    '{"title": "cut off", "body": "never closed',
                    json.dumps(
                        {
                            "title": "Market day moves",
                            "url": "https://feed.test/market",
                            "body": "The Thursday market moves to the station square.",
                        }
                    ),
                ]
            )
            + "\n",
        ),
    }
    return folder, bad


def test_bad_input_is_reported_by_path_and_line_and_good_input_is_stored(cli_env, tmp_path):
    folder, bad = bad_folder(tmp_path)

    result = run("ingest", str(folder), "--json")

    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert set(report) >= REPORT_KEYS
    assert (report["added"], report["failed"]) == (4, 3)
    errors = {(Path(e["path"]).name, e["line"]) for e in report["errors"]}
    assert ("empty.txt", None) in errors
    assert ("feed.jsonl", 2) in errors
    assert any(name == "broken.json" for name, _ in errors)
    assert len(report["errors"]) == 3
    assert all(e["reason"] for e in report["errors"])
    assert {Path(e["path"]) for e in report["errors"]} == set(bad.values())

    listed = run("articles", "list", "--json")
    assert listed.exit_code == 0
    titles = {a["title"] for a in json.loads(listed.stdout)}
    assert titles == {
        "Harbour lighthouse reopens",
        "Bridge closed for repairs",
        "Ferry timetable changes",
        "Market day moves",
    }


def test_good_input_exits_zero_then_reingest_is_unchanged(cli_env, tmp_path):
    folder = good_folder(tmp_path)

    first = run("ingest", str(folder), "--json")
    again = run("ingest", str(folder), "--json")

    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert set(report) >= REPORT_KEYS
    assert (report["added"], report["failed"], report["errors"]) == (2, 0, [])
    assert report["chunks"] == report["embedded"] >= 2
    assert isinstance(report["seconds"], float | int) and report["seconds"] >= 0
    assert again.exit_code == 0
    assert {k: json.loads(again.stdout)[k] for k in ("unchanged", "embedded", "added")} == {
        "unchanged": 2,
        "embedded": 0,
        "added": 0,
    }


def test_human_output_names_problems_on_stderr(cli_env, tmp_path):
    folder, _ = bad_folder(tmp_path)

    result = run("ingest", str(folder))

    assert result.exit_code == 1
    assert "4 added" in result.stdout and "3 failed" in result.stdout
    assert "empty.txt" in result.stderr and "feed.jsonl:2" in result.stderr


def test_articles_show_and_delete(cli_env, tmp_path):
    run("ingest", str(good_folder(tmp_path)), "--json")
    article_id = "https://gazette.test/lighthouse"

    shown = run("articles", "show", article_id, "--json")
    assert shown.exit_code == 0
    assert "two-year restoration" in json.loads(shown.stdout)["body"]

    deleted = run("articles", "delete", article_id)
    assert deleted.exit_code == 0, deleted.output
    assert deleted.stdout.strip() == "deleted 1 article"
    listed = run("articles", "list")
    assert listed.stderr.strip() == "1 article" and "1 articles" not in listed.output
    service = IndexService(cli_env, embedding=index.service.make_embedding(cli_env))
    assert service.store.get_article(article_id) is None
    assert all(c.metadata["article_id"] != article_id for c in service.store.iter_chunks())
    assert service.store.count_articles() == 1

    unknown = run("articles", "delete", "https://nowhere.test/none")
    assert unknown.exit_code == 1
    assert "no article" in unknown.stderr
    assert run("articles", "show", article_id).exit_code == 1


def test_collection_option_keeps_indexes_apart(cli_env, tmp_path):
    result = run("ingest", str(good_folder(tmp_path)), "--json", "--collection", "side-index")
    assert result.exit_code == 0

    side = json.loads(run("articles", "list", "--json", "--collection", "side-index").stdout)
    main = json.loads(run("articles", "list", "--json").stdout)
    assert len(side) == 2 and main == []


def test_ingest_into_an_index_of_another_model_exits_2(cli_env, hash_embedding, tmp_path):
    IndexService(cli_env, embedding=hash_embedding).ingest_paths([good_folder(tmp_path)])

    result = run("ingest", str(tmp_path / "good"), "--json")

    assert result.exit_code == 2
    assert "test-hashed-bow-64" in result.stderr and "QA_COLLECTION" in result.stderr


@pytest.mark.timeout(120)
@pytest.mark.parametrize("where", ["under-a-file", "proc"])
def test_an_unusable_bm25_dir_is_one_line_naming_the_setting(
    settings: Settings, hash_embedding, monkeypatch, tmp_path: Path, where: str
):
    """Before: an ingest stored the article in Chroma, logged "after-write listener of
    articles failed" with a traceback and exited 0; `ask` and `serve` died in a traceback
    that never named QA_BM25_DIR. Now every command refuses up front, exit 2 (a setting,
    not an input, is wrong), before anything is written."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    bm25 = blocker / "bm25" if where == "under-a-file" else Path("/proc/newsqa-test-bm25")
    monkeypatch.setenv("QA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("QA_BM25_DIR", str(bm25))
    monkeypatch.delenv("QA_CHROMA_URL", raising=False)
    monkeypatch.setattr(index.service, "make_embedding", lambda _settings: hash_embedding)
    article = _write(tmp_path, "zoo.md", "# Zoo opens\n\nThe city zoo opened a new wing.\n")
    for command in (
        ["ingest", str(article)],
        ["ask", "--mode", "extractive", "What opened?"],
        ["articles", "list"],
        ["serve", "--port", "1"],  # refused before it binds (port 1 would fail anyway)
    ):
        result = CliRunner().invoke(app, command)
        lines = result.output.strip().splitlines()
        assert result.exit_code == 2, (command, result.output)
        assert len(lines) == 1 and lines[0].startswith(
            f"error: QA_BM25_DIR={bm25} cannot be used: "
        )
    assert not settings.chroma_path.exists()  # nothing was stored that BM25 would miss


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how", ["replaced-by-a-file", "read-only"])
def test_a_bm25_dir_that_breaks_mid_run_stops_the_ingest_and_a_rerun_finishes(
    settings: Settings, hash_embedding, monkeypatch, tmp_path: Path, corpus_slice, how: str
):
    """Before: the write after the directory broke was stored in Chroma, the sync logged a
    traceback, the run went on and exited 0, and the lexical index silently lacked those
    articles. Now the run stops after that write: one line naming QA_BM25_DIR and the
    reason, one saying what was stored, exit 2; the re-run indexes what was missed."""
    import errno
    import shutil

    import index.ingest
    import index.lexical
    from index.lexical import LexicalIndex, lexical_dir
    from index.store import ArticleStore

    bm25 = tmp_path / "shared-bm25"
    monkeypatch.setenv("QA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("QA_BM25_DIR", str(bm25))
    monkeypatch.delenv("QA_CHROMA_URL", raising=False)
    monkeypatch.setattr(index.service, "make_embedding", lambda _settings: hash_embedding)
    monkeypatch.setattr(index.ingest, "EMBED_GROUP", 1)  # one article per write group
    write_articles, write_segment = ArticleStore.write_articles, index.lexical.write_segment
    writes: list[int] = []

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(bm25))

    def breaks_before_the_second_write(store: ArticleStore, batch) -> None:
        writes.append(len(batch))
        if len(writes) == 2 and how == "replaced-by-a-file":
            shutil.rmtree(bm25)
            bm25.write_text("someone's file")
        elif len(writes) == 2:
            monkeypatch.setattr(index.lexical, "write_segment", read_only)
        write_articles(store, batch)

    monkeypatch.setattr(ArticleStore, "write_articles", breaks_before_the_second_write)
    folder = corpus_slice(3)
    result = CliRunner().invoke(app, ["ingest", str(folder)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert "Traceback" not in result.output and len(lines) == 2, result.output
    reason = "Not a directory" if how == "replaced-by-a-file" else "Read-only file system"
    assert lines[0].startswith(f"error: QA_BM25_DIR={bm25} cannot be used: {reason}")
    assert lines[1].startswith("stored before the failure: 2 added, 0 updated, 0 unchanged;")
    assert len(writes) == 2, "nothing more is written once the lexical index cannot follow"

    # Fixed, the same command finishes: the third article, and what BM25 missed.
    monkeypatch.setattr(ArticleStore, "write_articles", write_articles)
    monkeypatch.setattr(index.lexical, "write_segment", write_segment)
    if bm25.is_file():
        bm25.unlink()
    again = CliRunner().invoke(app, ["ingest", str(folder)])
    assert again.exit_code == 0, again.output
    assert again.output.startswith("1 added, 0 updated, 2 unchanged"), again.output
    store = IndexService(settings, embedding=hash_embedding).store
    view = LexicalIndex.at(lexical_dir(settings.model_copy(update={"bm25_dir": bm25}), store.name))
    assert view.view() is not None and view.view().live == store.count_chunks()


@pytest.mark.timeout(120)
def test_an_upload_when_the_bm25_dir_broke_is_a_503_without_server_paths(
    settings: Settings, hash_embedding, tmp_path: Path
):
    """The HTTP entry point of the same rule: the upload is stored in Chroma, the reply says
    the lexical index cannot be written (503, no server path), nothing is half-counted."""
    import shutil

    from fastapi.testclient import TestClient

    from qa.assistant import Assistant
    from qa.server import build_server

    bm25 = tmp_path / "shared-bm25"
    served = settings.model_copy(update={"bm25_dir": bm25})
    assistant = Assistant(served, service=IndexService(served, embedding=hash_embedding))
    doc = "# Zoo opens\n\nThe city zoo opened a new wing for {} on Monday.\n"
    with TestClient(build_server(served, assistant)) as http:
        first = [("files", ("a.md", doc.format("penguins").encode()))]
        assert http.post("/api/v1/articles", files=first).json()["added"] == 1
        shutil.rmtree(bm25)
        bm25.write_text("someone's file")
        second = [("files", ("b.md", doc.format("otters").encode()))]
        reply = http.post("/api/v1/articles", files=second)
        assert reply.status_code == 503, reply.text
        message = reply.json()["error"]["message"]
        assert "QA_BM25_DIR: Not a directory" in message and str(tmp_path) not in message
        assert len(http.get("/api/v1/articles").json()) == 2  # stored, as the CLI reports


def test_a_delete_the_bm25_dir_cannot_follow_is_one_line_and_exit_2(
    settings: Settings, hash_embedding, monkeypatch, tmp_path: Path
):
    import errno

    import index.lexical

    monkeypatch.setenv("QA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("QA_COLLECTION", settings.collection)
    monkeypatch.delenv("QA_CHROMA_URL", raising=False)
    monkeypatch.delenv("QA_BM25_DIR", raising=False)
    monkeypatch.setattr(index.service, "make_embedding", lambda _settings: hash_embedding)
    article = _write(tmp_path, "zoo.md", "# Zoo opens\n\nThe city zoo opened a new wing.\n")
    assert CliRunner().invoke(app, ["ingest", str(article)]).exit_code == 0
    (listed,) = json.loads(CliRunner().invoke(app, ["articles", "list", "--json"]).stdout)

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(settings.bm25_path))

    monkeypatch.setattr(index.lexical.LexicalIndex, "_write_manifest", read_only)
    result = CliRunner().invoke(app, ["articles", "delete", listed["article_id"]])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith(f"error: QA_BM25_DIR (unset: QA_DATA_DIR/bm25)={settings.bm25_path}")
    assert "Read-only file system" in lines[0] and "Traceback" not in result.output
