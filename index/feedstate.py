"""Feed polling state in one SQLite file in the data directory (`feeds.sqlite3`).

What lives here: the feed list (added by `qa feeds add` or named in QA_FEEDS), each feed's
conditional-GET validators (ETag, Last-Modified), last poll, last error, back-off, and the items
seen (so a repeated item is skipped without fetching its page). SQLite gives atomic commits and
safe concurrent use by several processes (WAL, busy timeout); a per-feed lease makes sure two
processes that poll at once never work on the same feed at the same time.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.feeds import FeedItem

SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    origin TEXT NOT NULL DEFAULT 'user',      -- 'user' (qa feeds add) or 'env' (QA_FEEDS)
    title TEXT NOT NULL DEFAULT '',
    added_at REAL NOT NULL,
    etag TEXT,
    last_modified TEXT,
    last_poll_at REAL,
    last_ok_at REAL,
    last_status TEXT NOT NULL DEFAULT '',     -- new items, no new items, not modified, error
    last_new INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    errors_in_row INTEGER NOT NULL DEFAULT 0,
    next_poll_at REAL NOT NULL DEFAULT 0,     -- back-off: not polled before this (epoch s)
    lease_owner TEXT,
    lease_until REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS items (
    feed_url TEXT NOT NULL,
    item_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    article_id TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,                     -- 'done' or 'failed'
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    item_json TEXT NOT NULL DEFAULT '',       -- kept for failed items, to retry them later
    seen_at REAL NOT NULL,
    PRIMARY KEY (feed_url, item_key)
);
"""
# A poller that died holding a lease loses it after this long.
LEASE_S = 15 * 60.0
# A failed item is tried this many times (on later polls) before it is left alone, until the
# feed changes it.
MAX_ITEM_ATTEMPTS = 3


@dataclass
class FeedRecord:
    url: str
    origin: str
    title: str
    added_at: float
    etag: str | None
    last_modified: str | None
    last_poll_at: float | None
    last_ok_at: float | None
    last_status: str
    last_new: int
    last_error: str
    errors_in_row: int
    next_poll_at: float
    items_seen: int = 0

    def summary(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "origin": self.origin,
            "title": self.title,
            "last_poll": _iso(self.last_poll_at),
            "last_ok": _iso(self.last_ok_at),
            "last_status": self.last_status,
            "last_new": self.last_new,
            "last_error": self.last_error,
            "errors_in_row": self.errors_in_row,
            "next_poll_not_before": _iso(self.next_poll_at) if self.next_poll_at else None,
            "items_seen": self.items_seen,
        }


@dataclass
class SeenItem:
    fingerprint: str
    status: str
    attempts: int


