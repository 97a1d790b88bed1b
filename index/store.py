"""The Chroma-backed article store: embedded (`PersistentClient`) or a server (`HttpClient`).

Two collections per index:
- `<name>`: one record per chunk (embedding, chunk text, article fields, offsets).
- `<name>-articles`: the catalog, one record per article (full body, content hash, near-duplicate
  links, MinHash signature and its LSH band keys). Its collection metadata carries a `revision`
  that changes on every write, so readers in other processes (BM25 beside a Chroma server) can
  tell they are stale.

Crash safety comes from write order: an article's chunks are written first, its stale chunks
deleted next, and its catalog record last. The catalog record's content hash is what marks the
article as done, so a crash at any point leaves it "not done" and a re-run redoes it idempotently.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sqlite3
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

from index.dedup import BAND_FIELDS, BANDS, ROWS, stored_band_keys
from index.models import Article, Chunk
from index.sentences import METADATA_KEY as SENTENCE_VECTORS_KEY
from index.settings import Settings
from index.wording import plural

log = logging.getLogger(__name__)

CATALOG_SUFFIX = "-articles"
# Every catalog record's vector: the catalog is read by id and metadata, never searched.
CATALOG_VECTOR = (1.0,)
# Catalog collection metadata: set once every record carries its LSH band keys (index.dedup), so
# near duplicates are looked up by key. Older catalogs are backfilled on their first ingest.
BANDED_KEY = "lsh_bands"
BANDED_VALUE = f"{BANDS}x{ROWS}"
# Chunk metadata: the time.time() of the write that stored this version of the chunk. The
# lexical index finds new and changed chunks by it (index.lexical).
STAMP_KEY = "indexed_at"
# Waits on a Chroma server: a write of one 1,000-chunk batch takes seconds even when busy
# (the read timeout is Settings.chroma_timeout_s, 30 s by default).
CHROMA_CONNECT_TIMEOUT_S = 5.0
_PAGE = 2000


# Writes made by this process. Readers may cache a revision check for a moment (other processes'
# writes show up after that); a write made here must be seen at once, so it bumps this counter.
_local_writes = 0


def local_write_count() -> int:
    return _local_writes


# Chunks deleted by this process, per chunk collection: (chunk id, time of the delete). The
# lexical index of this process tombstones them at its next sync; other processes find them
# missing when a search fetches them. Bounded: a reader that falls this far behind relies on
# the latter.
_DELETION_LOG_SIZE = 100_000
_deletions: dict[str, list[tuple[str, float]]] = {}
_deletions_dropped: dict[str, int] = {}
_deletions_lock = threading.Lock()


class StoreError(RuntimeError):
    """The store cannot be used as asked (wrong model, unreachable server, …)."""


class EmbeddingMismatchError(StoreError):
    pass


class StoreUnavailableError(StoreError):
    """The Chroma server cannot be reached."""


def unavailable_errors() -> tuple[type[Exception], ...]:
    """ "The index is unavailable", for every caller (the API's 503, the chat window's message):
    our own error, or what chromadb's HttpClient lets through from the httpx session under it
    (refused, reset, and the timeouts `_bound_http_waits` sets are all httpx.TransportError); or
    the server answers but our collection is gone (restarted on another --path, or deleted):
    chromadb's NotFoundError. The store never re-creates a collection it had open, so the index
    comes back as soon as the right server does."""
    from chromadb.errors import NotFoundError  # chromadb: imported once any store is open

    return (StoreUnavailableError, httpx.TransportError, ConnectionError, NotFoundError)


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the Chroma server cannot be reached right now (retry later)."""
    return isinstance(exc, unavailable_errors())


class ForeignCollectionError(StoreError):
    """The collection holds records newsqa did not write (no newsqa metadata)."""


class CollectionMetricError(ForeignCollectionError):
    """The chunk collection measures distance with another metric than newsqa's (cosine)."""


class LexicalDirError(StoreError):
    """The lexical index directory (QA_BM25_DIR) cannot be created or written."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason

    @property
    def public(self) -> str:
        """For users of a server (HTTP, chat window): the cause without the server's paths."""
        return (
            f"this server cannot write its lexical index (QA_BM25_DIR: {self.reason}); what "
            "was stored before stays stored: retry once the operator has fixed it"
        )


class VectorIndexDamagedError(StoreError):
    """Chroma cannot load or update a collection's vector index: a crash during its save left
    the files disagreeing (index.repair). The records themselves are intact."""

    # For users of a server (HTTP, chat window): what happened, without the server's paths.
    EMBEDDED = (
        "the article index's vectors were damaged by an earlier crash; nothing stored is "
        "lost: the operator restarts the server (it repairs on start) or runs "
        "`qa articles repair`"
    )
    REMOTE = (
        "the Chroma server behind this service cannot read the article index's vectors; its "
        "operator must restore or rebuild them"
    )

    def __init__(self, message: str, *, remote: bool = False) -> None:
        super().__init__(message)
        self.public = self.REMOTE if remote else self.EMBEDDED


class IndexMissingError(StoreError):
    """Opened without `create` and the collection does not exist (nothing ingested yet)."""


# The distance every chunk collection is created with: scores are read as 1 - distance.
SPACE = "cosine"
# Every collection ArticleStore has created carries this metadata key (since the first store,
# 1f48fb6): a non-empty collection without it was made by something else.
MODEL_KEY = "embedding_model"


@dataclass
class StoredChunk:
    chunk_id: str
    text: str
    metadata: dict[str, Any]
    distance: float | None = None

    @property
    def search_text(self) -> str:
        header = self.metadata.get("header", "")
        return f"{header}\n\n{self.text}" if header else self.text


