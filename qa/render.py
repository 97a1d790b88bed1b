"""Answers as safe HTML for the chat window and its sources panel. Pure functions, no gradio.

Everything that comes from an article (title, source, url, passage, quote, even the answer text,
which is made of article sentences) is DATA. Two renderers see our HTML:

* the Chatbot renders Markdown (with inline HTML, then sanitizes);
* the sources panel is a gr.HTML, which inserts its value as HTML.

So every article-derived string goes through `escape_text`: `html.escape` plus numeric entities
for every Markdown/template-active character (`[`, `*`, `_`, backticks, `$`, `{`, `:` …), so
that neither the Markdown parser, KaTeX, nor gr.HTML's template engine can see syntax in it.
Our own markup is emitted on a single line (no newlines at all): Markdown then treats the whole
message as one raw HTML block and leaves it alone. URLs become links only when http(s).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol
from urllib.parse import urlparse

from index.wording import plural
from qa.types import Answer, Citation, DateFilter, Passage

# Characters Markdown, GFM autolinks, KaTeX or a JS/Handlebars template could act on. `&`, `#`
# and `;` are left to html.escape (they make up the entities themselves).
_MARKDOWN_ACTIVE = "\\`*_{}[]()!|~$:=+-.@^%/"
_MARKDOWN_TABLE = {ord(ch): f"&#{ord(ch)};" for ch in _MARKDOWN_ACTIVE}
# An inline citation marker: [3] or [1, 2], not an article's own "[3]" (escaped: "\[3\]").
MARKER = re.compile(r"(?<!\\)\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
# What markdown_literal escapes in article text: raw HTML and autolinks (<), links and images
# ([ ]), code (`), emphasis (* _), and the backslash itself; at the start of a line also what
# would make it a heading, quote or list (# > + - "1.").
_MARKDOWN_LITERAL = re.compile(r"([\\`*_<\[\]])|^(\s*)([#>+-]|\d+(?=[.)]))")
# A CommonMark backslash escape: any ASCII punctuation.
_BACKSLASH_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
_BOLD = re.compile(r"(?<!\\)\*\*(?=\S)(.+?)(?<=[^\s\\])\*\*")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")

EMPTY_SOURCES_HTML = (
    '<div class="qa-sources qa-sources-empty"><p>Ask a question: the passages each answer '
    "cites appear here, with the quoted words highlighted.</p></div>"
)


# --- primitives --------------------------------------------------------------------------------
def escape_text(text: str) -> str:
    """Text that displays literally in HTML *and* in Markdown; newlines become <br>."""
    escaped = html.escape(text or "", quote=True).translate(_MARKDOWN_TABLE)
    escaped = escaped.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return escaped.replace("\n", "<br>")


def short_title(title: str | None, limit: int = 60) -> str:
    """A title on one line, cut to `limit` characters (for a button or a prompt)."""
    line = " ".join((title or "(untitled)").split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def markdown_literal(text: str) -> str:
    """Article text inside our Markdown answer: what a Markdown reader could act on is
    backslash-escaped, so any client rendering the API's `content` shows the characters, never
    a link, an image or HTML the article's author wrote."""
    return _MARKDOWN_LITERAL.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    if match.group(1):  # an active character, anywhere
        return "\\" + match.group(1)
    indent, opener = match.group(2), match.group(3)
    if opener.isdigit():  # "1." starts a list: the dot after the number is escaped
        return f"{indent}{opener}\\"
    return f"{indent}\\{opener}"


def unescape_markdown(text: str) -> str:
    """Our Markdown's backslash escapes undone: the characters as the article has them."""
    return _BACKSLASH_ESCAPE.sub(r"\1", text)


def safe_url(url: str | None) -> str | None:
    """The url if it is an absolute http(s) url, else None (no javascript:, data:, relative)."""
    candidate = (url or "").strip()
    if any(ord(ch) < 32 or ch.isspace() for ch in candidate):
        return None
    parsed = urlparse(candidate)
    if parsed.scheme.lower() not in {"http", "https"} or not parsed.netloc:
        return None
    return candidate


def _attr(value: str) -> str:
    """An attribute value: html.escape; Markdown never parses inside our single-line block."""
    return html.escape(value, quote=True)


def _link(url: str | None, label_html: str, css_class: str = "") -> str:
    """An external link when the url is safe, else just the label."""
    href = safe_url(url)
    if href is None:
        return label_html
    class_attr = f' class="{css_class}"' if css_class else ""
    return (
        f'<a{class_attr} href="{_attr(href)}" target="_blank" '
        f'rel="noopener noreferrer nofollow">{label_html}</a>'
    )