class FeedState:
    """The state file. One connection per instance, guarded by a lock (thread-safe)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, timeout=30.0, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA busy_timeout = 30000")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        with self._lock:  # executescript commits by itself; CREATE ... IF NOT EXISTS is atomic
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction: committed on success, rolled back on error, never half-written."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.rollback()
                raise
            self._db.commit()

    # --- the feed list --------------------------------------------------------------------------
    def add_feed(self, url: str, *, title: str = "", origin: str = "user") -> bool:
        """Add a feed; False when it was already there (its origin becomes 'user' if added by
        hand, so removing it from QA_FEEDS keeps it)."""
        with self._tx() as db:
            existing = db.execute("SELECT origin FROM feeds WHERE url = ?", (url,)).fetchone()
            if existing is not None:
                if origin == "user" and existing["origin"] != "user":
                    db.execute("UPDATE feeds SET origin = 'user' WHERE url = ?", (url,))
                if title:
                    db.execute("UPDATE feeds SET title = ? WHERE url = ?", (title, url))
                return False
            db.execute(
                "INSERT INTO feeds (url, origin, title, added_at) VALUES (?, ?, ?, ?)",
                (url, origin, title, time.time()),
            )
            return True

    def remove_feed(self, url: str) -> bool:
        with self._tx() as db:
            gone = db.execute("DELETE FROM feeds WHERE url = ?", (url,)).rowcount
            db.execute("DELETE FROM items WHERE feed_url = ?", (url,))
            return gone > 0

    def sync_env_feeds(self, urls: Iterable[str]) -> None:
        """Feeds named by QA_FEEDS are in the list; ones dropped from it leave (unless added by
        hand too)."""
        wanted = list(urls)
        for url in wanted:
            self.add_feed(url, origin="env")
        with self._tx() as db:
            rows = db.execute("SELECT url FROM feeds WHERE origin = 'env'").fetchall()
            for row in rows:
                if row["url"] not in wanted:
                    db.execute("DELETE FROM feeds WHERE url = ?", (row["url"],))
                    db.execute("DELETE FROM items WHERE feed_url = ?", (row["url"],))

    def feeds(self) -> list[FeedRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT f.*, (SELECT COUNT(*) FROM items i WHERE i.feed_url = f.url) AS seen "
                "FROM feeds f ORDER BY f.added_at, f.url"
            ).fetchall()
        return [_record(row) for row in rows]

    def feed(self, url: str) -> FeedRecord | None:
        return next((f for f in self.feeds() if f.url == url), None)

    # --- leases ---------------------------------------------------------------------------------
    def claim(self, url: str, *, now: float | None = None) -> bool:
        """Take the feed's lease unless another live poller holds it."""
        now = time.time() if now is None else now
        with self._tx() as db:
            claimed = db.execute(
                "UPDATE feeds SET lease_owner = ?, lease_until = ? "
                "WHERE url = ? AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ?)",
                (self.owner, now + LEASE_S, url, self.owner, now),
            ).rowcount
        return claimed > 0

    def release(self, url: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE feeds SET lease_owner = NULL, lease_until = 0 "
                "WHERE url = ? AND lease_owner = ?",
                (url, self.owner),
            )

    # --- poll results ---------------------------------------------------------------------------
    def record_success(
        self,
        url: str,
        *,
        title: str,
        etag: str | None,
        last_modified: str | None,
        status: str,
        new: int,
        error: str = "",
    ) -> None:
        """A poll that reached the feed: validators kept for the next conditional GET, back-off
        reset. `error` is a problem with some of its items, shown but not backed off."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "UPDATE feeds SET title = CASE WHEN ? != '' THEN ? ELSE title END, "
                "etag = ?, last_modified = ?, last_poll_at = ?, last_ok_at = ?, "
                "last_status = ?, last_new = ?, last_error = ?, errors_in_row = 0, "
                "next_poll_at = 0 WHERE url = ?",
                (title, title, etag, last_modified, now, now, status, new, error, url),
            )

    def record_not_modified(self, url: str) -> None:
        now = time.time()
        with self._tx() as db:
            db.execute(
                "UPDATE feeds SET last_poll_at = ?, last_ok_at = ?, last_status = 'not modified', "
                "last_new = 0, last_error = '', errors_in_row = 0, next_poll_at = 0 WHERE url = ?",
                (now, now, url),
            )

    def record_failure(
        self, url: str, error: str, *, base_s: float, max_s: float, retry_after_s: float | None
    ) -> float:
        """A poll that failed: exponential back-off (base, 2 base, 4 base, … up to max, or the
        server's Retry-After when longer). Returns the wait."""
        now = time.time()
        with self._tx() as db:
            row = db.execute("SELECT errors_in_row FROM feeds WHERE url = ?", (url,)).fetchone()
            errors = (row["errors_in_row"] if row else 0) + 1
            wait = min(max_s, base_s * 2 ** (errors - 1))
            if retry_after_s is not None:
                wait = max(wait, min(retry_after_s, max_s))
            db.execute(
                "UPDATE feeds SET last_poll_at = ?, last_status = 'error', last_new = 0, "
                "last_error = ?, errors_in_row = ?, next_poll_at = ? WHERE url = ?",
                (now, error, errors, now + wait, url),
            )
        return wait

    # --- items ----------------------------------------------------------------------------------
    def seen_items(self, feed_url: str) -> dict[str, SeenItem]:
        with self._lock:
            rows = self._db.execute(
                "SELECT item_key, fingerprint, status, attempts FROM items WHERE feed_url = ?",
                (feed_url,),
            ).fetchall()
        return {
            row["item_key"]: SeenItem(row["fingerprint"], row["status"], row["attempts"])
            for row in rows
        }

    def retry_items(self, feed_url: str) -> list[FeedItem]:
        """Failed items still worth another try (kept from the poll that saw them)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT item_json FROM items WHERE feed_url = ? AND status = 'failed' "
                "AND attempts < ? AND item_json != ''",
                (feed_url, MAX_ITEM_ATTEMPTS),
            ).fetchall()
        return [FeedItem.from_dict(json.loads(row["item_json"])) for row in rows]

    def mark_done(self, feed_url: str, items: Iterable[tuple[FeedItem, str]]) -> None:
        """Items ingested (or found unchanged): (item, article id)."""
        now = time.time()
        with self._tx() as db:
            db.executemany(
                "INSERT OR REPLACE INTO items (feed_url, item_key, fingerprint, article_id, "
                "status, attempts, error, item_json, seen_at) "
                "VALUES (?, ?, ?, ?, 'done', 0, '', '', ?)",
                [
                    (feed_url, item.key, item.fingerprint, article_id, now)
                    for item, article_id in items
                ],
            )

    def mark_failed(self, feed_url: str, items: Iterable[tuple[FeedItem, str, bool]]) -> None:
        """Items that could not be ingested: (item, reason, retryable). A retryable failure is
        tried again on later polls, up to MAX_ITEM_ATTEMPTS; a permanent one is not."""
        now = time.time()
        with self._tx() as db:
            for item, reason, retryable in items:
                row = db.execute(
                    "SELECT fingerprint, attempts FROM items WHERE feed_url = ? AND item_key = ?",
                    (feed_url, item.key),
                ).fetchone()
                same = row is not None and row["fingerprint"] == item.fingerprint
                attempts = (row["attempts"] if same else 0) + 1
                if not retryable:
                    attempts = MAX_ITEM_ATTEMPTS
                db.execute(
                    "INSERT OR REPLACE INTO items (feed_url, item_key, fingerprint, article_id, "
                    "status, attempts, error, item_json, seen_at) "
                    "VALUES (?, ?, ?, '', 'failed', ?, ?, ?, ?)",
                    (
                        feed_url,
                        item.key,
                        item.fingerprint,
                        attempts,
                        reason,
                        json.dumps(item.to_dict()),
                        now,
                    ),
                )


def _record(row: sqlite3.Row) -> FeedRecord:
    return FeedRecord(
        url=row["url"],
        origin=row["origin"],
        title=row["title"],
        added_at=row["added_at"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        last_poll_at=row["last_poll_at"],
        last_ok_at=row["last_ok_at"],
        last_status=row["last_status"],
        last_new=row["last_new"],
        last_error=row["last_error"],
        errors_in_row=row["errors_in_row"],
        next_poll_at=row["next_poll_at"],
        items_seen=row["seen"],
    )


def _iso(moment: float | None) -> str | None:
    if not moment:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
