"""Dates read against the article's own date.

spaCy finds the DATE spans ("Thursday", "January 23, 2019", "last year"); this module says
which day a span means. News copy dates events relative to the day it was written ("on
Thursday", "today"), so a weekday is resolved against the cited article's publication date
and the answer says so. Written-out dates are quoted as written. Nothing is resolved without a
publication date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from qa.answer.lexicon import MONTHS, WEEKDAYS

_MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|"
    r"december|(?:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?"
)
_ABSOLUTE = re.compile(
    rf"\b(?:(?P<m1>{_MONTHS})\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y1>\d{{4}}))?"
    rf"|(?P<d2>\d{{1,2}})\s+(?P<m2>{_MONTHS})(?:\s+(?P<y2>\d{{4}}))?"
    rf"|(?P<m3>{_MONTHS})\s+(?:of\s+)?(?P<y3>(?:19|20)\d{{2}}))(?!\w)",
    re.I,
)
# "in 2017", "since 2002": a year written alone is written out ("last year" is not).
_YEAR_ALONE = re.compile(r"(?:the\s+year\s+)?(?:19|20)\d{2}")
_RELATIVE = re.compile(r"\b(today|tonight|yesterday|tomorrow|" + "|".join(WEEKDAYS) + r")\b", re.I)
# A weekday after one of these is ahead of the article, not behind it.
_FUTURE = re.compile(r"\b(?:will|shall|next|scheduled|expected to|plans? to|set to|due to)\b", re.I)


@dataclass(frozen=True)
class DateReading:
    said: str  # the words as written: "Thursday", "January 23"
    day: date | None  # the resolved day; None when written out in full (or unknown)
    written: bool  # a date written out ("Oct. 20", "June 2017"), not "today"

    @property
    def year_only(self) -> bool:
        """A year written alone ("2017"): a sentence names years of many events, so the
        caller must tie it to the asked one."""
        return _YEAR_ALONE.fullmatch(self.said.strip()) is not None


def published_day(published: str) -> date | None:
    try:
        return datetime.fromisoformat(published).date() if published else None
    except ValueError:
        return None


def parse_day(text: str, default_year: int | None = None) -> date | None:
    """The day a written-out date names ("November 17, 2023"; a month alone is its 1st)."""
    match = _ABSOLUTE.search(text)
    if match is None:
        return None
    month_text = match.group("m1") or match.group("m2") or match.group("m3")
    year_text = match.group("y1") or match.group("y2") or match.group("y3")
    day_text = match.group("d1") or match.group("d2") or "1"
    month = next((i for i, m in enumerate(MONTHS, 1) if m.startswith(month_text.lower()[:3])), 0)
    year = int(year_text) if year_text else default_year
    if not month or year is None:
        return None
    try:
        return date(year, month, int(day_text))
    except ValueError:
        return None


def read_date(said: str, sentence: str, published: str) -> DateReading | None:
    """What a DATE span of `sentence` means: written out as written, a weekday or "today"
    resolved against the article's date (a weekday is the last one on or before it, or the
    next one when a future word comes before it in the sentence); None when it cannot be
    placed."""
    if _ABSOLUTE.search(said) or _YEAR_ALONE.fullmatch(said.strip()):
        return DateReading(said, None, True)
    relative = _RELATIVE.search(said)
    article_day = published_day(published)
    if relative is None or article_day is None:
        return None
    word = relative.group(1).lower()
    offsets = {"today": 0, "tonight": 0, "yesterday": -1, "tomorrow": 1}
    if word in offsets:
        days = offsets[word]
    elif _FUTURE.search(sentence[: max(0, sentence.find(said))]):
        days = (WEEKDAYS.index(word) - article_day.weekday()) % 7 or 7
    else:
        days = -((article_day.weekday() - WEEKDAYS.index(word)) % 7)
    return DateReading(relative.group(1), article_day + timedelta(days=days), False)


def describe(found: DateReading, published: str) -> tuple[str, str]:
    """The lead ("Thursday, January 24, 2019") and how it was read ("“Thursday” in an article
    of 2019-01-26"; empty for a date as written)."""
    day = found.day
    if day is None:
        return found.said, ""
    label = f"{day:%A}, {day:%B} {day.day}, {day.year}"
    return label, f"“{found.said}” in an article of {published_day(published):%Y-%m-%d}"