def day_of(published: str) -> str:
    """YYYY-MM-DD of an ISO datetime string; '' when unknown or unparseable."""
    match = _ISO_DAY.match(published or "")
    return match.group(0) if match else ""


def anchor_id(key: str | int, n: int) -> str:
    """The id of citation n's card in the sources panel of answer `key`."""
    safe_key = re.sub(r"[^A-Za-z0-9_-]", "", str(key)) or "a"
    return f"src-{safe_key}-{n}"


# --- answer Markdown from the structured answer ------------------------------------------------
def markers(numbers: Iterable[int]) -> str:
    return "".join(f"[{n}]" for n in numbers)


def answer_markdown(answer: Answer) -> str:
    """The Markdown text of an extractive answer, made from its structured fields: the lead in
    bold with its markers, list items as bullets, then the quoted sentences with theirs. The
    one place this text is made; nothing parses it back (read `lead`, `items`, `kind`)."""
    if answer.abstained:
        return answer.reason
    text = markdown_literal  # every article-derived string; our markup stays live
    if answer.items:
        return "\n".join(f"- {text(item.text)} {markers(item.citations)}" for item in answer.items)
    quotes = " ".join(f"{text(c.quote)} [{c.n}]" for c in answer.citations)
    lead = answer.lead
    if lead is None:
        return quotes
    if lead.subject:
        first = f"**{text(lead.subject)}**: {text(lead.text)} {markers(lead.citations)}."
    elif lead.note:
        first = f"**{text(lead.text)}** ({text(lead.note)}) {markers(lead.citations)}."
    else:
        first = f"**{text(lead.text)}** {markers(lead.citations)}."
    return f"{first}\n\n{quotes}" if quotes else first


# --- answer text with linked markers ------------------------------------------------------------
def _marker_html(
    numbers: Sequence[int], by_n: dict[int, Citation], key: str | int, days: bool = False
) -> str:
    """Linked [n] markers; with `days`, then the publication day(s) of what they cite."""
    parts = []
    for n in numbers:
        citation = by_n.get(n)
        if citation is None:  # a number the answerer did not back with a citation: plain text
            parts.append(f'<span class="qa-cite qa-cite-missing">&#91;{n}&#93;</span>')
            continue
        unsupported = not citation.supported
        css = "qa-cite qa-cite-unsupported" if unsupported else "qa-cite"
        title = "not verified in the cited passage" if unsupported else f"source {n}"
        flag = "?" if unsupported else ""
        parts.append(
            f'<a class="{css}" href="#{anchor_id(key, n)}" title="{title}">&#91;{n}{flag}&#93;</a>'
        )
    if days:
        parts.append(_days_html([by_n[n] for n in numbers if n in by_n]))
    return "".join(parts)


def spans_several_days(citations: Iterable[Citation]) -> bool:
    """Whether an answer draws on articles from more than one day: then each claim says which
    day it is from (a reader of today's news must not take Monday's figure for today's)."""
    return len({day_of(c.published) for c in citations} - {""}) > 1


def _group_days(citations: Sequence[Citation]) -> list[str]:
    return list(dict.fromkeys(day_of(c.published) or "undated" for c in citations))


def _days_html(citations: Sequence[Citation]) -> str:
    days = _group_days(citations)
    if not days:
        return ""
    return f'<span class="qa-day"> ({escape_text(", ".join(days))})</span>'


def text_with_days(answer: Answer) -> str:
    """The answer text for a terminal: each [n] marker followed by its article's day when the
    answer draws on several days, else the text as it is."""
    if not spans_several_days(answer.citations):
        return unescape_markdown(answer.answer)
    by_n = {c.n: c for c in answer.citations}
    text = answer.answer
    out: list[str] = []
    position = 0
    for _start, end, numbers in _marker_runs(text):
        days = _group_days([by_n[n] for n in numbers if n in by_n])
        out.append(text[position:end] + (f" ({', '.join(days)})" if days else ""))
        position = end
    return unescape_markdown("".join(out) + text[position:])


def _marker_runs(text: str) -> list[tuple[int, int, list[int]]]:
    """(start, end, numbers) of each run of markers: "[2][3]" is one run citing 2 and 3."""
    runs: list[tuple[int, int, list[int]]] = []
    for match in MARKER.finditer(text):
        numbers = [int(part) for part in match.group(1).split(",")]
        if runs and runs[-1][1] == match.start():
            start, _, before = runs.pop()
            runs.append((start, match.end(), before + numbers))
        else:
            runs.append((match.start(), match.end(), numbers))
    return runs