@dataclass
class ArticleRecord:
    article_id: str
    title: str
    source: str
    url: str
    author: str
    published: str
    published_ts: int
    category: str
    caption: str
    content_hash: str
    n_chunks: int
    origin: str = ""
    file_key: str = ""
    near_duplicates: list[str] = field(default_factory=list)
    minhash: str = ""
    body: str | None = None
    has_sentence_vectors: bool = False

    @classmethod
    def from_chroma(cls, article_id: str, meta: dict[str, Any], body: str | None) -> ArticleRecord:
        return cls(
            article_id=article_id,
            title=str(meta.get("title", "")),
            source=str(meta.get("source", "")),
            url=str(meta.get("url", "")),
            author=str(meta.get("author", "")),
            published=str(meta.get("published", "")),
            published_ts=int(meta.get("published_ts", 0) or 0),
            category=str(meta.get("category", "")),
            caption=str(meta.get("caption", "")),
            content_hash=str(meta.get("content_hash", "")),
            n_chunks=int(meta.get("n_chunks", 0) or 0),
            origin=str(meta.get("origin", "")),
            file_key=str(meta.get("file_key", "")),
            near_duplicates=json.loads(str(meta.get("near_duplicates", "[]")) or "[]"),
            minhash=str(meta.get("minhash", "")),
            body=body,
            has_sentence_vectors=bool(meta.get("sentence_vectors", False)),
        )

    def summary(self) -> dict[str, Any]:
        """JSON-friendly view without the body and signature."""
        return {
            "article_id": self.article_id,
            "title": self.title,
            "source": self.source,
            "url": self.url,
            "author": self.author,
            "published": self.published,
            "category": self.category,
            "n_chunks": self.n_chunks,
            "near_duplicates": self.near_duplicates,
            "origin": self.origin,
        }


@dataclass
class StoredVectors:
    """A stored chunk's embedding and its sentence vectors ("" when it has none)."""

    embedding: list[float]
    sentence_vectors: str = ""


@dataclass
class ArticleWrite:
    """One article ready to store: its chunks, one embedding per chunk and, when the model
    gives them, each chunk's sentence vectors (index.sentences codes; empty = none)."""

    article: Article
    chunks: Sequence[Chunk]
    embeddings: Sequence[Sequence[float]]
    minhash: str = ""
    near_duplicates: Sequence[str] = ()
    sentence_vectors: Sequence[str] = ()


def store_failure(exc: BaseException, settings: Settings) -> StoreError | None:
    """What a Chroma failure met part-way through a command means, as one line; None when
    `exc` is not a Chroma failure. httpx errors come from chromadb's HttpClient when the
    server went away or froze; ChromaError when it answered with an error (e.g. a collection
    deleted meanwhile)."""
    import httpx
    from chromadb.errors import ChromaError

    if isinstance(exc, StoreError):
        return exc
    damaged = vector_damage(exc, settings)
    if damaged is not None:
        return damaged
    if isinstance(exc, httpx.TransportError | ConnectionError):
        where = settings.chroma_url or "the embedded index"
        return StoreUnavailableError(
            f"cannot reach the Chroma server at {where}: {type(exc).__name__}: {exc}"
        )
    if isinstance(exc, ChromaError):
        return StoreError(f"Chroma refused a request: {type(exc).__name__}: {exc}")
    return None


def vector_damage(
    exc: BaseException, settings: Settings, name: str | None = None
) -> VectorIndexDamagedError | None:
    """Chroma's report of a damaged vector index as what to do about it; None for any other
    failure. An embedded index (collection `name`, QA_COLLECTION by default) is marked, so the
    next process to open it for writing repairs; not by a reader while another process
    writes it: a reader can catch a live writer's save half-done, which is no damage."""
    from index.repair import looks_damaged, mark_for_repair

    if not looks_damaged(exc):
        return None
    if settings.chroma_url:
        return VectorIndexDamagedError(
            f"the Chroma server at {settings.chroma_url} cannot read its vector index ({exc}); "
            "the server's operator must restore or rebuild it",
            remote=True,
        )
    if not _written_elsewhere(settings):
        mark_for_repair(settings.chroma_path, name or settings.collection)
    return damaged_index_error(settings, str(exc))


@contextmanager
def damage_named(settings: Settings, name: str | None = None) -> Iterator[None]:
    """Chroma's report of a damaged vector index, met by any read or write inside, raised as a
    VectorIndexDamagedError saying what to do (and the index marked for repair)."""
    try:
        yield
    except StoreError:
        raise
    except Exception as exc:
        damaged = vector_damage(exc, settings, name)
        if damaged is None:
            raise
        raise damaged from exc


def damaged_index_error(settings: Settings, cause: str) -> VectorIndexDamagedError:
    return VectorIndexDamagedError(
        f"the vector index in {settings.chroma_path} was left damaged by a process killed "
        f"while Chroma saved it ({cause}); nothing stored is lost: `qa articles repair` (or "
        "the next `qa ingest` or `qa serve`) rebuilds it from the stored text"
    )


# --- one writing process per embedded index -------------------------------------------------------
#
# Two processes writing one embedded Chroma (PersistentClient) corrupt it: each keeps the vector
# index in memory and persists its own copy, so rows the other wrote lose their vectors
# ("Error getting embedding" on a later read; measured: 47 of 60 id windows unreadable after two
# concurrent 3,000-row writers, 15 of 45 when the second wrote while the first merely stayed
# open). Readers beside one writer are safe (a reader querying through a 3,000-row write: no
# error, nothing lost). So a process that may write holds an advisory lock on the directory
# for as long as its store is open, taken before Chroma loads anything.
WRITER_LOCK = ".newsqa-writer.lock"
CHROMA_DATABASE = "chroma.sqlite3"  # the embedded Chroma's database file, in QA_CHROMA_PATH
_writer_locks: dict[Path, list[Any]] = {}  # path -> [open lock file, stores holding it]
_writer_locks_guard = threading.Lock()


class StoreBusyError(StoreError):
    """Another process is writing the embedded index."""


@dataclass
class WriterLock:
    # Let the lock go; `leave` is the name the lock file is left with (empty: a clean release).
    release: Callable[..., None]
    # The previous holder never released it: it was killed (or crashed) while it could write,
    # perhaps in the middle of Chroma saving its vector index (index.repair).
    previous_died: bool = False
    previous: str = ""  # that holder's name, as the lock file gave it


