"""Ingestion end to end: counts, stable chunk ids, exact body offsets, the embedded header."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest

from index.chunking import _splitter, chunk_article, chunk_id_for
from index.loaders import headline, load_paths
from index.models import Article
from index.service import IndexService
from index.settings import Settings


def _articles(*paths: Path) -> list[Article]:
    return [item for item in load_paths(paths) if isinstance(item, Article)]


def _chunk_rows(service: IndexService) -> dict[str, tuple[str, int, int, str]]:
    return {
        c.chunk_id: (c.text, c.metadata["start"], c.metadata["end"], c.metadata["article_id"])
        for c in service.store.iter_chunks()
    }


@pytest.fixture
def slice_path(corpus_slice) -> Path:
    return corpus_slice(12)


def test_ingest_seed_and_slice_counts(settings: Settings, hash_embedding, seed_path, slice_path):
    service = IndexService(settings, embedding=hash_embedding)
    articles = _articles(seed_path, slice_path)
    expected_chunks = {a.article_id: len(chunk_article(a)) for a in articles}
    assert len(articles) == 13

    report = service.ingest_paths([seed_path, slice_path])

    assert (report.added, report.updated, report.unchanged, report.failed) == (13, 0, 0, 0)
    assert report.errors == []
    assert report.chunks == report.embedded == sum(expected_chunks.values())
    assert len(hash_embedding.texts_embedded) == report.embedded
    assert service.store.count_articles() == 13
    assert service.store.count_chunks() == report.chunks
    assert sorted(report.article_ids) == sorted(expected_chunks)
    records = {r.article_id: r for r in service.store.list_articles()}
    assert {aid: r.n_chunks for aid, r in records.items()} == expected_chunks
    per_article = Counter(row[3] for row in _chunk_rows(service).values())
    assert dict(per_article) == expected_chunks
    assert service.store.orphan_chunk_ids() == []


def test_chunk_ids_and_texts_are_stable_across_fresh_ingests(
    make_settings, hash_embedding, seed_path, slice_path
):
    first = IndexService(make_settings(), embedding=hash_embedding)
    second = IndexService(make_settings(), embedding=hash_embedding)
    assert first.settings.data_dir != second.settings.data_dir

    first.ingest_paths([seed_path, slice_path])
    # The other order: ids must not depend on the order articles arrive in.
    second.ingest_paths([slice_path, seed_path])

    rows = _chunk_rows(first)
    assert rows == _chunk_rows(second)
    by_article: dict[str, list[str]] = defaultdict(list)
    for chunk_id, (_, _, _, article_id) in rows.items():
        by_article[article_id].append(chunk_id)
    for article_id, ids in by_article.items():
        assert sorted(ids) == [chunk_id_for(article_id, i) for i in range(len(ids))]


def test_chunk_text_is_the_exact_body_span(settings, hash_embedding, seed_path, slice_path):
    service = IndexService(settings, embedding=hash_embedding)
    service.ingest_paths([seed_path, slice_path])
    bodies = {r.article_id: r.body for r in service.store.list_articles(with_body=True)}
    loaded = {a.article_id: a.body for a in _articles(seed_path, slice_path)}
    assert bodies == loaded

    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for chunk in service.store.iter_chunks():
        article_id = chunk.metadata["article_id"]
        start, end = chunk.metadata["start"], chunk.metadata["end"]
        assert 0 <= start < end <= len(bodies[article_id])
        assert chunk.text == bodies[article_id][start:end], chunk.chunk_id
        spans[article_id].append((start, end))
    # Together the chunks cover every visible character of every body: nothing is lost.
    for article_id, body in bodies.items():
        covered = bytearray(len(body))
        for start, end in spans[article_id]:
            covered[start:end] = b"\x01" * (end - start)
        lost = "".join(ch for ch, hit in zip(body, covered, strict=True) if not hit)
        assert lost.strip() == "", (article_id, lost[:80])


def test_chunk_spans_follow_the_splitter_through_repeats_and_odd_whitespace():
    """Repeated paragraphs and tabs/double spaces: each span is the piece the splitter made,
    at the right occurrence (a citation into the wrong copy would quote the wrong place)."""
    paragraph = "The council met on Tuesday.  It  voted\tto approve the budget. " * 6
    middle = "A different middle paragraph about the harbour and its ships.   " * 8
    body = "\n\n".join([paragraph, middle, paragraph, "Closing words here."])
    article = Article(title="Council", source="Gazette", body=body, url="https://x.test/c")
    pieces = _splitter(64, 16).split_text_metadata_aware(body, article.header())
    chunks = chunk_article(article, chunk_size=64, chunk_overlap=16)

    assert len(chunks) == len(pieces) > 3
    for piece, chunk in zip(pieces, chunks, strict=True):
        assert " ".join(chunk.text.split()) == " ".join(piece.split())
        assert chunk.text == body[chunk.start : chunk.end]
    starts = [c.start for c in chunks]
    assert starts == sorted(starts), "spans must walk forward, not jump back to the first copy"
    assert chunks[-1].end == len(body)


def test_header_carries_title_source_date_and_is_embedded(settings, hash_embedding, slice_path):
    service = IndexService(settings, embedding=hash_embedding)
    service.ingest_paths([slice_path])
    articles = {a.article_id: a for a in _articles(slice_path)}

    for chunk in service.store.iter_chunks():
        article = articles[chunk.metadata["article_id"]]
        header = chunk.metadata["header"]
        assert header.splitlines() == [
            f"Title: {article.title}",
            f"Source: {article.source}",
            f"Published: {article.published_date}",
        ]
        assert article.published_date and len(article.published_date) == 10
        assert chunk.search_text == f"{header}\n\n{chunk.text}"
        assert header not in article.body[chunk.metadata["start"] : chunk.metadata["end"]]
    # What was embedded is header + chunk text, not the bare text.
    embedded = hash_embedding.texts_embedded
    assert embedded and all(text.startswith("Title: ") for text in embedded)
    stored = {c.search_text for c in service.store.iter_chunks()}
    assert set(embedded) == stored


def test_a_captioned_article_titled_by_its_caption_before_updates_in_place_once(
    settings, hash_embedding, tmp_path
):
    """Before, the seed format's photo caption was the title; now the body's first sentence
    is. An index built then keeps the article's id: one update, then a no-op."""
    seed = tmp_path / "seed.txt"
    seed.write_text(
        " date 2021-05-03 Crowds gather in the square on Monday.\n\n"
        "ROME -- The mayor resigned on Monday. The council meets on Friday.\n",
        encoding="utf-8",
    )
    [article] = _articles(seed)
    as_before = article.model_copy(update={"title": headline(article.caption), "identity": ""})
    assert as_before.article_id == article.article_id
    service = IndexService(settings, embedding=hash_embedding)
    service.ingest_items([as_before])

    first, again = service.ingest_paths([seed]), service.ingest_paths([seed])

    assert (first.added, first.updated, again.unchanged, again.embedded) == (0, 1, 1, 0)
    [record] = service.store.list_articles()
    assert (record.title, record.caption) == (
        "The mayor resigned on Monday",
        "Crowds gather in the square on Monday.",
    )


