"""Sentence splitting that keeps character offsets: NLTK's Punkt English model.

News text is full of periods that do not end sentences ("U.S. officials", "Dr. Smith",
"Jan. 5", "J. Smith") and of sentences that end inside quotes ('... coming,'" Guaido said.).
Punkt's English model knows those abbreviations; it ships inside llama-index-core (the
`_static/nltk_cache` its text splitters read), so nothing is downloaded. A line break always
ends a sentence; a citation marker right after a full stop ("… Maduro.[1] China …") stays
with its sentence, and "No." before a number ("No. 3 Texas"), which the model does not know,
ends none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nltk.tokenize.punkt import PunktTokenizer


@dataclass(frozen=True)
class Sentence:
    """A sentence of some text: `text == source[start:end]`."""

    text: str
    start: int
    end: int


_LINE = re.compile(r"[^\n]+")
_LEADING_MARKERS = re.compile(r"(?:\[\d{1,3}\])+")
# Breaks Punkt's model makes where no sentence ends: the end of the sentence before, and the
# start of the next. "between No. 3 Texas": "No." before a number; "at 8:15 p.m. ET at Ford
# Field": a time zone after a time.
_NO_BREAKS = (
    (re.compile(r"\bNos?\.$"), re.compile(r"\d")),
    (
        re.compile(r"\b[ap]\.m\.$"),
        re.compile(r"(?:[ECMP][SD]?T|GMT|BST|UTC|CES?T|AE[SD]T)\b"),  # not "IT staff"
    ),
)
_CACHED_CHARS = 20_000  # a passage is a chunk (~1-2 KB): longer texts are split, not kept


@cache
def _punkt() -> PunktTokenizer:
    """Punkt's English model from llama-index-core's bundled NLTK data (the directory its own
    splitters add to NLTK's search path, as done here)."""
    import llama_index.core
    import nltk
    from nltk.tokenize.punkt import PunktTokenizer

    bundled = str(Path(llama_index.core.__file__).parent / "_static" / "nltk_cache")
    if bundled not in nltk.data.path:
        nltk.data.path.append(bundled)
    return PunktTokenizer("english")


def split_sentences(text: str) -> list[Sentence]:
    """The sentences of `text`, each stripped of surrounding whitespace."""
    return list(_split(text) if len(text) <= _CACHED_CHARS else _split.__wrapped__(text))


@lru_cache(maxsize=4096)
def _split(text: str) -> tuple[Sentence, ...]:
    """Punkt costs ~3 ms an answer (8 passages) against ~1 ms for the rules it replaced; the
    same passages come back for question after question, so their sentences are kept."""
    sentences: list[Sentence] = []
    for line in _LINE.finditer(text):
        for start, end in _punkt().span_tokenize(line.group()):
            start, end = line.start() + start, line.start() + end
            markers = _LEADING_MARKERS.match(text, start)
            same_line = bool(sentences) and sentences[-1].end >= line.start()
            if same_line and _no_break(sentences[-1].text, text[start:end].lstrip()):
                start = sentences.pop().start
            elif markers and same_line:
                # "Maduro.[1] China": the markers cite the sentence before
                before = sentences.pop()
                sentences += _stripped(text, before.start, markers.end())
                start = markers.end()
            sentences += _stripped(text, start, end)
    return tuple(sentences)


def _no_break(before: str, after: str) -> bool:
    return any(end.search(before) and start.match(after) for end, start in _NO_BREAKS)


def _stripped(text: str, start: int, end: int) -> list[Sentence]:
    """A Sentence for text[start:end] without surrounding whitespace ([] if blank)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return [Sentence(text[start:end], start, end)] if start < end else []
