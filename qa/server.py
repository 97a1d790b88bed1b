"""The server process: one Assistant, the HTTP API, and the gradio UI mounted at "/".

    qa serve [--host 127.0.0.1] [--port 7860]

Loads everything once, ingests the sample corpus when the index is empty, then serves with
uvicorn on loopback by default. Never a gradio share link. Several processes can serve one
index: point them at one Chroma server (QA_CHROMA_URL), each with its own QA_DATA_DIR.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from index.offline import apply_offline_defaults
from index.settings import REPO_ROOT, Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from qa.assistant import Assistant

log = logging.getLogger(__name__)

# Ingested on first start when the index is empty. Not a setting: it ships with the repo.
SAMPLE_CORPUS = REPO_ROOT / "samples"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860


def sample_corpus() -> Path | None:
    """The sample folder shipped with the repository when it holds files, else None."""
    if SAMPLE_CORPUS.is_dir() and any(p.is_file() for p in SAMPLE_CORPUS.iterdir()):
        return SAMPLE_CORPUS
    return None


def parse_ui_users(spec: str | None) -> list[tuple[str, str]]:
    """`user:pass[,user:pass]` -> [(user, pass), ...]; entries without ':' are ignored."""
    pairs = []
    for entry in (spec or "").split(","):
        user, sep, password = entry.strip().partition(":")
        if sep and user and password:
            pairs.append((user, password))
    return pairs


def build_server(settings: Settings, assistant: Assistant | None = None) -> FastAPI:
    """The API app with the UI mounted at "/" (API only, with a warning, if the UI fails)."""
    from qa.api import create_app

    if assistant is None:
        from qa.assistant import Assistant

        assistant = Assistant(settings)
    app = create_app(assistant, settings)
    try:
        import ui  # written separately; if it fails to import, the API is served alone

        users = parse_ui_users(settings.ui_users)
        import gradio as gr

        app = gr.mount_gradio_app(
            app, ui.build_ui(assistant, settings), path="/", auth=users or None
        )
    except Exception as exc:  # the API is still useful without the UI
        log.warning(
            "serving the API only: the UI could not be built (%s: %s)", type(exc).__name__, exc
        )
        app.state.ui_error = f"{type(exc).__name__}: {exc}"
    return app


def ensure_sample_corpus(assistant: Assistant) -> int:
    """Ingest the sample corpus into an empty index. Returns the articles added."""
    if assistant.service.store.count_articles() > 0:
        return 0
    folder = sample_corpus()
    if folder is None:
        log.warning("the index is empty and no sample corpus was found at %s", SAMPLE_CORPUS)
        return 0
    report = assistant.ingest_paths([folder])
    for problem in report.errors:
        log.warning("sample corpus: %s", problem)
    return report.added


def rss_mb() -> float:
    """Resident set size of this process, from /proc (Linux); 0 when unavailable."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def serve(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, settings: Settings | None = None
) -> None:
    apply_offline_defaults()
    logging.basicConfig(
        level=os.environ.get("QA_LOG_LEVEL", "INFO"), format="%(levelname)s %(name)s: %(message)s"
    )
    for chatty in ("httpx", "httpcore", "chromadb", "bm25s"):  # one line per Chroma call
        logging.getLogger(chatty).setLevel(logging.WARNING)
    started = time.perf_counter()
    import uvicorn

    from qa.assistant import Assistant

    settings = settings or Settings()
    assistant = Assistant(settings)
    added = ensure_sample_corpus(assistant)
    app = build_server(settings, assistant)
    articles = assistant.service.store.count_articles()
    print(
        f"newsqa ready in {time.perf_counter() - started:.1f} s, RSS {rss_mb():.0f} MB, "
        f"{articles} articles ({added} sample articles ingested now); "
        f"http://{host}:{port}/ (API docs at /docs)",
        flush=True,
    )
    if host not in ("127.0.0.1", "localhost", "::1") and settings.api_key is None:
        log.warning(
            "listening on %s without QA_API_KEY: anyone who can reach it can "
            "ask, upload and delete",
            host,
        )
    uvicorn.run(app, host=host, port=port, log_level="warning")
