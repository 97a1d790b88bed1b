"""index.fetch against servers on loopback: address checks (after DNS, on every redirect, no
second resolution), size caps, deadlines, status codes, content types, robots.txt, conditional
GET and the per-host rate limit. Never the internet: the socket guard refuses anything else."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator

import pytest

import index.fetch
from index.fetch import (
    BlockedAddressError,
    Fetcher,
    FetchError,
    HostRateLimiter,
    RobotsDisallowedError,
    blocked_reason,
    normalise_url,
)
from index.settings import Settings
from tests.web_fixtures import Route, WebServer, web_server

HTML = b"<html><head><title>T</title></head><body><p>Hello harbour.</p></body></html>"


@pytest.fixture
def web() -> Iterator[WebServer]:
    with web_server() as server:
        yield server


@pytest.fixture
def fetch_settings(tmp_path) -> Callable[..., Settings]:
    def make(**overrides) -> Settings:
        values = {
            "data_dir": tmp_path,
            "allow_private_urls": True,
            "host_interval_s": 0.0,
            "fetch_timeout_s": 2.0,
            "fetch_deadline_s": 5.0,
        }
        return Settings(**{**values, **overrides})

    return make


@pytest.fixture
def fetcher(fetch_settings, socket_guard) -> Iterator[Fetcher]:
    with Fetcher(fetch_settings()) as client:
        yield client


# --- addresses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "::1",
        "fe80::1%eth0",
        "fc00::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
    ],
)
def test_private_loopback_link_local_and_reserved_addresses_are_refused(address: str) -> None:
    assert blocked_reason(address, allow_private=False)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700::1111", "8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert blocked_reason(address, allow_private=False) is None


def test_allow_private_allows_loopback_but_never_unspecified_or_multicast() -> None:
    assert blocked_reason("127.0.0.1", allow_private=True) is None
    assert blocked_reason("10.0.0.1", allow_private=True) is None
    assert blocked_reason("0.0.0.0", allow_private=True)
    assert blocked_reason("224.0.0.1", allow_private=True)


def test_loopback_url_is_refused_unless_allowed(web: WebServer, fetch_settings, socket_guard):
    web.routes["/a"] = Route(HTML)
    with (
        Fetcher(fetch_settings(allow_private_urls=False)) as client,
        pytest.raises(BlockedAddressError) as caught,
    ):
        client.get(web.url("/a"), "page")
    assert "127.0.0.1, a loopback address" in caught.value.reason
    assert "QA_ALLOW_PRIVATE_URLS" in caught.value.reason
    assert caught.value.url == web.url("/a")
    assert web.hits == []  # refused before connecting, robots.txt included


def test_a_name_with_any_private_address_is_refused_without_connecting(
    fetch_settings, socket_guard
) -> None:
    def resolver(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.7"]  # one public, one private: refused as a whole

    with (
        Fetcher(fetch_settings(allow_private_urls=False), resolver=resolver) as client,
        pytest.raises(BlockedAddressError, match=r"10\.0\.0\.7, a private address"),
    ):
        client.get("http://news.example/a", "page")
    assert socket_guard.blocked == []  # no connection was even attempted


def test_the_checked_address_is_the_one_connected_to(
    web: WebServer, fetch_settings, socket_guard, monkeypatch
) -> None:
    """DNS rebinding: a second lookup would answer a private address. We resolve once per
    connection, check that answer and connect to it; the name never reaches getaddrinfo."""
    web.routes["/a"] = Route(HTML)
    answers = [["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]]
    calls: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[len(calls) - 1]

    looked_up: list[object] = []
    real_getaddrinfo = socket.getaddrinfo

    def spy(host, *args, **kwargs):
        looked_up.append(host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", spy)
    settings = fetch_settings()
    with Fetcher(settings, resolver=resolver, respect_robots=False) as client:
        fetched = client.get(f"http://rebind.test:{web.port}/a", "page")
    assert fetched.body == HTML
    assert calls == ["rebind.test"]
    assert "rebind.test" not in looked_up  # httpcore connected to the literal we checked


def test_a_redirect_to_a_private_address_is_refused(
    fetch_settings, socket_guard, monkeypatch
) -> None:
    """127.0.0.2 stands in for a public site (the test treats it as public); it redirects to
    127.0.0.1, which stays private: the hop is refused before any connection to it."""
    real = index.fetch.blocked_reason

    def public_127_0_0_2(address: str, allow_private: bool) -> str | None:
        return None if address == "127.0.0.2" else real(address, allow_private)

    monkeypatch.setattr(index.fetch, "blocked_reason", public_127_0_0_2)
    private = WebServer("127.0.0.1")
    public = WebServer("127.0.0.2")
    try:
        private.routes["/secret"] = Route(b"internal")
        public.routes["/go"] = Route(status=302, headers={"Location": private.url("/secret")})
        with Fetcher(fetch_settings(allow_private_urls=False), respect_robots=False) as client:
            with pytest.raises(BlockedAddressError, match="loopback"):
                client.get(public.url("/go"), "page")
            assert [h.path for h in public.hits] == ["/go"]
            assert private.hits == []
        with Fetcher(fetch_settings(allow_private_urls=True), respect_robots=False) as client:
            private.routes["/secret"] = Route(HTML)
            assert client.get(public.url("/go"), "page").final_url == private.url("/secret")
    finally:
        private.close()
        public.close()


# --- redirects, statuses, types ----------------------------------------------------------------


def test_redirects_are_followed_and_counted(web: WebServer, fetcher: Fetcher) -> None:
    web.routes["/old"] = Route(status=301, headers={"Location": "/older"})
    web.routes["/older"] = Route(status=302, headers={"Location": web.url("/new")})
    web.routes["/new"] = Route(HTML)
    fetched = fetcher.get(web.url("/old"), "page")
    assert fetched.url == web.url("/old") and fetched.final_url == web.url("/new")
    assert fetched.body == HTML


def test_too_many_redirects_and_non_http_targets_are_refused(
    web: WebServer, fetch_settings, socket_guard
) -> None:
    web.routes["/loop"] = Route(status=302, headers={"Location": "/loop"})
    web.routes["/ftp"] = Route(status=302, headers={"Location": "ftp://files.example/x"})
    web.routes["/file"] = Route(status=302, headers={"Location": "file:///etc/passwd"})
    with Fetcher(fetch_settings(max_redirects=3)) as client:
        with pytest.raises(FetchError, match="more than 3 redirects"):
            client.get(web.url("/loop"), "page")
        assert len(web.hits_for("/loop")) == 4
        for path in ("/ftp", "/file"):
            with pytest.raises(FetchError, match="non-http"):
                client.get(web.url(path), "page")


@pytest.mark.parametrize(
    ("status", "retryable"), [(404, False), (410, False), (403, False), (500, True), (503, True)]
)
def test_error_statuses_name_the_status(web: WebServer, fetcher: Fetcher, status, retryable):
    web.routes["/x"] = Route(b"oops", status=status, conditional=False)
    with pytest.raises(FetchError) as caught:
        fetcher.get(web.url("/x"), "page")
    assert caught.value.status == status
    assert f"HTTP {status}" in caught.value.reason
    assert caught.value.retryable is retryable


def test_retry_after_is_read(web: WebServer, fetcher: Fetcher) -> None:
    web.routes["/busy"] = Route(status=429, headers={"Retry-After": "120"}, conditional=False)
    with pytest.raises(FetchError) as caught:
        fetcher.get(web.url("/busy"), "feed")
    assert caught.value.retryable and caught.value.retry_after_s == 120


def test_a_non_html_page_is_refused(web: WebServer, fetcher: Fetcher) -> None:
    web.routes["/logo.png"] = Route(b"\x89PNG\r\n\x1a\n....", content_type="image/png")
    web.routes["/data.json"] = Route(b"{}", content_type="application/json")
    with pytest.raises(FetchError, match="content type 'image/png' is not an HTML page"):
        fetcher.get(web.url("/logo.png"), "page")
    with pytest.raises(FetchError, match="not an HTML page or a feed"):
        fetcher.get(web.url("/data.json"), "any")


def test_a_50_mb_page_is_refused_at_the_cap(web: WebServer, fetch_settings, socket_guard) -> None:
    web.routes["/huge"] = Route(stream_bytes=50 * 1024 * 1024)
    web.routes["/huge-unlabelled"] = Route(stream_bytes=50 * 1024 * 1024, no_length=True)
    with Fetcher(fetch_settings(max_page_bytes=1024 * 1024)) as client:
        with pytest.raises(FetchError, match=r"page is 50\.0 MB, over the 1\.0 MB limit"):
            client.get(web.url("/huge"), "page")
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"larger than the 1\.0 MB limit"):
            client.get(web.url("/huge-unlabelled"), "page")
        assert time.monotonic() - started < 5  # it stopped reading at the cap


def test_a_server_that_hangs_times_out(web: WebServer, fetch_settings, socket_guard) -> None:
    web.routes["/hang"] = Route(HTML, delay_s=2.0)
    with (
        Fetcher(fetch_settings(fetch_timeout_s=0.3)) as client,
        pytest.raises(FetchError, match="timed out") as caught,
    ):
        client.get(web.url("/hang"), "page")
    assert caught.value.retryable


def test_a_slow_drip_is_cut_at_the_deadline(web: WebServer, fetch_settings, socket_guard) -> None:
    """Each byte arrives well within the read timeout; the whole never would."""
    web.routes["/drip"] = Route(HTML * 4, drip_s=0.02)
    with Fetcher(fetch_settings(fetch_timeout_s=1.0, fetch_deadline_s=0.5)) as client:
        started = time.monotonic()
        with pytest.raises(FetchError, match=r"took longer than 0\.5 s") as caught:
            client.get(web.url("/drip"), "page")
    assert time.monotonic() - started < 2.0
    assert caught.value.retryable


def test_bad_urls_are_refused_with_the_reason(fetcher: Fetcher) -> None:
    for url, reason in [
        ("ftp://x.example/a", "not an http(s) URL"),
        ("file:///etc/passwd", "not an http(s) URL"),
        ("javascript:alert(1)", "not an http(s) URL"),
        ("http://", "not an http(s) URL"),
        ("http://x.example/a b", "spaces or control characters"),
    ]:
        with pytest.raises(FetchError, match=re.escape(reason)):
            fetcher.get(url, "page")


def test_normalised_urls_drop_the_fragment_and_lower_the_host() -> None:
    assert normalise_url("HTTP://News.Example/Path?q=1#top") == "http://news.example/Path?q=1"
    assert normalise_url("https://news.example") == "https://news.example/"


# --- conditional GET, robots.txt, rate limit ---------------------------------------------------


def test_conditional_get_gets_not_modified(web: WebServer, fetcher: Fetcher) -> None:
    web.routes["/feed"] = Route(b"<rss version='2.0'></rss>", content_type="application/rss+xml")
    first = fetcher.get(web.url("/feed"), "feed")
    again = fetcher.get(web.url("/feed"), "feed", etag=first.etag)
    assert first.status == 200 and first.etag
    assert again.not_modified and again.body == b""
    assert web.hits_for("/feed")[-1].headers["if-none-match"] == first.etag
    assert fetcher.counts.not_modified == 1


def test_user_agent_names_the_product(web: WebServer, fetcher: Fetcher) -> None:
    web.routes["/a"] = Route(HTML)
    fetcher.get(web.url("/a"), "page")
    assert web.hits_for("/a")[0].headers["user-agent"].startswith("newsqa/")


def test_robots_txt_is_respected(web: WebServer, fetcher: Fetcher) -> None:
    web.routes["/robots.txt"] = Route(
        b"User-agent: *\nDisallow: /private/\n\nUser-agent: newsqa\nDisallow: /no-bots/\n",
        content_type="text/plain",
    )
    for path in ("/ok", "/private/a", "/no-bots/a"):
        web.routes[path] = Route(HTML)
    assert fetcher.get(web.url("/ok"), "page").body == HTML
    with pytest.raises(RobotsDisallowedError, match=r"robots\.txt"):
        fetcher.get(web.url("/no-bots/a"), "page")
    # A group for newsqa replaces the * group (robots.txt rules): /private/ is allowed to it.
    assert fetcher.get(web.url("/private/a"), "page").body == HTML
    assert len(web.hits_for("/robots.txt")) == 1  # cached per site
    assert web.hits_for("/no-bots") == []


def test_an_unreachable_robots_txt_means_no_crawling_for_now(
    web: WebServer, fetcher: Fetcher
) -> None:
    web.routes["/robots.txt"] = Route(b"down", status=503, conditional=False)
    web.routes["/a"] = Route(HTML)
    with pytest.raises(RobotsDisallowedError, match="could not be read") as caught:
        fetcher.get(web.url("/a"), "page")
    assert caught.value.retryable
    assert web.hits_for("/a") == []


def test_the_rate_limit_spaces_requests_to_one_host() -> None:
    limiter = HostRateLimiter(0.15)
    started = time.monotonic()
    for _ in range(3):
        limiter.wait("a.example")
    limiter.wait("b.example")  # another host does not wait for a.example's slots
    elapsed = time.monotonic() - started
    assert 0.29 <= elapsed < 0.6


def test_fetches_to_one_host_keep_the_interval(web: WebServer, fetch_settings, socket_guard):
    for i in range(3):
        web.routes[f"/p{i}"] = Route(HTML)
    with Fetcher(fetch_settings(host_interval_s=0.2)) as client:
        started = time.monotonic()
        for i in range(3):
            client.get(web.url(f"/p{i}"), "page")
    # robots.txt + 3 pages = 4 requests, 3 intervals
    assert time.monotonic() - started >= 0.6
