"""Counted nouns for messages people read: "1 article", "2 articles", "0 chunks"."""

from __future__ import annotations


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """`count` and the noun in the number it needs ("1 article", "3 articles", "1 entry")."""
    word = noun if count == 1 else plural_form or noun + "s"
    return f"{count} {word}"
