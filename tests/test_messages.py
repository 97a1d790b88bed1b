"""Counted nouns in what people read: "1 article", never "1 articles"."""

from __future__ import annotations

import html

import pytest

from index.wording import plural
from qa.render import render_ingest_report
from qa.server import ready_line


@pytest.mark.parametrize(
    ("count", "expected"), [(0, "0 articles"), (1, "1 article"), (2, "2 articles")]
)
def test_plural(count: int, expected: str) -> None:
    assert plural(count, "article") == expected
    assert plural(1, "entry", "entries") == "1 entry" and plural(3, "entry", "entries") == (
        "3 entries"
    )


def test_the_start_up_line_counts_in_the_right_number() -> None:
    first = ready_line(2.04, 1, 1, "127.0.0.1", 7860)
    assert "1 article (1 sample article ingested now);" in first and "articles" not in first
    assert first.startswith("newsqa ready in 2.0 s, RSS ")
    assert first.endswith("http://127.0.0.1:7860/ (API docs at /docs)")
    later = ready_line(1.0, 609, 0, "127.0.0.1", 7860)
    assert "609 articles;" in later and "sample" not in later  # nothing ingested: not said


def test_the_ingest_report_counts_chunks_in_the_right_number() -> None:
    report = {"added": 1, "updated": 0, "unchanged": 0, "failed": 0, "chunks": 1, "seconds": 0.4}
    assert "1 chunk in 0.4s" in html.unescape(render_ingest_report(report))
    assert "2 chunks in" in html.unescape(render_ingest_report({**report, "chunks": 2}))


def test_an_empty_index_at_start_up_says_how_to_fill_it() -> None:
    empty = ready_line(1.0, 0, 0, "127.0.0.1", 7860)
    assert "0 articles (add some: qa ingest PATH, or upload them in the app; --sample" in empty
