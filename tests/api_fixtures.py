"""Shared helpers for the HTTP tests: a small seeded index, a real uvicorn server on a free
loopback port (in a thread or a `qa serve` subprocess), and a real `chroma run` server.

Plain functions and context managers, so each test module wraps them in its own fixtures.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from index.offline import apply_offline_defaults

apply_offline_defaults()

from index.settings import SAMPLE_CORPUS, Settings  # noqa: E402 - after the offline env defaults

VENV_BIN = Path(sys.executable).parent
SEED_DIR = SAMPLE_CORPUS  # holds the seed article only
SEED_QUESTION = "which countries back Maduro?"
SERVER_START_TIMEOUT_S = 180.0  # model loading on a busy 2-core machine
CHROMA_START_TIMEOUT_S = 90.0

# Two small documents beside the seed, with facts found nowhere else.
SMALL_DOCS: dict[str, str] = {
    "lighthouse.md": (
        "---\ntitle: Harbour lighthouse reopens after restoration\nsource: Coastal Gazette\n"
        "published: 2023-05-04\nurl: https://example.org/news/lighthouse-reopens\n---\n\n"
        "The Pellworth harbour lighthouse reopened on Thursday after a two-year restoration "
        "that cost 3.4 million euros. The keeper, Ilse Marwede, said the new lens is visible "
        "for 22 nautical miles.\n\nVisitors can climb the 131 steps on weekends from June.\n"
    ),
    "orchard.md": (
        "---\ntitle: Cider orchard wins regional prize\nsource: Valley Times\n"
        "published: 2022-09-18\n---\n\n"
        "The Brambleford cider orchard won the regional fruit prize for its russet apples. "
        "Owner Tomasz Wielgus planted the first 400 trees in 1998.\n"
    ),
}


def offline_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "ORT_DISABLE_TELEMETRY": "1",
    }
    env.update(extra)
    return env


def write_small_docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in SMALL_DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@functools.cache
def shared_embedding() -> Any:
    """One embedding model per test session: loading it is the slow part of an Assistant."""
    from index.embedding import make_embedding

    return make_embedding(Settings())


def make_assistant(
    data_dir: Path, *, chroma_url: str | None = None, ingest: bool = True, **overrides: Any
) -> Any:
    """An Assistant over a fresh index in `data_dir`: the seed article plus SMALL_DOCS."""
    from index.service import IndexService
    from qa.assistant import Assistant

    settings = Settings(data_dir=data_dir, chroma_url=chroma_url, **overrides)
    service = IndexService(settings, embedding=shared_embedding())
    if ingest:
        report = service.ingest_paths([SEED_DIR, write_small_docs(data_dir / "docs")])
        assert report.ok and report.added == 1 + len(SMALL_DOCS), report.to_dict()
    return Assistant(settings, service=service)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_in_thread(app: Any, lifespan: str = "off") -> Iterator[str]:
    """Run `app` with uvicorn on a free loopback port in a daemon thread; yields its URL.
    A mounted chat window needs lifespan="on": Gradio starts its queue workers at start-up,
    and without them every chat event waits forever."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound here, so no other process can take the port
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def wait_for(url: str, timeout_s: float, process: subprocess.Popen | None = None) -> float:
    """Poll GET `url` until 200; returns the seconds waited."""
    started = time.monotonic()
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"{url} not up within {timeout_s} s")
        time.sleep(0.1)


class ChromaServer:
    """A real `chroma run` subprocess on loopback that can be stopped and restarted."""

    def __init__(self, path: Path, port: int | None = None) -> None:
        self.path = path
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self.log = path.parent / f"chroma-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start and wait for the heartbeat; returns the start-up seconds."""
        chroma = shutil.which("chroma", path=str(VENV_BIN)) or "chroma"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    chroma,
                    "run",
                    "--path",
                    str(self.path),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=offline_env(),
            )
        return wait_for(f"{self.url}/api/v2/heartbeat", CHROMA_START_TIMEOUT_S, self.process)

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def __enter__(self) -> ChromaServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


class QAServer:
    """A `qa serve` subprocess on a free loopback port."""

    def __init__(self, data_dir: Path, *, sample: bool = True, **env: str) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.env = env
        self.sample = ["--sample"] if sample else []  # as `make serve` starts it
        self.process: subprocess.Popen | None = None
        self.log = data_dir.parent / f"qa-serve-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = offline_env(QA_DATA_DIR=str(self.data_dir), **self.env)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *(str(VENV_BIN / "qa"), "serve", "--host", "127.0.0.1"),
                    *("--port", str(self.port), *self.sample),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.data_dir,
            )

    def wait_ready(self) -> float:
        return wait_for(f"{self.url}/api/v1/health", SERVER_START_TIMEOUT_S, self.process)

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def stop_process(process: subprocess.Popen | None) -> None:
    """SIGTERM this one process (by its pid), SIGKILL if it lingers."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
