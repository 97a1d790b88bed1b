"""Polling feeds and ingesting URLs: fetch (index.fetch) -> Articles (index.feeds) -> ingest.

One poll: every due feed is fetched with a conditional GET (ETag / Last-Modified); a feed that
says "not modified" costs one request. Of a changed feed, only items not seen before (or whose
entry changed, or that failed and may be retried) have their page fetched; pages are fetched by a
few threads (at most one request per host per `host_interval_s`) while the articles already
extracted are embedded and written, so network, extraction and the model overlap. Ingestion is
the same as for files: unchanged articles are a no-op, changed ones are updated (old chunks
removed), near-duplicates across outlets are linked.

A feed that fails backs off exponentially; its items are not touched. Items are marked seen only
after their article is written, and a feed's validators only after all its items are done, so a
poll killed half-way redoes only what it had not finished.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit

from index.feeds import (
    FeedItem,
    NotAFeedError,
    ParsedFeed,
    item_article,
    looks_like_feed,
    page_article,
    parse_feed,
)
from index.feedstate import MAX_ITEM_ATTEMPTS, FeedRecord, FeedState, SeenItem
from index.fetch import Fetched, Fetcher, FetchError, normalise_url
from index.models import Article, LoadProblem
from index.settings import Settings

if TYPE_CHECKING:  # the model and the store load only when something is ingested
    from index.ingest import IngestReport
    from index.service import IndexService

log = logging.getLogger(__name__)

# Articles written per ingest call while pages are still being fetched: small enough that the
# model starts early and a crash loses little, large enough to batch the embedding well.
INGEST_BATCH = 48
Loaded: TypeAlias = Article | LoadProblem


@dataclass
class FeedOutcome:
    """What one poll did with one feed."""

    url: str
    title: str = ""
    status: str = ""  # new items | no new items | not modified | error | backing off | busy
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    fetched: int = 0
    error: str = ""
    item_errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "title": self.title,
            "status": self.status,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "fetched": self.fetched,
            "error": self.error,
            "item_errors": self.item_errors,
        }


@dataclass
class PollReport:
    feeds: list[FeedOutcome] = field(default_factory=list)
    feed_requests: int = 0
    not_modified: int = 0
    seconds: float = 0.0
    warnings: list[LoadProblem] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(int(getattr(outcome, name)) for outcome in self.feeds)

    @property
    def feeds_failed(self) -> int:
        return sum(1 for outcome in self.feeds if outcome.status == "error")

    @property
    def ok(self) -> bool:
        return self.total("failed") == 0 and self.feeds_failed == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "new": self.total("new"),
            "updated": self.total("updated"),
            "unchanged": self.total("unchanged"),
            "failed": self.total("failed"),
            "fetched": self.total("fetched"),
            "feeds": len(self.feeds),
            "feeds_failed": self.feeds_failed,
            "feed_requests": self.feed_requests,
            "not_modified": self.not_modified,
            "seconds": round(self.seconds, 3),
            "per_feed": [outcome.to_dict() for outcome in self.feeds],
            "warnings": [str(w) for w in self.warnings],
        }


@dataclass
class UrlIngestReport:
    """`qa ingest URL`: the ingest report plus what was fetched."""

    ingest: IngestReport
    fetched: int = 0
    feeds: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**self.ingest.to_dict(), "fetched": self.fetched, "feeds": self.feeds}


@dataclass
class _Work:
    """One feed item to turn into an article."""

    feed: ParsedFeed
    item: FeedItem


@dataclass
class _Done:
    work: _Work
    loaded: list[Loaded]
    fetched: bool  # a page request was made
    retryable: bool  # the page failed in a way that may pass later


@dataclass
class _FeedRun:
    """A claimed feed during one poll."""

    record: FeedRecord
    outcome: FeedOutcome
    fetched: Fetched | None = None
    parsed: ParsedFeed | None = None


class FeedPoller:
    """Feeds of one index: the list, polling, and one-off URL ingestion. Thread-safe: polls in
    one process run one at a time; other processes are kept off a feed by its lease."""

    def __init__(
        self,
        settings: Settings,
        service: IndexService | None = None,
        *,
        fetcher: Fetcher | None = None,
        state: FeedState | None = None,
    ) -> None:
        self.settings = settings
        self._service = service
        self.fetcher = fetcher or Fetcher(settings)
        self.state = state or FeedState(settings.feeds_db_path)
        self._poll_lock = threading.Lock()

    @property
    def service(self) -> IndexService:
        """The index, opened on first use: managing the feed list needs no model or store."""
        if self._service is None:
            from index.service import IndexService

            self._service = IndexService(self.settings)
        return self._service

    def close(self) -> None:
        self.fetcher.close()
        self.state.close()

    # --- the feed list --------------------------------------------------------------------------
    def add_feed(self, url: str, *, check: bool = True) -> tuple[FeedRecord, bool]:
        """Add a feed (after fetching it once to check it is one, unless check=False).
        Returns (record, added); raises ValueError/FetchError/NotAFeedError with the reason."""
        url = normalise_url(url)
        title = ""
        if check:
            parsed = parse_feed(self.fetcher.get(url, "feed"))
            title = parsed.title
        added = self.state.add_feed(url, title=title)
        record = self.state.feed(url)
        assert record is not None
        return record, added

    def remove_feed(self, url: str) -> bool:
        url = normalise_url(url)
        if url in self.settings.feed_urls:
            raise ValueError(f"{url} comes from QA_FEEDS; remove it there")
        return self.state.remove_feed(url)

    def feeds(self) -> list[FeedRecord]:
        self.state.sync_env_feeds(self._env_feeds())
        return self.state.feeds()

    def _env_feeds(self) -> list[str]:
        urls = []
        for url in self.settings.feed_urls:
            try:
                urls.append(normalise_url(url))
            except ValueError as error:
                log.warning("QA_FEEDS: %s", error)
        return urls

    # --- polling --------------------------------------------------------------------------------
    def poll(self, urls: Sequence[str] | None = None, *, force: bool = False) -> PollReport:
        """Poll the due feeds (or `urls`, which must be in the list); `force` ignores back-off."""
        with self._poll_lock:
            return self._poll(urls, force)

    def _poll(self, urls: Sequence[str] | None, force: bool) -> PollReport:
        started = time.perf_counter()
        requests_before = self.fetcher.counts.by_kind["feed"]
        not_modified_before = self.fetcher.counts.not_modified
        report = PollReport()
        runs = self._claim(self._selected(urls), force, report)
        try:
            self._fetch_feeds(runs)
            work = self._collect_work(runs)
            self._process(work, runs, report)
        finally:
            for run in runs:
                self.state.release(run.record.url)
        report.feed_requests = self.fetcher.counts.by_kind["feed"] - requests_before
        report.not_modified = self.fetcher.counts.not_modified - not_modified_before
        report.seconds = time.perf_counter() - started
        return report

    def _selected(self, urls: Sequence[str] | None) -> list[FeedRecord]:
        records = self.feeds()
        if urls is None:
            return records
        wanted = [normalise_url(u) for u in urls]
        known = {r.url: r for r in records}
        missing = [u for u in wanted if u not in known]
        if missing:
            raise ValueError(
                f"not in the feed list: {', '.join(missing)} (add with `qa feeds add URL`)"
            )
        return [known[u] for u in dict.fromkeys(wanted)]

    def _claim(self, records: list[FeedRecord], force: bool, report: PollReport) -> list[_FeedRun]:
        runs = []
        now = time.time()
        for record in records:
            outcome = FeedOutcome(record.url, record.title)
            report.feeds.append(outcome)
            if not force and record.next_poll_at > now:
                outcome.status = "backing off"
                outcome.error = record.last_error
                continue
            if not self.state.claim(record.url):
                outcome.status = "busy"
                outcome.error = "another process is polling this feed"
                continue
            runs.append(_FeedRun(record, outcome))
        return runs

    def _fetch_feeds(self, runs: list[_FeedRun]) -> None:
        def fetch(run: _FeedRun) -> None:
            record = run.record
            try:
                run.fetched = self.fetcher.get(
                    record.url, "feed", etag=record.etag, last_modified=record.last_modified
                )
                if not run.fetched.not_modified:
                    run.parsed = parse_feed(run.fetched)
            except Exception as error:  # one bad feed (or a parser bug) must not stop the poll
                if not isinstance(error, FetchError | NotAFeedError):
                    log.exception("feed %s", record.url)
                self._feed_failed(run, error)

        with ThreadPoolExecutor(self.settings.fetch_workers, "feed-fetch") as pool:
            list(pool.map(fetch, runs))

    def _feed_failed(self, run: _FeedRun, error: Exception) -> None:
        reason = error.reason if isinstance(error, FetchError) else str(error) or repr(error)
        retry_after = error.retry_after_s if isinstance(error, FetchError) else None
        wait = self.state.record_failure(
            run.record.url,
            reason,
            base_s=self.settings.feed_backoff_s,
            max_s=self.settings.feed_backoff_max_s,
            retry_after_s=retry_after,
        )
        run.outcome.status = "error"
        run.outcome.error = f"{reason} (next try in {wait:.0f} s)"
        run.fetched = None

    def _collect_work(self, runs: list[_FeedRun]) -> list[_Work]:
        """Items whose page must be fetched: new, changed, or failed and due for a retry."""
        work: list[_Work] = []
        for run in runs:
            if run.fetched is None:
                continue
            feed = run.parsed or ParsedFeed(run.record.url, run.record.title, "", [])
            run.outcome.title = feed.title or run.record.title
            seen = self.state.seen_items(run.record.url)
            items: dict[str, FeedItem] = {}
            for item in feed.items:
                if _needs_work(item, seen.get(item.key)):
                    items[item.key] = item
                else:
                    run.outcome.unchanged += 1
            for item in self.state.retry_items(run.record.url):  # also when "not modified"
                items.setdefault(item.key, item)
            work.extend(_Work(feed, item) for item in items.values())
        return _across_hosts(work)

    def _process(self, work: list[_Work], runs: list[_FeedRun], report: PollReport) -> None:
        by_url = {run.record.url: run for run in runs}
        stored: dict[str, str] | None = None
        batch: list[_Done] = []

        def flush() -> None:
            nonlocal stored
            if stored is None:
                stored = self.service.store.catalog_hashes()
            self._ingest_batch(batch, by_url, stored, report)
            batch.clear()

        for done in self._articles(work):
            by_url[done.work.feed.url].outcome.fetched += int(done.fetched)
            batch.append(done)
            if len(batch) >= INGEST_BATCH:
                flush()
        if batch:
            flush()
        for run in by_url.values():
            if run.fetched is not None:
                self._feed_done(run)

    def _ingest_batch(
        self,
        batch: list[_Done],
        runs: dict[str, _FeedRun],
        stored: dict[str, str],
        report: PollReport,
    ) -> None:
        ingest = self.service.ingest_items(_articles_of(batch, report))
        refused = {problem.path: problem.reason for problem in ingest.errors}
        done_by_feed: dict[str, list[tuple[FeedItem, str]]] = {}
        failed_by_feed: dict[str, list[tuple[FeedItem, str, bool]]] = {}
        for done in batch:
            run = runs[done.work.feed.url]
            article, reason = _outcome_of(done, refused)
            if article is None:
                run.outcome.failed += 1
                run.outcome.item_errors.append(f"{done.work.item.name}: {reason}")
                failed_by_feed.setdefault(run.record.url, []).append(
                    (done.work.item, reason, done.retryable)
                )
                continue
            _count_stored(run.outcome, stored.get(article.article_id), article.content_hash)
            stored[article.article_id] = article.content_hash
            done_by_feed.setdefault(run.record.url, []).append((done.work.item, article.article_id))
        for url, items in done_by_feed.items():
            self.state.mark_done(url, items)
        for url, failures in failed_by_feed.items():
            self.state.mark_failed(url, failures)

    def _feed_done(self, run: _FeedRun) -> None:
        outcome, fetched = run.outcome, run.fetched
        assert fetched is not None
        if fetched.not_modified and not (outcome.new or outcome.updated or outcome.failed):
            self.state.record_not_modified(run.record.url)
            outcome.status = "not modified"
            return
        outcome.status = "new items" if outcome.new or outcome.updated else "no new items"
        errors = (
            f"{outcome.failed} item(s) failed: {outcome.item_errors[0]}" if outcome.failed else ""
        )
        record = self.state.feed(run.record.url)
        self.state.record_success(
            run.record.url,
            title=run.parsed.title if run.parsed else "",
            etag=fetched.etag if not fetched.not_modified else (record.etag if record else None),
            last_modified=(
                fetched.last_modified
                if not fetched.not_modified
                else (record.last_modified if record else None)
            ),
            status=outcome.status,
            new=outcome.new + outcome.updated,
            error=errors,
        )

    # --- items -> articles (threads) --------------------------------------------------------------
    def _articles(self, work: list[_Work]) -> Iterator[_Done]:
        """Each item's article, in the order pages arrive; fetch and extraction in threads."""
        if not work:
            return
        with ThreadPoolExecutor(self.settings.fetch_workers, "page-fetch") as pool:
            futures: list[Future[_Done]] = [pool.submit(self._article, w) for w in work]
            try:
                for future in as_completed(futures):
                    yield future.result()
            finally:
                for future in futures:
                    future.cancel()

    def _article(self, work: _Work) -> _Done:
        item = work.item
        page: Fetched | FetchError | None = None
        if item.link:
            try:
                page = self.fetcher.get(item.link, "page")
            except FetchError as error:
                page = error
        try:
            loaded = list(item_article(item, work.feed, page))
        except Exception as error:  # a parser bug must cost one item, not the poll
            log.exception("item %s", item.name)
            loaded = [LoadProblem(path=item.name, reason=f"extraction failed: {error}")]
        retryable = isinstance(page, FetchError) and page.retryable
        return _Done(work, loaded, fetched=bool(item.link), retryable=retryable)

    # --- one-off URLs (`qa ingest URL`) -----------------------------------------------------------
    def ingest_urls(
        self,
        urls: Iterable[str],
        extra: Iterable[Loaded] = (),
        report: IngestReport | None = None,
    ) -> UrlIngestReport:
        """Fetch each URL: a page becomes one article, a feed every item's article. Nothing is
        added to the feed list. `extra` (e.g. loaded files) is ingested in the same run."""
        loaded: list[Loaded] = list(extra)
        fetched = feeds = 0
        work: list[_Work] = []
        for url in urls:
            try:
                document = self.fetcher.get(url, "any")
            except FetchError as error:  # refused, unreachable or an HTTP error: not fetched
                loaded.append(LoadProblem(path=url, reason=error.reason))
                continue
            fetched += 1
            if looks_like_feed(document):
                try:
                    feed = parse_feed(document)
                except NotAFeedError as error:
                    loaded.append(LoadProblem(path=url, reason=str(error)))
                    continue
                feeds += 1
                work.extend(_Work(feed, item) for item in feed.items)
            elif len(document.body) > self.settings.max_page_bytes:
                cap = self.settings.max_page_bytes / (1024 * 1024)
                loaded.append(LoadProblem(path=url, reason=f"page is over the {cap:.1f} MB limit"))
            else:
                loaded.extend(page_article(document))
        for done in self._articles(work):
            fetched += int(done.fetched)
            loaded.extend(done.loaded)
        ingested = self.service.ingest_items(loaded, report=report)
        return UrlIngestReport(ingested, fetched=fetched, feeds=feeds)


