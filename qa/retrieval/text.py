"""Question-side text helpers over the project's one tokenizer (`index.tokens`)."""

from __future__ import annotations

import re

from index.tokens import STOPWORDS, tokenize, tokenize_many, words

__all__ = [
    "STOPWORDS",
    "content_stems",
    "named_entities",
    "tokenize",
    "tokenize_many",
    "words",
]

_CAPITALIZED = re.compile(
    r"\b(?:[A-Z][a-zA-Z0-9&'’.-]*|[0-9]+[A-Za-z]*)(?:\s+[A-Z][a-zA-Z0-9&'’.-]*)*"
)


def content_stems(text: str) -> set[str]:
    return set(tokenize(text))


def named_entities(text: str) -> list[str]:
    """Capitalised phrases and numbers of a question ("Sam Bankman-Fried", "FTX", "2023").

    A cheap stand-in for NER: the sentence-initial word is skipped unless it continues a phrase,
    and single capitalised stopwords ("The", "Does") are dropped.
    """
    entities = []
    for match in _CAPITALIZED.finditer(text):
        phrase = match.group(0).strip(" .-'’")
        tokens = phrase.split()
        while tokens and tokens[0].lower() in STOPWORDS:
            tokens = tokens[1:]
        if not tokens:
            continue
        entities.append(" ".join(tokens))
    return entities
