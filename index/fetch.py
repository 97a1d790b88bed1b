"""Fetching pages and feeds on a user's say-so, safely: the only place `index` touches the web.

A server that fetches any URL it is handed can be turned against its own network (SSRF). So:

* Only http(s) URLs. Every connection, including each redirect hop and robots.txt, goes through
  `GuardedBackend`: it resolves the host itself, refuses it when *any* address is private,
  loopback, link-local, multicast, reserved or unspecified (unless `allow_private_urls`), and
  then connects to the address it checked, so a second DNS answer cannot slip in between the
  check and the connection. Proxies from the environment are ignored (they would connect
  instead of us).
* Redirects are followed by hand, at most `max_redirects`, each hop checked again.
* Bodies are read as a stream and cut at a size cap (declared Content-Length first, then the
  bytes as they arrive, after decompression) and at a whole-response deadline, so a 50 MB page
  or a server that drips one byte a second costs little.
* The content type must be what the caller expects (HTML for a page, XML for a feed).
* robots.txt is honoured for the `newsqa` user agent, and each host gets at most one request
  per `host_interval_s`.

Nothing from a fetched document is executed or followed here; the feed code decides which
links (the feed's own item links) are fetched next.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import typing
import urllib.robotparser
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx

from index.settings import Settings

FetchKind = Literal["page", "feed", "any", "robots"]

# Media types accepted per kind of fetch. Feeds are often served as text/html or text/plain by
# misconfigured servers; the feed parser then decides.
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
XML_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/xml",
        "text/xml",
        "application/x-rss+xml",
        "application/x-atom+xml",
    }
)
ACCEPTED_TYPES: dict[FetchKind, frozenset[str]] = {
    "page": HTML_TYPES,
    "feed": XML_TYPES | HTML_TYPES | {"text/plain"},
    "any": XML_TYPES | HTML_TYPES,
    "robots": frozenset(),  # any: robots.txt is read as text whatever it is served as
}
ACCEPT_HEADERS: dict[FetchKind, str] = {
    "page": "text/html,application/xhtml+xml;q=0.9",
    "feed": "application/rss+xml,application/atom+xml,application/rdf+xml,"
    "application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.1",
    "any": "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,"
    "application/xml;q=0.9,text/xml;q=0.9",
    "robots": "text/plain",
}
ROBOTS_MAX_BYTES = 512 * 1024
ROBOTS_TTL_S = 3600.0
# An unreachable robots.txt (5xx, network error) means "do not crawl now" (RFC 9309 2.3.1.4);
# that verdict is kept only briefly so the host is retried soon.
ROBOTS_ERROR_TTL_S = 60.0

Resolver = Callable[[str, int], list[str]]


class FetchError(Exception):
    """A URL that could not be fetched. `reason` is for the user; `retryable` says whether the
    same request may succeed later (timeouts, 5xx) or not (404, wrong type, too large)."""

    def __init__(
        self,
        url: str,
        reason: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.retryable = retryable
        self.status = status
        self.retry_after_s = retry_after_s


class BlockedAddressError(FetchError):
    """The host resolves to an address we must not connect to."""


class RobotsDisallowedError(FetchError):
    pass


@dataclass
class Fetched:
    """A fetched document (status 200) or a conditional GET's answer "not modified" (304)."""

    url: str  # as requested
    final_url: str  # after redirects
    status: int
    content_type: str = ""  # media type, lower case, no parameters
    charset: str | None = None
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    def text(self) -> str:
        """The body decoded with the declared charset (UTF-8 when none or unknown)."""
        try:
            return self.body.decode(self.charset or "utf-8", errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


# --- URLs and addresses ------------------------------------------------------------------------


def normalise_url(url: str) -> str:
    """The URL as stored and compared: scheme and host lower case, no fragment, path "/" when
    empty. Raises ValueError (naming the URL) for anything but an absolute http(s) URL."""
    text = (url or "").strip()
    try:
        parts = urlsplit(text)
    except ValueError as error:
        raise ValueError(f"{text[:200]!r} is not a valid URL: {error}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{text[:200]!r} is not an http(s) URL")
    if any(ord(ch) < 33 for ch in text):
        raise ValueError(f"{text[:200]!r} contains spaces or control characters")
    netloc = parts.netloc.lower() if "@" not in parts.netloc else parts.netloc
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


def is_url(text: str) -> bool:
    return (text or "").strip().lower().startswith(("http://", "https://"))


def blocked_reason(address: str, allow_private: bool) -> str | None:
    """Why we must not connect to this IP address, or None when it is fine."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return blocked_reason(str(embedded), allow_private)
    if ip.is_unspecified:
        return f"{ip}, the unspecified address"
    if ip.is_multicast:
        return f"{ip}, a multicast address"
    if allow_private:
        return None
    for flag, name in (
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
    ):
        if flag:
            return f"{ip}, a {name} address"
    if not ip.is_global:
        return f"{ip}, not a public address"
    return None


def _embedded_ipv4(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, 6to4 or Teredo IPv6 address (checked instead)."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the host resolves to, in the resolver's order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's network backend with the address check in the one place every connection
    passes: resolve, check every address, connect to a checked one."""

    def __init__(self, allow_private: bool, resolver: Resolver = system_resolver) -> None:
        self.allow_private = allow_private
        self.resolver = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self.resolver(host, port)
        except (OSError, UnicodeError) as error:
            raise FetchError(
                host, f"cannot resolve host {host!r}: {error}", retryable=True
            ) from None
        if not addresses:
            raise FetchError(host, f"host {host!r} has no address", retryable=True)
        for address in addresses:  # one bad address is enough: DNS may rotate to it later
            reason = blocked_reason(address, self.allow_private)
            if reason:
                raise BlockedAddressError(
                    host,
                    f"refused: host {host!r} resolves to {reason} "
                    "(set QA_ALLOW_PRIVATE_URLS=true to allow private addresses)",
                )
        last_error: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
        assert last_error is not None
        raise last_error


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool that uses `GuardedBackend`."""

    def __init__(self, backend: GuardedBackend, max_connections: int = 32) -> None:
        super().__init__(trust_env=False)
        # httpx builds its pool without a way to pass a network backend; replace it. A test
        # (test_fetch: private addresses refused) fails if this ever stops taking effect.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=backend,
        )


# --- politeness: per-host rate limit and robots.txt ----------------------------------------------


class HostRateLimiter:
    """At most one request per `interval_s` to each host, across threads."""

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, host: str) -> None:
        if self.interval_s <= 0:
            return
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(host, 0.0))
            self._next[host] = slot + self.interval_s
        if slot > now:
            time.sleep(slot - now)


@dataclass
class _RobotsEntry:
    parser: urllib.robotparser.RobotFileParser | None  # None: do not crawl (unreachable)
    expires: float
    reason: str = ""


# --- the fetcher ---------------------------------------------------------------------------------


@dataclass
class FetchCounts:
    """Requests made, by kind (redirect hops included), for reports and tests."""

    by_kind: Counter[str] = field(default_factory=Counter)
    not_modified: int = 0


class Fetcher:
    """One HTTP client with the safety rules of the module docstring. Thread-safe."""

    def __init__(
        self,
        settings: Settings,
        *,
        resolver: Resolver = system_resolver,
        respect_robots: bool = True,
    ) -> None:
        self.settings = settings
        self.respect_robots = respect_robots
        self.user_agent = settings.fetch_user_agent
        self.robots_agent = self.user_agent.split("/")[0].strip().lower() or "*"
        self.limiter = HostRateLimiter(settings.host_interval_s)
        self.counts = FetchCounts()
        self._counts_lock = threading.Lock()
        self._robots: dict[str, _RobotsEntry] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._robots_guard = threading.Lock()
        timeout = settings.fetch_timeout_s
        self._client = httpx.Client(
            transport=GuardedTransport(
                GuardedBackend(settings.allow_private_urls, resolver),
                max_connections=max(8, settings.fetch_workers * 2),
            ),
            headers={"User-Agent": self.user_agent},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            follow_redirects=False,
            trust_env=False,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- public ---------------------------------------------------------------------------------
    def get(
        self,
        url: str,
        kind: FetchKind,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Fetched:
        """GET `url` under every rule of this module; raises FetchError naming the reason."""
        try:
            url = normalise_url(url)
        except ValueError as error:
            raise FetchError(url, str(error)) from None
        headers = {"Accept": ACCEPT_HEADERS[kind]}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            if kind != "robots" and self.respect_robots:
                self._check_robots(url)
            return self._get(url, kind, headers)
        except FetchError as error:
            if error.url != url:  # raised below the URL level (the backend knows only the host)
                raise type(error)(
                    url,
                    error.reason,
                    retryable=error.retryable,
                    status=error.status,
                    retry_after_s=error.retry_after_s,
                ) from None
            raise
        except httpx.TimeoutException as error:
            raise FetchError(url, f"timed out ({type(error).__name__})", retryable=True) from None
        except httpx.HTTPError as error:
            raise FetchError(
                url, f"{type(error).__name__}: {error or 'connection failed'}", retryable=True
            ) from None

    def max_bytes(self, kind: FetchKind) -> int:
        if kind == "robots":
            return ROBOTS_MAX_BYTES
        if kind == "page":
            return self.settings.max_page_bytes
        if kind == "feed":
            return self.settings.max_feed_bytes
        return max(self.settings.max_page_bytes, self.settings.max_feed_bytes)

    # --- one request, with redirects ------------------------------------------------------------
    def _get(self, url: str, kind: FetchKind, headers: dict[str, str]) -> Fetched:
        request = self._client.build_request("GET", url, headers=headers)
        deadline: float | None = None  # starts with the first request, not the rate-limit wait
        for hop in range(self.settings.max_redirects + 1):
            self.limiter.wait(request.url.host)
            if deadline is None:
                deadline = time.monotonic() + self.settings.fetch_deadline_s
            elif time.monotonic() > deadline:
                raise FetchError(
                    url, f"redirects took longer than {self._deadline}", retryable=True
                )
            response = self._send(request, kind)
            try:
                if not response.has_redirect_location:
                    return self._read(url, response, kind, deadline)
                target = response.next_request
            finally:
                response.close()
            if target is None or target.url.scheme not in ("http", "https"):
                raise FetchError(url, f"redirected to a non-http(s) URL at hop {hop + 1}")
            request = target
        raise FetchError(url, f"more than {self.settings.max_redirects} redirects")

    @property
    def _deadline(self) -> str:
        return f"{self.settings.fetch_deadline_s:g} s"

    def _send(self, request: httpx.Request, kind: FetchKind) -> httpx.Response:
        with self._counts_lock:
            self.counts.by_kind[kind] += 1
        return self._client.send(request, stream=True)

    def _read(
        self, url: str, response: httpx.Response, kind: FetchKind, deadline: float
    ) -> Fetched:
        final_url = str(response.url)
        status = response.status_code
        if status == 304:
            with self._counts_lock:
                self.counts.not_modified += 1
            return Fetched(url, final_url, 304, etag=response.headers.get("etag"))
        if status != 200:
            raise _status_error(url, response)
        media_type, charset = _content_type(response.headers.get("content-type", ""))
        accepted = ACCEPTED_TYPES[kind]
        if media_type and kind != "robots" and media_type not in accepted:
            wanted = "an HTML page" if kind == "page" else "an HTML page or a feed"
            raise FetchError(url, f"content type {media_type!r} is not {wanted}")
        body = self._read_capped(url, response, kind, deadline)
        return Fetched(
            url,
            final_url,
            200,
            media_type,
            charset,
            body,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )

    def _read_capped(
        self, url: str, response: httpx.Response, kind: FetchKind, deadline: float
    ) -> bytes:
        cap = self.max_bytes(kind)
        what = "page" if kind == "page" else "document"
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise FetchError(url, f"{what} is {_mb(int(declared))}, over the {_mb(cap)} limit")
        parts: list[bytes] = []
        size = 0
        for part in response.iter_bytes():  # as it arrives, decompressed: a gzip bomb hits the cap
            size += len(part)
            if size > cap:
                raise FetchError(url, f"{what} is larger than the {_mb(cap)} limit")
            if time.monotonic() > deadline:
                raise FetchError(
                    url, f"took longer than {self._deadline} to arrive", retryable=True
                )
            parts.append(part)
        return b"".join(parts)

    # --- robots.txt -----------------------------------------------------------------------------
    def _check_robots(self, url: str) -> None:
        parts = urlsplit(url)
        site = f"{parts.scheme}://{parts.netloc}"
        entry = self._robots_entry(site)
        if entry.parser is None:
            raise RobotsDisallowedError(url, entry.reason, retryable=True)
        if not entry.parser.can_fetch(self.robots_agent, url):
            raise RobotsDisallowedError(
                url, f"robots.txt of {parts.netloc} disallows {self.robots_agent!r} here"
            )

    def _robots_entry(self, site: str) -> _RobotsEntry:
        with self._robots_guard:
            lock = self._robots_locks.setdefault(site, threading.Lock())
        with lock:  # one robots.txt fetch per site, however many pages wait for it
            entry = self._robots.get(site)
            if entry is None or entry.expires < time.monotonic():
                entry = self._fetch_robots(site)
                self._robots[site] = entry
            return entry

    def _fetch_robots(self, site: str) -> _RobotsEntry:
        parser = urllib.robotparser.RobotFileParser(site + "/robots.txt")
        now = time.monotonic()
        try:
            fetched = self.get(site + "/robots.txt", "robots")
        except BlockedAddressError:
            raise
        except FetchError as error:
            if error.status is not None and 400 <= error.status < 500:
                # No robots.txt (404) means no rules; 401/403 are read the way Python's
                # robotparser reads them: the site forbids robots.
                parser.parse(["User-agent: *", "Disallow: /"] if error.status in (401, 403) else [])
                return _RobotsEntry(parser, now + ROBOTS_TTL_S)
            return _RobotsEntry(
                None,
                now + ROBOTS_ERROR_TTL_S,
                f"robots.txt of {urlsplit(site).netloc} could not be read ({error.reason}); "
                "not crawling that site until it can",
            )
        parser.parse(fetched.text().splitlines())
        return _RobotsEntry(parser, now + ROBOTS_TTL_S)


def _status_error(url: str, response: httpx.Response) -> FetchError:
    status = response.status_code
    retry_after = _retry_after_s(response.headers.get("retry-after"))
    retryable = status >= 500 or status in (408, 425, 429)
    phrase = response.reason_phrase or ""
    return FetchError(
        url,
        f"HTTP {status} {phrase}".strip(),
        retryable=retryable,
        status=status,
        retry_after_s=retry_after,
    )


def _retry_after_s(value: str | None) -> float | None:
    """Retry-After as seconds from now (it may be seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _content_type(header: str) -> tuple[str, str | None]:
    media_type, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip().strip("\"'") or None
    return media_type.strip().lower(), charset


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"
