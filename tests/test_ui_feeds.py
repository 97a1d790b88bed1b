"""The Articles tab's feeds panel: follow a feed (and poll it), ingest one URL, poll now, and the
feeds table with each feed's last poll, new items and last error. Handlers driven directly,
against a feed server on loopback; and the panel is part of the built Blocks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from index.offline import apply_offline_defaults

apply_offline_defaults()  # before gradio is imported

import pytest  # noqa: E402

import ui  # noqa: E402
from qa.chat_handlers import ChatController  # noqa: E402
from tests.api_fixtures import make_assistant  # noqa: E402
from tests.web_fixtures import (  # noqa: E402
    Route,
    WebServer,
    article_html,
    make_stories,
    rss_feed,
    web_server,
)


@pytest.fixture
def web() -> Iterator[WebServer]:
    with web_server() as server:
        yield server


@pytest.fixture
def panel(tmp_path: Path, socket_guard) -> Any:
    assistant = make_assistant(
        tmp_path / "data", ingest=False, allow_private_urls=True, host_interval_s=0.0
    )
    feeds = ChatController(assistant, assistant.settings).feeds
    assert feeds is not None
    return feeds


def test_follow_a_feed_then_poll_and_see_its_state(web: WebServer, panel: Any) -> None:
    stories = make_stories(3)
    for story in stories:
        web.routes[f"/n/{story.slug}"] = Route(article_html(story))
    web.routes["/rss"] = Route(
        rss_feed(stories, lambda s: web.url(f"/n/{s.slug}")), "application/rss+xml"
    )
    status, feeds, articles, sources, _ = panel.add_feed(web.url("/rss"), "")
    assert "Added" in status and "3 new" in status and "qa-status-error" not in status
    assert [row[0] for row in feeds] == [web.url("/rss")]
    _url, title, last_poll, state, new, error = feeds[0]
    assert (title, state, new, error) == ("Harbour Herald", "new items", "3", "")
    assert last_poll != "never"
    assert len(articles) == 3 and sources.choices == [("Harbour Herald", "Harbour Herald")]

    web.routes["/rss"] = Route(b"down", status=500, conditional=False)
    status, feeds, *_ = panel.poll_now("")
    assert "qa-status-error" in status and "HTTP 500" in status
    assert feeds[0][3] == "error" and "HTTP 500" in feeds[0][5]


def test_ingest_one_url_and_say_why_when_it_fails(web: WebServer, panel: Any) -> None:
    web.routes["/story"] = Route(article_html(make_stories(1)[0]))
    status, feeds, articles, *_ = panel.ingest_url(web.url("/story"), "")
    assert "1 added" in status and feeds == [] and len(articles) == 1
    status, *_ = panel.ingest_url(web.url("/missing"), "")
    assert "qa-status-error" in status and "HTTP 404" in status
    status, *_ = panel.add_feed(web.url("/story"), "")
    assert "qa-status-error" in status and "not a feed" in status
    status, *_ = panel.add_feed("", "")
    assert "Enter a feed URL" in status


def test_the_articles_tab_has_the_feeds_panel(panel: Any) -> None:
    chat = panel.chat
    demo = ui.build_ui(chat)
    ids = {getattr(block, "elem_id", None) for block in demo.blocks.values()}
    assert {"qa-feed-url", "qa-feed-add", "qa-url-ingest", "qa-feed-poll", "qa-feeds"} <= ids
