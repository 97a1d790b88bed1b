"""The server process: one Assistant, the HTTP API, and the gradio UI mounted at "/".

    qa serve [--host 127.0.0.1] [--port 7860]

Loads everything once, ingests the sample corpus when the index is empty, then serves with
uvicorn on loopback by default. Never a gradio share link. Several processes can serve one
index: point them at one Chroma server (QA_CHROMA_URL), each with its own QA_DATA_DIR.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from index.offline import apply_offline_defaults
from index.settings import REPO_ROOT, Settings
from index.wording import plural
from qa.access.policy import AccessPolicy, parse_ui_users

__all__ = ["build_server", "ensure_sample_corpus", "parse_ui_users", "serve"]

if TYPE_CHECKING:
    from fastapi import FastAPI

    from index.poller import BackgroundPoller
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


def build_server(
    settings: Settings, assistant: Assistant | None = None, *, loopback_only: bool = False
) -> FastAPI:
    """The whole process's app: the HTTP API, the OpenAI-compatible routes, /login, and the
    chat window mounted at "/", all behind one access door (`qa.access`, installed by
    `create_app`). If the chat window cannot be built, the API is served alone, with a warning.
    """
    from qa.api import create_app

    if assistant is None:
        from qa.assistant import Assistant

        assistant = Assistant(settings)
    app = create_app(assistant, settings, loopback_only=loopback_only)
    try:
        mount_chat_window(app, assistant, settings)
    except Exception as exc:  # the API is still useful without the UI
        log.warning(
            "serving the API only: the UI could not be built (%s: %s)", type(exc).__name__, exc
        )
        app.state.ui_error = f"{type(exc).__name__}: {exc}"
    return app


def mount_chat_window(app: FastAPI, assistant: Assistant, settings: Settings) -> None:
    """Lay out the chat window over its handlers and mount it at "/" behind the app's door.

    Gradio's own login is not used: the door (bearer key or /login session) says who the user
    is, and Gradio learns it through `auth_dependency`. Its file size limit is a whole upload's
    (`MAX_UPLOAD_BODY_BYTES`): its browser client refuses a batch holding a larger file before
    sending it; a file over the per-file limit is the door's to refuse on its own, so the rest
    of its batch goes on (`qa.access.gradio_guard.UploadFilter`). Direct POSTs to its REST
    routes are off (every event goes through the queue, where the validators run); errors
    show no exception text (`show_error=False`)."""
    import gradio as gr
    from gradio.utils import get_upload_folder

    import ui
    from index.limits import MAX_UPLOAD_BODY_BYTES
    from qa.access.gradio_guard import GradioEvents
    from qa.chat_handlers import ChatController

    access = app.state.access
    policy = access.policy
    upload_dir = get_upload_folder()

    def may_edit(user: str | None) -> bool:
        if not policy.closed:
            return True
        principal = policy.principal(user or "")
        return principal is not None and principal.can_edit

    chat = ChatController(assistant, settings, upload_dir=upload_dir, may_edit=may_edit)
    blocks = ui.build_ui(chat)
    blocks.queue(api_open=False)
    gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        auth_dependency=access.gradio_user,
        max_file_size=MAX_UPLOAD_BODY_BYTES,
        show_error=False,
        mcp_server=False,
        run_history=False,
        footer_links=["api", "gradio"],
    )
    access.gradio = GradioEvents.of(blocks, upload_dir)


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


def start_feed_polling(assistant: Assistant, settings: Settings) -> BackgroundPoller | None:
    """Poll the feeds every `settings.poll_interval_s` in a background thread (None when 0).
    Answers are not blocked: the poll only shares the embedding model and the store, and the
    retriever sees its writes at the next question (the store revision changes)."""
    if settings.poll_interval_s <= 0:
        return None
    from index.poller import BackgroundPoller

    return BackgroundPoller(assistant.feeds, settings.poll_interval_s).start()


def ready_line(seconds: float, articles: int, added: int, host: str, port: int) -> str:
    """The start-up line: how long it took, the memory, the index and where to go."""
    sample = f" ({plural(added, 'sample article')} ingested now)" if added else ""
    if not articles:
        sample = " (add some: qa ingest PATH, or upload them in the app; --sample adds ours)"
    return (
        f"newsqa ready in {seconds:.1f} s, RSS {rss_mb():.0f} MB, "
        f"{plural(articles, 'article')}{sample}; http://{host}:{port}/ (API docs at /docs)"
    )


def rss_mb() -> float:
    """Resident set size of this process, from /proc (Linux); 0 when unavailable."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class ServeRefused(ValueError):
    """The server will not start as configured (the message says why and what to set)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name other than localhost may resolve anywhere
        return False


def check_exposure(host: str, settings: Settings) -> AccessPolicy:
    """The access policy to serve `host` with; ServeRefused for a reachable address with no
    credential unless the operator allowed it (QA_ALLOW_OPEN / --allow-open)."""
    try:
        policy = AccessPolicy.from_settings(settings)
    except ValueError as exc:
        raise ServeRefused(str(exc)) from None
    if not policy.closed and not is_loopback(host) and not settings.allow_open:
        raise ServeRefused(
            f"refusing to serve {host} with no credential: anyone who can reach it could ask, "
            "upload and delete. Set QA_API_KEY (and/or QA_UI_USERS), or QA_ALLOW_OPEN=true "
            "(qa serve --allow-open) to serve it open on purpose."
        )
    return policy


def loopback_only(host: str, policy: AccessPolicy, settings: Settings) -> bool:
    """Whether to answer to loopback Host names only: served open on loopback, where a DNS name
    re-pointed at 127.0.0.1 would otherwise let any web page use it (QA_ALLOW_OPEN lifts it,
    e.g. behind a proxy that passes its own Host)."""
    return not policy.closed and is_loopback(host) and not settings.allow_open


def describe_access(policy: AccessPolicy) -> str:
    if not policy.closed:
        return "access: open to anyone who can connect (no QA_API_KEY, no QA_UI_USERS)"
    parts = ["API key (asks and edits)"] if policy.api_key else []
    if policy.users:
        editors = len(policy.users) if policy.all_edit else len(policy.editors)
        parts.append(f"{len(policy.users)} UI users ({editors} may edit)")
    return "access: " + ", ".join(parts) + "; sign in at /login"


def private_upload_dir() -> str | None:
    """A folder only this process uses for Gradio's uploads, unless GRADIO_TEMP_DIR names one
    (the default /tmp/gradio is shared by every Gradio app on the machine). Returns the folder
    created, for removal at exit."""
    if os.environ.get("GRADIO_TEMP_DIR"):
        return None
    folder = tempfile.mkdtemp(prefix="newsqa-uploads-")  # mode 0700
    os.environ["GRADIO_TEMP_DIR"] = folder
    return folder


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    settings: Settings | None = None,
    *,
    sample: bool = False,
) -> None:
    """Start the server; ServeRefused (before anything loads) when it must not start.
    `sample`: ingest the sample article first when the index is empty (`make serve`); never
    by default, so a shared production collection stays as its operator left it."""
    settings = settings or Settings()
    policy = check_exposure(host, settings)
    uploads = private_upload_dir()  # before anything builds a Gradio app
    # uvicorn shuts down gracefully on SIGTERM, then restores the previous handler and raises
    # the signal again: with Python's default that kills the process before `finally` runs.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    try:
        _serve(host, port, settings, policy, sample)
    finally:
        if uploads:  # the folder and the setting pointing at it go together
            shutil.rmtree(uploads, ignore_errors=True)
            os.environ.pop("GRADIO_TEMP_DIR", None)


def _serve(host: str, port: int, settings: Settings, policy: AccessPolicy, sample: bool) -> None:
    apply_offline_defaults()
    logging.basicConfig(
        level=os.environ.get("QA_LOG_LEVEL", "INFO"), format="%(levelname)s %(name)s: %(message)s"
    )
    for chatty in ("httpx", "httpcore", "chromadb", "bm25s"):  # one line per Chroma call
        logging.getLogger(chatty).setLevel(logging.WARNING)
    started = time.perf_counter()
    import uvicorn

    from qa.assistant import Assistant

    assistant = Assistant(settings)
    added = ensure_sample_corpus(assistant) if sample else 0
    app = build_server(settings, assistant, loopback_only=loopback_only(host, policy, settings))
    assistant.warm_up()  # the first question is answered as fast as the next ones
    articles = assistant.service.store.count_articles()
    print(ready_line(time.perf_counter() - started, articles, added, host, port), flush=True)
    print(describe_access(policy), flush=True)
    poller = start_feed_polling(assistant, settings)
    if poller is not None:
        print(
            f"polling {plural(len(assistant.feeds.feeds()), 'feed')} every {poller.interval_s:g} s",
            flush=True,
        )
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        if poller is not None:
            poller.stop()
