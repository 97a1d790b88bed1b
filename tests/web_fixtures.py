"""A small web server on loopback for the fetch and feed tests: routes set by the test, every
request recorded, conditional GET (ETag / Last-Modified) answered like a real server.

Never the internet: it binds 127.0.0.1 (or another 127.x address) on a free port.
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import escape


@dataclass
class Route:
    """What one path answers. `body` may be a callable (evaluated per request)."""

    body: bytes | Callable[[], bytes] = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    conditional: bool = True  # answer If-None-Match / If-Modified-Since with 304
    drip_s: float = 0.0  # seconds between 1-byte writes (a slow-drip server)
    delay_s: float = 0.0  # before the status line (a server that hangs)
    no_length: bool = False  # stream_bytes without a Content-Length (ends at connection close)
    stream_bytes: int = 0  # send this many filler bytes instead of `body` (size-cap tests)


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    status: int


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (at its size cap, its deadline, or closing an idle keep-alive
        connection) is expected here; anything else is printed as usual."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class WebServer:
    """A loopback HTTP server. Set `routes[path] = Route(...)`; read `hits`."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []  # answered requests
        self.arrivals: list[str] = []  # every request's path, as it arrives
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # http.server's naming
                server._answer(self)

        self._httpd = _QuietServer((host, 0), Handler)
        self._httpd.daemon_threads = True
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def hits_for(self, prefix: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path.startswith(prefix)]

    def reset_hits(self) -> None:
        with self._lock:
            self.hits.clear()

    # --- serving --------------------------------------------------------------------------------
    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        with self._lock:
            self.arrivals.append(path)  # before the answer, which may be held back
        route = self.routes.get(path)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        if route is None:
            self._record(path, headers, 404)
            self._send(handler, 404, b"not found", {"Content-Type": "text/plain"})
            return
        if route.delay_s:
            time.sleep(route.delay_s)
        body = route.body() if callable(route.body) else route.body
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        out_headers = {"Content-Type": route.content_type, **route.headers}
        if route.conditional and route.status == 200:
            out_headers["ETag"] = etag
            if headers.get("if-none-match") == etag:
                self._record(path, headers, 304)
                self._send(handler, 304, b"", {"ETag": etag})
                return
        self._record(path, headers, route.status)
        if route.stream_bytes:
            self._stream(handler, route, out_headers)
            return
        if route.drip_s:
            self._drip(handler, route, body, out_headers)
            return
        self._send(handler, route.status, body, out_headers)

    def _record(self, path: str, headers: dict[str, str], status: int) -> None:
        with self._lock:
            self.hits.append(Hit(path, headers, status))

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]
    ) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        if status != 304:
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if status != 304:
            try:
                handler.wfile.write(body)
            except OSError:  # the client hung up (e.g. at its size cap)
                handler.close_connection = True

    @staticmethod
    def _drip(
        handler: BaseHTTPRequestHandler, route: Route, body: bytes, headers: dict[str, str]
    ) -> None:
        handler.send_response(route.status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        try:
            for byte in body:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
                time.sleep(route.drip_s)
        except OSError:  # the client gave up, as it should
            pass

    @staticmethod
    def _stream(handler: BaseHTTPRequestHandler, route: Route, headers: dict[str, str]) -> None:
        handler.send_response(route.status)
        for name, value in headers.items():
            handler.send_header(name, value)
        if not route.no_length:
            handler.send_header("Content-Length", str(route.stream_bytes))
        else:  # no length: the body ends when the connection closes (HTTP/1.1 allows it)
            handler.send_header("Connection", "close")
        handler.end_headers()
        block = b"<p>" + b"x" * 65_000 + b"</p>\n"
        sent = 0
        try:
            while sent < route.stream_bytes:
                handler.wfile.write(block)
                sent += len(block)
        except OSError:  # the client hung up at its cap
            pass
        handler.close_connection = True


@contextmanager
def web_server(host: str = "127.0.0.1") -> Iterator[WebServer]:
    server = WebServer(host)
    try:
        yield server
    finally:
        server.close()


# --- documents ---------------------------------------------------------------------------------


@dataclass
class Story:
    slug: str
    title: str
    body: str
    published: datetime | None = None
    author: str = ""
    categories: tuple[str, ...] = ()


def article_html(story: Story, *, with_date: bool = True, site: str = "Harbour Herald") -> bytes:
    """A news page the way sites write them: metadata in <head>, the story in <article>."""
    meta = [
        f'<meta property="og:title" content="{escape(story.title)}">',
        f'<meta property="og:site_name" content="{escape(site)}">',
    ]
    if with_date and story.published:
        meta.append(
            f'<meta property="article:published_time" content="{story.published.isoformat()}">'
        )
    if story.author:
        meta.append(f'<meta name="author" content="{escape(story.author)}">')
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in story.body.split("\n\n"))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{escape(story.title)}</title>{''.join(meta)}</head><body>"
        "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
        f"<article><h1>{escape(story.title)}</h1>{paragraphs}</article>"
        "<footer>Copyright Harbour Herald</footer></body></html>"
    ).encode()


