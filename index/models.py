"""What flows through ingestion: an Article (one news story) and its Chunks."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, Field


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_id(name: str, body: str) -> str:
    """The id of an article without a url: a hash of what names it and its body."""
    return "sha256:" + sha256_hex(f"{name}\n{body}")[:32]


class Article(BaseModel):
    """One news article, whatever file format it came from."""

    title: str = ""
    body: str
    source: str = ""
    url: str = ""
    author: str = ""
    published: datetime | None = None
    caption: str = ""
    category: str = ""
    origin: str = Field(default="", description="File (and line/record) it was loaded from.")
    file_key: str = Field(
        default="",
        description="The file this article alone came from (its resolved path, or upload:NAME); "
        "a later edit of that file replaces the article instead of adding a second one. "
        "Empty for records, feeds, pages and files holding several articles.",
    )
    identity: str = Field(
        default="",
        description="What identifies an article without a url when its title does not (the "
        "loader sets it, see content_id); empty: the title and body do.",
    )

    @property
    def article_id(self) -> str:
        """Stable id: the url when there is one, else a hash of the content."""
        if self.url:
            return self.url
        return content_id(self.identity or self.title, self.body)

    @property
    def published_date(self) -> str:
        return self.published.date().isoformat() if self.published else ""

    @property
    def published_ts(self) -> int:
        """Epoch seconds (UTC); 0 when unknown. Chroma range filters take numbers only."""
        if not self.published:
            return 0
        moment = self.published
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp())

    @property
    def content_hash(self) -> str:
        """Changes whenever anything that is chunked, embedded or shown changes."""
        fields = [
            self.title,
            self.source,
            self.url,
            self.author,
            self.published_date,
            self.caption,
            self.category,
            self.body,
        ]
        return sha256_hex("\x1f".join(fields))[:32]

    def header(self) -> str:
        """Metadata written into the text that is embedded and searched (not into offsets)."""
        lines = [
            f"Title: {self.title}" if self.title else "",
            f"Source: {self.source}" if self.source else "",
            f"Published: {self.published_date}" if self.published else "",
        ]
        return "\n".join(line for line in lines if line)

    def metadata(self) -> dict[str, str | int]:
        """Flat, Chroma-safe metadata shared by every chunk of this article."""
        return {
            "article_id": self.article_id,
            "title": self.title,
            "source": self.source,
            "url": self.url,
            "author": self.author,
            "published": self.published.isoformat() if self.published else "",
            "published_date": self.published_date,
            "published_ts": self.published_ts,
            "caption": self.caption,
            "category": self.category,
            "content_hash": self.content_hash,
        }


class Chunk(BaseModel):
    """A piece of an article body. `start`/`end` index into `Article.body`."""

    chunk_id: str
    article_id: str
    index: int
    text: str
    start: int
    end: int
    header: str = ""

    @property
    def search_text(self) -> str:
        """What gets embedded and BM25-indexed: article header + chunk text."""
        return f"{self.header}\n\n{self.text}" if self.header else self.text

    @property
    def text_hash(self) -> str:
        return sha256_hex(self.search_text)[:32]


def parse_day(value: str | date | datetime | None) -> datetime | None:
    """Accept YYYY-MM-DD or a full ISO datetime; None for empty."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = value.strip().replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class LoadProblem(BaseModel):
    """A problem with one input. `fatal=False` means the article was still loaded (e.g. a
    fallback decode); `fatal=True` means that input (file, record or line) was skipped."""

    path: str
    line: int | None = None
    reason: str
    fatal: bool = True

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.reason}"


# A published date further ahead than this is a mistake (or a trick) and is dropped; a day
# of slack covers clock skew and time zones.
FUTURE_SLACK = timedelta(days=1)


def without_future_date(article: Article) -> tuple[Article, LoadProblem | None]:
    """The article, without its date when that lies in the future (beyond a day of skew), and
    the warning that says so: a date ahead of now would move every "this month" and "last
    week" the questions ask about, which count back from the newest article."""
    published = article.published
    moment = published if published is None or published.tzinfo else published.replace(tzinfo=UTC)
    if moment is None or moment <= datetime.now(UTC) + FUTURE_SLACK:
        return article, None
    problem = LoadProblem(
        path=article.origin,
        reason=f"date {moment.date().isoformat()} is in the future; article kept without it",
        fatal=False,
    )
    return article.model_copy(update={"published": None}), problem
