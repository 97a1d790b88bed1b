"""Feeds and web pages -> Articles. RSS 2.0, Atom and RSS 1.0 (RDF) are read by feedparser.

A feed item becomes one Article: the page its link names when that page can be fetched and has
text (trafilatura), else the item's own content. Feed fields (title, date, author, categories,
the feed's title as outlet) fill what the page lacks. The article's identity is the item's link,
so the same story is the same article whichever poll (or `qa ingest URL`) brings it.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from index.fetch import HTML_TYPES, Fetched, FetchError, normalise_url
from index.loaders import headline, normalise_body, parse_html, without_bidi_controls
from index.models import Article, LoadProblem, without_future_date

_FEED_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:rss|feed|rdf:RDF)\b", re.S
)
_BLOCK_TAGS = (
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "table",
    "tr",
    "section",
    "article",
    "figure",
    "figcaption",
)
_FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})


class NotAFeedError(ValueError):
    pass


@dataclass
class FeedItem:
    """One entry of a feed, in feed terms."""

    key: str  # stable within its feed: the entry id, else its link, else a content hash
    link: str  # normalised http(s) link, "" when it has none
    title: str = ""
    published: datetime | None = None
    author: str = ""
    categories: list[str] = field(default_factory=list)
    content_html: str = ""  # full content when the feed carries it, else the summary
    fingerprint: str = ""  # changes when the entry changes (dates, title, content)

    @property
    def name(self) -> str:
        """How a report names the item: its link, else its title; the key (a hash when the
        entry has no id, as in a feed cut off mid-item) only when it has neither."""
        return self.link or (f"item '{self.title}'" if self.title else self.key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "link": self.link,
            "title": self.title,
            "published": self.published.isoformat() if self.published else None,
            "author": self.author,
            "categories": self.categories,
            "content_html": self.content_html,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeedItem:
        published = data.get("published")
        return cls(
            key=str(data["key"]),
            link=str(data.get("link") or ""),
            title=str(data.get("title") or ""),
            published=datetime.fromisoformat(published) if published else None,
            author=str(data.get("author") or ""),
            categories=[str(c) for c in data.get("categories") or []],
            content_html=str(data.get("content_html") or ""),
            fingerprint=str(data.get("fingerprint") or ""),
        )


@dataclass
class ParsedFeed:
    url: str
    title: str
    version: str  # feedparser's name: rss20, atom10, rss10, ...
    items: list[FeedItem]


# --- recognising and parsing feeds ----------------------------------------------------------------


def looks_like_feed(fetched: Fetched) -> bool:
    """An XML media type, or a document that starts like RSS/Atom/RDF whatever it is served as."""
    if fetched.content_type in ("text/html", "application/xhtml+xml"):
        return bool(_FEED_START.match(fetched.body[:4096]))
    return fetched.content_type.endswith("xml") or bool(_FEED_START.match(fetched.body[:4096]))


def parse_feed(fetched: Fetched) -> ParsedFeed:
    """The feed's items; NotAFeedError (with feedparser's reason) when it is no feed."""
    import feedparser

    headers = {"content-location": fetched.final_url}
    if fetched.content_type:
        charset = f"; charset={fetched.charset}" if fetched.charset else ""
        headers["content-type"] = fetched.content_type + charset
    # A BytesIO, never bytes or str: feedparser opens a string that looks like a URL or a file
    # path itself, and the body is the remote server's choice.
    parsed = feedparser.parse(
        io.BytesIO(fetched.body),
        response_headers=headers,
        sanitize_html=True,
        resolve_relative_uris=True,
    )
    version = str(parsed.get("version") or "")
    if not version and not parsed.entries:
        raise NotAFeedError(_not_a_feed(fetched, parsed.get("bozo_exception")))
    items = [_item(entry) for entry in parsed.entries]
    unique: dict[str, FeedItem] = {}
    for item in items:  # a feed that lists one item twice gets it ingested once
        unique.setdefault(item.key, item)
    return ParsedFeed(
        fetched.url,
        _one_line(parsed.feed.get("title")),
        version or "unknown",
        list(unique.values()),
    )


def _not_a_feed(fetched: Fetched, error: object) -> str:
    """Why the document is no feed. A web page is called one: feedparser's XML error ("syntax
    error") tells nothing to someone who pasted a site's address instead of its feed's."""
    if fetched.content_type not in HTML_TYPES:
        return f"not a feed: {error or 'no RSS, Atom or RDF feed found'}"
    linked = linked_feed(fetched)
    if linked:
        return f"not a feed but a web page (HTML); the page names its feed: add {linked}"
    return "not a feed but a web page (HTML); add the site's RSS or Atom feed URL instead"


def linked_feed(fetched: Fetched) -> str:
    """The first feed a page announces (<link rel="alternate" type="application/rss+xml">), or
    "". Only named to the user, never fetched: no discovery behind their back (docs/feeds.md)."""
    import lxml.html
    from lxml.etree import ParserError

    try:
        root = lxml.html.document_fromstring(fetched.body)
    except (ParserError, ValueError):
        return ""
    for link in root.iter("link"):
        rels = str(link.get("rel") or "").lower().split()
        media_type = str(link.get("type") or "").strip().lower()
        if "alternate" in rels and media_type in _FEED_TYPES:
            url = _http_link(urljoin(fetched.final_url, str(link.get("href") or "")))
            if url:
                return url
    return ""