def hold_writer_lock(settings: Settings) -> WriterLock:
    """Take this process's writer lock on the embedded index (shared by its stores).
    StoreBusyError, naming the process holding it, when another process has it. The lock file
    names its holder while held and is emptied on release, so a name left in it means the
    holder died."""
    directory = settings.chroma_path.resolve()
    previous = ""
    with _writer_locks_guard:
        held = _writer_locks.get(directory)
        if held is None:
            directory.mkdir(parents=True, exist_ok=True)
            handle = open(directory / WRITER_LOCK, "a+")  # noqa: SIM115 - held past this call
            try:
                _lock_soon(handle)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                raise StoreBusyError(
                    f"the embedded index in {settings.chroma_path} is being written by {holder}; "
                    "two processes writing one embedded Chroma corrupt it. Wait for it to end "
                    "(or stop it), add articles through it, or run a Chroma server "
                    "(QA_CHROMA_URL) for several writers"
                ) from None
            handle.seek(0)
            previous = handle.read().strip()
            handle.seek(0)
            handle.truncate()
            handle.write(f"PID {os.getpid()} ({_command_line()})\n")
            handle.flush()
            held = _writer_locks[directory] = [handle, 0]
        held[1] += 1

    def release(leave: str = "") -> None:
        with _writer_locks_guard:
            entry = _writer_locks.get(directory)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] <= 0:
                del _writer_locks[directory]
                _empty(entry[0])
                if leave:
                    entry[0].write(leave + "\n")
                    entry[0].flush()
                entry[0].close()  # closing the file releases the flock

    return WriterLock(release, bool(previous), previous)


def _lock_soon(handle: Any, tries: int = 10) -> None:
    """The exclusive lock, waiting a moment: a reader checking the lock (writer_died) holds it
    for microseconds. BlockingIOError when another process keeps holding it."""
    for attempt in range(tries):
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if attempt == tries - 1:
                raise
            time.sleep(0.1)


def _lock_state(settings: Settings) -> tuple[bool, str]:
    """(whether a live process holds the embedded index's writer lock, the name the lock file
    holds when none does). The check holds the lock for a moment only: a writer starting now
    waits for it (_lock_soon)."""
    try:
        with open(settings.chroma_path / WRITER_LOCK) as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True, ""
            name = handle.read().strip()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            return False, name
    except OSError:  # no lock file: nobody ever wrote here
        return False, ""


def _written_elsewhere(settings: Settings) -> bool:
    """Whether another live process holds the embedded index's writer lock."""
    if settings.chroma_path.resolve() in _writer_locks:
        return False  # this process is the writer
    return _lock_state(settings)[0]


def writer_died(settings: Settings) -> bool:
    """Whether the last writer of the embedded index died holding its lock and none writes now
    (the lock file names a holder, yet the lock is free): a reader's cue to check the index
    before Chroma loads it (index.repair)."""
    held, name = _lock_state(settings)
    return not held and bool(name)


def forget_dead_writer(settings: Settings) -> None:
    """After a check found the index sound: clear the dead writer's name (unless a writer has
    the lock by now), so later readers do not check again."""
    try:
        with open(settings.chroma_path / WRITER_LOCK, "r+") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            _empty(handle)
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    except OSError:
        pass


def _empty(handle: Any) -> None:
    """A clean release leaves the lock file empty (a name left in it means its holder died)."""
    try:
        handle.seek(0)
        handle.truncate()
        handle.flush()
    except (OSError, ValueError):  # a removed or closed file: nothing to clear
        pass


def _command_line() -> str:
    """This process's command line, shortened: what the refused writer is told is running."""
    program = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if program == "__main__.py":  # python -m qa
        program = f"python -m {os.path.basename(os.path.dirname(sys.argv[0]))}"
    words = [program, *sys.argv[1:]] if program else []
    line = " ".join(words) or "python"
    return line if len(line) <= 120 else line[:117] + "..."


class _ClientOnceCreated:
    """A reader's embedded Chroma client, opened only once a writer has made the database and
    the asked collection: opening it earlier would create an empty database (a command that
    only reads leaves nothing behind), or set it up while the writer is doing so (both then
    fail). Until then every collection is missing: reads see an empty index."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Any | None = None

    def get_collection(self, name: str, **options: Any) -> Any:
        if self._client is None and _chroma_ready(self._settings.chroma_path, name):
            self._client = open_client(self._settings)
        if self._client is None:
            from chromadb.errors import NotFoundError

            raise NotFoundError(f"Collection [{name}] does not exist")
        return self._client.get_collection(name, **options)

    def close(self) -> None:
        close = getattr(self._client, "close", None)
        self._client = None
        if close is not None:
            close()

    def __getattr__(self, attribute: str) -> Any:
        if self._client is None:  # readers only look collections up before one exists
            raise StoreError(f"no Chroma database in {self._settings.chroma_path} yet")
        return getattr(self._client, attribute)


def _chroma_ready(path: Path, collection: str | None = None) -> bool:
    """Whether a writer has finished making the embedded database (and `collection` in it),
    read with sqlite in read-only mode, which creates nothing and sets nothing up. Anything
    but a missing file, table or row leaves it to Chroma (True)."""
    database = path / CHROMA_DATABASE
    if not database.is_file():
        return False
    query = "SELECT 1 FROM collections" + (" WHERE name = ?" if collection else "") + " LIMIT 1"
    try:
        uri = f"{database.resolve().as_uri()}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=1.0)) as db:
            return db.execute(query, (collection,) if collection else ()).fetchone() is not None
    except sqlite3.OperationalError as exc:
        return "no such table" not in str(exc)
    except sqlite3.Error:
        return True


def reader_client(settings: Settings) -> Any:
    """The client a reader (`ArticleStore.open(write=False)`) reads through."""
    if settings.chroma_url or _chroma_ready(settings.chroma_path):
        return open_client(settings)
    return _ClientOnceCreated(settings)


def open_client(settings: Settings) -> Any:
    """A Chroma client for the settings: HttpClient when `chroma_url` is set, else embedded."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        parsed = urlparse(settings.chroma_url)
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            raise StoreError(f"QA_CHROMA_URL={settings.chroma_url!r} is not an http(s) URL")
        _probe_server(settings)
        try:
            client = chromadb.HttpClient(
                host=parsed.hostname,
                port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                ssl=parsed.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:  # chromadb raises plain ValueError/ConnectionError here
            raise StoreUnavailableError(
                f"cannot reach the Chroma server at {settings.chroma_url}: {exc}"
            ) from exc
        _bound_http_waits(client, settings.chroma_timeout_s)
        return client
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)


def _chroma_timeout(read_timeout_s: float) -> Any:
    import httpx

    return httpx.Timeout(read_timeout_s, connect=CHROMA_CONNECT_TIMEOUT_S)


