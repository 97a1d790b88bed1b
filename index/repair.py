"""Rebuilding an embedded Chroma's vector index after a crash damaged it.

Why: chromadb 1.5.9 (embedded) saves a collection's HNSW index in place, then its id map, then
the log position they hold. A process killed between those writes leaves files that disagree,
and every later read or write of that collection fails ("Failed to apply logs to the hnsw
segment writer", "Error deserializing pickle file") or kills the reading process with SIGSEGV.
Nothing the user stored is gone: Chroma's SQLite metadata segment is transactional and keeps
every record's id, document and metadata; only the vectors are unreadable. (Measured, with
Chroma alone: docs/reliability.md, "A crash during Chroma's vector save".)

The repair drops the damaged vector segments' files and saved positions, so Chroma starts them
empty and replays what its log still holds, then writes every record's vector again: chunk
vectors re-embedded from the stored text (what ingest embedded), the catalog's constant ones.

When: the one process that may write an embedded index repairs when it opens the index and a
marker file says to. A failure that looks like this damage sets the marker (in any process);
so does a probe run in a child process when the previous writer died holding its lock (a
SIGSEGV kills the probe, not the writer). The marker is removed only once every vector is
written again, so a repair killed part-way runs again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from index.wording import plural

log = logging.getLogger(__name__)

MARKER = ".newsqa-repair-vectors"
# What chromadb 1.5.9's errors say when a vector segment's files disagree (InternalError only;
# rust/segment/src/local_hnsw.rs, rust/log/src/local_compaction_manager.rs) ...
DAMAGE_SIGNS = (
    "failed to apply logs to the hnsw",
    "deserializing pickle file",
    "error loading hnsw index",
)
# ... and what such an error may wrap that is no damage of the files (a busy or full machine).
NOT_DAMAGE_SIGNS = ("sqlite", "database is locked", "too many open files", "no space left")
# A probe dying of one of these met a damaged index; any other signal (the OOM killer's
# SIGKILL, a SIGTERM) says nothing about the index.
CRASH_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGILL})
PROBE_DAMAGED_EXIT = 3
PROBE_TIMEOUT_S = 300.0
PAGE = 256  # records re-embedded per call: one embedding batch, one Chroma write


@dataclass
class RepairReport:
    chunks: int = 0  # chunk vectors re-embedded
    articles: int = 0  # catalog vectors (constants) written again
    seconds: float = 0.0

    def __str__(self) -> str:
        return (
            f"{plural(self.chunks, 'chunk')} re-embedded and {plural(self.articles, 'article')} "
            f"re-indexed in {self.seconds:.1f} s"
        )


def looks_damaged(exc: BaseException) -> bool:
    """Whether `exc` is chromadb's report of a vector segment it cannot load or update."""
    from chromadb.errors import InternalError

    text = str(exc).lower()
    return (
        isinstance(exc, InternalError)
        and any(sign in text for sign in DAMAGE_SIGNS)
        and not any(sign in text for sign in NOT_DAMAGE_SIGNS)
    )


def marker(chroma_path: Path, name: str) -> Path:
    """One per index (collection name): several indexes may share a data directory."""
    return chroma_path / f"{MARKER}-{name}"


def mark_for_repair(chroma_path: Path, name: str) -> None:
    """Ask the next writer to repair from scratch (best effort: an unwritable directory has
    worse trouble). Overwrites a repair's progress: the damage may be newer."""
    try:
        marker(chroma_path, name).write_text("damaged\n")
    except OSError as exc:
        log.warning("cannot mark %s for a vector repair: %s", chroma_path, exc)


def repair_pending(chroma_path: Path, name: str) -> bool:
    return marker(chroma_path, name).exists()


def repair_progress(chroma_path: Path, name: str) -> dict[str, int] | None:
    """Records rewritten per collection by a repair that was stopped part-way; None when there
    is none to resume (no repair begun, or damage seen since)."""
    try:
        saved = json.loads(marker(chroma_path, name).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict) or not all(isinstance(v, int) for v in saved.values()):
        return None
    return saved


def save_progress(chroma_path: Path, name: str, progress: dict[str, int]) -> None:
    """The marker, with how far the repair got (written whole: a kill leaves old or new)."""
    path = marker(chroma_path, name)
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(json.dumps(progress))
    os.replace(partial, path)


def repair_done(chroma_path: Path, name: str) -> None:
    marker(chroma_path, name).unlink(missing_ok=True)


class Probe(Enum):
    SOUND = "sound"
    DAMAGED = "damaged"
    UNKNOWN = "unknown"  # the probe itself failed: neither answer can be trusted