def _item(entry: Any) -> FeedItem:
    link = _http_link(entry.get("link")) or _http_link(entry.get("id"))
    content = _entry_html(entry)
    title = _one_line(entry.get("title"))
    key = _one_line(entry.get("id")) or link
    if not key:
        key = "sha256:" + _digest(f"{title}\n{content}")
    published = _entry_date(entry, "published_parsed") or _entry_date(entry, "updated_parsed")
    updated = _entry_date(entry, "updated_parsed")
    fingerprint = _digest(
        "\x1f".join(
            [
                link,
                title,
                published.isoformat() if published else "",
                updated.isoformat() if updated else "",
                content,
            ]
        )
    )
    authors = entry.get("authors") or []
    author = _one_line(entry.get("author")) or ", ".join(
        _one_line(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")
    )
    categories = [
        _one_line(tag.get("term") or tag.get("label"))
        for tag in entry.get("tags") or []
        if isinstance(tag, dict) and (tag.get("term") or tag.get("label"))
    ]
    return FeedItem(
        key=key,
        link=link,
        title=title,
        published=published,
        author=author,
        categories=categories,
        content_html=content,
        fingerprint=fingerprint,
    )


def _entry_html(entry: Any) -> str:
    """The fullest text the entry carries: content:encoded / atom:content, else the summary."""
    contents = entry.get("content") or []
    best = max((str(c.get("value") or "") for c in contents), key=len, default="")
    summary = str(entry.get("summary") or "")
    return best if len(best) >= len(summary) else summary


def _entry_date(entry: Any, key: str) -> datetime | None:
    # dict.get: feedparser's own get() maps a missing updated_parsed to published_parsed, with
    # a deprecation warning; we want each date as the feed wrote it.
    value = dict.get(entry, key)
    if not value:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, TypeError, OSError):
        return None


def _http_link(value: Any) -> str:
    try:
        return normalise_url(str(value or ""))
    except ValueError:
        return ""


def _one_line(value: Any) -> str:
    """A feed's title, an item's title, author or tag: one line, no bidi controls (as loaders)."""
    return " ".join(without_bidi_controls(str(value or "")).split())


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()[:32]


# --- items and pages -> Articles ------------------------------------------------------------------


def page_article(fetched: Fetched) -> Iterator[Article | LoadProblem]:
    """A fetched HTML page as an Article whose identity is the requested URL."""
    html: str | bytes = fetched.body
    if fetched.charset:
        html = fetched.text()
    for loaded in parse_html(html, origin=fetched.url, url=fetched.url):
        if isinstance(loaded, Article):
            yield from _checked_date(loaded)
        else:
            yield loaded


def item_article(
    item: FeedItem,
    feed: ParsedFeed,
    page: Fetched | FetchError | None,
) -> Iterator[Article | LoadProblem]:
    """The item as an Article: the fetched page, else the item's own text; feed fields fill
    what the page lacks. `page` is None when the item has no link to fetch."""
    identity = item.link or f"{feed.url}#{item.key}"
    warnings: list[LoadProblem] = []
    article: Article | None = None
    if isinstance(page, Fetched):
        for loaded in page_article(page):
            if isinstance(loaded, Article):
                article = loaded
            elif not loaded.fatal:
                warnings.append(loaded)
    page_problem = _page_problem(page)
    if article is None:
        body = html_fragment_text(item.content_html)
        if not body:
            reason = page_problem or (
                "the page has no article text" if item.link else "no link to a page"
            )
            yield LoadProblem(
                path=item.link or f"{feed.url} {item.name}",
                reason=f"{reason}; the feed item has no text of its own either",
            )
            return
        if page_problem:
            warnings.append(
                LoadProblem(
                    path=identity,
                    reason=f"{page_problem}; using the feed item's own text",
                    fatal=False,
                )
            )
        article = Article(title="", body=body, origin=identity)
    yield from warnings
    yield from _checked_date(_fill_from_feed(article, item, feed, identity))


def _bare(host: str) -> str:
    return host.lower().removeprefix("www.")


def _page_problem(page: Fetched | FetchError | None) -> str:
    return f"page not fetched: {page.reason}" if isinstance(page, FetchError) else ""


def _fill_from_feed(article: Article, item: FeedItem, feed: ParsedFeed, identity: str) -> Article:
    host = urlsplit(identity).hostname or ""
    # A page naming no site gets its host as the outlet from the extractor ("news.example");
    # the feed's title names the outlet better.
    named = article.source if _bare(article.source) not in (_bare(host), "") else ""
    return article.model_copy(
        update={
            "url": identity,
            "title": article.title or item.title or headline(article.body),
            "published": article.published or item.published,
            "author": article.author or item.author,
            "category": article.category or ", ".join(item.categories),
            "source": named or feed.title or article.source or host,
            "origin": identity,
        }
    )


def _checked_date(article: Article) -> Iterator[Article | LoadProblem]:
    """The article, without its date when that lies in the future, and the warning."""
    article, problem = without_future_date(article)
    if problem is not None:
        yield problem
    yield article


def html_fragment_text(fragment: str) -> str:
    """Text of an HTML fragment (a feed item's content), one paragraph per block element."""
    if not fragment or not fragment.strip():
        return ""
    import lxml.html
    from lxml.etree import ParserError

    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (ParserError, ValueError):
        return normalise_body(fragment)
    for element in list(root.iter("script", "style", "template")):
        element.drop_tree()
    for element in root.iter(*_BLOCK_TAGS):
        element.tail = "\n\n" + (element.tail or "")
        element.text = "\n\n" + (element.text or "")
    for element in root.iter("br"):
        element.tail = "\n" + (element.tail or "")
    text = root.text_content()
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return normalise_body("\n".join(lines))
