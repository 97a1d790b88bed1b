"""Article body -> Chunks with character offsets, via llama-index's SentenceSplitter.

Offsets matter: citations quote exact spans of the article body, so every chunk records where its
text sits in the body. The title/source/date header is not part of the body; it is budgeted out of
the chunk size (metadata-aware split) and prepended only to the text that is embedded and searched.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from llama_index.core.node_parser import SentenceSplitter

from index.models import Article, Chunk

# nltk (>= 3.10) runs punkt's sentence regex under a wall-clock ReDoS guard of 5 s. Under load
# (benchmarks/load.py: 32 clients on 2 cores while articles were posted) the ingest thread got
# so little CPU that an ordinary article tripped it and the request died. The pattern is nltk's
# own, not user-supplied; a longer limit keeps the guard against pathological text without
# false alarms, and an article that still trips it is refused by name (see chunk_article).
SENTENCE_SPLIT_TIMEOUT_S = 60.0


@lru_cache(maxsize=8)
def _splitter(chunk_size: int, chunk_overlap: int) -> SentenceSplitter:
    # SentenceSplitter is stateless after construction; building it loads tiktoken, so cache it.
    _relax_sentence_regex_guard()
    return SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)


def _relax_sentence_regex_guard() -> None:
    try:
        from nltk import redos
    except ImportError:  # older nltk: no guard at all
        return
    current = getattr(redos, "DEFAULT_TIMEOUT", None)
    if isinstance(current, int | float) and current < SENTENCE_SPLIT_TIMEOUT_S:
        redos.DEFAULT_TIMEOUT = SENTENCE_SPLIT_TIMEOUT_S


def chunk_id_for(article_id: str, index: int) -> str:
    """Stable: the same article always yields the same ids for the same chunk positions."""
    prefix = hashlib.sha256(article_id.encode("utf-8")).hexdigest()[:20]
    return f"{prefix}-{index:04d}"


def chunk_article(article: Article, chunk_size: int = 256, chunk_overlap: int = 32) -> list[Chunk]:
    """Raises ValueError (with the reason) when the article cannot be split."""
    header = article.header()
    splitter = _splitter(chunk_size, min(chunk_overlap, chunk_size // 2))
    try:
        pieces = splitter.split_text_metadata_aware(article.body, header)
    except TimeoutError as error:  # nltk's regex guard gave up on this text
        raise ValueError(
            f"sentence splitting gave up on this text ({error.__class__.__name__}: "
            f"{str(error)[:80]}…)"
        ) from error
    chunks: list[Chunk] = []
    cursor = 0
    for piece in pieces:
        start, end = _locate(article.body, piece, cursor)
        chunks.append(
            Chunk(
                chunk_id=chunk_id_for(article.article_id, len(chunks)),
                article_id=article.article_id,
                index=len(chunks),
                text=article.body[start:end],
                start=start,
                end=end,
                header=header,
            )
        )
        # Overlapping chunks may start before the previous one ends; never search backwards past
        # the previous start, so identical sentences later in the body map to the right place.
        cursor = start + 1
    return chunks


def _locate(body: str, piece: str, cursor: int) -> tuple[int, int]:
    """Find `piece` in `body` at or after `cursor`; tolerate whitespace the splitter changed."""
    piece = piece.strip()
    found = body.find(piece, cursor)
    if found < 0:
        found = body.find(piece)
    if found >= 0:
        return found, found + len(piece)
    return _locate_fuzzy(body, piece, cursor)


def _locate_fuzzy(body: str, piece: str, cursor: int) -> tuple[int, int]:
    """Map a piece whose whitespace differs from the body back onto body offsets."""
    words = piece.split()
    if not words:
        return cursor, cursor
    start = body.find(words[0], cursor)
    if start < 0:
        start = max(0, body.find(words[0]))
    position = start
    for word in words:
        hit = body.find(word, position)
        if hit < 0:
            break
        position = hit + len(word)
    return start, max(position, start)