def _probe_server(settings: Settings) -> None:
    """One bounded request before chromadb's: `chromadb.HttpClient(...)` already talks to the
    server in its constructor, on a session with no timeout (`_bound_http_waits` can only bound
    it afterwards), so a frozen server or a port that accepts and never answers would hang the
    caller for good. The heartbeat is the cheapest request every Chroma answers; what is left
    unbounded is the constructor's own few requests right after this one answered."""
    import httpx

    parsed = urlparse(str(settings.chroma_url))
    port = parsed.port or (443 if parsed.scheme == "https" else 8000)
    url = f"{parsed.scheme}://{parsed.hostname}:{port}/api/v2/heartbeat"
    try:
        reply = httpx.get(url, timeout=_chroma_timeout(settings.chroma_timeout_s))
    except httpx.TimeoutException as exc:
        raise StoreUnavailableError(
            f"cannot reach the Chroma server at {settings.chroma_url}: no answer within "
            f"{settings.chroma_timeout_s:g} s (QA_CHROMA_TIMEOUT_S)"
        ) from exc
    except httpx.HTTPError as exc:
        raise StoreUnavailableError(
            f"cannot reach the Chroma server at {settings.chroma_url}: {exc}"
        ) from exc
    if reply.status_code in {502, 503, 504}:  # a proxy in front of a Chroma that is down
        raise StoreUnavailableError(
            f"cannot reach the Chroma server at {settings.chroma_url}: HTTP "
            f"{reply.status_code} from {url}"
        )
    if not _is_heartbeat(reply):
        # Otherwise chromadb fails on its first reply with e.g. "UserIdentity.__init__() got
        # an unexpected keyword argument 'object'" (an OpenAI-style server answering JSON).
        raise StoreError(
            f"QA_CHROMA_URL={settings.chroma_url} answered, but not as a Chroma server (is the "
            f"URL/port right?): HTTP {reply.status_code} "
            f"{reply.headers.get('content-type', 'with no content type')} from {url}"
        )


def _is_heartbeat(reply: Any) -> bool:
    """Chroma's heartbeat: 200 with {"nanosecond heartbeat": <int>}."""
    if reply.status_code != 200:
        return False
    try:
        body = reply.json()
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("nanosecond heartbeat"), int)


def _bound_http_waits(client: Any, read_timeout_s: float) -> None:
    """chromadb's HttpClient waits forever (its httpx session has timeout=None): a frozen or
    wedged server would hold every calling thread, e.g. the whole API threadpool. Bounded, a
    hang becomes an httpx.TimeoutException (a TransportError: see unavailable_errors)."""
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = _chroma_timeout(read_timeout_s)


def _space(collection: Any) -> str | None:
    """The distance a Chroma collection's vector index uses (None if it does not say)."""
    configuration = getattr(collection, "configuration", None)
    for key in ("hnsw", "spann"):  # local / single-node, distributed
        part = configuration.get(key) if isinstance(configuration, Mapping) else None
        if isinstance(part, Mapping) and part.get("space"):
            return str(part["space"])
    space = (collection.metadata or {}).get("hnsw:space")  # the pre-1.0 way to set it
    return str(space) if space else None


class _NotCreated:
    """A collection that does not exist yet, as reads see it: empty. It has no write methods:
    every write path calls ArticleStore._ensure_created first."""

    metadata: dict[str, Any] = {}  # noqa: RUF012 - read-only

    def __init__(self, name: str) -> None:
        self.name = name
        self.id = f"not-created:{name}"

    def count(self) -> int:
        return 0

    def get(self, *_args: Any, **_kwargs: Any) -> dict[str, list]:
        return {"ids": [], "metadatas": [], "documents": [], "embeddings": []}

    def query(self, query_embeddings: Sequence[Any], *_args: Any, **_kwargs: Any) -> dict:
        empty: list[list[Any]] = [[] for _ in query_embeddings]
        return {"ids": empty, "distances": empty, "metadatas": empty, "documents": empty}


