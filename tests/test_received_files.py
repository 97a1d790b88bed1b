"""No server paths from clients: the chat window reads only files Gradio received as uploads,
bounded, and never a path a client names; Gradio's uploads obey the API's limits and are
deleted after use and on a schedule; names are metadata, origins and errors show no paths.

Each test here was a way in before (issue 16): the ingest handler took any path
(`{"path": "/some/dir/creds.txt", "meta": {"_type": "gradio.FileData"}}` was ingested and
quoted back), `/dev/zero` froze the event loop, uploads had no size limit, a long file name
was a 500, an article's origin was its absolute server path.
"""

from __future__ import annotations

import html
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from index.limits import MAX_FILE_BYTES, MAX_UPLOAD_FILES
from qa.uploads import REFUSED_NAME
from tests.access_fixtures import event_index, file_data, run_event
from tests.api_fixtures import make_assistant, serve_in_thread

SECRET = "The database password is hunter2-quokka."


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_assistant(tmp_path_factory.mktemp("received") / "data")


@pytest.fixture(scope="module")
def url(assistant: Any) -> Iterator[str]:
    from qa.server import build_server

    with serve_in_thread(build_server(assistant.settings, assistant), lifespan="on") as base:
        yield base


@pytest.fixture
def http(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=httpx.Timeout(10.0)) as client:
        yield client


def upload_dir() -> Path:
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder())


def secret_file(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "creds.txt"
    path.write_text(f"Server credentials\n\n{SECRET}\n", encoding="utf-8")
    return path


def ingest_paths(http: httpx.Client, paths: list[str]) -> tuple[httpx.Response, Any]:
    fn_index = event_index(http, "qa-ingest")
    return run_event(http, fn_index, [[file_data(p) for p in paths], ""])


def refused_in(http: httpx.Client, path: str) -> float:
    """Seconds the door takes to refuse an ingest of `path` (400 not_an_upload asserted).
    Milliseconds when idle (docs/reliability.md); the bound leaves room for a busy machine,
    while the code before this fix never answered (it hashed /dev/zero forever)."""
    fn_index = event_index(http, "qa-ingest")
    body = {"data": [[file_data(path)], ""], "fn_index": fn_index, "session_hash": "refused"}
    started = time.perf_counter()
    reply = http.post("/gradio_api/queue/join", json=body)
    took = time.perf_counter() - started
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["code"] == "not_an_upload"
    assert path not in reply.text
    return took


# --- paths a client names -----------------------------------------------------------------------
def test_a_client_path_is_never_ingested(
    http: httpx.Client, assistant: Any, tmp_path: Path
) -> None:
    secret = secret_file(tmp_path / "elsewhere")
    assert refused_in(http, str(secret)) < 2.0
    assert not [a for a in assistant.list_articles() if "hunter2" in (a.body or "")]
    assert "hunter2" not in str(assistant.search("database password").passages)


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/urandom", "fifo", "symlink-out", "dir"])
def test_devices_fifos_symlinks_and_folders_are_refused_in_milliseconds(
    http: httpx.Client, url: str, tmp_path: Path, target: str
) -> None:
    if target == "fifo":
        path = upload_dir() / f"fifo-{os.getpid()}.txt"
        path.unlink(missing_ok=True)
        os.mkfifo(path)
    elif target == "symlink-out":
        path = upload_dir() / f"link-{os.getpid()}.txt"
        path.unlink(missing_ok=True)
        path.symlink_to(secret_file(tmp_path))
    elif target == "dir":
        path = upload_dir()
    else:
        path = Path(target)
    health = HealthWatch(url)
    try:
        assert refused_in(http, str(path)) < 2.0
    finally:
        health.stop()
        if target in ("fifo", "symlink-out"):
            path.unlink(missing_ok=True)
    assert health.worst_s < 2.0, f"health took {health.worst_s:.2f} s during the attack"


class HealthWatch:
    """Polls /api/v1/health from a thread; records the slowest reply."""

    def __init__(self, url: str) -> None:
        self.url, self.worst_s, self._stop = url, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    client.get("/api/v1/health")
                    took = time.perf_counter() - started
                except httpx.HTTPError:
                    took = 10.0
                self.worst_s = max(self.worst_s, took)
                time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)


def test_the_handler_itself_reads_only_received_files(assistant: Any, tmp_path: Path) -> None:
    """Second layer: called with a path (as the door would never let through), the ingest
    handler refuses it and names no path."""
    from qa.chat_handlers import ChatController

    received = tmp_path / "received"
    received.mkdir()
    chat = ChatController(assistant, assistant.settings, upload_dir=str(received))
    secret = secret_file(tmp_path / "elsewhere")
    status = chat.ingest([str(secret)], "")[0]
    assert "qa-status-error" in status and "did not receive" in status
    assert str(tmp_path) not in status
    assert secret.exists(), "a file outside the upload folder was deleted"