def rss_feed(
    stories: list[Story], link_for: Callable[[Story], str], *, title: str = "Harbour Herald"
) -> bytes:
    items = []
    for story in stories:
        date = f"<pubDate>{format_datetime(story.published)}</pubDate>" if story.published else ""
        cats = "".join(f"<category>{escape(c)}</category>" for c in story.categories)
        author = f"<dc:creator>{escape(story.author)}</dc:creator>" if story.author else ""
        items.append(
            f"<item><title>{escape(story.title)}</title><link>{escape(link_for(story))}</link>"
            f"<guid isPermaLink='false'>{escape(story.slug)}</guid>{date}{author}{cats}"
            f"<description>{escape(story.body.split(chr(10))[0])}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{escape(title)}</title><link>http://example.test/</link>"
        f"<description>News</description>{''.join(items)}</channel></rss>"
    ).encode()


def atom_feed(stories: list[Story], link_for: Callable[[Story], str], *, title: str) -> bytes:
    entries = []
    for story in stories:
        stamp = (story.published or datetime(2024, 1, 1, tzinfo=UTC)).isoformat()
        entries.append(
            f"<entry><title>{escape(story.title)}</title>"
            f'<link rel="alternate" href="{escape(link_for(story))}"/>'
            f"<id>urn:story:{escape(story.slug)}</id><updated>{stamp}</updated>"
            f"<published>{stamp}</published><author><name>{escape(story.author or 'Staff')}"
            f"</name></author><summary>{escape(story.body)}</summary></entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>urn:feed</id>"
        f"<updated>2024-03-01T00:00:00Z</updated>{''.join(entries)}</feed>"
    ).encode()


def rdf_feed(stories: list[Story], link_for: Callable[[Story], str], *, title: str) -> bytes:
    items = "".join(
        f'<item rdf:about="{escape(link_for(s))}"><title>{escape(s.title)}</title>'
        f"<link>{escape(link_for(s))}</link><description>{escape(s.body)}</description>"
        + (f"<dc:date>{s.published.isoformat()}</dc:date>" if s.published else "")
        + "</item>"
        for s in stories
    )
    seq = "".join(f'<rdf:li rdf:resource="{escape(link_for(s))}"/>' for s in stories)
    return (
        '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<channel rdf:about="http://example.test/"><title>{escape(title)}</title>'
        f"<link>http://example.test/</link><description>News</description>"
        f"<items><rdf:Seq>{seq}</rdf:Seq></items></channel>{items}</rdf:RDF>"
    ).encode()


TOPICS = [
    ("lighthouse", "Harbour lighthouse reopens", "The old harbour lighthouse reopened"),
    ("ferry", "Ferry timetable changes", "Ferries will leave every forty minutes"),
    ("bridge", "River bridge closed", "The river bridge will stay closed to cars"),
    ("market", "Market day moves", "The weekly farmers market moves to Thursday"),
    ("library", "Library extends hours", "The central library will open until nine"),
    ("school", "School gets solar roof", "Westfield primary school installed solar panels"),
    ("harbour", "Harbour dredging starts", "Dredgers began deepening the harbour channel"),
    ("park", "Park pond restored", "Volunteers restored the pond in Elm Park"),
    ("museum", "Museum buys whale skeleton", "The maritime museum bought a whale skeleton"),
    ("tram", "Tram line extended", "The tram line now runs to the airport"),
    ("choir", "Choir wins national prize", "The fishermen's choir won the national prize"),
    ("storm", "Storm damages pier", "Last night's storm tore planks off the north pier"),
    ("bakery", "Bakery celebrates centenary", "Hansen's bakery turned one hundred years old"),
    ("cycle", "New cycle lanes painted", "Painted cycle lanes now line Harbour Road"),
    ("zoo", "Zoo welcomes penguins", "Twelve penguins arrived at the city zoo"),
    ("theatre", "Theatre roof repaired", "Roofers finished repairing the Royal Theatre"),
    ("council", "Council approves budget", "The town council approved next year's budget"),
    ("festival", "Kite festival returns", "The kite festival returns to the dunes"),
    ("hospital", "Hospital opens new wing", "St Mary's hospital opened its new east wing"),
    ("station", "Station clock restored", "The station's Victorian clock ticks again"),
    ("airport", "Airport adds routes", "The airport adds three summer routes to Spain"),
    ("river", "River cleanup collects tonnes", "Divers pulled two tonnes of rubbish"),
    ("stadium", "Stadium gets new pitch", "Groundsmen laid a hybrid grass pitch"),
]


def make_stories(n: int, start: datetime | None = None, offset: int = 0) -> list[Story]:
    """n distinct local-news stories, one a day from `start`, each with a unique fact."""
    start = start or datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    stories = []
    for i in range(offset, offset + n):
        slug, title, lead = TOPICS[i % len(TOPICS)]
        number = 100 + 7 * i
        body = (
            f"{lead}, officials said on day {i}. The work cost {number} thousand euros and was "
            f"paid for by the {slug} fund, according to the town's records.\n\n"
            f"Residents told the Harbour Herald that the {slug} project number {i} had taken "
            f"longer than planned. Mayor Ingrid Olsen thanked the {number} volunteers involved."
        )
        stories.append(
            Story(
                slug=f"{slug}-{i}",
                title=f"{title} ({i})",
                body=body,
                published=start + timedelta(days=i - offset),
                author="Kari Nordmann",
                categories=("Local",),
            )
        )
    return stories
