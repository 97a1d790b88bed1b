"""The offline MiniLM embedding: shape, norm, batching/padding correctness, truncation, factory."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from index.offline import apply_offline_defaults

apply_offline_defaults()

from index.embedding import (  # noqa: E402
    MINILM_ID,
    OnnxEmbedding,
    embedding_model_id,
    make_embedding,
)
from index.settings import Settings  # noqa: E402

MIXED_TEXTS = [
    "Bankman-Fried was found guilty on all seven counts of fraud and conspiracy.",
    "Hi",
    "The Federal Reserve left interest rates unchanged on Wednesday, citing cooling inflation "
    "and a labour market that is slowly coming into better balance, officials said.",
    "",
    "Apple unveiled the iPhone 15 with a USB-C port.",
    "Goal!",
    "The quarterback threw for 300 yards and three touchdowns as the team won its fifth game.",
]


@pytest.fixture(scope="module")
def model() -> OnnxEmbedding:
    # Small batches so MIXED_TEXTS spans several padded batches of different lengths.
    return OnnxEmbedding(embed_batch_size=3, threads=1)


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_vectors_are_384_dim_unit_norm_and_finite(model: OnnxEmbedding) -> None:
    vectors = np.asarray(model.embed_texts(MIXED_TEXTS))
    assert model.dim == 384
    assert vectors.shape == (len(MIXED_TEXTS), 384)
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_deterministic(model: OnnxEmbedding) -> None:
    assert model.embed_texts(MIXED_TEXTS) == model.embed_texts(MIXED_TEXTS)


def test_batched_equals_one_by_one(model: OnnxEmbedding) -> None:
    # Texts of very different lengths share padded batches: if padding leaked into the mean
    # (or the mask were wrong) the short texts' vectors would change.
    batched = np.asarray(model.embed_texts(MIXED_TEXTS))
    alone = np.asarray([model.embed_texts([text])[0] for text in MIXED_TEXTS])
    np.testing.assert_allclose(batched, alone, atol=1e-5)


def test_order_is_restored_after_length_sort(model: OnnxEmbedding) -> None:
    forward = np.asarray(model.embed_texts(MIXED_TEXTS))
    permutation = [3, 6, 0, 5, 2, 1, 4]
    permuted = np.asarray(model.embed_texts([MIXED_TEXTS[i] for i in permutation]))
    np.testing.assert_allclose(permuted, forward[permutation], atol=1e-5)
    # ...and the rows are really different texts, so a mix-up could not pass unnoticed.
    assert cosine(forward[0], forward[1]) < 0.9


def test_related_sentences_are_closer_than_unrelated(model: OnnxEmbedding) -> None:
    query = model.get_query_embedding("Who was convicted of fraud at the FTX trial?")
    related = model.get_text_embedding(
        "Sam Bankman-Fried, founder of the FTX crypto exchange, "
        "was found guilty of fraud by a jury."
    )
    unrelated = model.get_text_embedding("The recipe calls for two cups of flour and an egg.")
    assert cosine(query, related) > cosine(query, unrelated) + 0.2


def test_empty_string_and_empty_list(model: OnnxEmbedding) -> None:
    (vector,) = model.embed_texts([""])
    assert len(vector) == 384
    assert abs(np.linalg.norm(vector) - 1.0) < 1e-5
    assert model.embed_texts([]) == []


def test_long_text_is_truncated_at_256_word_pieces(model: OnnxEmbedding) -> None:
    long_text = " ".join(f"word{i % 50} news report" for i in range(3000))
    assert model.token_counts([long_text]) == [256]
    head, longer = model.embed_texts([long_text, long_text + " completely different ending"])
    # Everything after the first 256 word pieces is cut off, so the tail cannot change the vector.
    np.testing.assert_allclose(head, longer, atol=1e-6)
    assert abs(np.linalg.norm(head) - 1.0) < 1e-5


def test_query_cache_returns_same_vector_and_is_bounded() -> None:
    small_cache = OnnxEmbedding(query_cache_size=2, threads=1)
    first = small_cache.get_query_embedding("election results")
    assert small_cache.get_query_embedding("election results") == first
    for query in ["a", "b", "c"]:
        small_cache.get_query_embedding(query)
    assert list(small_cache._query_cache) == ["b", "c"]
    # A cached vector is a copy: mutating the result must not corrupt the cache.
    first[0] = 99.0
    assert small_cache.get_query_embedding("election results")[0] != 99.0


def test_concurrent_queries_match_sequential(model: OnnxEmbedding) -> None:
    queries = [f"question number {i} about the stock market" for i in range(12)]
    sequential = [model.embed_texts([q])[0] for q in queries]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(model.get_query_embedding, queries))
    np.testing.assert_allclose(concurrent, sequential, atol=1e-6)


def test_llama_index_entry_points_agree_with_fast_path(model: OnnxEmbedding) -> None:
    fast = np.asarray(model.embed_texts(MIXED_TEXTS))
    via_batch = np.asarray(model.get_text_embedding_batch(MIXED_TEXTS))
    via_async = asyncio.run(model.aget_query_embedding(MIXED_TEXTS[0]))
    via_async_batch = asyncio.run(model.aget_text_embedding_batch(MIXED_TEXTS))
    np.testing.assert_allclose(via_batch, fast, atol=1e-5)
    np.testing.assert_allclose(via_async, fast[0], atol=1e-5)
    np.testing.assert_allclose(via_async_batch, fast, atol=1e-5)


def test_make_embedding_minilm_offline() -> None:
    embedding = make_embedding(Settings(embedding="minilm", embed_batch_size=8, embed_threads=1))
    assert isinstance(embedding, OnnxEmbedding)
    assert embedding.embed_batch_size == 8
    assert embedding_model_id(embedding) == MINILM_ID == embedding.model_name
    assert len(embedding.get_query_embedding("offline works")) == 384


def test_model_id_changes_with_truncation_length() -> None:
    assert embedding_model_id(OnnxEmbedding(max_tokens=128, threads=1)) == f"{MINILM_ID}-max128"


def test_make_embedding_openai_is_lazy_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")
    embedding = make_embedding(
        Settings(embedding="openai", openai_embedding_model="text-embedding-3-small")
    )
    assert embedding.model_name == "text-embedding-3-small"
    assert embedding_model_id(embedding) == "OpenAIEmbedding:text-embedding-3-small"