def _across_hosts(work: list[_Work]) -> list[_Work]:
    """Items in turn by host (a, b, c, a, b, c, …), so the fetch threads work on different hosts
    at once instead of queueing behind one host's rate limit."""
    by_host: dict[str, list[_Work]] = {}
    for item in work:
        host = urlsplit(item.item.link).hostname or ""
        by_host.setdefault(host, []).append(item)
    queues = list(by_host.values())
    ordered: list[_Work] = []
    for depth in range(max((len(q) for q in queues), default=0)):
        ordered.extend(q[depth] for q in queues if depth < len(q))
    return ordered


def _needs_work(item: FeedItem, before: SeenItem | None) -> bool:
    """New, changed since it was seen, or failed and not yet tried enough."""
    if before is None or before.fingerprint != item.fingerprint:
        return True
    return before.status == "failed" and before.attempts < MAX_ITEM_ATTEMPTS


class BackgroundPoller:
    """Polls every `interval_s` in a daemon thread (first poll at once) until stopped. A failed
    poll is logged and the next one comes on time; the thread never dies of it."""

    def __init__(
        self,
        poller: FeedPoller,
        interval_s: float,
        on_report: Callable[[PollReport], None] | None = None,
    ) -> None:
        self.poller = poller
        self.interval_s = interval_s
        self.on_report = on_report
        self.polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feed-poller", daemon=True)

    def start(self) -> BackgroundPoller:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                report = self.poller.poll()
                self.polls += 1
                if report.feeds:
                    log.info("feed poll: %s", _summary(report))
                if self.on_report is not None:
                    self.on_report(report)
            except Exception:
                log.exception("feed poll failed")
            self._stop.wait(self.interval_s)


