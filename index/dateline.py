"""News datelines: "SANTIAGO, March 4, 2024 (Reuters) - ", "WASHINGTON (AP) — ", "ROME -- ".

One reading for every loader: a text article takes its date and outlet from the dateline that
opens its body, a title made from a body leaves the dateline out, and a PDF finds its date
with `full_date`. A date counts only when the line writes a day, a month and a year: "LONDON,
June 3 (Reuters) -" names no year, and guessing one would file the story in the wrong year.
"""

from __future__ import annotations

import re
import warnings
from datetime import datetime
from typing import NamedTuple

# A word of the part between place and outlet: "March", "4th", "2024", "Minn.", "D.C.".
_WORD = r"(?:[A-Z][A-Za-z]*\.?|\d{1,4}(?:st|nd|rd|th)?)"
DATELINE = re.compile(
    # The place, in capitals: "SANTIAGO", "UNITED NATIONS", "ST. LOUIS".
    r"^(?P<place>[A-Z][A-Z.'’ ]{0,39}[A-Z.])"
    # Then a date or a state, in capitalised words and numbers: ", March 4, 2024", ", Minn.".
    rf"(?:,[ \t]*(?P<when>{_WORD}(?:,?[ \t]*{_WORD}){{0,5}}))?"
    # The outlet in parentheses: "(Reuters)", "(AP)", "(CNN Business)".
    r"(?:[ \t]*\((?P<outlet>[A-Za-z][\w .&'’-]{0,30})\))?"
    # The dash: "--", "—" or "–"; a lone "-" only after the outlet or a date's number, as a
    # hyphen elsewhere ("U.S. - China talks") is no dateline.
    r"(?:(?<=[)\d])[ \t]*-(?!-)|[ \t]*(?:--|—|–))[ \t]*"
)
# Two defaults that differ in every field: a field that reads differently was not written.
_DEFAULTS = (datetime(1901, 1, 1), datetime(1902, 2, 2))


class Dateline(NamedTuple):
    """What the dateline opening a text says, and the text after it."""

    rest: str
    published: datetime | None = None
    outlet: str = ""


def read_dateline(text: str) -> Dateline:
    """The dateline opening `text` (leading blanks ignored); the whole text as `rest` when
    there is none."""
    text = text.lstrip()
    match = DATELINE.match(text)
    if match is None:
        return Dateline(text)
    when = match.group("when")
    return Dateline(
        rest=text[match.end() :],
        published=full_date(when) if when else None,
        outlet=" ".join((match.group("outlet") or "").split()),
    )


def full_date(text: str) -> datetime | None:
    """dateutil's fuzzy reading of `text` when it names a day, a month and a year. Parsed
    against two different defaults: a field that differs between them was not in the text
    ("It cost 3 million euros" gives only a day, "(c) 2024" only a year)."""
    from dateutil import parser

    readings = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unknown time zone names ("EST") are only dropped
        for default in _DEFAULTS:
            try:
                readings.append(parser.parse(text, fuzzy=True, default=default))
            except (ValueError, OverflowError):
                return None
    first, second = readings
    if (first.year, first.month, first.day) != (second.year, second.month, second.day):
        return None
    return datetime(first.year, first.month, first.day)