# --- uploads through Gradio ---------------------------------------------------------------------
def test_gradio_upload_size_is_capped_per_file_and_per_upload(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file over the limit is refused on its own (at the ingest); a body over a whole
    upload's limit (MAX_UPLOAD_BODY_BYTES, lowered here) is refused at the door, declared or
    streamed, and the connection goes on."""
    big = http.post(
        "/gradio_api/upload", files=[("files", ("big.txt", b"w" * (MAX_FILE_BYTES + 1)))]
    )
    assert big.status_code == 200, big.text[:300]
    stored = Path(big.json()[0])
    assert stored.name == REFUSED_NAME and stored.stat().st_size < 1000  # no byte of it kept
    reply, done = ingest_paths(http, big.json())
    status = html.unescape(done["output"]["data"][0]) if done else reply.text
    assert "'big.txt' is too large: 10.0 MB; the limit is 10 MB per file" in status, status
    import qa.access.middleware

    limit = 2 * MAX_FILE_BYTES
    monkeypatch.setattr(qa.access.middleware, "MAX_UPLOAD_BODY_BYTES", limit)
    headers = {"content-type": "multipart/form-data; boundary=xyz"}
    declared = http.post("/gradio_api/upload", content=b"x" * (limit + 1), headers=headers)
    start = b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="w.txt"\r\n\r\n'
    chunks = [start] + [b"w" * 2**20] * (limit // 2**20 + 1)
    streamed = http.post("/gradio_api/upload", content=iter(chunks), headers=headers)
    for huge in (declared, streamed):
        assert huge.status_code == 413, huge.text[:300]
        assert huge.text.startswith("request body is"), huge.text[:300]
    assert http.get("/api/v1/health").status_code == 200  # the same connection goes on


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("a" * 300 + ".txt", 400),
        ("é" * 200 + ".md", 400),  # 400 bytes of UTF-8
        ("nul\x00byte.txt", 400),
        ("line\nbreak.txt", 400),
        ("../../etc/passwd.txt", 400),
        ("report.docx", 415),
        ("noext", 415),
        ("...", 400),
    ],
)
def test_gradio_upload_names_are_checked_like_the_api(
    http: httpx.Client, name: str, status: int
) -> None:
    """The API refuses the name; the chat window stores a placeholder and its ingest names
    the file with the same message."""
    reply = http.post(
        "/gradio_api/upload",
        content=raw_multipart(name.encode("utf-8"), b"x"),
        headers={"content-type": "multipart/form-data; boundary=b0undary"},
    )
    assert reply.status_code == 200, reply.text[:300]
    assert [Path(p).name for p in reply.json()] == [REFUSED_NAME]
    api = http.post(
        "/api/v1/articles",
        content=raw_multipart(name.encode("utf-8"), b"x"),
        headers={"content-type": "multipart/form-data; boundary=b0undary"},
    )
    assert api.status_code == status
    _, done = ingest_paths(http, reply.json())
    assert done is not None and done["success"], done
    assert api.json()["detail"] in html.unescape(done["output"]["data"][0])


def test_one_bad_file_does_not_refuse_its_batch(http: httpx.Client, assistant: Any) -> None:
    """Gradio's client sends a batch in one request: a wrong type, an oversized file and names
    the limits refuse used to refuse it whole (the door's 4xx, Gradio's own size and type
    checks), so the good files were not ingested either. Now each bad one is named with its
    reason in the ingest status, and the good ones are stored."""
    good = b"# Tram line opens in Selby\n\nThe Selby tram line opened on Friday.\n"
    batch = [
        ("tram.md", good),
        ("report.docx", b"PK\x03\x04"),
        ("big.txt", b"w" * (MAX_FILE_BYTES + 1)),
        ("...", b"dots"),
        ("n" * 300 + ".txt", b"long"),
        ("ferry.md", b"# Ferry resumes in Selby\n\nThe Selby ferry resumed on Sunday.\n"),
    ]
    body = b"".join(
        b'--b0undary\r\nContent-Disposition: form-data; name="files"; filename="'
        + name.encode()
        + b'"\r\nContent-Type: text/plain\r\n\r\n'
        + data
        + b"\r\n"
        for name, data in batch
    )
    upload = http.post(
        "/gradio_api/upload",
        content=body + b"--b0undary--\r\n",
        headers={"content-type": "multipart/form-data; boundary=b0undary"},
        timeout=60,
    )
    assert upload.status_code == 200, upload.text[:300]
    paths = upload.json()
    assert len(paths) == len(batch)
    reply, done = ingest_paths(http, paths)
    assert done is not None and done["success"], reply.text
    status = html.unescape(done["output"]["data"][0])
    assert "2 added" in status and "qa-status-error" in status, status
    for expected in (
        "unsupported file type '.docx' for 'report.docx'",
        "'big.txt' is too large",
        "refusing file name '...'",
        f"file name '{'n' * 80}…' is 304 bytes; the limit is 255",
    ):
        assert expected in status, (expected, status)
    titles = {a.title for a in assistant.list_articles()}
    assert {"Tram line opens in Selby", "Ferry resumes in Selby"} <= titles
    assert not [p for p in paths if Path(p).exists()], "Gradio's copies were kept"


def test_a_refused_gradio_upload_is_a_sentence_a_toast_shows_as_text(http: httpx.Client) -> None:
    """What still refuses a whole upload (here: too many files) is the message alone, which
    Gradio's client toasts as HTML."""
    files = [("files", (f"a<b>{i}.txt", b"x")) for i in range(MAX_UPLOAD_FILES + 1)]
    reply = http.post("/gradio_api/upload", files=files)
    assert reply.status_code == 413 and reply.headers["content-type"].startswith("text/plain")
    assert reply.text == f"{MAX_UPLOAD_FILES + 1} files; the limit is {MAX_UPLOAD_FILES} per upload"


def raw_multipart(name: bytes, data: bytes) -> bytes:
    """A multipart body with the file name's bytes as they are (httpx would escape them)."""
    return (
        b'--b0undary\r\nContent-Disposition: form-data; name="files"; filename="'
        + name
        + b'"\r\nContent-Type: text/plain\r\n\r\n'
        + data
        + b"\r\n--b0undary--\r\n"
    )


def test_uploaded_files_are_ingested_then_deleted(http: httpx.Client, assistant: Any) -> None:
    text = b"# Quarry museum opens in Dunlow\n\nThe Dunlow quarry museum opened on Monday.\n"
    paths = http.post("/gradio_api/upload", files=[("files", ("quarry.md", text))]).json()
    assert Path(paths[0]).is_file()
    reply, done = ingest_paths(http, paths)
    assert reply.status_code == 200 and done is not None and done["success"], done
    status = done["output"]["data"][0]
    assert "1 added" in status, status
    assert not Path(paths[0]).exists(), "Gradio's copy was kept after the ingest"
    stored = [a for a in assistant.list_articles() if a.title.startswith("Quarry museum")]
    assert stored and stored[0].origin == "upload:quarry.md"


def test_a_name_with_dots_inside_is_uploaded_and_ingested(http: httpx.Client) -> None:
    text = b"# Ferry timetable changes in Arlow\n\nThe Arlow ferry sails hourly from May.\n"
    upload = http.post("/gradio_api/upload", files=[("files", ("ferry..final.md", text))])
    assert upload.status_code == 200, upload.text
    reply, done = ingest_paths(http, upload.json())
    assert done is not None and "1 added" in done["output"]["data"][0], reply.text


def test_ingest_errors_name_the_file_not_the_server_path(http: httpx.Client) -> None:
    paths = http.post("/gradio_api/upload", files=[("files", ("broken.json", b'{"x": '))]).json()
    reply, done = ingest_paths(http, paths)
    assert done is not None, reply.text
    status = html.unescape(done["output"]["data"][0])
    assert "broken.json" in status and str(upload_dir()) not in status and "/tmp" not in status


def test_article_origins_show_names_not_server_paths(http: httpx.Client) -> None:
    articles = http.get("/api/v1/articles").json()["articles"]
    assert articles and all("/" not in a["origin"] for a in articles), [
        a["origin"] for a in articles
    ]


def test_uploads_left_behind_are_deleted_on_a_schedule(
    assistant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ui
    from qa.server import build_server

    monkeypatch.setattr(ui, "DELETE_EVERY_S", 1)
    monkeypatch.setattr(ui, "DELETE_AFTER_S", 1)
    with serve_in_thread(build_server(assistant.settings, assistant), lifespan="on") as base:
        reply = httpx.post(
            base + "/gradio_api/upload", files=[("files", ("left.txt", b"never ingested"))]
        )
        path = Path(reply.json()[0])
        assert path.exists()
        deadline = time.monotonic() + 20
        while path.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not path.exists(), "an upload nobody ingested is still there after 20 s"


@pytest.mark.slow
def test_qa_serve_keeps_uploads_in_a_private_folder_it_removes_on_sigterm(tmp_path: Path) -> None:
    """Not the machine-wide /tmp/gradio: a 0700 folder of this process, gone after SIGTERM
    (uvicorn re-raises the signal after its graceful shutdown, which used to skip the clean-up).
    """
    from tests.api_fixtures import QAServer

    server = QAServer(tmp_path / "data", QA_API_KEY="k")
    server.start()
    try:
        server.wait_ready()
        reply = httpx.post(
            server.url + "/gradio_api/upload",
            files=[("files", ("a.txt", b"some text"))],
            headers={"Authorization": "Bearer k"},
        )
        root = Path(reply.json()[0]).parent.parent
        assert root.name.startswith("newsqa-uploads-") and root.stat().st_mode & 0o077 == 0
    finally:
        server.stop()
    assert not root.exists()