def _summary(report: PollReport) -> str:
    data = report.to_dict()
    return (
        f"{data['feeds']} feeds, {data['new']} new, {data['updated']} updated, "
        f"{data['unchanged']} unchanged, {data['failed']} failed, {data['fetched']} pages "
        f"fetched, {data['feeds_failed']} feed errors in {data['seconds']:.1f} s"
    )


def _articles_of(batch: list[_Done], report: PollReport) -> list[Article]:
    """The batch's articles, one per id (a later item wins); warnings go to the report."""
    articles: dict[str, Article] = {}
    for done in batch:
        for loaded in done.loaded:
            if isinstance(loaded, Article):
                articles[loaded.article_id] = loaded
            elif not loaded.fatal:
                report.warnings.append(loaded)
    return list(articles.values())


def _outcome_of(done: _Done, refused: dict[str, str]) -> tuple[Article | None, str]:
    """The item's stored article, or None and why not (its load problem or ingest's refusal)."""
    article = next((a for a in done.loaded if isinstance(a, Article)), None)
    if article is None:
        problem = next((p for p in done.loaded if isinstance(p, LoadProblem) and p.fatal), None)
        return None, problem.reason if problem else "no article"
    reason = refused.get(article.origin)
    return (None, reason) if reason is not None else (article, "")


def _count_stored(outcome: FeedOutcome, before: str | None, content_hash: str) -> None:
    if before is None:
        outcome.new += 1
    elif before == content_hash:
        outcome.unchanged += 1
    else:
        outcome.updated += 1
