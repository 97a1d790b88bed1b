"""Build Citation objects whose quotes are verbatim spans of the article body."""

from __future__ import annotations

from qa.answer.sentences import Sentence
from qa.types import Citation, Passage


def make_citation(
    n: int,
    passage: Passage,
    span: Sentence,
    *,
    supported: bool = True,
    scores: dict[str, float] | None = None,
) -> Citation:
    """Citation [n] quoting `span`, whose offsets are relative to `passage.text`."""
    if passage.text[span.start : span.end] != span.text:
        raise ValueError(f"quote is not verbatim at {span.start}:{span.end} of {passage.chunk_id}")
    return Citation(
        n=n,
        article_id=passage.article_id,
        chunk_id=passage.chunk_id,
        title=passage.title,
        source=passage.source,
        url=passage.url,
        published=passage.published,
        quote=span.text,
        start=passage.start + span.start,
        end=passage.start + span.end,
        passage=passage.text,
        passage_start=passage.start,
        scores={**passage.scores, **(scores or {})},
        supported=supported,
    )


def also_reported_by(citations: list[Citation], passages: list[Passage]) -> dict[str, list[str]]:
    """Cited article_id -> titles (ids when the title is unknown) of its near-duplicates."""
    titles = {p.article_id: p.title for p in passages if p.title}
    duplicates: dict[str, list[str]] = {}
    for passage in passages:
        if passage.also_reported_by and any(c.article_id == passage.article_id for c in citations):
            names = duplicates.setdefault(passage.article_id, [])
            for other in passage.also_reported_by:
                name = titles.get(other, other)
                if name not in names:
                    names.append(name)
    return duplicates