def test_same_article_twice_in_one_run_keeps_the_later_one(settings, hash_embedding, tmp_path):
    older = tmp_path / "a" / "story.md"
    newer = tmp_path / "b" / "story.md"
    for path, word in ((older, "first"), (newer, "second")):
        path.parent.mkdir()
        path.write_text(
            f"---\ntitle: Story\nurl: https://x.test/story\n---\n\nThe {word} "
            "version of the story body.\n",
            encoding="utf-8",
        )
    service = IndexService(settings, embedding=hash_embedding)

    report = service.ingest_paths([older, newer])

    assert (report.added, report.failed) == (1, 0)
    assert any("later one is kept" in w.reason for w in report.warnings)
    record = service.store.get_article("https://x.test/story")
    assert record is not None and "second version" in (record.body or "")


def test_writes_overlap_embedding_in_order_and_a_failed_write_stops_the_run(
    settings: Settings, hash_embedding, slice_path, monkeypatch
):
    """Group N is written while group N+1 embeds; groups land in order, and a write that
    fails surfaces as the ingest's error with every earlier group stored whole."""
    import index.ingest as ingest_module

    monkeypatch.setattr(ingest_module, "EMBED_GROUP", 10)  # ~1 article per group
    service = IndexService(settings, embedding=hash_embedding)
    written: list[list[str]] = []
    real_write = service.store.write_articles

    def write(writes):
        if len(written) == 3:
            raise RuntimeError("disk full")
        written.append([w.article.article_id for w in writes])
        real_write(writes)

    monkeypatch.setattr(service.store, "write_articles", write)
    articles = _articles(slice_path)
    with pytest.raises(RuntimeError, match="disk full"):
        service.ingest_paths([slice_path])

    order = [a.article_id for a in articles]
    stored = [aid for group in written for aid in group]
    assert stored == order[: len(stored)]  # in input order, no gaps
    assert sorted(r.article_id for r in service.store.list_articles()) == sorted(stored)
    assert service.store.orphan_chunk_ids() == []


