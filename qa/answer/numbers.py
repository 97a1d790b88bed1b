""" "How much …?", "How many …?", "How old …?" answered with the figure the article gives.

The answer leads with the amount as written ("about $4.3 billion", "66,000 people", "78"),
cited to the sentence it comes from. Which figure: money for "how much" and "what salary/price",
an age for "how old", for "how many <things>" a count written next to those things when the
sentence has one ("194 votes"), else the sentence's first count. Years and dates are not
amounts. No figure of the asked kind in the answering sentences: the articles don't say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.answer.terms import STOPWORDS, stem_of
from qa.answer.when import MONTHS

_AMOUNTS = (
    r"salary|price|cost|revenue|amount|fee|fine|percentage|valuation|sum|age|number|"
    r"share|stake|budget|profit|loss|sales|income|wage|pay"
)
# "How much …", "What salary …", "What was Temu's revenue …"
_ASKS = re.compile(
    r"^\s*(?:(?:by|for|in|at)\s+)?(?:how\s+(?P<how>much|many|old|long|far|big|tall|large|high)"
    rf"|what\s+(?:(?:is|was|were|are)\s+(?:the\s+)?(?:[\w’'.\-]+\s+){{0,3}}?)?"
    rf"(?P<what>{_AMOUNTS})\b)",
    re.I,
)
_MONEY_WORDS = {
    "much",
    "salary",
    "price",
    "cost",
    "revenue",
    "amount",
    "fee",
    "fine",
    "valuation",
    "sum",
    "budget",
    "profit",
    "loss",
    "sales",
    "income",
    "wage",
    "pay",
}
_SCALE = r"(?:\s?(?:million|billion|trillion|thousand|bn|m|k)\b)?"
_NUMBER = r"\d[\d,]*(?:\.\d+)?"
_MONEY = re.compile(
    rf"(?:(?:about|around|nearly|almost|roughly|more than|over|up to|some)\s+)?"
    rf"(?:(?:US|A|C|NZ)?[$€£¥]\s?{_NUMBER}{_SCALE}"
    rf"|{_NUMBER}{_SCALE}\s+(?:[A-Z][a-z]+\s+)?"
    rf"(?:dollars|euros|pounds|yen|yuan|rupees|kronor|francs|crowns)"
    rf"(?:\s+\(\S+\))?)",
    re.I,
)
_WORD_NUMBERS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|"
    r"hundreds|thousands|millions"
)
_COUNT = re.compile(
    rf"(?:(?:about|around|nearly|almost|roughly|more than|over|at least|up to|some)\s+)?"
    rf"(?<![\w$€£¥.,])(?:{_NUMBER}(?:\s?(?:million|billion|thousand))?|(?:{_WORD_NUMBERS}))\b"
    rf"(?!\s*(?:%|percent|per cent|years? old|-year-old))",
    re.I,
)
_PERCENT = re.compile(rf"{_NUMBER}\s?(?:%|percent\b|per cent\b)", re.I)
_AGE = re.compile(
    r"(?:\baged?\s+(?:of\s+)?(?P<a>\d{1,3})\b|\b(?P<b>\d{1,3})(?:-year-old|\s+years?\s+old)\b"
    r"|,\s+(?P<c>\d{1,3}),)",
    re.I,
)
_YEAR = re.compile(r"^(?:19|20)\d{2}$")
_MONTH = re.compile(rf"(?i:{MONTHS})")


@dataclass(frozen=True)
class Figure:
    text: str  # as written: "about $4.3 billion", "66,000"
    start: int  # offsets in the sentence
    end: int


def asks_for_a_number(question: str) -> bool:
    return _ASKS.match(question) is not None


def figure_in(sentence: str, question: str) -> Figure | None:
    """The figure of the kind `question` asks for, as `sentence` writes it; None if none."""
    match = _ASKS.match(question)
    if match is None:
        return None
    asked = (match.group("how") or match.group("what") or "").lower()
    if asked == "old" or asked == "age":
        return _age(sentence)
    if asked in _MONEY_WORDS:
        return _first(_MONEY, sentence) or (
            _first(_PERCENT, sentence) if "percent" in question else None
        )
    if asked in ("percentage", "share", "stake"):
        return _first(_PERCENT, sentence)
    if asked == "many":
        return _count(sentence, question[match.end() :])
    return _first(_COUNT, sentence)


def _first(pattern: re.Pattern[str], sentence: str) -> Figure | None:
    for found in pattern.finditer(sentence):
        if not _YEAR.match(found.group(0).strip()):
            return Figure(found.group(0), found.start(), found.end())
    return None


def _age(sentence: str) -> Figure | None:
    found = _AGE.search(sentence)
    if found is None:
        return None
    group = next(g for g in ("a", "b", "c") if found.group(g))
    return Figure(found.group(group), found.start(group), found.end(group))


def _count(sentence: str, rest_of_question: str) -> Figure | None:
    """ "How many people died": a count followed (within three words) by "people"; a count of
    something else ("35 roles", "June 29") is not the answer."""
    first = re.findall(r"[A-Za-z]+", rest_of_question)[:1]
    thing = stem_of(first[0]) if first and first[0].lower() not in STOPWORDS else ""
    for found in _COUNT.finditer(sentence):
        before = re.findall(r"[A-Za-z]+\.?", sentence[: found.start()])[-1:]
        if _YEAR.match(found.group(0).strip()) or (before and _MONTH.fullmatch(before[0])):
            continue
        after = re.findall(r"[A-Za-z]+", sentence[found.end() :])[:3]
        if not thing or any(stem_of(w) == thing for w in after):
            return Figure(found.group(0), found.start(), found.end())
    return None
