"""The project's one tokenizer: lowercase words, English stopwords out, Snowball stems.

It serves the BM25 index, the queries and the answerer (`qa.answer.terms`), so a question's
term matches exactly what was indexed and what the answerer counts. It lives in `index/`
because the lexical index is written at ingest (index never imports qa); `qa.retrieval.text`
re-exports it for the question side, and the answerer's stopwords (`qa.answer.lexicon.STOPWORDS`)
are these plus its news-question words.
"""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

# bm25s' English list is short (33 words); questions are long and full of glue words that would
# otherwise match every chunk, so a few more common question words are dropped as well.
_EXTRA_STOPWORDS = {
    "does",
    "did",
    "do",
    "has",
    "have",
    "had",
    "was",
    "were",
    "which",
    "what",
    "who",
    "whom",
    "whose",
    "when",
    "where",
    "why",
    "how",
    "while",
    "both",
    "article",
    "articles",
    "report",
    "reported",
    "reports",
    "according",
    "published",
    "mentioned",
    "also",
    "after",
    "before",
    "between",
    "than",
    "its",
    "his",
    "her",
    "their",
    "from",
    "about",
    "been",
    "being",
    "would",
    "could",
    "should",
    "can",
    "may",
    "might",
    "one",
    "any",
    "all",
    "more",
    "most",
    "other",
    "same",
    "some",
    "such",
    "only",
    "own",
    "so",
    "very",
    "s",
    "t",
    "just",
    "now",
    "over",
    "under",
    "again",
    "further",
    "once",
    "here",
    "there",
    "these",
    "those",
    "our",
    "your",
    "my",
    "me",
    "him",
    "she",
    "he",
    "we",
    "you",
    "i",
    "them",
    "they",
    "it",
    "is",
    "are",
    "am",
}
STOPWORDS: frozenset[str] = frozenset(STOPWORDS_EN) | _EXTRA_STOPWORDS
# A word: letters and digits, hyphenated compounds and apostrophes kept whole ("Bankman-Fried",
# "6-0", "don't"). The answerer reads compounds as one word (a "6-0 loss" is not about a 6);
# BM25 indexes their parts, so "Fried" finds "Bankman-Fried".
WORD = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+|['’][A-Za-z]+)*")


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball stem of one lower-case word."""
    return _stemmer().stemWord(word)


def fold(raw: str) -> str:
    """One matched word, lowercased, its possessive folded ("Apple's" -> "apple")."""
    word = raw.lower().replace("’", "'")
    return word[:-2] if word.endswith("'s") else word


def words(text: str) -> list[str]:
    """Lowercased word tokens, possessives folded ("Apple's" -> "apple")."""
    return [fold(match.group(0)) for match in WORD.finditer(text)]


def index_words(text: str) -> list[str]:
    """The words BM25 sees: compounds split at their hyphens, stopwords out."""
    parts = (part for word in words(text) for part in word.split("-"))
    return [part for part in parts if part and part not in STOPWORDS]


def tokenize(text: str) -> list[str]:
    """Stemmed content tokens: what BM25 indexes and queries with."""
    return _stemmer().stemWords(index_words(text))


def tokenize_many(texts: list[str]) -> list[list[str]]:
    stemmer = _stemmer()
    return [stemmer.stemWords(index_words(t)) for t in texts]