class ArticleStore:
    """Chunks and the article catalog of one index, in Chroma."""

    def __init__(
        self,
        client: Any,
        name: str,
        embedding_model: str,
        *,
        create: bool = True,
        location: str = "",
    ) -> None:
        self.name = name
        self.read_only = False  # opened by a reader: writes are refused (ArticleStore.open)
        # This process took the embedded writer lock from one that died holding it (open).
        self.previous_writer_died = False
        self._connect: Callable[[], Any] | None = None  # a new client like this one (open)
        # Where the collections live, for messages: "QA_CHROMA_URL=…" or the embedded path.
        self.location = location or "this Chroma"
        self.embedding_model = embedding_model
        self._client = client
        self._max_batch: int | None = None
        self._banded = False  # the catalog's records all carry LSH band keys (checked once)
        # Called after every completed write or delete (the lexical index syncs here) with
        # the stamp of the chunks written (None after a delete); a failing listener never
        # undoes the write: it is logged, or for a broken QA_BM25_DIR raised after it (_notify).
        self.after_write: list[Callable[[float | None], object]] = []  # returns are ignored
        # The collections, looked up (never created) here: a command that only reads must
        # not leave an empty index behind it (a mistyped QA_COLLECTION, a wrong server).
        # Until they exist reads see an empty index; the first write creates them.
        self._chunk_col: Any | None = None
        self._catalog_col: Any | None = None
        self._writable = False  # both exist and are marked as newsqa's (checked once)
        if not self._find() and not create:
            raise IndexMissingError(
                f"no index {name!r} at {self.location} (QA_COLLECTION): nothing has been "
                "ingested into it"
            )

    def close_client(self) -> None:
        """Let go of this store's Chroma client (an embedded one stops when its last client
        closes): index.repair rewrites files it holds in memory."""
        close = getattr(self._client, "close", None)
        if close is not None:
            close()

    def reconnect(self) -> None:
        """A new client and fresh collection handles, after index.repair stopped the old client
        (this object stays the one its users hold, with its writer lock)."""
        if self._connect is None:
            raise StoreError("this store was not opened with ArticleStore.open")
        self._client = self._connect()
        self._chunk_col = self._catalog_col = None
        self._writable = False
        self._find()

    def _find(self) -> bool:
        """Whether both collections exist now (kept once found); refused if not newsqa's."""
        chunks = self._owned(self.name, self.embedding_model, adopt=False)
        catalog = self._owned(self.name + CATALOG_SUFFIX, self.embedding_model, adopt=False)
        if chunks is None or catalog is None:
            return False
        self._check_model(chunks)
        self._chunk_col, self._catalog_col = chunks, catalog
        return True

    def _check_model(self, chunks: Any) -> None:
        stored_model = (chunks.metadata or {}).get(MODEL_KEY)
        if stored_model and stored_model != self.embedding_model:
            raise EmbeddingMismatchError(
                f"index {self.name!r} was built with embedding model {stored_model!r}, but "
                f"{self.embedding_model!r} is configured; re-ingest into a new collection "
                f"(QA_COLLECTION) or configure {stored_model!r}"
            )

    def _ensure_created(self) -> None:
        """Before a write: create what does not exist yet and mark (adopt) empty collections
        made ahead of time. A collection found once is never re-created here: one that
        vanished since (a server restarted on another --path) stays an error until it is back
        (unavailable_errors)."""
        if self._writable:
            return
        meta = {MODEL_KEY: self.embedding_model}
        if self._chunk_col is None or self._catalog_col is None:
            chunks = self._owned(self.name, self.embedding_model, adopt=True)
            catalog = self._owned(self.name + CATALOG_SUFFIX, self.embedding_model, adopt=True)
            chunks = chunks or self._client.get_or_create_collection(
                self.name,
                metadata=meta,
                configuration={"hnsw": {"space": SPACE}},
                embedding_function=None,
            )
            catalog = catalog or self._client.get_or_create_collection(
                self.name + CATALOG_SUFFIX,
                metadata={**meta, "revision": "0"},
                embedding_function=None,
            )
            self._check_model(chunks)
            self._chunk_col, self._catalog_col = chunks, catalog
        else:
            for collection in (self._chunk_col, self._catalog_col):
                metadata = dict(collection.metadata or {})
                if MODEL_KEY not in metadata:  # empty and made ahead of time: ours from now
                    collection.modify(metadata={**metadata, **meta})
        self._writable = True

    @property
    def exists(self) -> bool:
        """Whether the index has been created (by this process or any other)."""
        return self._chunk_col is not None or self._find()

    @property
    def _chunks(self) -> Any:
        if self._chunk_col is None and not self._find():
            return _NotCreated(self.name)
        return self._chunk_col

    @property
    def _catalog(self) -> Any:
        if self._catalog_col is None and not self._find():
            return _NotCreated(self.name + CATALOG_SUFFIX)
        return self._catalog_col

    def _owned(self, name: str, embedding_model: str, *, adopt: bool) -> Any | None:
        """The collection `name` if it exists and is newsqa's; None if it does not exist.

        A collection without newsqa's metadata is refused unless it is empty (an operator may
        create one ahead of time); an empty one is adopted (marked as ours) when `adopt`.
        """
        from chromadb.errors import NotFoundError

        try:
            collection = self._client.get_collection(name, embedding_function=None)
        except NotFoundError:
            return None
        metadata = dict(collection.metadata or {})
        held = 0 if MODEL_KEY in metadata else collection.count()
        if held:
            raise ForeignCollectionError(
                f"collection {name!r} at {self.location} holds {plural(held, 'record')} that "
                f"newsqa did not write (it has no {MODEL_KEY!r} metadata); refusing to read or "
                f"write it. Set QA_COLLECTION to another name (or --collection), or "
                f"QA_CHROMA_URL to newsqa's Chroma server"
            )
        space = _space(collection)
        if name == self.name and space is not None and space != SPACE:
            # Made ahead of time with Chroma's default (l2) or ip: every score would be wrong.
            raise CollectionMetricError(
                f"collection {name!r} (QA_COLLECTION) at {self.location} measures distance "
                f"with {space!r}, newsqa needs {SPACE!r}; refusing to read or write it. Set "
                "QA_COLLECTION to another name (or --collection), or delete that collection "
                "(newsqa creates it itself)"
            )
        if MODEL_KEY in metadata:
            return collection
        if adopt:
            collection.modify(metadata={**metadata, MODEL_KEY: embedding_model})
        return collection

    @classmethod
    def open(
        cls,
        settings: Settings,
        embedding_model: str,
        name: str | None = None,
        *,
        create: bool = True,
        write: bool = True,
    ) -> ArticleStore:
        """The store, with its lexical index kept in step with every write made through it.
        Nothing is created until the first write; without `create`, a missing index is an
        IndexMissingError (`qa articles`). `write=False`: a reader (`qa ask`), which may run
        beside the one process that writes an embedded index; with `write` the process takes
        that index's writer lock (StoreBusyError when another process holds it)."""
        from index.lexical import LexicalIndex, lexical_dir

        lexical = LexicalIndex.at(lexical_dir(settings, name or settings.collection))

        def unusable(exc: OSError) -> LexicalDirError:
            setting = (
                "QA_BM25_DIR" if settings.bm25_dir else "QA_BM25_DIR (unset: QA_DATA_DIR/bm25)"
            )
            return LexicalDirError(
                f"{setting}={settings.bm25_path} cannot be used: "
                f"{exc.strerror or exc}: {exc.filename or lexical.directory}",
                reason=exc.strerror or type(exc).__name__,
            )

        try:  # before Chroma is touched: nothing gets written that BM25 would then miss
            lexical.check_usable(create=write)
        except OSError as exc:
            raise unusable(exc) from exc
        location = (
            f"QA_CHROMA_URL={settings.chroma_url}"
            if settings.chroma_url
            else f"the embedded Chroma in {settings.chroma_path}"
        )
        lock = hold_writer_lock(settings) if write and not settings.chroma_url else None
        release = lock.release if lock is not None else None
        try:
            store = cls(
                open_client(settings) if write else reader_client(settings),
                name or settings.collection,
                embedding_model,
                create=create,
                location=location,
            )
        except BaseException:
            if lock is not None:  # a dead holder's name stays: nobody has checked after it
                lock.release(lock.previous if lock.previous_died else "")
            raise
        store.read_only = not write
        store._connect = lambda: open_client(settings)
        store.previous_writer_died = lock is not None and lock.previous_died
        if release is not None:
            weakref.finalize(store, release)  # the last store of the process lets it go

        held = weakref.ref(store)  # no cycle: a store no longer used is freed (and its lock)

        def sync_lexical(stamp: float | None) -> None:
            current = held()
            if current is None:
                return
            try:
                lexical.sync(current, written_at=stamp)
            except OSError as exc:  # the directory broke after start (removed, read-only, full)
                raise unusable(exc) from exc

        store.after_write.append(sync_lexical)
        return store

    @contextmanager
    def dimension_guard(self) -> Iterator[None]:
        """Chroma's "expecting embedding with dimension of N, got M" as an
        EmbeddingMismatchError that says what to do (a collection keeps the vector size it
        first got, even once emptied)."""
        from chromadb.errors import InvalidArgumentError

        try:
            yield
        except InvalidArgumentError as exc:
            if "dimension" not in str(exc):
                raise
            raise EmbeddingMismatchError(
                f"collection {self.name!r} at {self.location} holds vectors of another size "
                f"than embedding model {self.embedding_model!r} makes ({exc}); ingest into a "
                "new collection (QA_COLLECTION) or configure the model it was built with"
            ) from exc

    # --- reading ------------------------------------------------------------------------------
    @property
    def chunk_collection(self) -> Any:
        """The Chroma collection of chunks (searches query it directly)."""
        return self._chunks

    @property
    def catalog_collection(self) -> Any:
        return self._catalog

    def revision(self) -> str:
        """Changes on every write by any process; cheap enough to call per query."""
        if not self.exists:
            return "0"
        return str(self._fresh_catalog_metadata().get("revision", "0"))

    def count_chunks(self) -> int:
        return self._chunks.count()

    def count_articles(self) -> int:
        return self._catalog.count()

    def catalog_hashes(self) -> dict[str, str]:
        """article_id -> content hash of every stored article."""
        hashes: dict[str, str] = {}
        for ids, metas, _ in self._page(self._catalog, include=["metadatas"]):
            for article_id, meta in zip(ids, metas, strict=True):
                hashes[article_id] = str(meta.get("content_hash", ""))
        return hashes

    def list_articles(self, with_body: bool = False) -> list[ArticleRecord]:
        include = ["metadatas", "documents"] if with_body else ["metadatas"]
        records = []
        for ids, metas, docs in self._page(self._catalog, include=include):
            for i, article_id in enumerate(ids):
                records.append(
                    ArticleRecord.from_chroma(article_id, metas[i], docs[i] if docs else None)
                )
        return sorted(records, key=lambda r: (r.published, r.title), reverse=True)

    def article_records(self, article_ids: Sequence[str]) -> dict[str, ArticleRecord]:
        """The catalog records of these articles (without bodies), by id; absent ones left out."""
        records: dict[str, ArticleRecord] = {}
        for start in range(0, len(article_ids), self._batch_size()):
            window = list(article_ids[start : start + self._batch_size()])
            got = self._catalog.get(ids=window, include=["metadatas"])
            for article_id, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
                records[article_id] = ArticleRecord.from_chroma(article_id, meta, None)
        return records

    def records_by_file(self, file_keys: Sequence[str]) -> list[ArticleRecord]:
        """The catalog records (without bodies) of articles that came alone from one of these
        files (`Article.file_key`); records stored before file keys existed have none."""
        found = []
        for start in range(0, len(file_keys), self._batch_size()):
            where = {"file_key": {"$in": list(file_keys[start : start + self._batch_size()])}}
            for ids, metas, _ in self._page(self._catalog, include=["metadatas"], where=where):
                found += [
                    ArticleRecord.from_chroma(a, m, None) for a, m in zip(ids, metas, strict=True)
                ]
        return found

    def set_place(self, article_id: str, origin: str, file_key: str) -> None:
        """Where a stored article comes from now: its origin, and the file keyed to it ("" when
        no file holds it alone any more)."""
        self._catalog.update(ids=[article_id], metadatas=[{"origin": origin, "file_key": file_key}])

    def near_duplicate_candidates(self, keys: Mapping[str, int]) -> list[tuple[str, str]]:
        """(article id, encoded MinHash) of stored articles sharing an LSH band key."""
        if not keys or not self.exists:
            return []
        self._ensure_band_keys()
        where = {"$or": [{field: key} for field, key in keys.items()]}
        found = []
        for ids, metas, _ in self._page(self._catalog, include=["metadatas"], where=where):
            found += [(aid, str(m.get("minhash", ""))) for aid, m in zip(ids, metas, strict=True)]
        return found

    def _ensure_band_keys(self) -> None:
        """Backfill the band keys of a catalog written before they were stored (once)."""
        if self._banded:
            return
        if self._fresh_catalog_metadata().get(BANDED_KEY) != BANDED_VALUE:
            for ids, metas, _ in self._page(self._catalog, include=["metadatas"]):
                missing = [  # page by page: a large catalog's metadata need not fit in memory
                    (aid, {**m, **stored_band_keys(str(m.get("minhash", "")))})
                    for aid, m in zip(ids, metas, strict=True)
                    if m.get("minhash") and BAND_FIELDS[0] not in m
                ]
                for start in range(0, len(missing), self._batch_size()):
                    window = missing[start : start + self._batch_size()]
                    self._catalog.update(
                        ids=[a for a, _ in window], metadatas=[m for _, m in window]
                    )
            meta = self._fresh_catalog_metadata()
            meta[BANDED_KEY] = BANDED_VALUE
            self._catalog.modify(metadata=meta)
        self._banded = True

    def _fresh_catalog_metadata(self) -> dict[str, Any]:
        """The catalog's collection metadata as stored now (the collection object caches it)."""
        catalog = self._client.get_collection(self.name + CATALOG_SUFFIX, embedding_function=None)
        return dict(catalog.metadata or {})

    def get_article(self, article_id: str) -> ArticleRecord | None:
        got = self._catalog.get(ids=[article_id], include=["metadatas", "documents"])
        if not got["ids"]:
            return None
        metadatas, documents = got["metadatas"] or [{}], got["documents"] or [""]
        return ArticleRecord.from_chroma(article_id, metadatas[0], documents[0])

    def iter_chunks(self) -> Iterator[StoredChunk]:
        for ids, metas, docs in self._page(self._chunks, include=["metadatas", "documents"]):
            for i, chunk_id in enumerate(ids):
                yield StoredChunk(chunk_id, docs[i], metas[i])

    def chunks_written_since(self, stamp: float) -> Iterator[StoredChunk]:
        """Chunks whose stored version was written at or after `stamp` (time.time())."""
        where = {STAMP_KEY: {"$gte": float(stamp)}}
        for ids, metas, docs in self._page(
            self._chunks, include=["metadatas", "documents"], where=where
        ):
            for i, chunk_id in enumerate(ids):
                yield StoredChunk(chunk_id, docs[i], metas[i])

    def deletions_after(self, position: int) -> tuple[list[tuple[str, float]], int]:
        """(chunk id, time) of the chunks this process deleted from this collection since
        `position` (a count returned by an earlier call; 0 at first), and the new position."""
        key = str(self._chunks.id)
        with _deletions_lock:
            entries = _deletions.get(key, [])
            dropped = _deletions_dropped.get(key, 0)
            start = max(position - dropped, 0)
            return list(entries[start:]), dropped + len(entries)

    def _log_deletions(self, chunk_ids: Sequence[str]) -> None:
        if not chunk_ids:
            return
        key, now = str(self._chunks.id), time.time()
        with _deletions_lock:
            entries = _deletions.setdefault(key, [])
            entries.extend((cid, now) for cid in chunk_ids)
            excess = len(entries) - _DELETION_LOG_SIZE
            if excess > 0:
                del entries[:excess]
                _deletions_dropped[key] = _deletions_dropped.get(key, 0) + excess

    def _notify(self, stamp: float | None = None) -> None:
        """Run the after-write listeners. A LexicalDirError (QA_BM25_DIR broke since start)
        is raised once they have all run: the write stands in Chroma, the lexical index
        catches up at the next sync that can write it (`catch_up`), and the caller must stop
        writing and say so. Other failures are logged: the listener catches up later."""
        broken: LexicalDirError | None = None
        for listener in self.after_write:
            try:
                listener(stamp)
            except LexicalDirError as exc:
                broken = broken or exc
            except Exception:  # the write is safe in Chroma; the listener catches up later
                log.warning("after-write listener of %s failed", self.name, exc_info=True)
        if broken is not None:
            raise broken

    def catch_up(self) -> None:
        """Bring the listeners (the lexical index) up to the store before writing: what an
        earlier run stored while QA_BM25_DIR could not be written is indexed now, and a
        directory that still cannot be written is a LexicalDirError before anything else is
        stored. Cheap when up to date (one revision check)."""
        if self.exists:
            self._notify()

    def get_chunks(self, chunk_ids: Sequence[str]) -> list[StoredChunk]:
        if not chunk_ids:
            return []
        got = self._chunks.get(ids=list(chunk_ids), include=["metadatas", "documents"])
        by_id = {
            cid: StoredChunk(cid, doc, meta)
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }
        return [by_id[cid] for cid in chunk_ids if cid in by_id]

    def chunk_embeddings(self, article_id: str) -> dict[str, StoredVectors]:
        """text_hash -> stored vectors of one article's chunks (reused when text is unchanged)."""
        got = self._chunks.get(
            where={"article_id": article_id}, include=["metadatas", "embeddings"]
        )
        embeddings = got.get("embeddings")
        if embeddings is None:
            return {}
        return {
            str(meta.get("text_hash")): StoredVectors(
                [float(x) for x in vector], str(meta.get(SENTENCE_VECTORS_KEY, ""))
            )
            for meta, vector in zip(got["metadatas"], embeddings, strict=True)
        }

    def query(
        self, embedding: Sequence[float], k: int, where: dict[str, Any] | None = None
    ) -> list[StoredChunk]:
        count = self._chunks.count()
        if count == 0:
            return []
        with self.dimension_guard():
            result = self._chunks.query(
                query_embeddings=[list(embedding)],
                n_results=min(k, count),
                where=where or None,
                include=["metadatas", "documents", "distances"],
            )
        return [
            StoredChunk(cid, doc, meta, float(dist))
            for cid, doc, meta, dist in zip(
                result["ids"][0],
                result["documents"][0],
                result["metadatas"][0],
                result["distances"][0],
                strict=True,
            )
        ]

    # --- writing ------------------------------------------------------------------------------
    def write_article(
        self,
        article: Article,
        chunks: Sequence[Chunk],
        embeddings: Sequence[Sequence[float]],
        *,
        minhash: str = "",
        near_duplicates: Sequence[str] = (),
    ) -> None:
        """Upsert one article (see `write_articles`)."""
        self.write_articles([ArticleWrite(article, chunks, embeddings, minhash, near_duplicates)])

    def write_articles(self, writes: Sequence[ArticleWrite]) -> None:
        """Upsert a group of articles with a handful of Chroma calls, whatever its size.

        Order (crash safety): chunks in, stale chunks out, links on other articles, and only
        then the catalog records, which mark the articles done. A crash anywhere before the
        last step leaves them "not done", so a re-run redoes them idempotently. The revision
        is bumped right before the catalog write and after it: a reader snapshot taken before
        the chunks landed can never carry the final revision, even if we die between the
        catalog write and the last bump (the re-run then has nothing to write, so nothing
        else would bump it). One call per group, not per article: each Chroma write is a
        commit (an fsync).
        """
        writes = [w for w in writes if w.chunks]
        if not writes:
            return
        self._check_writer()
        self._ensure_created()
        stamp = time.time()
        self._upsert_chunks(writes, stamp=stamp)
        self._delete_stale_chunks(writes)
        links = self._update_links(writes)
        records = [self._catalog_record(w, links[w.article.article_id]) for w in writes]
        self.bump_revision()
        for start in range(0, len(writes), self._batch_size()):
            window = slice(start, start + self._batch_size())
            self._catalog.upsert(
                ids=[w.article.article_id for w in writes[window]],
                embeddings=[list(CATALOG_VECTOR)] * len(writes[window]),
                documents=[w.article.body for w in writes[window]],
                metadatas=records[window],
            )
        self.bump_revision()
        self._notify(stamp)

    def delete_article(self, article_id: str) -> bool:
        """Delete the catalog record, every chunk and the links other articles hold to it.

        The record is first marked unfinished (its content hash blanked), so a crash part-way
        leaves an article that both a re-run of the delete and a re-ingest will redo.
        """
        existing = self.get_article(article_id)
        if existing is None:
            return False
        self._check_writer()
        self._catalog.update(ids=[article_id], metadatas=[{"content_hash": ""}])
        for other_id in existing.near_duplicates:
            self._set_links(other_id, remove={article_id})
        self._delete_chunks_except([article_id], set())
        self.bump_revision()  # before the record goes: a re-run after a crash here finds nothing
        self._catalog.delete(ids=[article_id])
        self.bump_revision()
        self._notify()
        return True

    def _check_writer(self) -> None:
        if self.read_only:
            raise StoreError(
                f"index {self.name!r} at {self.location} was opened to read only; open it "
                "with write=True to change it"
            )

    def bump_revision(self) -> None:
        global _local_writes
        meta = self._fresh_catalog_metadata()  # keeps what other processes set (BANDED_KEY)
        meta["revision"] = uuid.uuid4().hex
        self._catalog.modify(metadata=meta)
        _local_writes += 1

    def orphan_chunk_ids(self) -> list[str]:
        """Chunks whose article has no catalog record (left by an interrupted first ingest)."""
        known = set(self.catalog_hashes())
        return [c.chunk_id for c in self.iter_chunks() if c.metadata.get("article_id") not in known]

    def delete_chunks(self, chunk_ids: Sequence[str]) -> None:
        for start in range(0, len(chunk_ids), self._batch_size()):
            window = list(chunk_ids[start : start + self._batch_size()])
            self._chunks.delete(ids=window)
            self._log_deletions(window)
        if chunk_ids:
            self.bump_revision()
            self._notify()

    # --- internals ----------------------------------------------------------------------------
    @staticmethod
    def _chunk_metadata(
        base: dict[str, Any], chunk: Chunk, sentences: str, stamp: float
    ) -> dict[str, Any]:
        meta = {
            **base,
            "chunk_index": chunk.index,
            "start": chunk.start,
            "end": chunk.end,
            "header": chunk.header,
            "text_hash": chunk.text_hash,
            STAMP_KEY: stamp,
        }
        if sentences:
            meta[SENTENCE_VECTORS_KEY] = sentences
        return meta

    def _upsert_chunks(self, writes: Sequence[ArticleWrite], stamp: float) -> None:
        rows: list[tuple[Chunk, Sequence[float], dict[str, Any]]] = []
        for w in writes:
            base = w.article.metadata()
            sentences = w.sentence_vectors or [""] * len(w.chunks)
            rows.extend(
                (chunk, vector, self._chunk_metadata(base, chunk, codes, stamp))
                for chunk, vector, codes in zip(w.chunks, w.embeddings, sentences, strict=True)
            )
        for start in range(0, len(rows), self._batch_size()):
            window = rows[start : start + self._batch_size()]
            with self.dimension_guard():
                self._chunks.upsert(
                    ids=[chunk.chunk_id for chunk, _, _ in window],
                    embeddings=[list(vector) for _, vector, _ in window],
                    documents=[chunk.text for chunk, _, _ in window],
                    metadatas=[meta for _, _, meta in window],
                )

    def _delete_stale_chunks(self, writes: Sequence[ArticleWrite]) -> None:
        keep = {chunk.chunk_id for w in writes for chunk in w.chunks}
        self._delete_chunks_except([w.article.article_id for w in writes], keep)

    def _delete_chunks_except(self, article_ids: Sequence[str], keep: set[str]) -> None:
        for start in range(0, len(article_ids), self._batch_size()):
            window = list(article_ids[start : start + self._batch_size()])
            where = (
                {"article_id": window[0]} if len(window) == 1 else {"article_id": {"$in": window}}
            )
            got = self._chunks.get(where=where, include=[])
            stale = [cid for cid in got["ids"] if cid not in keep]
            for first in range(0, len(stale), self._batch_size()):
                self._chunks.delete(ids=stale[first : first + self._batch_size()])
            self._log_deletions(stale)

    def _update_links(self, writes: Sequence[ArticleWrite]) -> dict[str, set[str]]:
        """Near-duplicate links of the group, made symmetric, and fixed on other articles.

        Articles outside the group gain a link to a new copy and lose the link to one that no
        longer matches; inside the group both ends are written with the catalog records.
        """
        in_group = {w.article.article_id for w in writes}
        links: dict[str, set[str]] = {aid: set() for aid in in_group}
        for w in writes:
            article_id = w.article.article_id
            for other_id in set(w.near_duplicates) - {article_id}:
                links[article_id].add(other_id)
                if other_id in in_group:
                    links[other_id].add(article_id)
        previous = self._stored_links(sorted(in_group))
        for article_id, linked in links.items():
            for other_id in linked - in_group:
                self._set_links(other_id, add={article_id})
            for other_id in previous.get(article_id, set()) - linked - in_group:
                self._set_links(other_id, remove={article_id})
        return links

    def _stored_links(self, article_ids: Sequence[str]) -> dict[str, set[str]]:
        got = self._catalog.get(ids=list(article_ids), include=["metadatas"])
        return {
            article_id: set(json.loads(str(meta.get("near_duplicates", "[]")) or "[]"))
            for article_id, meta in zip(got["ids"], got["metadatas"], strict=True)
        }

    @staticmethod
    def _catalog_record(write: ArticleWrite, links: set[str]) -> dict[str, Any]:
        return {
            **write.article.metadata(),
            "n_chunks": len(write.chunks),
            "origin": write.article.origin,
            "file_key": write.article.file_key,
            "minhash": write.minhash,
            **stored_band_keys(write.minhash),
            "near_duplicates": json.dumps(sorted(links)),
            # Every chunk carries sentence vectors; an ingest that can make them redoes
            # articles stored without (older stores, or another embedding path).
            "sentence_vectors": bool(write.sentence_vectors) and all(write.sentence_vectors),
        }

    def _set_links(
        self, article_id: str, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> None:
        got = self._catalog.get(ids=[article_id], include=["metadatas"])
        if not got["ids"]:
            return
        meta = dict(got["metadatas"][0])
        links = set(json.loads(str(meta.get("near_duplicates", "[]")) or "[]"))
        updated = (links | set(add)) - set(remove)
        if updated != links:
            meta["near_duplicates"] = json.dumps(sorted(updated))
            self._catalog.update(ids=[article_id], metadatas=[meta])

    def _batch_size(self) -> int:
        if self._max_batch is None:
            try:
                self._max_batch = max(1, min(1000, int(self._client.get_max_batch_size())))
            except Exception:  # older servers do not report it
                self._max_batch = 500
        return self._max_batch

    @staticmethod
    def _page(
        collection: Any, include: list[str], where: dict[str, Any] | None = None
    ) -> Iterator[tuple[list, list, list]]:
        offset = 0
        while True:
            got = collection.get(include=include, where=where, limit=_PAGE, offset=offset)
            ids = got["ids"]
            if not ids:
                return
            yield ids, got.get("metadatas") or [], got.get("documents") or []
            if len(ids) < _PAGE:
                return
            offset += len(ids)