def text_with_markers(
    text: str, citations: Iterable[Citation], key: str | int, days: bool = False
) -> str:
    """Escape `text`, turning its [n] markers into links to the sources panel (followed by
    the cited articles' days when `days`)."""
    by_n = {c.n: c for c in citations}
    out: list[str] = []
    position = 0
    for start, end, numbers in _marker_runs(text):
        out.append(escape_text(unescape_markdown(text[position:start])))
        out.append(_marker_html(numbers, by_n, key, days))
        position = end
    out.append(escape_text(unescape_markdown(text[position:])))
    return "".join(out)


def _inline(text: str, citations: list[Citation], key: str | int, days: bool = False) -> str:
    """One line: **bold** spans (the answer's lead: a name, a day) as <strong>, markers as
    links, everything else escaped."""
    out: list[str] = []
    position = 0
    for match in _BOLD.finditer(text):
        out.append(text_with_markers(text[position : match.start()], citations, key, days))
        out.append(f"<strong>{text_with_markers(match.group(1), citations, key, days)}</strong>")
        position = match.end()
    out.append(text_with_markers(text[position:], citations, key, days))
    return "".join(out)


def _text_blocks(text: str, citations: list[Citation], key: str | int, days: bool = False) -> str:
    """Paragraphs and bullet lists of an answer text (the only structure we honour)."""
    blocks: list[str] = []
    bullets: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if _BULLET.match(line):
            bullets.append(f"<li>{_inline(_BULLET.sub('', line), citations, key, days)}</li>")
            continue
        if bullets:
            blocks.append(f'<ul class="qa-items">{"".join(bullets)}</ul>')
            bullets = []
        blocks.append(f"<p>{_inline(line.strip(), citations, key, days)}</p>")
    if bullets:
        blocks.append(f'<ul class="qa-items">{"".join(bullets)}</ul>')
    return "".join(blocks)


def _items_html(answer: Answer, key: str | int) -> str:
    """A list answer: the intro prose (if any), then every item with its own markers."""
    intro = "\n".join(line for line in answer.answer.splitlines() if not _BULLET.match(line))
    by_n = {c.n: c for c in answer.citations}
    days = spans_several_days(answer.citations)
    items = "".join(
        f"<li>{escape_text(item.text)} {_marker_html(item.citations, by_n, key, days)}</li>"
        for item in answer.items
    )
    intro_html = _text_blocks(intro, answer.citations, key, days)
    return intro_html + f'<ul class="qa-items">{items}</ul>'


# --- chat messages ------------------------------------------------------------------------------
def _filters_html(filters: DateFilter) -> str:
    if not (filters.since or filters.until):
        return ""
    span = " ".join(
        part
        for part in (
            f"since {escape_text(filters.since)}" if filters.since else "",
            f"until {escape_text(filters.until)}" if filters.until else "",
        )
        if part
    )
    reason = f" &#8212; {escape_text(filters.reason)}" if filters.reason else ""
    return f'<div class="qa-filters">Articles {span}{reason}</div>'


DOUBTFUL = (
    "answers like this one are more often wrong than right. "
    "Check the quoted sentences before relying on it."
)


def notices(answer: Answer) -> list[tuple[str, str]]:
    """(label, text) of what the reader should know before the answer: a notice (an LLM
    fallback's), and a caution when the offline answer is doubtful."""
    found = [("Note", answer.notice)] if answer.notice else []
    return found + ([("Low confidence", DOUBTFUL)] if answer.doubtful else [])


def notices_markdown(answer: Answer) -> str:
    """The notices as paragraphs to follow the answer's Markdown, for clients that show only
    the text (the OpenAI-compatible endpoint's `content`): empty when there are none."""
    return "".join(f"\n\n*{label}: {text}*" for label, text in notices(answer))


# A plain OpenAI stream cannot take back text it sent. When the final answer does not extend
# the streamed text (an LLM reply cut off and replaced by the quoted fallback, or its markers
# rewritten), this line withdraws what came before; the non-streamed content follows it.
WITHDRAWN = "The text above is withdrawn; the answer follows."
WITHDRAWN_MARKDOWN = f"\n\n---\n\n*{WITHDRAWN}*\n\n"


# What was searched for, when a follow-up was rewritten with the conversation: shown above the
# answer in the chat window, after it in `qa chat`, so a misread follow-up can be told from a
# wrong answer.
UNDERSTOOD_AS = "Understood as"