def probe(chroma_path: Path, names: Sequence[str]) -> Probe:
    """Read and search each collection in a child process (`python -m index.repair`):
    DAMAGED when Chroma reports damage or the child crashes (SIGSEGV and the like)."""
    try:
        done = subprocess.run(
            _probe_command(chroma_path, names),
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except (subprocess.TimeoutExpired, OSError) as exc:
        log.warning("the vector-index probe of %s did not finish: %s", chroma_path, exc)
        return Probe.UNKNOWN
    if done.returncode == PROBE_DAMAGED_EXIT or -done.returncode in CRASH_SIGNALS:
        return Probe.DAMAGED
    if done.returncode != 0:  # e.g. records a repair has not rewritten yet: no vector to read
        log.info("the vector-index probe of %s failed: %s", chroma_path, done.stderr[-500:])
        return Probe.UNKNOWN
    return Probe.SOUND


def probe_damaged(chroma_path: Path, names: Sequence[str]) -> bool:
    return probe(chroma_path, names) is Probe.DAMAGED


def _probe_command(chroma_path: Path, names: Sequence[str]) -> list[str]:
    # -P: the working directory's own "index" folder, if any, must not shadow ours.
    return [sys.executable, "-P", "-m", "index.repair", str(chroma_path), *names]


def reset_vector_segments(chroma_path: Path, names: Iterable[str]) -> None:
    """Drop the vector segments of the named collections: their files and saved log positions.
    Chroma then treats them as never written. No Chroma client of this process may have them
    loaded: the caller clears chromadb's client cache first."""
    names = list(names)
    with sqlite3.connect(chroma_path / "chroma.sqlite3") as db:
        rows = db.execute(
            "SELECT s.id FROM segments s JOIN collections c ON s.collection = c.id "
            f"WHERE s.scope = 'VECTOR' AND c.name IN ({','.join('?' * len(names))})",
            names,
        ).fetchall()
        for (segment_id,) in rows:
            shutil.rmtree(chroma_path / str(segment_id), ignore_errors=True)
            db.execute("DELETE FROM max_seq_id WHERE segment_id = ?", (segment_id,))
    log.warning("dropped %d damaged vector segment(s) in %s", len(rows), chroma_path)


def forget_chroma_clients() -> None:
    """Make the next client of a path start its own Chroma: chromadb shares one per path and
    process, and the old one holds the damaged segments in memory. (This stops nothing:
    the caller closes the client it used.)"""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def rewrite_vectors(
    collection: Any,
    vectors: Callable[[list[str | None], list[dict[str, Any]]], list[Any]],
    start: int = 0,
    done_up_to: Callable[[int], None] = lambda _offset: None,
    page: int = PAGE,
) -> int:
    """Write every record's vector again from its stored document and metadata, from record
    `start` on (Chroma lists records in a stable order; rewriting one leaves it in place);
    documents and metadata stay as they are. `done_up_to` hears the offset after each page.
    Returns how many records were written."""
    offset = start
    while True:
        got = collection.get(include=["documents", "metadatas"], limit=page, offset=offset)
        ids = got["ids"]
        if not ids:
            return offset - start
        metadatas = [dict(m or {}) for m in got.get("metadatas") or [{}] * len(ids)]
        documents = list(got.get("documents") or [None] * len(ids))
        embeddings = [list(v) for v in vectors(documents, metadatas)]
        collection.upsert(ids=ids, embeddings=embeddings)
        offset += len(ids)
        done_up_to(offset)


def _probe(chroma_path: str, names: Sequence[str]) -> int:
    """The child of `probe_damaged`: read each collection as a query would."""
    from index.offline import apply_offline_defaults

    apply_offline_defaults()
    import chromadb
    from chromadb.errors import NotFoundError

    client = chromadb.PersistentClient(path=chroma_path)
    for name in names:
        try:
            collection = client.get_collection(name, embedding_function=None)
        except (NotFoundError, ValueError):
            continue
        try:
            collection.count()
            got = collection.get(limit=8, include=["embeddings"])
            vectors = got.get("embeddings")
            if vectors is not None and len(vectors):  # walk the graph as a search does
                first: Sequence[float] = [float(x) for x in vectors[0]]
                collection.query(query_embeddings=[first], n_results=8)
        except Exception as exc:
            if looks_damaged(exc):
                print(f"{name}: {exc}", file=sys.stderr)
                return PROBE_DAMAGED_EXIT
            raise
    return 0


if __name__ == "__main__":
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    sys.exit(_probe(sys.argv[1], sys.argv[2:]))
