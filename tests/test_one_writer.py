"""One writing process per embedded index: two processes writing one embedded Chroma corrupt
it (index/store.py, `hold_writer_lock`), so a second writer is refused in one line naming the
process that writes; readers run beside it."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import index.service
from index.settings import Settings
from qa.cli import app
from tests.reliability_fixtures import HOLD


def _qa(*args: str) -> tuple[int, str, str]:
    """Run a command in this process as its own process would: what it opened is let go when
    it returns (the result's exception would keep its frames, and the writer lock, alive)."""
    result = CliRunner().invoke(app, list(args))
    code, out, err = result.exit_code, result.stdout, result.stderr
    del result
    gc.collect()
    return code, out, err


def _env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}


@pytest.mark.timeout(120)
def test_a_second_writer_is_refused_naming_the_first_and_readers_go_on(
    settings: Settings, hash_embedding, monkeypatch, tmp_path: Path
):
    monkeypatch.setenv("QA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("QA_COLLECTION", settings.collection)
    monkeypatch.delenv("QA_CHROMA_URL", raising=False)
    monkeypatch.setattr(index.service, "make_embedding", lambda _settings: hash_embedding)
    article = tmp_path / "zoo.md"
    article.write_text("# Zoo opens\n\nThe city zoo opened a new wing for otters.\n")
    assert _qa("ingest", str(article))[0] == 0  # an index to read below

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(settings.data_dir)],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        for command in (["ingest", str(article)], ["articles", "delete", "nope"]):
            code, out, err = _qa(*command)
            assert code == 2, (command, out, err)
            assert (out + err).strip().splitlines() == [
                f"error: the embedded index in {settings.chroma_path} is being written by PID "
                f"{holder.pid} (-c {settings.data_dir}); two processes writing one embedded "
                "Chroma corrupt it. Wait for it to end (or stop it), add articles through it, "
                "or run a Chroma server (QA_CHROMA_URL) for several writers"
            ], command
        # Readers need no lock: asking, searching and listing go on beside the writer.
        code, out, err = _qa("articles", "list", "--json")
        assert code == 0 and len(json.loads(out)) == 1, err
        code, out, err = _qa("search", "--json", "otters")
        assert code == 0 and json.loads(out)["passages"], err
    finally:
        holder.kill()
        holder.wait()
    code, out, err = _qa("ingest", str(article))  # the lock went with its holder
    assert code == 0 and out.startswith("0 added, 0 updated, 1 unchanged"), (out, err)


@pytest.mark.timeout(300)
def test_two_concurrent_ingests_of_one_folder_one_works_one_is_refused(
    settings: Settings, corpus_slice, tmp_path: Path
):
    """Before: both ran to the end, both reported every article as added, and the embedded
    store they wrote at once could lose vectors. Real `qa ingest` processes (MiniLM)."""
    folder = corpus_slice(4)
    env = {**_env(), "QA_DATA_DIR": str(settings.data_dir), "QA_COLLECTION": settings.collection}
    env.pop("QA_CHROMA_URL", None)
    qa = [sys.executable, "-m", "qa", "ingest", "--json", str(folder)]
    runs = [
        subprocess.Popen(qa, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    done = [run.communicate(timeout=240) for run in runs]
    by_code = {run.returncode: out_err for run, out_err in zip(runs, done, strict=True)}
    assert sorted(by_code) == [0, 2], done
    ok_out, refused_err = by_code[0][0], by_code[2][1]
    assert json.loads(ok_out)["added"] == 4
    assert refused_err.strip().startswith(
        f"error: the embedded index in {settings.chroma_path} is being written by PID "
    ), refused_err
    assert "(python -m qa ingest --json " in refused_err, refused_err

    from index.service import IndexService

    store = IndexService(settings, write=False).store  # every vector readable afterwards
    got = store.chunk_collection.get(include=["embeddings"])
    assert len(got["ids"]) == store.count_chunks() > 0