def understood_as(answer: Answer) -> str:
    """ "Understood as: How much was the fine? (Binance)" as plain text; '' when the question
    was searched as it was asked."""
    question = answer.standalone_question
    return f"{UNDERSTOOD_AS}: {question}" if question else ""


def _header_html(answer: Answer) -> str:
    parts = []
    for label, notice in notices(answer):
        parts.append(
            f'<div class="qa-notice" role="status"><strong>{label}:</strong> '
            f"{escape_text(notice)}</div>"
        )
    parts.append(_filters_html(answer.filters))
    if answer.standalone_question:
        parts.append(
            f'<div class="qa-standalone">{UNDERSTOOD_AS}: '
            f"<em>{escape_text(answer.standalone_question)}</em></div>"
        )
    return "".join(parts)


def _abstention_html(answer: Answer) -> str:
    reason = answer.reason or answer.answer or "No passage answers the question."
    nearest = "".join(
        f'<li><span class="qa-nearest-title">{escape_text(p.title or "Untitled article")}'
        f"</span>{_meta_suffix(p.source, p.published)}: "
        f'<span class="qa-snippet">{escape_text(snippet(p.text))}</span></li>'
        for p in answer.nearest
    )
    nearest_html = (
        f'<p class="qa-nearest-intro">Closest passages (shown in the sources panel):</p>'
        f'<ul class="qa-nearest">{nearest}</ul>'
        if nearest
        else ""
    )
    return (
        '<div class="qa-abstain" role="note"><div class="qa-abstain-title">'
        "Not found in the articles</div>"
        f"<p>{escape_text(reason)}</p>{nearest_html}</div>"
    )


def snippet(text: str, limit: int = 160) -> str:
    """The start of a passage on one line, cut at a word boundary."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + " …"


def _meta_suffix(source: str, published: str) -> str:
    meta = " &#183; ".join(escape_text(x) for x in (source, day_of(published)) if x)
    return f' <span class="qa-meta">({meta})</span>' if meta else ""


def render_answer(answer: Answer, key: str | int) -> str:
    """The final chat message for an Answer; its markers link to `render_sources(answer, key)`."""
    mode_class = f"qa-mode-{re.sub(r'[^a-z-]', '', answer.mode)}"
    if answer.abstained:
        body = _abstention_html(answer)
    elif answer.items:
        body = _items_html(answer, key)
    else:
        days = spans_several_days(answer.citations)
        body = _text_blocks(answer.answer, answer.citations, key, days)
    return f'<div class="qa-answer {mode_class}">{_header_html(answer)}{body}</div>'


def render_partial(text: str) -> str:
    """A streaming answer so far: plain escaped text, markers not yet linkable."""
    if not text.strip():
        return render_pending()
    return f'<div class="qa-answer qa-streaming">{escape_text(unescape_markdown(text))}</div>'


def render_pending(message: str = "Searching the articles…") -> str:
    return f'<div class="qa-pending">{escape_text(message)}</div>'


def render_user(question: str) -> str:
    """The user's own message, shown literally (no Markdown surprises)."""
    return f'<div class="qa-question">{escape_text(question)}</div>'


def render_error(message: str) -> str:
    message_html = escape_text(message)
    return f'<div class="qa-error" role="alert"><strong>Sorry:</strong> {message_html}</div>'


# --- sources panel ------------------------------------------------------------------------------
def highlight_passage(citation: Citation) -> str:
    """The cited passage, escaped, with the quoted span wrapped in <mark>."""
    passage, quote = citation.passage, citation.quote
    if not passage:
        return f"<mark>{escape_text(quote)}</mark>"
    offset = citation.start - citation.passage_start
    if not (offset >= 0 and passage[offset : offset + len(quote)] == quote and quote):
        offset = passage.find(quote) if quote else -1
    if offset < 0:  # offsets and text disagree: show both rather than guess
        return (
            f'<div class="qa-quote"><mark>{escape_text(quote)}</mark></div>{escape_text(passage)}'
        )
    end = offset + len(quote)
    return (
        f"{escape_text(passage[:offset])}<mark>{escape_text(passage[offset:end])}</mark>"
        f"{escape_text(passage[end:])}"
    )


def _scores_html(scores: dict[str, float], label: str = "Scores") -> str:
    if not scores:
        return ""
    rows = "".join(
        f"<tr><td>{escape_text(name)}</td><td>{value:.4g}</td></tr>"
        for name, value in sorted(scores.items())
    )
    return (
        f'<details class="qa-scores"><summary>{escape_text(label)}</summary>'
        f"<table>{rows}</table></details>"
    )


