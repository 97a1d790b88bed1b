"""Shared fixtures: offline env, embeddings, fresh settings, corpus slices, a real Chroma server
and a socket guard.

The offline env defaults go first, before anything imports gradio, chromadb or onnxruntime:
those read their telemetry/analytics flags at import or start-up.
"""

from index.offline import apply_offline_defaults

apply_offline_defaults()

# ruff: noqa: E402 - every import below must come after the offline env defaults
import hashlib
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from index.embedding import make_embedding
from index.settings import SAMPLE_CORPUS, Settings
from qa.eval import multihop

SEED_PATH = SAMPLE_CORPUS / "venezuela-2019-01-26.txt"  # the user's seed article
CHROMA_START_TIMEOUT_S = 30.0


# --- embeddings --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def embedding() -> BaseEmbedding:
    """The real offline MiniLM, loaded once per session (~1 s); minilm whatever QA_EMBEDDING
    says, so a developer's env can never make the tests call OpenAI."""
    return make_embedding(Settings(embedding="minilm"))


HASH_MODEL_ID = "test-hashed-bow-64"
_WORD = re.compile(r"\w+")


class HashEmbedding(BaseEmbedding):
    """A deterministic bag-of-words hashing embedding: thousands of texts per second.

    For tests where the vector space does not matter (ids, offsets, upserts, crashes): equal
    texts get equal vectors, texts sharing words get a positive cosine, so a dense query still
    finds the chunk that contains its words. `texts_embedded` counts what was really embedded.
    """

    model_name: str = HASH_MODEL_ID
    dim: int = 64
    _texts_embedded: list[str] = PrivateAttr(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "HashEmbedding"

    @property
    def texts_embedded(self) -> list[str]:
        return self._texts_embedded

    def vector(self, text: str) -> list[float]:
        out = np.zeros(self.dim)
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
            out[int.from_bytes(digest, "little") % self.dim] += 1.0
        norm = np.linalg.norm(out)
        return (out / norm).tolist() if norm else [1.0] + [0.0] * (self.dim - 1)

    def embed_texts(self, texts: list[str]) -> list[list[float]]:
        self._texts_embedded.extend(texts)
        return [self.vector(text) for text in texts]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.vector(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.embed_texts([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.embed_texts(texts)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)


@pytest.fixture
def hash_embedding() -> HashEmbedding:
    """A fresh (call-counting) fast fake embedding per test."""
    return HashEmbedding()


# --- storage and settings ----------------------------------------------------------------------


def _fast_base() -> str | None:
    """/dev/shm when writable: Chroma fsyncs every write, which costs 10x more on a disk."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


@pytest.fixture
def fresh_dir(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """A factory of empty directories (on tmpfs when there is one), removed after the test."""
    made: list[Path] = []

    def make(prefix: str = "data") -> Path:
        base = _fast_base()
        path = (
            Path(tempfile.mkdtemp(prefix=f"newsqa-{prefix}-", dir=base))
            if base
            else (Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=tmp_path)))
        )
        made.append(path)
        return path

    yield make
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_settings(fresh_dir: Callable[[str], Path]) -> Callable[..., Settings]:
    """Settings over a new empty data dir per call, never a server (whatever QA_* says)."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": fresh_dir("data"),
            "chroma_url": None,
            "collection": "articles",
        }
        return Settings(**{**values, **overrides})

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """Fresh Settings over an empty data dir."""
    return make_settings()


# --- data --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def seed_path() -> Path:
    return SEED_PATH


@pytest.fixture(scope="session")
def corpus_records() -> list[dict[str, Any]]:
    """The MultiHop-RAG corpus (vendored in qa/eval/data) as parsed JSON records (read once)."""
    return multihop.corpus_records()


@pytest.fixture(scope="session")
def bodies(corpus_records: list[dict[str, Any]]) -> dict[str, str]:
    """Each corpus article's body by its url: where the question sets' evidence must be."""
    return {article["url"]: article["body"] for article in corpus_records}


@pytest.fixture
def corpus_slice(corpus_records: list[dict[str, Any]], tmp_path: Path) -> Callable[..., Path]:
    """`corpus_slice(n, start=0)`: records[start:start+n] of the corpus, as a corpus.json."""

    def make(n: int = 10, start: int = 0, name: str = "corpus.json") -> Path:
        path = tmp_path / "slices" / f"{start}-{n}" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(corpus_records[start : start + n]), encoding="utf-8")
        return path

    return make


# --- a real Chroma server ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`chroma run` on a free loopback port for the whole session; yields its base URL.

    Tests share it, so each one should use its own collection name.
    """
    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        pytest.skip(f"no chroma console script at {chroma}")
    base = _fast_base()
    root = (
        Path(tempfile.mkdtemp(prefix="newsqa-chroma-server-", dir=base))
        if base
        else tmp_path_factory.mktemp("chroma-server")
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = root / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(chroma),
                "run",
                "--path",
                str(root / "db"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ},
        )
    try:
        _wait_for_heartbeat(url, process, log_path)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if base:
            shutil.rmtree(root, ignore_errors=True)


def _wait_for_heartbeat(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + CHROMA_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"chroma run exited with {process.returncode}:\n"
                f"{log_path.read_text(errors='replace')[-2000:]}"
            )
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    pytest.fail(
        f"chroma run did not answer its heartbeat within {CHROMA_START_TIMEOUT_S} s:\n"
        f"{log_path.read_text(errors='replace')[-2000:]}"
    )


# --- no network --------------------------------------------------------------------------------


class NetworkBlockedError(OSError):
    """Raised by the socket guard instead of connecting anywhere but loopback."""


@dataclass
class SocketGuard:
    """What the guard refused. Libraries may swallow the error, so tests assert on this list."""

    blocked: list[str] = field(default_factory=list)

    def refuse(self, what: str) -> NetworkBlockedError:
        self.blocked.append(what)
        return NetworkBlockedError(f"test socket guard: outbound connection refused: {what}")


_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def _is_loopback_host(host: Any) -> bool:
    if host is None or host == "":
        return True  # getaddrinfo(None, port) means the local host
    if isinstance(host, bytes):
        host = host.decode("ascii", errors="replace")
    host = str(host).split("%", 1)[0]
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name that would need DNS
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def _is_allowed_address(family: int, address: Any) -> bool:
    if family == getattr(socket, "AF_UNIX", object()):
        return True
    if isinstance(address, tuple) and address:
        return _is_loopback_host(address[0])
    return False


@pytest.fixture
def socket_guard(monkeypatch: pytest.MonkeyPatch) -> SocketGuard:
    """Make every non-loopback connect (and name lookup) raise, before any packet is sent.

    Allowed: 127.0.0.0/8, ::1 (and v4-mapped loopback), 'localhost', unix sockets.
    """
    guard = SocketGuard()
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create_connection = socket.create_connection
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if not _is_allowed_address(self.family, address):
            raise guard.refuse(f"connect {address!r}")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not _is_allowed_address(self.family, address):
            raise guard.refuse(f"connect_ex {address!r}")
        return real_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        if not _is_loopback_host(address[0]):
            raise guard.refuse(f"create_connection {address!r}")
        return real_create_connection(address, *args, **kwargs)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback_host(host):
            raise guard.refuse(f"getaddrinfo {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return guard
