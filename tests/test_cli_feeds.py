"""The feeds scenario of issue 18 through the real CLI (Typer app in-process, real MiniLM), with
a feed server on loopback: `qa feeds add`, `qa feeds poll --json` twice (the second a conditional
GET: no page fetched), three new items (exactly three ingested), and a question only a new item
answers, answered with a citation to it. Also `qa ingest URL` and the feed list commands."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

import index.service
from index.settings import Settings
from qa.cli import app
from tests.web_fixtures import Route, Story, WebServer, article_html, make_stories, rss_feed
from tests.web_fixtures import web_server as _web_server


@pytest.fixture
def web() -> Iterator[WebServer]:
    with _web_server() as server:
        yield server


@pytest.fixture
def cli_env(settings: Settings, embedding, monkeypatch, socket_guard) -> Settings:
    monkeypatch.setenv("QA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("QA_COLLECTION", settings.collection)
    monkeypatch.setenv("QA_ALLOW_PRIVATE_URLS", "true")
    monkeypatch.setenv("QA_HOST_INTERVAL_S", "0")
    for name in ("QA_CHROMA_URL", "QA_EMBEDDING", "QA_FEEDS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(index.service, "make_embedding", lambda _settings: embedding)
    return settings


def run(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def publish(web: WebServer, stories: list[Story]) -> None:
    def link(story: Story) -> str:
        return web.url(f"/news/{story.slug}")

    for story in stories:
        web.routes[f"/news/{story.slug}"] = Route(article_html(story))
    web.routes["/feed.xml"] = Route(rss_feed(stories, link), "application/rss+xml")


def page_fetches(web: WebServer) -> int:
    return len(web.hits_for("/news/"))


def test_done_when_feed_scenario(web: WebServer, cli_env: Settings) -> None:
    stories = make_stories(20)
    publish(web, stories)
    feed_url = web.url("/feed.xml")

    added = run("feeds", "add", feed_url)
    assert added.exit_code == 0, added.output
    assert "Harbour Herald" in added.output

    first = run("feeds", "poll", "--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    assert {"new", "unchanged", "fetched", "failed"} <= set(report)
    assert (report["new"], report["failed"], report["fetched"]) == (20, 0, 20)
    listed = json.loads(run("articles", "list", "--json").output)
    dates = {a["url"]: a["published"][:10] for a in listed}
    assert dates == {web.url(f"/news/{s.slug}"): s.published.date().isoformat() for s in stories}

    before = page_fetches(web)
    second = json.loads(run("feeds", "poll", "--json").output)
    assert (second["new"], second["fetched"], second["not_modified"]) == (0, 0, 1)
    assert page_fetches(web) == before  # conditional GET: not one page requested

    stories += make_stories(3, offset=20)
    publish(web, stories)
    third = json.loads(run("feeds", "poll", "--json").output)
    assert (third["new"], third["unchanged"], third["fetched"], third["failed"]) == (3, 20, 3, 0)
    assert page_fetches(web) == before + 3

    # Only the new item about the airport (story 20) says this.
    answer = run("ask", "--json", "How many summer routes does the airport add?")
    assert answer.exit_code == 0, answer.output
    data = json.loads(answer.output)
    assert not data["abstained"], data["answer"]
    new_url = web.url(f"/news/{stories[20].slug}")
    assert new_url in {c["url"] for c in data["citations"]}
    assert "three" in data["answer"].lower()

    feeds = json.loads(run("feeds", "list", "--json").output)
    assert feeds[0]["url"] == feed_url and feeds[0]["last_new"] == 3
    assert feeds[0]["items_seen"] == 23 and feeds[0]["last_error"] == ""


def test_ingest_url_is_a_no_op_when_unchanged_and_an_update_when_changed(
    web: WebServer, cli_env: Settings
) -> None:
    story = make_stories(1)[0]
    web.routes["/story"] = Route(article_html(story))
    first = json.loads(run("ingest", "--json", web.url("/story")).output)
    assert (first["added"], first["fetched"]) == (1, 1)
    again = run("ingest", web.url("/story"))
    assert again.exit_code == 0
    assert "0 added, 0 updated, 1 unchanged" in again.output
    story.body = "Update: the ceremony moved to Sunday.\n\n" + story.body
    web.routes["/story"] = Route(article_html(story))
    changed = json.loads(run("ingest", "--json", web.url("/story")).output)
    assert (changed["updated"], changed["added"]) == (1, 0)
    shown = json.loads(run("articles", "show", "--json", web.url("/story")).output)
    assert shown["body"].startswith("Update: the ceremony")


def test_ingest_a_refused_url_fails_with_the_reason(
    web: WebServer, cli_env: Settings, monkeypatch
) -> None:
    monkeypatch.setenv("QA_ALLOW_PRIVATE_URLS", "false")
    web.routes["/story"] = Route(article_html(make_stories(1)[0]))
    result = run("ingest", web.url("/story"))
    assert result.exit_code == 1
    assert "loopback address" in result.output and "QA_ALLOW_PRIVATE_URLS" in result.output
    assert web.hits == []
    as_json = run("ingest", "--json", web.url("/story"))
    assert json.loads(as_json.stdout)["fetched"] == 0  # it was counted though never requested


def test_feeds_list_remove_and_errors(web: WebServer, cli_env: Settings) -> None:
    publish(web, make_stories(2))
    assert run("feeds", "add", "--no-check", web.url("/feed.xml")).exit_code == 0
    assert web.hits == []  # --no-check fetched nothing
    bad = run("feeds", "add", web.url("/missing.xml"))
    assert bad.exit_code == 1 and "HTTP 404" in bad.output
    not_http = run("feeds", "add", "ftp://feeds.example/x")
    assert not_http.exit_code == 1 and "not an http(s) URL" in not_http.output
    listed = run("feeds", "list")
    assert web.url("/feed.xml") in listed.output and "last poll never" in listed.output
    assert run("feeds", "poll", web.url("/other.xml")).exit_code == 1
    assert run("feeds", "remove", web.url("/feed.xml")).exit_code == 0
    assert run("feeds", "remove", web.url("/feed.xml")).exit_code == 1
    assert json.loads(run("feeds", "list", "--json").output) == []


def test_a_text_poll_shows_the_page_warnings_and_says_feed_once(
    web: WebServer, cli_env: Settings
) -> None:
    """`qa feeds poll` without --json left out warnings `qa ingest` shows ("page not fetched:
    HTTP 404 … using the feed item's own text") and said "1 feeds"."""
    stories = make_stories(2)
    publish(web, stories)
    del web.routes[f"/news/{stories[1].slug}"]  # its page is gone: the feed's text stands in
    assert run("feeds", "add", web.url("/feed.xml")).exit_code == 0
    polled = run("feeds", "poll")
    assert polled.exit_code == 0, polled.output
    assert "warning: " in polled.stderr and "page not fetched" in polled.stderr, polled.stderr
    assert "1 feed (" in polled.stdout, polled.stdout


def test_a_bm25_dir_that_breaks_during_a_poll_is_one_line_and_exit_2(
    web: WebServer, cli_env: Settings, monkeypatch
) -> None:
    """Before: a traceback. The poll stops at the first write the lexical index could not
    follow; the articles stay in Chroma and the next poll (fixed) finishes."""
    import errno

    import index.lexical

    publish(web, make_stories(3))
    assert run("feeds", "add", web.url("/feed.xml")).exit_code == 0
    write_segment = index.lexical.write_segment

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(cli_env.bm25_path))

    monkeypatch.setattr(index.lexical, "write_segment", read_only)
    broken = CliRunner().invoke(app, ["feeds", "poll"])
    assert broken.exit_code == 2, broken.output
    assert broken.output.strip().splitlines() == [
        f"error: QA_BM25_DIR (unset: QA_DATA_DIR/bm25)={cli_env.bm25_path} cannot be used: "
        f"Read-only file system: {cli_env.bm25_path}",
        "the poll stopped there; what was stored before stays stored",
    ]
    monkeypatch.setattr(index.lexical, "write_segment", write_segment)
    fixed = run("feeds", "poll", "--json", "--force")
    assert fixed.exit_code == 0, fixed.output
    assert len(json.loads(run("articles", "list", "--json").output)) == 3
