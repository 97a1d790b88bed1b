"""index.feeds: RSS 2.0, Atom and RDF parsed by feedparser; items and pages -> Articles, with feed
fields filling what the page lacks. Pure functions over bytes: no server needed here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from index.feeds import (
    NotAFeedError,
    html_fragment_text,
    item_article,
    looks_like_feed,
    page_article,
    parse_feed,
)
from index.fetch import Fetched, FetchError
from index.models import Article, LoadProblem
from tests.web_fixtures import Story, article_html, atom_feed, make_stories, rdf_feed, rss_feed

FEED_URL = "http://news.example/feed.xml"


def link(story: Story) -> str:
    return f"http://news.example/news/{story.slug}"


def fetched(body: bytes, content_type: str = "application/rss+xml", url: str = FEED_URL):
    return Fetched(url, url, 200, content_type, None, body)


@pytest.mark.parametrize(
    ("make", "version"),
    [
        (lambda s: rss_feed(s, link, title="Harbour Herald"), "rss20"),
        (lambda s: atom_feed(s, link, title="Harbour Herald"), "atom10"),
        (lambda s: rdf_feed(s, link, title="Harbour Herald"), "rss10"),
    ],
)
def test_each_feed_format_gives_its_items(make, version: str) -> None:
    stories = make_stories(3)
    feed = parse_feed(fetched(make(stories), "application/xml"))
    assert feed.version == version
    assert feed.title == "Harbour Herald"
    assert [item.link for item in feed.items] == [link(s) for s in stories]
    assert [item.title for item in feed.items] == [s.title for s in stories]
    assert [item.published for item in feed.items] == [s.published for s in stories]
    assert all(item.content_html and item.fingerprint and item.key for item in feed.items)


def test_rss_fields_author_categories_and_guid() -> None:
    stories = make_stories(1)
    item = parse_feed(fetched(rss_feed(stories, link))).items[0]
    assert item.key == stories[0].slug
    assert item.author == "Kari Nordmann"
    assert item.categories == ["Local"]


def test_bidi_controls_leave_feed_titles_and_outlets() -> None:
    story = Story("s1", "Mayor \u202eevil\u202c resigns", "The mayor resigned.")
    feed = parse_feed(fetched(rss_feed([story], link, title="\u2067Herald\u2069")))
    assert (feed.title, feed.items[0].title) == ("Herald", "Mayor evil resigns")


def test_fingerprint_changes_when_the_entry_changes() -> None:
    story = make_stories(1)[0]
    before = parse_feed(fetched(rss_feed([story], link))).items[0]
    story.body = "A correction: " + story.body
    after = parse_feed(fetched(rss_feed([story], link))).items[0]
    same = parse_feed(fetched(rss_feed([story], link))).items[0]
    assert before.key == after.key
    assert before.fingerprint != after.fingerprint
    assert after.fingerprint == same.fingerprint


def test_an_item_listed_twice_is_one_item() -> None:
    story = make_stories(1)[0]
    feed = parse_feed(fetched(rss_feed([story, story], link)))
    assert len(feed.items) == 1


def test_html_and_json_are_not_feeds() -> None:
    with pytest.raises(NotAFeedError, match="not a feed"):
        parse_feed(fetched(b"<html><body><p>Hello</p></body></html>", "text/html"))
    assert not looks_like_feed(fetched(b"<!DOCTYPE html><html></html>", "text/html"))
    assert looks_like_feed(fetched(b"<?xml version='1.0'?>\n<rss version='2.0'/>", "text/html"))


def test_a_web_page_given_as_a_feed_is_called_one_and_names_the_feed_it_links() -> None:
    """Not feedparser's "<unknown>:2:0: syntax error": the user pasted a site's address."""
    page = (
        b"<!doctype html>\n<html><head><title>Harbour Herald</title>"
        b'<link rel="stylesheet" href="/site.css">'
        b'<link rel="alternate" type="application/rss+xml" title="RSS" href="/rss.xml">'
        b"</head><body><p>Welcome</p></body></html>"
    )
    site = "http://news.example/index.html"
    with pytest.raises(NotAFeedError) as raised:
        parse_feed(fetched(page, "text/html", url=site))
    assert str(raised.value) == (
        "not a feed but a web page (HTML); the page names its feed: add http://news.example/rss.xml"
    )
    no_link = page.replace(b"alternate", b"canonical")
    with pytest.raises(NotAFeedError, match=r"web page \(HTML\); add the site's RSS or Atom"):
        parse_feed(fetched(no_link, "text/html", url=site))


def test_feedparser_never_reads_a_local_file_the_body_names(tmp_path) -> None:
    """feedparser opens a string that is a path or URL; a remote server must not make it."""
    secret = tmp_path / "secret.xml"
    secret.write_bytes(rss_feed(make_stories(1), link, title="LOCAL SECRET"))
    with pytest.raises(NotAFeedError):
        parse_feed(fetched(str(secret).encode(), "application/rss+xml"))


def test_feed_html_is_sanitised_and_becomes_paragraphs() -> None:
    text = html_fragment_text(
        "<p>First <b>bold</b> line.</p><script>alert(1)</script><p>Second&amp;last</p>"
        "<ul><li>one</li><li>two</li></ul>tail<br>after break"
    )
    assert text == "First bold line.\n\nSecond&last\n\none\n\ntwo\n\ntail\nafter break"
    assert html_fragment_text("Plain summary") == "Plain summary"
    assert html_fragment_text("") == ""


# --- items -> articles -----------------------------------------------------------------------


def _one_article(loaded: list[Article | LoadProblem]) -> Article:
    articles = [a for a in loaded if isinstance(a, Article)]
    assert len(articles) == 1, loaded
    return articles[0]


def test_page_text_with_feed_fields_filling_the_gaps() -> None:
    story = make_stories(1)[0]
    feed = parse_feed(fetched(rss_feed([story], link)))
    page = fetched(article_html(story, with_date=False), "text/html", url=link(story))
    article = _one_article(list(item_article(feed.items[0], feed, page)))
    assert article.url == link(story) and article.article_id == link(story)
    assert article.title == story.title
    assert "Mayor Ingrid Olsen thanked" in article.body  # the page's text, not the summary
    assert article.published == story.published  # from the feed: the page has no date
    assert article.author == "Kari Nordmann"
    assert article.category == "Local"
    assert article.source == "Harbour Herald"


def test_a_page_date_wins_over_the_feed_date() -> None:
    story = make_stories(1)[0]
    page_story = Story(**{**story.__dict__, "published": datetime(2024, 2, 20, tzinfo=UTC)})
    feed = parse_feed(fetched(rss_feed([story], link)))
    page = fetched(article_html(page_story), "text/html", url=link(story))
    article = _one_article(list(item_article(feed.items[0], feed, page)))
    assert article.published_date == "2024-02-20"


def test_an_unfetchable_page_falls_back_to_the_item_text() -> None:
    story = make_stories(1)[0]
    feed = parse_feed(fetched(rss_feed([story], link)))
    failure = FetchError(link(story), "HTTP 404 Not Found", status=404)
    loaded = list(item_article(feed.items[0], feed, failure))
    article = _one_article(loaded)
    assert article.body.startswith("The old harbour lighthouse reopened")
    assert article.published == story.published
    warnings = [p for p in loaded if isinstance(p, LoadProblem)]
    assert warnings and not warnings[0].fatal
    assert "HTTP 404" in warnings[0].reason and "feed item's own text" in warnings[0].reason


def test_no_page_and_no_item_text_is_a_problem_naming_both() -> None:
    feed_xml = (
        b"<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>"
        b"<item><title>Only a title</title><link>http://news.example/x</link></item>"
        b"</channel></rss>"
    )
    feed = parse_feed(fetched(feed_xml))
    failure = FetchError("http://news.example/x", "timed out", retryable=True)
    (problem,) = list(item_article(feed.items[0], feed, failure))
    assert isinstance(problem, LoadProblem) and problem.fatal
    assert problem.path == "http://news.example/x"
    assert "timed out" in problem.reason and "no text of its own" in problem.reason


def test_a_future_date_is_dropped_with_a_warning() -> None:
    story = make_stories(1, start=datetime.now(UTC) + timedelta(days=30))[0]
    feed = parse_feed(fetched(rss_feed([story], link)))
    loaded = list(item_article(feed.items[0], feed, FetchError(link(story), "HTTP 404")))
    assert _one_article(loaded).published is None
    assert any("in the future" in p.reason for p in loaded if isinstance(p, LoadProblem))


def test_a_page_alone_is_an_article_whose_id_is_its_url() -> None:
    story = make_stories(1)[0]
    url = "http://news.example/a?id=7"
    (article,) = list(page_article(fetched(article_html(story), "text/html", url=url)))
    assert isinstance(article, Article)
    assert article.article_id == url
    assert article.title == story.title
    assert article.published_date == "2024-03-01"
    assert article.source == "Harbour Herald"
    assert article.author == "Kari Nordmann"


def test_a_page_naming_no_site_takes_the_feeds_title_as_its_outlet() -> None:
    """The extractor names a page without og:site_name by its host ("news.example"), which
    stood as the outlet although the feed's title names it."""
    story = make_stories(1)[0]
    feed = parse_feed(fetched(rss_feed([story], link, title="Pellworth Post")))
    html = article_html(story, with_date=False, site="")
    html = html.replace(b'<meta property="og:site_name" content="">', b"")
    page = fetched(html.replace(b"Copyright Harbour Herald", b""), "text/html", url=link(story))
    assert _one_article(list(item_article(feed.items[0], feed, page))).source == "Pellworth Post"
