"""Sentence splitting that keeps character offsets.

News text is full of periods that do not end sentences ("U.S. officials", "Dr. Smith",
"Jan. 5", "No. 3", "J. Smith") and of sentences that end inside quotes ('... coming,'"
Guaido said.). The splitter is a small rule set rather than a model, so it is fast, offline
and its behaviour can be read here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.answer.lexicon import word_set


@dataclass(frozen=True)
class Sentence:
    """A sentence of some text: `text == source[start:end]`."""

    text: str
    start: int
    end: int


# Words that take a period but rarely end a sentence: titles, months, corporate suffixes
# and the like. Lower-cased, without the dot.
_ABBREVIATIONS = word_set(
    """
    mr mrs ms dr prof sen rep gov gen col lt sgt capt cmdr adm maj st jr sr rev hon pres
    supt insp det amb atty jan feb mar apr jun jul aug sep sept oct nov dec inc corp co ltd
    llc plc bros dept univ assn est approx vs etc al fig no nos vol pp ed eds mt ft ave blvd
    rd
    """
)
# After these the next word usually belongs to the same sentence, even when capitalised
# ("Dr. Smith", "St. Louis", "No. 5").
_NEVER_FINAL = word_set(
    """
    mr mrs ms dr prof sen rep gov gen col lt sgt capt cmdr adm maj st rev hon pres supt insp
    det amb atty mt ft
    """
)
# These abbreviate only before a number ("No. 5", "Vol. 2"); "said no." ends a sentence.
_BEFORE_NUMBER = frozenset(["no", "nos", "vol", "pp", "fig"])
# A capitalised word after an acronym like "U.S." starts a new sentence only when it is
# one of these common sentence openers; otherwise it is a name ("U.S. Secretary").
_SENTENCE_OPENERS = word_set(
    """
    a an the this that these those it its he she they we i you his her their our but and or
    so yet however meanwhile later earlier still also in on at for from after before during
    while when if as since although though there here some many most more other others one
    two three no not what who which why how
    """
)

# A candidate boundary: terminal punctuation, optional closing quotes/brackets, whitespace.
# Citation markers right after the full stop ("… Maduro.[1] China …") stay with the sentence.
_BOUNDARY = re.compile(r"""[.!?…]+["'”’)\]]*(?:\[\d{1,3}\])*(?=\s)""")
_MARKERS = re.compile(r"\[\d{1,3}\]")
_PARAGRAPH = re.compile(r"\n\s*\n|\n")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.\-']*)$")
_NEXT_TOKEN = re.compile(r"""\s+["'“‘(\[]*([^\s]*)""")


def _ends_sentence(text: str, punct_start: int, punct_end: int) -> bool:
    """Decide whether the punctuation text[punct_start:punct_end] closes a sentence."""
    marks = _MARKERS.sub("", text[punct_start:punct_end])
    next_match = _NEXT_TOKEN.match(text, punct_end)
    next_word = next_match.group(1) if next_match else ""
    if not next_word:
        return True
    first = next_word[0]
    if first.islower():
        # "... said Mr. Smith." vs "e.g. the ..." — lower-case continuation never starts a
        # sentence in edited news copy.
        return False
    if not marks.startswith("."):
        return True  # "!" and "?" before a capital or a quote end the sentence
    if marks.rstrip("\"'”’)]") != ".":
        return True  # "..." or ".)" etc.
    return _full_stop_ends_sentence(text, punct_start, next_word)


def _full_stop_ends_sentence(text: str, punct_start: int, next_word: str) -> bool:
    """A lone full stop before a capital: the end of a sentence unless the word before it is
    an abbreviation, an initial or an acronym that the next word does not show to be final."""
    word_match = _WORD_BEFORE.search(text, 0, punct_start)
    word = word_match.group(1) if word_match else ""
    if not word:
        return True
    bare = word.lower().rstrip(".")
    if bare in _NEVER_FINAL:
        return False
    if bare in _BEFORE_NUMBER:
        return not next_word[0].isdigit()
    if len(bare) == 1 and word[0].isupper():
        return False  # an initial: "J. Smith", or the last letter of "U.S"
    if "." in word or bare in _ABBREVIATIONS:  # an acronym (U.S., a.m.) or "Gov."
        return next_word.strip("\"'“‘(").lower() in _SENTENCE_OPENERS
    return True


def _split_block(text: str, block_start: int, block_end: int) -> list[Sentence]:
    sentences: list[Sentence] = []
    cursor = block_start
    for match in _BOUNDARY.finditer(text, block_start, block_end):
        if _ends_sentence(text, match.start(), match.end()):
            sentences.extend(_make(text, cursor, match.end()))
            cursor = match.end()
    sentences.extend(_make(text, cursor, block_end))
    return sentences


def _make(text: str, start: int, end: int) -> list[Sentence]:
    """A Sentence for text[start:end] with surrounding whitespace trimmed ([] if blank)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start >= end:
        return []
    return [Sentence(text[start:end], start, end)]


def split_sentences(text: str) -> list[Sentence]:
    """Split `text` into sentences; line breaks always end a sentence."""
    sentences: list[Sentence] = []
    block_start = 0
    for para in _PARAGRAPH.finditer(text):
        sentences.extend(_split_block(text, block_start, para.start()))
        block_start = para.end()
    sentences.extend(_split_block(text, block_start, len(text)))
    return sentences
