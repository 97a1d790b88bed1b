""" "When …?" answered with a date, read against the article's own date.

News copy dates events relative to the day it was written: "on Thursday", "today",
"yesterday". A reader asking "When did Maduro close the embassy?" wants the day, so the answer
leads with it, resolved against the cited article's publication date and saying so. Absolute
dates ("January 23, 2019") are quoted as written. Nothing is resolved without a publication date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

_ASKS_WHEN = re.compile(r"^\s*(?:when\b|(?:on|in)?\s*(?:what|which)\s+(?:day|date|month)\b)", re.I)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    r"january|february|march|april|may|june|july|august|september|october|november|"
    r"december|(?:jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?"
)
_ABSOLUTE = re.compile(
    rf"\b(?:(?:{MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}\s+(?:{MONTHS})(?:\s+\d{{4}})?"
    rf"|(?:{MONTHS})\s+(?:of\s+)?(?:19|20)\d{{2}})(?!\w)",
    re.I,
)
_RELATIVE = re.compile(r"\b(today|tonight|yesterday|tomorrow|" + "|".join(_WEEKDAYS) + r")\b", re.I)
# A weekday after one of these is ahead of the article, not behind it.
_FUTURE = re.compile(r"\b(?:will|shall|next|scheduled|expected to|plans? to|set to|due to)\b", re.I)


@dataclass(frozen=True)
class DateInSentence:
    said: str  # the words as written: "Thursday", "January 23"
    day: date | None  # the resolved day, None when it is written out in full (or unknown)


def asks_when(question: str) -> bool:
    return bool(_ASKS_WHEN.match(question))


def published_day(published: str) -> date | None:
    try:
        return datetime.fromisoformat(published).date() if published else None
    except ValueError:
        return None


def date_in(sentence: str, published: str) -> DateInSentence | None:
    """The first date the sentence gives: absolute as written, relative resolved against the
    article's date (a weekday is the last one on or before it, or the next one when the
    sentence speaks of the future)."""
    absolute = _ABSOLUTE.search(sentence)
    relative = _RELATIVE.search(sentence)
    if absolute and (not relative or absolute.start() <= relative.start()):
        return DateInSentence(absolute.group(0), None)
    article_day = published_day(published)
    if relative is None or article_day is None:
        # "On Wednesday 6 December" in an undated article: the written date still stands.
        return DateInSentence(absolute.group(0), None) if absolute else None
    word = relative.group(1).lower()
    offsets = {"today": 0, "tonight": 0, "yesterday": -1, "tomorrow": 1}
    if word in offsets:
        return DateInSentence(relative.group(1), article_day + timedelta(days=offsets[word]))
    back = (article_day.weekday() - _WEEKDAYS.index(word)) % 7
    if _FUTURE.search(sentence[: relative.start()]):
        ahead = (_WEEKDAYS.index(word) - article_day.weekday()) % 7 or 7
        return DateInSentence(relative.group(1), article_day + timedelta(days=ahead))
    return DateInSentence(relative.group(1), article_day - timedelta(days=back))


def written_date_in(sentence: str) -> bool:
    """Whether the sentence writes a date out ("Oct. 20", "6 December", "June 2017")."""
    return bool(_ABSOLUTE.search(sentence))


def describe(found: DateInSentence, published: str) -> str:
    """ "**Thursday, January 24, 2019**" (+ how it was read), or the date as written."""
    if found.day is None:
        return f"**{found.said}**"
    day = found.day
    label = f"{day:%A}, {day:%B} {day.day}, {day.year}"
    article_day = published_day(published)
    return f"**{label}** (“{found.said}” in an article of {article_day:%Y-%m-%d})"