def _source_head(n_label: str, title: str, url: str) -> str:
    title_html = escape_text(title or "Untitled article")
    return f'<span class="qa-num">{n_label}</span> ' + _link(url, title_html, "qa-title")


def _meta_line(source: str, published: str, url: str) -> str:
    parts = [escape_text(x) for x in (source, day_of(published)) if x]
    href = safe_url(url)
    if href:
        parts.append(escape_text(urlparse(href).netloc))
    return f'<div class="qa-meta">{" &#183; ".join(parts) or "source unknown"}</div>'


def _caption_html(caption: str) -> str:
    """An article's photo caption, labelled as one: it describes a picture, not the story."""
    if not caption:
        return ""
    return (
        '<div class="qa-caption"><span class="qa-caption-label">Photo caption:</span> '
        f"<em>{escape_text(caption)}</em></div>"
    )


def render_citation(
    citation: Citation, key: str | int, also: Sequence[str] = (), caption: str = ""
) -> str:
    unsupported = (
        '<div class="qa-unsupported" role="note">Not verified: the cited passage may not '
        "support this claim.</div>"
        if not citation.supported
        else ""
    )
    also_html = (
        '<div class="qa-also">Also reported by: '
        + "; ".join(escape_text(title) for title in also)
        + "</div>"
        if also
        else ""
    )
    css = "qa-source qa-source-unsupported" if not citation.supported else "qa-source"
    head = _source_head(f"&#91;{citation.n}&#93;", citation.title, citation.url)
    return (
        f'<div class="{css}" id="{anchor_id(key, citation.n)}">'
        f'<div class="qa-source-head">{head}</div>'
        f"{_meta_line(citation.source, citation.published, citation.url)}"
        f"{_caption_html(caption)}{unsupported}"
        f'<blockquote class="qa-passage">{highlight_passage(citation)}</blockquote>'
        f"{also_html}{_scores_html(citation.scores)}</div>"
    )


def render_nearest(passage: Passage, rank: int, caption: str = "") -> str:
    scores = {"score": passage.score, **passage.scores}
    return (
        '<div class="qa-source qa-source-nearest">'
        f'<div class="qa-source-head">{_source_head(f"#{rank}", passage.title, passage.url)}</div>'
        f"{_meta_line(passage.source, passage.published, passage.url)}{_caption_html(caption)}"
        f'<blockquote class="qa-passage">{escape_text(passage.text)}</blockquote>'
        f"{_scores_html(scores)}</div>"
    )


def render_sources(
    answer: Answer, key: str | int, captions: Mapping[str, str] | None = None
) -> str:
    """The sources panel for one answer: a card per citation (or per nearest passage).
    `captions` maps article ids to their photo captions, shown on the cards as such."""
    captions = captions or {}
    question = f'<p class="qa-sources-q">For: <em>{escape_text(answer.question)}</em></p>'
    if answer.abstained:
        cards = "".join(
            render_nearest(p, i, captions.get(p.article_id, ""))
            for i, p in enumerate(answer.nearest, start=1)
        )
        heading = "Nearest passages (they do not answer the question)"
        if not cards:
            cards = "<p>No passage came close.</p>"
    else:
        cards = "".join(
            render_citation(
                c,
                key,
                answer.also_reported_by.get(c.article_id, ()),
                captions.get(c.article_id, ""),
            )
            for c in answer.citations
        )
        heading = "Sources"
        if not cards:
            cards = "<p>This answer cites no passage.</p>"
    timings = _scores_html(answer.timings_ms, "Timings (ms)")
    return f'<div class="qa-sources"><h3>{heading}</h3>{question}{cards}{timings}</div>'


# --- articles tab -------------------------------------------------------------------------------
class ArticleLike(Protocol):
    article_id: str
    title: str
    source: str
    published: str


ARTICLE_COLUMNS = ["title", "source", "date", "id"]


def article_rows(records: Iterable[ArticleLike], query: str | None = "") -> list[list[str]]:
    """Rows for the articles table (plain strings: the table shows text, not HTML), newest
    first, filtered by a case-insensitive title substring."""
    needle = (query or "").strip().casefold()
    chosen = [r for r in records if needle in (r.title or "").casefold()]
    chosen.sort(key=lambda r: (r.published or "", r.title or ""), reverse=True)
    return [[r.title, r.source, day_of(r.published), r.article_id] for r in chosen]


