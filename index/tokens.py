"""Tokens for BM25 and the lexical features: lowercase words, English stopwords out, Snowball stems.

One tokenizer serves the index and the queries, so a query term matches exactly what was indexed.
It lives in `index/` because the lexical index is written at ingest (index never imports qa);
`qa.retrieval.text` re-exports it for the question side.
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
_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lowercased word tokens, possessives folded ("Apple's" -> "apple")."""
    out = []
    for match in _WORD.finditer(text):
        word = match.group(0).lower().replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        out.append(word)
    return out


def tokenize(text: str) -> list[str]:
    """Stemmed content tokens: what BM25 indexes and queries with."""
    kept = [w for w in words(text) if w not in STOPWORDS]
    return _stemmer().stemWords(kept)


def tokenize_many(texts: list[str]) -> list[list[str]]:
    stemmer = _stemmer()
    return [stemmer.stemWords([w for w in words(t) if w not in STOPWORDS]) for t in texts]
