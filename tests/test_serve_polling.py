"""`qa serve --poll-interval`: the server polls its feeds in a background thread and answers
from new items without a restart, while answering questions.

In-process (default suite): the server's own wiring (`start_feed_polling` over an Assistant) with
a real model, questions asked while a poll is held up by a slow page. Subprocess (slow): the real
`qa serve --poll-interval 1` and its HTTP API."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from index.service import IndexService
from index.settings import Settings
from qa.assistant import Assistant
from qa.server import start_feed_polling
from tests.api_fixtures import VENV_BIN, QAServer, offline_env, stop_process
from tests.web_fixtures import Route, Story, WebServer, article_html, make_stories, rss_feed
from tests.web_fixtures import web_server as _web_server

QUESTION = "How many summer routes does the airport add?"  # only story 20 answers it


@pytest.fixture
def web() -> Iterator[WebServer]:
    with _web_server() as server:
        yield server


def publish(
    web: WebServer, stories: list[Story], hold: dict[str, threading.Event] | None = None
) -> None:
    """Serve the stories and their feed; a page in `hold` answers only once its event is set."""
    hold = hold or {}
    for story in stories:
        html = article_html(story)
        gate = hold.get(story.slug)
        body = html if gate is None else (lambda html=html, gate=gate: gate.wait(60) and html)
        web.routes[f"/news/{story.slug}"] = Route(body)
    web.routes["/feed.xml"] = Route(
        rss_feed(stories, lambda s: web.url(f"/news/{s.slug}")), "application/rss+xml"
    )


def cites(answer, url: str) -> bool:
    return not answer.abstained and url in {c.url for c in answer.citations}


def test_the_server_poller_picks_up_new_items_while_answering(
    web: WebServer, make_settings, embedding, socket_guard
) -> None:
    settings: Settings = make_settings(
        allow_private_urls=True, host_interval_s=0.0, poll_interval_s=0.2, fetch_timeout_s=120
    )
    stories = make_stories(4)
    publish(web, stories)
    assistant = Assistant(settings, service=IndexService(settings, embedding=embedding))
    assistant.feeds.add_feed(web.url("/feed.xml"))
    poller = start_feed_polling(assistant, settings)
    assert poller is not None
    try:
        _wait(lambda: assistant.service.store.count_articles() == 4, "first poll")
        # The new item's page is held back: a poll is in flight while we ask.
        release = threading.Event()
        stories += make_stories(1, offset=20)
        publish(web, stories, hold={"airport-20": release})
        _wait(lambda: "/news/airport-20" in web.arrivals, "the poll to reach the held page")
        during = assistant.ask("Which fund paid for the lighthouse?")
        assert not during.abstained and during.citations
        # Answered while the poll still waits for the page: the answer did not wait for it.
        assert assistant.service.store.count_articles() == 4
        release.set()
        _wait(lambda: cites(assistant.ask(QUESTION), web.url("/news/airport-20")), "new item")
    finally:
        poller.stop()
    assert assistant.service.store.count_articles() == 5
    record = assistant.feeds.state.feed(web.url("/feed.xml"))
    assert record.items_seen == 5 and record.last_error == ""


def test_no_poll_interval_means_no_poller(make_settings, embedding) -> None:
    settings = make_settings()
    assistant = Assistant(settings, service=IndexService(settings, embedding=embedding))
    assert start_feed_polling(assistant, settings) is None


def _wait(condition, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


class PollingServer(QAServer):
    """`qa serve --poll-interval N` on a free port (QAServer starts it without the option)."""

    def __init__(self, data_dir: Path, interval: float, **env: str) -> None:
        super().__init__(data_dir, **env)
        self.interval = interval

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = offline_env(QA_DATA_DIR=str(self.data_dir), **self.env)
        command = [str(VENV_BIN / "qa"), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "--poll-interval", str(self.interval)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.data_dir,
            )


@pytest.mark.slow
def test_qa_serve_poll_interval_subprocess(web: WebServer, tmp_path: Path) -> None:
    stories = make_stories(4)
    publish(web, stories)
    data_dir = tmp_path / "data"
    env = {"QA_ALLOW_PRIVATE_URLS": "true", "QA_HOST_INTERVAL_S": "0"}
    added = subprocess.run(
        [str(VENV_BIN / "qa"), "feeds", "add", web.url("/feed.xml")],
        env=offline_env(QA_DATA_DIR=str(data_dir), **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    server = PollingServer(data_dir, interval=1.0, **env)
    server.start()
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url, timeout=60) as http:

            def ask() -> dict:
                reply = http.post("/api/v1/answer", json={"question": QUESTION})
                assert reply.status_code == 200, reply.text
                return reply.json()

            _wait(lambda: len(web.hits_for("/news/")) >= 4, "the first poll", 120)
            stories += make_stories(1, offset=20)
            publish(web, stories)
            new_url = web.url("/news/airport-20")

            def answered() -> bool:
                data = ask()
                return not data["abstained"] and new_url in {c["url"] for c in data["citations"]}

            _wait(answered, "an answer citing the new item", 120)
        assert "polling 1 feed every 1 s" in server.output()
    finally:
        stop_process(server.process)
