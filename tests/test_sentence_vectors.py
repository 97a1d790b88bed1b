"""Sentence vectors: pooled from the chunk's own model pass at ingest, stored with the chunk,
upgraded in older stores, fetched with a search's candidates and read by the retriever's
sentence-cosine feature."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from index.chunking import chunk_article
from index.ingest import Ingestor, _search_text_spans
from index.models import Article
from index.sentences import decode_vectors, encode_vectors, sentence_spans
from index.service import IndexService, embed_function
from index.settings import Settings
from qa.retrieval.corpus import Chunks, LexicalCache, fetch_chunks
from qa.retrieval.features import SentenceTable

TEXT = (
    "The city council met on Tuesday to discuss parking fees. "
    "Apple unveiled a new iPhone with a faster chip and a better camera. "
    "Heavy rain is expected over the weekend."
)


def _article(name: str, body: str) -> Article:
    return Article(
        url=f"https://example.com/{name}",
        title="Local news roundup",
        source="Example Times",
        body=body,
        published=datetime(2023, 10, 5),
    )


def test_spans_split_at_sentence_ends_and_line_breaks():
    text = 'He said "Stop." Then he left.\nNew line here... and more! OK? 42 people came.'
    spans = sentence_spans(text)
    assert [text[a:b] for a, b in spans] == [
        'He said "Stop.',
        "Then he left.",
        "New line here... and more!",
        "OK?",
        "42 people came.",
    ]
    assert all(text[a:b] == text[a:b].strip() and b > a for a, b in spans)
    assert sentence_spans("  \n ") == []


def test_codes_round_trip_and_refuse_garbage():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(5, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    codes = decode_vectors(encode_vectors(vectors))
    assert codes is not None and codes.shape == (5, 384) and codes.dtype == np.int8
    assert np.abs(codes / 127.0 - vectors).max() <= 0.5 / 127 + 1e-6
    assert decode_vectors("not vectors") is None
    assert decode_vectors("384:" + "A" * 7) is None  # not base64 of whole rows


def test_one_pass_gives_the_chunk_vector_and_sentence_vectors(embedding):
    spans = [*sentence_spans(TEXT), (len(TEXT) + 10, len(TEXT) + 20)]  # last: past the text
    vectors, per_sentence = embedding.embed_with_sentences([TEXT], [spans])
    assert np.allclose(vectors[0], embedding.embed_texts([TEXT])[0], atol=1e-6)
    sentences = per_sentence[0]
    assert sentences.shape == (4, 384)
    assert np.allclose(np.linalg.norm(sentences[:3], axis=1), 1.0, atol=1e-5)
    assert not sentences[3].any()  # no token starts there: a zero vector, not a crash
    question = np.asarray(embedding.get_query_embedding("new smartphone processor"))
    cosines = sentences[:3] @ question
    assert int(np.argmax(cosines)) == 1  # the iPhone sentence, not the council or the rain
    # ...and it says so more clearly than the whole chunk's vector does.
    assert cosines[1] > float(np.asarray(vectors[0]) @ question)


def _candidates(settings: Settings, service: IndexService) -> tuple[list[int], Chunks]:
    """Every live row as a search's candidates: fetched by id, as the retriever does."""
    view = LexicalCache.get(settings, service.store)
    rows = np.flatnonzero(view.alive).tolist()
    chunks, missing = fetch_chunks(service.store, view, rows)
    assert not missing
    return rows, chunks


def test_ingest_stores_them_and_the_candidates_line_them_up(settings: Settings, embedding):
    service = IndexService(settings, embedding=embedding)
    service.ingest_items([_article("a1", TEXT), _article("a2", TEXT.replace("Apple", "Google"))])
    rows, chunks = _candidates(settings, service)
    assert all(meta.get("sentence_vectors") is None for meta in chunks.metas.values())  # out
    for row in rows:
        codes = chunks.sentence_codes[row]
        assert codes is not None and len(codes) == len(sentence_spans(chunks.texts[row]))
    table = SentenceTable(chunks, rows, chunks.view, ["new smartphone processor"])
    question = np.asarray(embedding.get_query_embedding("new smartphone processor"))
    best = table.sentence_cosines(rows, question, np.zeros(len(rows)))
    assert (best > 0.3).all()


def test_chunks_without_vectors_fall_back_to_the_chunk_cosine(settings: Settings, hash_embedding):
    service = IndexService(settings, embedding=hash_embedding)  # a model without sentence pooling
    service.ingest_items([_article("a1", TEXT)])
    assert not service.store.list_articles()[0].has_sentence_vectors
    rows, chunks = _candidates(settings, service)
    assert [chunks.sentence_codes[r] for r in rows] == [None] * len(rows)
    table = SentenceTable(chunks, rows, chunks.view, [])
    fallback = np.linspace(0.1, 0.5, len(rows))
    got = table.sentence_cosines(rows, np.ones(64) / 8.0, fallback)
    assert np.array_equal(got, fallback)


def test_codes_that_do_not_match_the_sentences_are_not_used(settings: Settings, embedding):
    service = IndexService(settings, embedding=embedding)
    service.ingest_items([_article("a1", TEXT)])
    rows, chunks = _candidates(settings, service)
    row = rows[0]
    chunks.sentence_codes[row] = chunks.sentence_codes[row][:1]  # one vector for 3 sentences
    table = SentenceTable(chunks, [row], chunks.view, [])
    question = np.asarray(embedding.get_query_embedding("new smartphone processor"))
    assert table.sentence_cosines([row], question, np.array([-0.5]))[0] == -0.5


def test_an_older_store_is_upgraded_by_the_next_ingest(settings: Settings, embedding):
    service = IndexService(settings, embedding=embedding)
    old = Ingestor(service.store, embed_function(embedding))  # as before sentence vectors
    old.ingest([_article("a1", TEXT)])
    assert not service.store.list_articles()[0].has_sentence_vectors

    report = service.ingest_items([_article("a1", TEXT)])
    assert (report.updated, report.unchanged, report.embedded) == (1, 0, 1)
    assert service.store.list_articles()[0].has_sentence_vectors
    again = service.ingest_items([_article("a1", TEXT)])
    assert (again.unchanged, again.embedded) == (1, 0)


@pytest.mark.parametrize("header", [True, False])
def test_spans_are_shifted_past_the_embedded_header(header: bool):
    chunk = chunk_article(_article("a1", TEXT))[0]
    assert chunk.header
    if not header:
        chunk = chunk.model_copy(update={"header": ""})
    pieces = [chunk.search_text[a:b] for a, b in _search_text_spans(chunk)]
    assert pieces == [chunk.text[a:b] for a, b in sentence_spans(chunk.text)]
