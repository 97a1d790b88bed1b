"""What a question says about *where* and *when*: outlets it names and dates it mentions.

MultiHop-RAG style questions name outlets ("… as reported by TechCrunch …") and publication days
("… published on October 7, 2023 …"); people write "in November 2023" or "last week". Outlets
and days become strong priors (a multi-hop question names several of each, so none of them may
exclude the others); relative periods ("last week", relative to the newest article in the index)
become hard filters because they scope the whole question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

DAY_S = 86_400
_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for name in names
}
_MONTH_RE = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_LEAD_RE = r"(?:(?P<lead>on|in|during|since|after|from|before|until|till|by|prior to)\s+)?"
_DAY_RE = re.compile(
    _LEAD_RE + _MONTH_RE + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})\b",
    re.IGNORECASE,
)
_MONTH_YEAR_RE = re.compile(_LEAD_RE + _MONTH_RE + r",?\s+(?P<year>\d{4})\b", re.IGNORECASE)
_ISO_RE = re.compile(_LEAD_RE + r"\b(?P<iso>\d{4}-\d{2}-\d{2})\b", re.IGNORECASE)
_RELATIVE = {
    "today": (0, 1),
    "yesterday": (1, 1),
    "this week": (7, 8),
    "last week": (7, 8),
    "past week": (7, 8),
    "this month": (30, 31),
    "last month": (30, 31),
    "past month": (30, 31),
    "last few days": (3, 4),
    "past few days": (3, 4),
    "last two weeks": (14, 15),
    "past two weeks": (14, 15),
}
# "The latest on X", "most recent news about X": a preference (not a filter: the newest article
# about X may be older) for the newest LATEST_DAYS days of the index. Only where the word scopes
# the news itself, so "the latest iPhone" or "the newest member" is not read as a time.
LATEST_DAYS = 3
_LATEST_WORDS = ("latest", "most recent", "newest")
_LATEST_SCOPES = (
    "news",
    "on",
    "about",
    "update",
    "updates",
    "development",
    "developments",
    "report",
    "reports",
    "reporting",
    "article",
    "articles",
    "story",
    "stories",
    "headline",
    "headlines",
    "coverage",
)
_LATEST_RE = re.compile(
    r"\b(?:the\s+)?(?:" + "|".join(w.replace(" ", r"\s+") for w in _LATEST_WORDS) + r")\b"
    r"(?=\s+(?:" + "|".join(_LATEST_SCOPES) + r")\b|\s*[?.!]*\s*$)",
    re.IGNORECASE,
)
_RELATIVE_RE = re.compile(
    r"\b(?:(?P<phrase>" + "|".join(sorted(_RELATIVE, key=len, reverse=True)) + r")|"
    r"(?:in the )?(?:last|past) (?P<n>\d{1,3}) (?P<unit>days?|weeks?|months?))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SourceMention:
    source: str
    start: int
    end: int


@dataclass(frozen=True)
class DateMention:
    """A period the question mentions: [since_ts, until_ts) in epoch seconds."""

    text: str
    start: int
    since_ts: int
    until_ts: int
    kind: str  # "day" | "month" | "after" | "before" | "relative" | "latest"
    hard: bool = False

    def label(self) -> tuple[str | None, str | None]:
        since = _iso_day(self.since_ts) if self.since_ts > 0 else None
        until = _iso_day(self.until_ts - 1) if self.until_ts < 2**62 else None
        return since, until


@dataclass
class QueryAnalysis:
    question: str
    sources: list[SourceMention] = field(default_factory=list)
    dates: list[DateMention] = field(default_factory=list)

    @property
    def source_names(self) -> list[str]:
        seen: dict[str, None] = {}
        for mention in self.sources:
            seen.setdefault(mention.source, None)
        return list(seen)

    def source_clauses(self) -> dict[str, str]:
        """Per named source, the question text from its mention to the next source mention
        (plus the text before the first mention for the first source): what that outlet is
        said to report."""
        clauses: dict[str, list[str]] = {}
        ordered = sorted(self.sources, key=lambda m: m.start)
        for i, mention in enumerate(ordered):
            begin = 0 if i == 0 else ordered[i - 1].end
            end = ordered[i + 1].start if i + 1 < len(ordered) else len(self.question)
            clauses.setdefault(mention.source, []).append(self.question[begin:end])
        return {source: " ".join(parts) for source, parts in clauses.items()}

    def source_segments(self) -> dict[str, tuple[str, str]]:
        """Per named source, the text just before its mention (since the previous mention) and
        just after it (up to the next): "… known for X, as reported by TechCrunch" puts the
        claim before, "Does the TechCrunch article say X …" after."""
        segments: dict[str, tuple[list[str], list[str]]] = {}
        ordered = sorted(self.sources, key=lambda m: m.start)
        for i, mention in enumerate(ordered):
            begin = 0 if i == 0 else ordered[i - 1].end
            end = ordered[i + 1].start if i + 1 < len(ordered) else len(self.question)
            before, after = segments.setdefault(mention.source, ([], []))
            before.append(self.question[begin : mention.start])
            after.append(self.question[mention.end : end])
        return {s: (" ".join(b), " ".join(a)) for s, (b, a) in segments.items()}

    def source_days(self) -> dict[str, list[DateMention]]:
        """Day mentions attached to the nearest source mention before them."""
        attached: dict[str, list[DateMention]] = {}
        ordered = sorted(self.sources, key=lambda m: m.start)
        for mention in self.dates:
            if mention.kind != "day":
                continue
            before = [s for s in ordered if s.start < mention.start]
            owner = before[-1] if before else (ordered[0] if ordered else None)
            if owner is not None:
                attached.setdefault(owner.source, []).append(mention)
        return attached


# --- sources --------------------------------------------------------------------------------------


def source_aliases(source: str) -> list[str]:
    """Ways a question names an outlet: "Cnbc | World Business News Leader" -> "Cnbc"."""
    aliases = {source}
    for separator in (" | ", " - ", ": "):
        if separator in source:
            aliases.add(source.split(separator)[0].strip())
    for alias in list(aliases):
        if alias.lower().startswith("the ") and len(alias) > 8:
            aliases.add(alias[4:])
        if alias.lower().endswith(".com"):
            aliases.add(alias[:-4])
    return sorted((a for a in aliases if len(a) >= 3), key=len, reverse=True)


@lru_cache(maxsize=8)
def _source_matcher(source_names: tuple[str, ...]) -> tuple[re.Pattern[str], dict[str, list[str]]]:
    """One alternation over every alias, longest first, so "The Independent - Sports" wins over
    "The Independent" at the same position. Case-sensitive: "Fortune", not "a fortune"."""
    by_alias: dict[str, list[str]] = {}
    for source in source_names:
        for alias in source_aliases(source):
            by_alias.setdefault(alias, []).append(source)
    ordered = sorted(by_alias, key=len, reverse=True)
    pattern = r"(?<![\w])(?:" + "|".join(re.escape(a) for a in ordered) + r")(?![\w])"
    return re.compile(pattern), by_alias


def find_sources(question: str, source_names: list[str]) -> list[SourceMention]:
    """Outlets named in the question; an alias shared by several outlets ("The Independent")
    names all of them."""
    if not source_names:
        return []
    matcher, by_alias = _source_matcher(tuple(source_names))
    return [
        SourceMention(source, match.start(), match.end())
        for match in matcher.finditer(question)
        for source in by_alias[match.group(0)]
    ]


# --- dates ----------------------------------------------------------------------------------------


def _ts(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _iso_day(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).date().isoformat()


def _period(lead: str | None, first: date, after_last: date) -> tuple[int, int, str]:
    lead = (lead or "").lower()
    if lead in {"since", "after", "from"}:
        start = first if lead in {"since", "from"} else after_last
        return _ts(start), 2**62, "after"
    if lead in {"before", "until", "till", "by", "prior to"}:
        end = after_last if lead in {"until", "till", "by"} else first
        return 0, _ts(end), "before"
    return _ts(first), _ts(after_last), "day" if (after_last - first).days == 1 else "month"


def find_dates(
    question: str, newest_ts: int = 0, skip: list[tuple[int, int]] | None = None
) -> list[DateMention]:
    """Dates in the question; `skip` spans (outlet names such as "Business Today") are not read."""
    mentions: list[DateMention] = []
    taken: list[tuple[int, int]] = list(skip or [])

    def add(match: re.Match[str], first: date, after_last: date) -> None:
        if any(match.start() < end and start < match.end() for start, end in taken):
            return
        taken.append((match.start(), match.end()))
        since, until, kind = _period(match.group("lead"), first, after_last)
        mentions.append(DateMention(match.group(0).strip(), match.start(), since, until, kind))

    for match in _DAY_RE.finditer(question):
        try:
            day = date(int(match["year"]), _MONTHS[match["month"].lower()], int(match["day"]))
        except ValueError:
            continue
        add(match, day, day + timedelta(days=1))
    for match in _ISO_RE.finditer(question):
        try:
            day = date.fromisoformat(match["iso"])
        except ValueError:
            continue
        add(match, day, day + timedelta(days=1))
    for match in _MONTH_YEAR_RE.finditer(question):
        year, month = int(match["year"]), _MONTHS[match["month"].lower()]
        if not 1900 <= year <= 2200:
            continue
        first = date(year, month, 1)
        after_last = date(year + month // 12, month % 12 + 1, 1)
        add(match, first, after_last)
    if newest_ts:
        # "… told employees 'based on today's news, i quit'": a quotation's "today" is the
        # speaker's day, not the asker's, and must not filter to the newest articles.
        mentions.extend(_relative_dates(question, newest_ts, taken + quoted_spans(question)))
    return sorted(mentions, key=lambda m: m.start)


# A quotation: double quotes, or single ones whose closing mark is no apostrophe ("today's").
_QUOTED_RE = re.compile(r"[\"“][^\"“”]*[\"”]|(?<!\w)['‘](?:[^'‘’]|['’](?=\w))*['’](?!\w)")


def quoted_spans(question: str) -> list[tuple[int, int]]:
    return [match.span() for match in _QUOTED_RE.finditer(question)]


def _relative_dates(
    question: str, newest_ts: int, taken: list[tuple[int, int]]
) -> list[DateMention]:
    """ "last week", "today", "the latest" etc., counted back from the end of the newest
    article's day (not the machine's clock: a corpus may end months ago)."""
    end = _ts(datetime.fromtimestamp(newest_ts, tz=UTC).date()) + DAY_S
    found = []
    for match in _RELATIVE_RE.finditer(question):
        if any(match.start() < e and s < match.end() for s, e in taken):
            continue
        if match["phrase"]:
            back, _ = _RELATIVE[match["phrase"].lower()]
            days = max(back, 1)
            if match["phrase"].lower() == "yesterday":
                found.append(
                    DateMention(
                        match.group(0),
                        match.start(),
                        end - 2 * DAY_S,
                        end - DAY_S,
                        "relative",
                        hard=True,
                    )
                )
                continue
        else:
            unit = match["unit"].lower().rstrip("s")
            days = int(match["n"]) * {"day": 1, "week": 7, "month": 30}[unit]
        found.append(
            DateMention(
                match.group(0), match.start(), end - days * DAY_S, end, "relative", hard=True
            )
        )
    for match in _LATEST_RE.finditer(question):
        if not any(match.start() < e and s < match.end() for s, e in taken):
            since = end - LATEST_DAYS * DAY_S
            found.append(DateMention(match.group(0), match.start(), since, end, "latest"))
    return found


def analyze(question: str, source_names: list[str], newest_ts: int = 0) -> QueryAnalysis:
    sources = find_sources(question, source_names)
    spans = [(m.start, m.end) for m in sources]
    return QueryAnalysis(question, sources, find_dates(question, newest_ts, skip=spans))
