"""No network: the socket guard really refuses, and ingest + dense search never need it."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from index.embedding import make_embedding
from index.offline import OFFLINE_DEFAULTS, apply_offline_defaults
from index.service import IndexService
from index.settings import Settings
from tests.conftest import NetworkBlockedError

UNROUTABLE = ("10.255.255.1", 80)


class WouldSend(AssertionError):
    pass


@pytest.fixture
def real_connect_spy(monkeypatch) -> list[object]:
    """Stands in for the real `connect` *under* the guard: records loopback connects it lets
    through, and fails loudly if a non-loopback address ever gets this far."""
    calls: list[object] = []
    real_connect = socket.socket.connect

    def spy(self: socket.socket, address: object) -> None:
        calls.append(address)
        if isinstance(address, tuple) and not str(address[0]).startswith(("127.", "::1")):
            raise WouldSend(f"the guard let a connect to {address!r} through")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    return calls


def test_guard_refuses_outbound_connects_before_anything_is_sent(real_connect_spy, request):
    guard = request.getfixturevalue("socket_guard")  # installed on top of the spy

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)  # should the guard fail, fail fast instead of hanging
        with pytest.raises(NetworkBlockedError):
            sock.connect(UNROUTABLE)
        with pytest.raises(NetworkBlockedError):
            sock.connect_ex(UNROUTABLE)
    with pytest.raises(NetworkBlockedError):
        socket.create_connection(UNROUTABLE, timeout=0.5)
    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("example.com", 443)

    assert real_connect_spy == [], "nothing may reach the real connect"
    assert len(guard.blocked) == 4
    assert "10.255.255.1" in guard.blocked[0]


def test_guard_lets_loopback_and_unix_sockets_through(real_connect_spy, request, tmp_path):
    guard = request.getfixturevalue("socket_guard")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        with socket.create_connection(("localhost", port), timeout=2):
            pass
    if socket.has_ipv6:
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as server6:
                server6.bind(("::1", 0))
                server6.listen(1)
                with socket.create_connection(("::1", server6.getsockname()[1]), timeout=2):
                    pass
        except OSError as exc:  # IPv6 compiled in but not configured in this container
            assert not isinstance(exc, NetworkBlockedError)
    path = str(tmp_path / "s.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix_server:
        unix_server.bind(path)
        unix_server.listen(1)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
    assert guard.blocked == []
    assert ("127.0.0.1", port) in real_connect_spy


def test_ingest_and_dense_query_make_no_connection(
    socket_guard, settings: Settings, embedding, seed_path: Path, tmp_path
):
    note = tmp_path / "note.md"
    note.write_text(
        "---\ntitle: Harbour lighthouse reopens\nsource: Coastal Gazette\n---\n\n"
        "The harbour lighthouse reopened after a two-year restoration.\n",
        encoding="utf-8",
    )
    # Client creation, ingest and query all happen under the guard.
    service = IndexService(settings, embedding=embedding)
    report = service.ingest_paths([seed_path, note])
    assert (report.added, report.failed) == (2, 0)

    question = "Which countries back Maduro at the UN Security Council?"
    hits = service.store.query(embedding.get_query_embedding(question), k=3)

    assert hits and "Venezuela" in hits[0].search_text
    assert hits[0].metadata["article_id"] != "https://gazette.test/lighthouse"
    assert socket_guard.blocked == [], f"outbound attempts: {socket_guard.blocked}"


def test_loading_the_embedding_model_needs_no_network(socket_guard):
    model = make_embedding(Settings(embedding="minilm"))
    vectors = model.get_text_embedding_batch(["offline", "still offline"])
    assert len(vectors) == 2 and len(vectors[0]) == 384
    assert socket_guard.blocked == []


def test_offline_defaults_are_set_and_never_override_the_user(monkeypatch):
    for name, value in OFFLINE_DEFAULTS.items():
        assert os.environ.get(name) == value, name
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    apply_offline_defaults()
    assert os.environ["HF_HUB_OFFLINE"] == "0"


def test_guard_also_covers_other_threads(socket_guard):
    failures: list[BaseException] = []

    def reach_out() -> None:
        try:
            socket.create_connection(UNROUTABLE, timeout=0.5)
        except BaseException as exc:  # collected and checked in the test thread
            failures.append(exc)

    worker = threading.Thread(target=reach_out)
    worker.start()
    worker.join(5)
    assert len(failures) == 1 and isinstance(failures[0], NetworkBlockedError)