def test_a_sentence_split_timeout_refuses_that_article_by_name_and_the_rest_go_on(
    settings, hash_embedding, tmp_path, monkeypatch
):
    """nltk's punkt runs under a wall-clock regex guard; when it gives up on one article (it did
    under load, benchmarks/load.py), that article is refused with the reason and the others are
    stored, and nothing stored before is lost."""
    service = IndexService(settings, embedding=hash_embedding)
    kept = tmp_path / "kept.md"
    kept.write_text(
        "---\ntitle: Kept\nurl: https://x.test/kept\n---\n\nAn ordinary story. It "
        "has two sentences.\n",
        encoding="utf-8",
    )
    assert service.ingest_paths([kept]).added == 1

    real = _splitter(settings.chunk_size, min(settings.chunk_overlap, settings.chunk_size // 2))

    class GivesUpOnPoison:
        def split_text_metadata_aware(self, text: str, metadata: str) -> list[str]:
            if "POISON" in text:
                raise TimeoutError("regular-expression match exceeded its 60.0s time limit")
            return real.split_text_metadata_aware(text, metadata)

    monkeypatch.setattr("index.chunking._splitter", lambda *_: GivesUpOnPoison())
    poison, fine = tmp_path / "poison.md", tmp_path / "fine.md"
    poison.write_text(
        "---\ntitle: Poison\nurl: https://x.test/poison\n---\n\nPOISON text.\n", encoding="utf-8"
    )
    fine.write_text(
        "---\ntitle: Fine\nurl: https://x.test/fine\n---\n\nA fine story here.\n", encoding="utf-8"
    )

    report = service.ingest_paths([poison, fine])

    assert (report.added, report.failed) == (1, 1)
    [problem] = report.errors
    assert "poison.md" in problem.path and "sentence splitting gave up" in problem.reason
    assert service.store.get_article("https://x.test/poison") is None
    for url in ("https://x.test/kept", "https://x.test/fine"):
        assert service.store.get_article(url) is not None


def test_splitter_raises_nltks_regex_guard_to_a_limit_load_cannot_trip():
    from nltk import redos

    from index.chunking import SENTENCE_SPLIT_TIMEOUT_S

    _splitter.cache_clear()
    chunk_article(Article(article_id="a", title="T", body="One sentence. Another one."))
    assert redos.DEFAULT_TIMEOUT >= SENTENCE_SPLIT_TIMEOUT_S >= 30


def test_an_article_too_long_to_be_news_is_refused_by_name_and_the_rest_go_in(
    settings, hash_embedding, tmp_path
):
    """A 9 MB one-article upload took 24 minutes and 2 GB (round 19 sweep); the limit is far
    above any news article (the longest MultiHop-RAG one is 71,034 characters)."""
    from index.limits import MAX_ARTICLE_CHARS

    (tmp_path / "huge.txt").write_text(
        "A huge file\n\n" + "The same sentence again. " * (MAX_ARTICLE_CHARS // 25 + 1)
    )
    (tmp_path / "news.txt").write_text("Harbour news\n\nThe ferry sails at noon on Monday.\n")
    service = IndexService(settings, embedding=hash_embedding)

    report = service.ingest_paths([tmp_path])

    assert (report.added, report.failed, report.embedded) == (1, 1, 1)
    [error] = report.errors
    assert error.path == "huge.txt" and f"the limit is {MAX_ARTICLE_CHARS:,} per article" in (
        error.reason
    )
    assert [r.title for r in service.store.list_articles()] == ["Harbour news"]