def source_choices(records: Iterable[ArticleLike]) -> list[str]:
    return sorted({r.source for r in records if r.source}, key=str.casefold)


SEED_QUESTION = "Which countries back Maduro?"
# ... and ones that show the other answer shapes: a description first, a day first.
SEED_MORE_QUESTIONS = ("Who is Juan Guaido?", "When did Maduro close the embassy in Washington?")
_SEED_TOPIC = re.compile(r"\b(Maduro|Venezuela)", re.IGNORECASE)


def example_questions(records: Iterable[ArticleLike], limit: int = 4) -> list[str]:
    """Questions that this corpus can answer: one per recent article title, plus the seed's
    questions when the seed article (Venezuela's showdown at the UN) is loaded."""
    records = list(records)
    questions: list[str] = []
    if any(_SEED_TOPIC.search(f"{r.title} {getattr(r, 'caption', '')}") for r in records):
        questions += [SEED_QUESTION, *SEED_MORE_QUESTIONS]
    for row in article_rows(records):
        topic = _topic_of(row[0])
        if topic:
            question = f"What is reported about {topic}?"
            if question not in questions:
                questions.append(question)
        if len(questions) >= limit:
            break
    return questions[:limit]


def _topic_of(title: str, max_words: int = 9) -> str:
    """A title as a topic phrase: first clause, at most `max_words` words, no end punctuation."""
    clause = re.split(r"\s[-–—|:]\s|[:;?!…]", title.strip(), maxsplit=1)[0]
    words = clause.split()
    return " ".join(words[:max_words]).rstrip(".,'\"“”") if words else ""


def render_status(message: str, *, ok: bool = True, details: Sequence[str] = ()) -> str:
    """A one-line status (escaped), with optional escaped detail lines."""
    css = "qa-status" if ok else "qa-status qa-status-error"
    items = "".join(f"<li>{escape_text(line)}</li>" for line in details)
    listing = f"<ul>{items}</ul>" if items else ""
    return f'<div class="{css}">{escape_text(message)}{listing}</div>'


def render_ingest_report(report: dict) -> str:
    """An IngestReport.to_dict() as a short status: counts, then each problem."""
    counts = ", ".join(
        f"{report.get(name, 0)} {name}" for name in ("added", "updated", "unchanged", "failed")
    )
    summary = (
        f"Ingested: {counts}; {plural(report.get('chunks', 0), 'chunk')} in "
        f"{report.get('seconds', 0)}s."
    )
    problems = [("error", p) for p in report.get("errors", [])] + [
        ("warning", p) for p in report.get("warnings", [])
    ]
    details = [
        f"{kind}: {p.get('path', '')}"
        + (f":{p['line']}" if p.get("line") is not None else "")
        + f": {p.get('reason', '')}"
        for kind, p in problems
    ]
    ok = not report.get("failed") and not report.get("errors")
    return render_status(summary, ok=ok, details=details)


# --- feeds (Articles tab) -----------------------------------------------------------------------
FEED_COLUMNS = ["feed", "title", "last poll", "status", "new items", "last error"]


def feed_rows(feeds: Iterable[dict]) -> list[list[str]]:
    """Rows for the feeds table from FeedRecord.summary() dicts (plain text)."""
    return [
        [
            feed.get("url", ""),
            feed.get("title", "") or "",
            (feed.get("last_poll") or "never").replace("T", " ").rstrip("Z"),
            feed.get("last_status", "") or "",
            str(feed.get("last_new", 0)),
            feed.get("last_error", "") or "",
        ]
        for feed in feeds
    ]


def render_poll_report(report: dict) -> str:
    """A PollReport.to_dict() as a short status: totals, then each feed's error."""
    summary = (
        f"Polled {report.get('feeds', 0)} feeds ({report.get('not_modified', 0)} not modified): "
        f"{report.get('new', 0)} new, {report.get('updated', 0)} updated, "
        f"{report.get('unchanged', 0)} unchanged, {report.get('failed', 0)} failed; "
        f"{report.get('fetched', 0)} pages fetched in {report.get('seconds', 0)}s."
    )
    details = []
    for feed in report.get("per_feed", []):
        if feed.get("error"):
            details.append(f"{feed.get('url', '')}: {feed.get('status', '')}: {feed['error']}")
        details += [f"error: {line}" for line in feed.get("item_errors", [])]
    ok = not report.get("failed") and not report.get("feeds_failed")
    return render_status(summary, ok=ok, details=details)
