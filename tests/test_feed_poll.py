"""index.poller against feed servers on loopback: conditional GET, items seen before skipped
without fetching, changed pages updated (old chunks gone), back-off, retries, robots.txt,
near-duplicates across outlets, two pollers at once, QA_FEEDS and one-off URL ingestion.

The fast hashing embedding stands in for the model (vectors do not matter here)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from index.feedstate import FeedState
from index.poller import BackgroundPoller, FeedPoller
from index.service import IndexService
from index.settings import Settings
from tests.web_fixtures import (
    Route,
    Story,
    WebServer,
    article_html,
    atom_feed,
    make_stories,
    rss_feed,
    web_server,
)


@pytest.fixture
def web() -> Iterator[WebServer]:
    with web_server() as server:
        yield server


class Outlet:
    """A news site on the test server: pages under /<name>/ and a feed at /<name>/feed.xml."""

    def __init__(self, web: WebServer, name: str = "herald", title: str = "Harbour Herald"):
        self.web, self.name, self.title = web, name, title
        self.stories: list[Story] = []
        self.format = "rss"

    def link(self, story: Story) -> str:
        return self.web.url(f"/{self.name}/{story.slug}")

    @property
    def feed_url(self) -> str:
        return self.web.url(f"/{self.name}/feed.xml")

    def publish(self, stories: list[Story], *, conditional: bool = True) -> None:
        self.stories = list(stories)
        for story in stories:
            self.web.routes[f"/{self.name}/{story.slug}"] = Route(
                article_html(story, site=self.title)
            )
        make = atom_feed if self.format == "atom" else rss_feed
        self.web.routes[f"/{self.name}/feed.xml"] = Route(
            make(self.stories, self.link, title=self.title),
            "application/rss+xml",
            conditional=conditional,
        )

    def page_hits(self) -> int:
        return len([h for h in self.web.hits_for(f"/{self.name}/") if "feed.xml" not in h.path])


@pytest.fixture
def poll_settings(make_settings) -> Callable[..., Settings]:
    def make(**overrides) -> Settings:
        values = {
            "allow_private_urls": True,
            "host_interval_s": 0.0,
            "fetch_timeout_s": 2.0,
            "fetch_deadline_s": 5.0,
            "feed_backoff_s": 60.0,
        }
        return make_settings(**{**values, **overrides})

    return make


@pytest.fixture
def make_poller(poll_settings, hash_embedding, socket_guard) -> Iterator[Callable[..., FeedPoller]]:
    made: list[FeedPoller] = []

    def make(settings: Settings | None = None, **overrides) -> FeedPoller:
        settings = settings or poll_settings(**overrides)
        poller = FeedPoller(settings, IndexService(settings, embedding=hash_embedding))
        made.append(poller)
        return poller

    yield make
    for poller in made:
        poller.close()


def test_poll_ingests_items_then_not_modified_costs_one_request(web, make_poller) -> None:
    outlet = Outlet(web)
    outlet.publish(make_stories(5))
    poller = make_poller()
    poller.add_feed(outlet.feed_url)
    first = poller.poll().to_dict()
    assert (first["new"], first["fetched"], first["failed"]) == (5, 5, 0)
    records = {r.article_id: r for r in poller.service.store.list_articles()}
    assert sorted(records) == sorted(outlet.link(s) for s in outlet.stories)
    for story in outlet.stories:
        record = records[outlet.link(story)]
        assert record.published[:10] == story.published.date().isoformat()
        assert record.source == "Harbour Herald" and record.title == story.title
    web.reset_hits()
    second = poller.poll().to_dict()
    assert (second["new"], second["fetched"], second["not_modified"]) == (0, 0, 1)
    assert [h.status for h in web.hits] == [304]
    feed = poller.state.feed(outlet.feed_url)
    assert feed.last_status == "not modified" and feed.items_seen == 5


def test_new_items_are_the_only_pages_fetched(web, make_poller) -> None:
    outlet = Outlet(web)
    outlet.publish(make_stories(4))
    poller = make_poller()
    poller.add_feed(outlet.feed_url)
    poller.poll()
    web.reset_hits()
    outlet.publish(make_stories(6))  # two more
    report = poller.poll().to_dict()
    assert (report["new"], report["unchanged"], report["fetched"]) == (2, 4, 2)
    assert outlet.page_hits() == 2


def test_a_feed_that_repeats_items_without_conditional_get(web, make_poller) -> None:
    """A server that ignores ETag: the feed is fetched, its known items are not."""
    outlet = Outlet(web)
    outlet.publish(make_stories(3), conditional=False)
    poller = make_poller()
    poller.add_feed(outlet.feed_url)
    assert poller.poll().to_dict()["new"] == 3
    web.reset_hits()
    again = poller.poll().to_dict()
    assert (again["new"], again["unchanged"], again["fetched"]) == (0, 3, 0)
    assert outlet.page_hits() == 0


def test_a_changed_page_is_updated_and_its_old_chunks_are_gone(web, make_poller) -> None:
    outlet = Outlet(web)
    stories = make_stories(2)
    outlet.publish(stories)
    poller = make_poller()
    poller.add_feed(outlet.feed_url)
    poller.poll()
    store = poller.service.store
    url = outlet.link(stories[0])
    old_chunks = [c for c in store.iter_chunks() if c.metadata["article_id"] == url]
    assert any("officials said on day 0" in c.text for c in old_chunks)
    stories[0].body = (
        "Correction: the lighthouse stays shut until autumn, the harbour office said.\n\n"
        "Engineers found rust in the lantern room during a final inspection."
    )
    outlet.publish(stories)  # the entry's description changes, so its fingerprint does
    report = poller.poll().to_dict()
    assert (report["updated"], report["new"], report["unchanged"]) == (1, 0, 1)
    chunks = [c for c in store.iter_chunks() if c.metadata["article_id"] == url]
    assert chunks and all("officials said on day 0" not in c.text for c in chunks)
    assert any("rust in the lantern room" in c.text for c in chunks)
    assert store.count_articles() == 2


def test_a_failing_feed_backs_off_exponentially(web, make_poller) -> None:
    outlet = Outlet(web)
    web.routes[f"/{outlet.name}/feed.xml"] = Route(b"down", status=503, conditional=False)
    poller = make_poller(feed_backoff_s=60.0)
    poller.add_feed(outlet.feed_url, check=False)
    first = poller.poll()
    outcome = first.feeds[0]
    assert outcome.status == "error" and "HTTP 503" in outcome.error and "60 s" in outcome.error
    assert not first.ok
    web.reset_hits()
    waiting = poller.poll().feeds[0]
    assert waiting.status == "backing off" and web.hits == []  # not even asked
    again = poller.poll(force=True).feeds[0]
    assert "120 s" in again.error  # doubled
    record = poller.state.feed(outlet.feed_url)
    assert record.errors_in_row == 2 and record.next_poll_at > time.time() + 100
    outlet.publish(make_stories(1))
    recovered = poller.poll(force=True).to_dict()
    assert recovered["new"] == 1
    assert poller.state.feed(outlet.feed_url).errors_in_row == 0


def test_an_unfetchable_page_uses_the_item_text_and_a_bare_item_is_retried(web, make_poller):
    outlet = Outlet(web)
    stories = make_stories(2)
    outlet.publish(stories)
    web.routes[f"/{outlet.name}/{stories[0].slug}"] = Route(b"gone", status=404)
    bare = (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>Bare</title>"
        f"<item><title>Title only</title><link>{web.url('/bare/x')}</link></item>"
        "</channel></rss>"
    ).encode()
    web.routes["/bare/feed.xml"] = Route(bare, "application/rss+xml")
    web.routes["/bare/x"] = Route(b"busy", status=503, conditional=False)
    poller = make_poller()
    poller.add_feed(outlet.feed_url)
    poller.add_feed(web.url("/bare/feed.xml"))
    report = poller.poll()
    data = report.to_dict()
    assert (data["new"], data["failed"]) == (2, 1)
    record = poller.service.store.get_article(outlet.link(stories[0]))
    assert record is not None and record.body.startswith("The old harbour lighthouse")
    bare_outcome = next(f for f in report.feeds if "bare" in f.url)
    assert "HTTP 503" in bare_outcome.item_errors[0]
    # The bare item is tried again on the next polls (even though its feed says "not modified")
    # up to three times, then left alone.
    for _ in range(3):
        poller.poll()
    assert len(web.hits_for("/bare/x")) == 3
    web.routes["/bare/x"] = Route(b"<html><body><p>Now it works.</p></body></html>")
    assert poller.poll().to_dict()["new"] == 0


def test_an_item_cut_off_by_a_truncated_feed_is_named_by_its_title(web, make_poller) -> None:
    """The XML ends mid-item, after the title: the item has no link, id or text, and the
    report named it by a content hash ("sha256:bfb9…") and blamed a page it never had."""
    truncated = (
        b"<?xml version='1.0'?><rss version='2.0'><channel><title>Cut</title>"
        b"<item><title>First story</title><description>The harbour reopened.</description></item>"
        b"<item><title>Second story</title><descrip"
    )
    web.routes["/cut/feed.xml"] = Route(truncated, "application/rss+xml")
    poller = make_poller()
    poller.add_feed(web.url("/cut/feed.xml"))
    report = poller.poll()
    why = "no link to a page; the feed item has no text of its own either"
    assert (report.to_dict()["new"], report.feeds[0].item_errors) == (
        1,
        [f"item 'Second story': {why}"],
    )
    once = poller.ingest_urls([web.url("/cut/feed.xml")])
    assert [(e.path, e.reason) for e in once.ingest.errors] == [
        (f"{web.url('/cut/feed.xml')} item 'Second story'", why)
    ]


def test_robots_txt_keeps_pages_unfetched(web, make_poller) -> None:
    outlet = Outlet(web)
    outlet.publish(make_stories(2))
    web.routes["/robots.txt"] = Route(
        # Allow first: Python's robotparser takes the first matching rule, not the longest.
        f"User-agent: *\nAllow: /{outlet.name}/feed.xml\nDisallow: /{outlet.name}/\n".encode(),
        "text/plain",
    )
    poller = make_poller()
    poller.add_feed(outlet.feed_url)
    data = poller.poll().to_dict()
    assert data["new"] == 2  # from the items' own text
    assert outlet.page_hits() == 0
    assert any("robots.txt" in w for w in data["warnings"])


def test_the_same_story_in_two_outlets_is_linked_as_near_duplicate(web, make_poller) -> None:
    wire = make_stories(1)[0]
    one, two = Outlet(web, "herald", "Harbour Herald"), Outlet(web, "gazette", "Coastal Gazette")
    one.publish([wire])
    two.format = "atom"
    two.publish([wire])
    poller = make_poller()
    poller.add_feed(one.feed_url)
    poller.add_feed(two.feed_url)
    assert poller.poll().to_dict()["new"] == 2
    first = poller.service.store.get_article(one.link(wire))
    assert first is not None and first.near_duplicates == [two.link(wire)]


def test_the_rate_limit_holds_during_a_poll(web, make_poller) -> None:
    outlet = Outlet(web)
    outlet.publish(make_stories(4))
    poller = make_poller(host_interval_s=0.15, fetch_workers=4)
    poller.add_feed(outlet.feed_url, check=False)
    started = time.monotonic()
    poller.poll()
    # robots.txt, the feed and 4 pages on one host: at least 5 intervals, despite 4 workers.
    assert time.monotonic() - started >= 5 * 0.15


def test_two_pollers_at_once_never_work_on_one_feed(web, poll_settings, make_poller) -> None:
    """Two pollers with their own state connections (as two processes would have)."""
    settings = poll_settings()
    outlets = [Outlet(web, f"o{i}", f"Outlet {i}") for i in range(4)]
    for i, outlet in enumerate(outlets):
        outlet.publish(make_stories(3, offset=3 * i))
        web.routes[f"/{outlet.name}/feed.xml"].delay_s = 0.2  # widen the race
    pollers = [make_poller(settings), make_poller(settings)]
    for outlet in outlets:
        pollers[0].add_feed(outlet.feed_url, check=False)
    assert pollers[0].state.owner != pollers[1].state.owner
    reports = []
    threads = [threading.Thread(target=lambda p=p: reports.append(p.poll())) for p in pollers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    totals = [r.to_dict() for r in reports]
    assert sum(t["new"] for t in totals) == 12
    assert sum(t["failed"] for t in totals) == 0
    for outlet in outlets:  # each feed and page fetched once, by one of them
        assert len(web.hits_for(f"/{outlet.name}/feed.xml")) == 1
        assert outlet.page_hits() == 3
    assert pollers[0].service.store.count_articles() == 12


def test_a_lease_is_exclusive_until_released_or_expired(tmp_path) -> None:
    one, two = FeedState(tmp_path / "f.sqlite3"), FeedState(tmp_path / "f.sqlite3")
    one.add_feed("http://a.example/feed")
    assert one.claim("http://a.example/feed")
    assert not two.claim("http://a.example/feed")
    one.release("http://a.example/feed")
    assert two.claim("http://a.example/feed")
    assert one.claim("http://a.example/feed", now=time.time() + 3600)  # a dead holder's lease


def test_feed_list_add_remove_and_qa_feeds(web, make_poller, poll_settings) -> None:
    outlet = Outlet(web)
    outlet.publish(make_stories(1))
    settings = poll_settings(feeds=f"{web.url('/env/feed.xml')}, ")
    web.routes["/env/feed.xml"] = web.routes[f"/{outlet.name}/feed.xml"]
    poller = make_poller(settings)
    record, added = poller.add_feed(outlet.feed_url)
    assert added and record.title == "Harbour Herald"
    assert not poller.add_feed(outlet.feed_url)[1]
    assert [(f.url, f.origin) for f in poller.feeds()] == [
        (outlet.feed_url, "user"),
        (web.url("/env/feed.xml"), "env"),
    ]
    with pytest.raises(ValueError, match="QA_FEEDS"):
        poller.remove_feed(web.url("/env/feed.xml"))
    assert poller.remove_feed(outlet.feed_url)
    assert not poller.remove_feed(outlet.feed_url)
    assert [f.url for f in poller.feeds()] == [web.url("/env/feed.xml")]


def test_adding_something_that_is_no_feed_says_why(web, make_poller) -> None:
    from index.feeds import NotAFeedError
    from index.fetch import FetchError

    web.routes["/page"] = Route(b"<html><body><p>Just a page</p></body></html>")
    poller = make_poller()
    with pytest.raises(NotAFeedError, match="not a feed"):
        poller.add_feed(web.url("/page"))
    with pytest.raises(FetchError, match="HTTP 404"):
        poller.add_feed(web.url("/missing"))
    with pytest.raises(ValueError, match="not an http"):
        poller.add_feed("file:///etc/passwd")
    assert poller.feeds() == []


def test_ingest_urls_page_then_unchanged_then_changed(web, make_poller) -> None:
    story = make_stories(1)[0]
    web.routes["/a"] = Route(article_html(story))
    poller = make_poller()
    first = poller.ingest_urls([web.url("/a")])
    assert (first.ingest.added, first.fetched) == (1, 1)
    again = poller.ingest_urls([web.url("/a")])
    assert (again.ingest.added, again.ingest.unchanged, again.ingest.embedded) == (0, 1, 0)
    story.body = "Update: the ceremony moved to Sunday.\n\n" + story.body
    web.routes["/a"] = Route(article_html(story))
    changed = poller.ingest_urls([web.url("/a")])
    assert changed.ingest.updated == 1
    record = poller.service.store.get_article(web.url("/a"))
    assert record is not None and record.body.startswith("Update: the ceremony")


def test_ingest_urls_takes_a_feed_and_reports_bad_urls(web, make_poller) -> None:
    outlet = Outlet(web)
    outlet.publish(make_stories(3))
    web.routes["/img"] = Route(b"\x89PNG", content_type="image/png")
    poller = make_poller()
    report = poller.ingest_urls([outlet.feed_url, web.url("/img"), web.url("/nope")])
    assert (report.ingest.added, report.feeds) == (3, 1)
    assert report.ingest.failed == 2
    reasons = {e.path: e.reason for e in report.ingest.errors}
    assert "content type 'image/png'" in reasons[web.url("/img")]
    assert "HTTP 404" in reasons[web.url("/nope")]
    assert poller.feeds() == []  # a one-off ingest does not subscribe


def test_background_poller_polls_until_stopped(web, make_poller) -> None:
    outlet = Outlet(web)
    outlet.publish(make_stories(2))
    poller = make_poller()
    poller.add_feed(outlet.feed_url)
    background = BackgroundPoller(poller, interval_s=0.1).start()
    try:
        deadline = time.monotonic() + 20
        while poller.service.store.count_articles() < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        outlet.publish(make_stories(3))
        while poller.service.store.count_articles() < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        background.stop()
    assert poller.service.store.count_articles() == 3
    assert background.polls >= 2
    assert not background._thread.is_alive()
