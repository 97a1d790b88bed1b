"""The store under change: upserts, deletes, model mismatch, near-duplicate links, crashes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import index.ingest
from index.chunking import chunk_article, chunk_id_for
from index.loaders import load_paths
from index.models import Article
from index.service import IndexService
from index.settings import Settings
from index.store import (
    ArticleStore,
    CollectionMetricError,
    EmbeddingMismatchError,
    ForeignCollectionError,
)


def _articles(*paths: Path) -> list[Article]:
    return [item for item in load_paths(paths) if isinstance(item, Article)]


def _chunk_ids_of(store: ArticleStore, article_id: str) -> list[str]:
    return sorted(c.chunk_id for c in store.iter_chunks() if c.metadata["article_id"] == article_id)


def fingerprint(store: ArticleStore) -> dict[str, Any]:
    """Everything a clean ingest determines: article ids, chunk ids, texts, offsets, hashes."""
    return {
        "articles": {r.article_id: (r.content_hash, r.n_chunks) for r in store.list_articles()},
        "chunks": {
            c.chunk_id: (
                c.metadata["article_id"],
                c.text,
                c.metadata["start"],
                c.metadata["end"],
                c.metadata["text_hash"],
            )
            for c in store.iter_chunks()
        },
    }


def assert_consistent(store: ArticleStore) -> None:
    """No orphans, no duplicates: every article owns exactly chunk ids 0..n_chunks-1."""
    assert store.orphan_chunk_ids() == []
    records = store.list_articles()
    assert store.count_chunks() == sum(r.n_chunks for r in records)
    for record in records:
        expected = [chunk_id_for(record.article_id, i) for i in range(record.n_chunks)]
        assert _chunk_ids_of(store, record.article_id) == expected


def _multi_chunk_article(articles: list[Article], minimum: int = 4) -> Article:
    return next(a for a in articles if len(chunk_article(a)) >= minimum)


@pytest.fixture
def slice_articles(corpus_slice) -> list[Article]:
    return _articles(corpus_slice(8))


@pytest.fixture
def service(settings: Settings, hash_embedding) -> IndexService:
    return IndexService(settings, embedding=hash_embedding)


# --- upserts -----------------------------------------------------------------------------------


def test_reingest_unchanged_writes_nothing(service: IndexService, slice_articles, hash_embedding):
    first = service.ingest_items(slice_articles)
    revision = service.store.revision()
    before = fingerprint(service.store)
    hash_embedding.texts_embedded.clear()

    again = service.ingest_items(slice_articles)

    assert (again.unchanged, again.added, again.updated) == (len(slice_articles), 0, 0)
    assert (again.embedded, again.chunks) == (0, 0)
    assert hash_embedding.texts_embedded == []
    assert service.store.revision() == revision, "an unchanged re-ingest must not write"
    assert fingerprint(service.store) == before
    assert first.added == len(slice_articles)


def test_edited_paragraph_reembeds_only_changed_chunks(
    service: IndexService, slice_articles, hash_embedding
):
    service.ingest_items(slice_articles)
    article = _multi_chunk_article(slice_articles)
    old_texts = {c.search_text for c in chunk_article(article)}
    revision = service.store.revision()
    paragraphs = article.body.split("\n\n")
    paragraphs[-1] = "An entirely rewritten closing paragraph about lighthouse keepers."
    edited = article.model_copy(update={"body": "\n\n".join(paragraphs)})
    new_chunks = chunk_article(edited)
    hash_embedding.texts_embedded.clear()

    report = service.ingest_items([edited, *(a for a in slice_articles if a is not article)])

    assert (report.updated, report.added, report.unchanged) == (1, 0, len(slice_articles) - 1)
    assert 1 <= report.embedded < len(new_chunks)
    # Exactly the chunks whose text changed were embedded; the rest reused stored vectors.
    assert set(hash_embedding.texts_embedded) == {c.search_text for c in new_chunks} - old_texts
    assert service.store.revision() != revision
    stored = service.store.get_chunks([c.chunk_id for c in new_chunks])
    assert [c.text for c in stored] == [c.text for c in new_chunks]
    record = service.store.get_article(article.article_id)
    assert record is not None and record.body == edited.body
    assert record.content_hash == edited.content_hash
    assert_consistent(service.store)


def test_shortened_article_loses_its_stale_chunks(service: IndexService, slice_articles):
    service.ingest_items(slice_articles)
    article = _multi_chunk_article(slice_articles)
    old_count = len(chunk_article(article))
    total_before = service.store.count_chunks()
    short = article.model_copy(update={"body": article.body[: len(article.body) // 4]})
    new_count = len(chunk_article(short))
    assert new_count < old_count

    report = service.ingest_items([short])

    assert report.updated == 1
    assert _chunk_ids_of(service.store, article.article_id) == [
        chunk_id_for(article.article_id, i) for i in range(new_count)
    ]
    assert service.store.count_chunks() == total_before - (old_count - new_count)
    assert_consistent(service.store)


def test_delete_removes_catalog_record_and_every_chunk(service: IndexService, slice_articles):
    service.ingest_items(slice_articles)
    victim = slice_articles[0]
    n_chunks = len(chunk_article(victim))
    total = service.store.count_chunks()
    revision = service.store.revision()

    assert service.store.delete_article(victim.article_id) is True

    assert service.store.get_article(victim.article_id) is None
    assert _chunk_ids_of(service.store, victim.article_id) == []
    assert service.store.count_chunks() == total - n_chunks
    assert service.store.count_articles() == len(slice_articles) - 1
    assert service.store.revision() != revision
    assert service.store.delete_article(victim.article_id) is False
    assert_consistent(service.store)
    # Re-ingesting brings it back as new.
    assert service.ingest_items([victim]).added == 1


# --- embedding model ---------------------------------------------------------------------------


def test_opening_with_another_embedding_model_is_refused(settings: Settings, slice_articles):
    store = ArticleStore.open(settings, "model-a")
    index.ingest.Ingestor(store, lambda texts: [[1.0, 0.0]] * len(texts)).ingest(slice_articles[:1])

    with pytest.raises(EmbeddingMismatchError) as caught:
        ArticleStore.open(settings, "model-b")

    message = str(caught.value)
    assert "'model-a'" in message and "'model-b'" in message
    assert "articles" in message and "QA_COLLECTION" in message
    # The same model opens fine; another collection in the same dir may use another model.
    assert ArticleStore.open(settings, "model-a").count_articles() == 1
    assert ArticleStore.open(settings, "model-b", name="other").count_articles() == 0


def test_real_model_refuses_an_index_built_with_the_fake(
    settings, hash_embedding, embedding, slice_articles
):
    IndexService(settings, embedding=hash_embedding).ingest_items(slice_articles[:1])
    with pytest.raises(EmbeddingMismatchError, match="test-hashed-bow-64"):
        IndexService(settings, embedding=embedding)


# --- near-duplicates ---------------------------------------------------------------------------


def _syndicated_copy(article: Article, url: str) -> Article:
    """The same story under another url with a changed first line (an outlet's own intro)."""
    _, _, rest = article.body.partition("\n")
    assert rest, "needs a multi-line body"
    return article.model_copy(
        update={"url": url, "source": "Wire Copy", "body": "Reported by our wire desk.\n" + rest}
    )


def _links(store: ArticleStore) -> dict[str, list[str]]:
    return {r.article_id: r.near_duplicates for r in store.list_articles()}


def test_near_duplicates_in_one_run_are_linked_both_ways(service: IndexService, slice_articles):
    original = _multi_chunk_article(slice_articles)
    copy = _syndicated_copy(original, "https://wire.example/copy")

    service.ingest_items([*slice_articles, copy])

    links = _links(service.store)
    assert links[original.article_id] == [copy.article_id]
    assert links[copy.article_id] == [original.article_id]
    others = set(links) - {original.article_id, copy.article_id}
    assert all(links[a] == [] for a in others), "unrelated stories must not be linked"


def test_near_duplicate_links_across_runs_and_delete_unlinks(service, slice_articles):
    original = _multi_chunk_article(slice_articles)
    copy = _syndicated_copy(original, "https://wire.example/copy")
    service.ingest_items(slice_articles)

    service.ingest_items([copy])
    assert _links(service.store)[original.article_id] == [copy.article_id]
    assert _links(service.store)[copy.article_id] == [original.article_id]

    assert service.store.delete_article(copy.article_id)
    assert _links(service.store)[original.article_id] == []


def test_rewritten_copy_is_unlinked(service: IndexService, slice_articles):
    original = _multi_chunk_article(slice_articles)
    copy = _syndicated_copy(original, "https://wire.example/copy")
    service.ingest_items([*slice_articles, copy])
    other_story = next(a for a in slice_articles if a is not original)
    rewritten = copy.model_copy(update={"body": other_story.body + "\n\nA wire desk footer."})

    service.ingest_items([rewritten])

    links = _links(service.store)
    assert original.article_id not in links[copy.article_id]
    assert copy.article_id not in links[original.article_id], "stale link left behind"
    assert links[copy.article_id] == [other_story.article_id]
    assert links[other_story.article_id] == [copy.article_id]


def test_a_later_ingest_reads_only_its_own_records_and_band_candidates(
    service: IndexService, slice_articles, monkeypatch
):
    """Near duplicates come from LSH band keys in the catalog: an ingest must not read the
    whole catalog, which grows with the archive (34 s per ingest at 20k articles)."""
    original = _multi_chunk_article(slice_articles)
    service.ingest_items(slice_articles)
    copy = _syndicated_copy(original, "https://wire.example/copy")
    looked_up: list[list[str]] = []
    lookup = service.store.near_duplicate_candidates
    monkeypatch.setattr(
        service.store,
        "near_duplicate_candidates",
        lambda keys: looked_up.append([aid for aid, _ in lookup(keys)]) or lookup(keys),
    )
    monkeypatch.setattr(service.store, "list_articles", lambda *a, **k: pytest.fail("read all"))

    service.ingest_items([copy])
    monkeypatch.undo()

    assert looked_up == [[original.article_id]], "only the band-sharing record is read"
    assert _links(service.store)[original.article_id] == [copy.article_id]


def test_catalog_stored_without_band_keys_is_backfilled_on_the_next_ingest(
    service: IndexService, slice_articles
):
    from index.dedup import BAND_FIELDS
    from index.store import BANDED_KEY

    original = _multi_chunk_article(slice_articles)
    service.ingest_items(slice_articles)
    catalog = service.store.catalog_collection  # as an older version of the code left it
    got = catalog.get(include=["metadatas"])
    stripped = [{k: v for k, v in m.items() if k not in BAND_FIELDS} for m in got["metadatas"]]
    catalog.delete(ids=got["ids"])
    catalog.add(ids=got["ids"], embeddings=[[1.0]] * len(got["ids"]), metadatas=stripped)
    meta = {k: v for k, v in (catalog.metadata or {}).items() if k != BANDED_KEY}
    catalog.modify(metadata=meta)
    store = ArticleStore(service.store._client, service.store.name, service.store.embedding_model)
    copy = _syndicated_copy(original, "https://wire.example/copy")

    service.store = store
    service.ingest_items([copy])

    assert _links(store)[original.article_id] == [copy.article_id]
    assert all(BAND_FIELDS[0] in m for m in catalog.get(include=["metadatas"])["metadatas"])


# --- crash safety ------------------------------------------------------------------------------


class SimulatedCrash(RuntimeError):
    pass


def _failing_after(calls: int, embed: Callable[[list[str]], list[list[float]]]):
    state = {"calls": 0}

    def embed_texts(texts: list[str]) -> list[list[float]]:
        state["calls"] += 1
        if state["calls"] > calls:
            raise SimulatedCrash(f"embedding call {state['calls']}")
        return embed(texts)

    return embed_texts


def _clean_fingerprint(make_settings, hash_embedding, articles: list[Article]) -> dict:
    clean = IndexService(make_settings(), embedding=hash_embedding)
    clean.ingest_items(articles)
    return fingerprint(clean.store)


def test_crash_between_embedding_groups_then_rerun_completes(
    make_settings, hash_embedding, slice_articles, monkeypatch
):
    # Small groups, so some articles are fully written before the crash.
    monkeypatch.setattr(index.ingest, "EMBED_GROUP", 12)
    service = IndexService(make_settings(), embedding=hash_embedding)
    crashing = index.ingest.Ingestor(service.store, _failing_after(2, hash_embedding.embed_texts))

    with pytest.raises(SimulatedCrash):
        crashing.ingest(slice_articles)
    written = service.store.count_articles()
    assert 0 < written < len(slice_articles)

    report = service.ingest_items(slice_articles)

    assert (report.added, report.unchanged) == (len(slice_articles) - written, written)
    assert fingerprint(service.store) == _clean_fingerprint(
        make_settings, hash_embedding, slice_articles
    )
    assert_consistent(service.store)


def test_crash_after_chunks_before_catalog_leaves_nothing_behind(
    make_settings, hash_embedding, slice_articles, monkeypatch
):
    service = IndexService(make_settings(), embedding=hash_embedding)
    service.store._ensure_created()  # as the first write would (opening creates nothing)

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise SimulatedCrash("killed between the chunk writes and the catalog write")

    monkeypatch.setattr(service.store._catalog, "upsert", crash)
    with pytest.raises(SimulatedCrash):
        service.ingest_items(slice_articles)
    monkeypatch.undo()
    assert service.store.orphan_chunk_ids(), "the crash should leave chunks without a record"

    service.ingest_items(slice_articles)

    assert fingerprint(service.store) == _clean_fingerprint(
        make_settings, hash_embedding, slice_articles
    )
    assert_consistent(service.store)


def test_crash_mid_update_is_redone_without_reembedding(
    service: IndexService, hash_embedding, slice_articles, make_settings, monkeypatch
):
    service.ingest_items(slice_articles)
    article = _multi_chunk_article(slice_articles)
    short = article.model_copy(update={"body": article.body[: len(article.body) // 3]})
    updated = [short if a is article else a for a in slice_articles]
    catalog = service.store._catalog

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise SimulatedCrash("killed before the catalog write")

    monkeypatch.setattr(catalog, "upsert", crash)
    with pytest.raises(SimulatedCrash):
        service.ingest_items(updated)
    monkeypatch.undo()
    # The old catalog record still says "old version": the update is not done yet.
    record = service.store.get_article(article.article_id)
    assert record is not None and record.content_hash == article.content_hash

    report = service.ingest_items(updated)

    assert report.updated == 1
    assert report.embedded == 0, "chunks written before the crash are reused, not re-embedded"
    assert fingerprint(service.store) == _clean_fingerprint(make_settings, hash_embedding, updated)
    assert_consistent(service.store)


def test_embedded_collection_made_by_plain_chromadb_is_refused(settings: Settings, hash_embedding):
    import chromadb

    settings.chroma_path.mkdir(parents=True)
    plain = chromadb.PersistentClient(path=str(settings.chroma_path))
    plain.create_collection(settings.collection).add(ids=["x"], embeddings=[[0.5, 0.5]])
    with pytest.raises(ForeignCollectionError, match=r"the embedded Chroma in .*QA_COLLECTION"):
        IndexService(settings, embedding=hash_embedding)
    assert [c.name for c in plain.list_collections()] == [settings.collection]


def test_embedded_empty_collection_of_another_metric_is_refused(settings: Settings, hash_embedding):
    import chromadb

    settings.chroma_path.mkdir(parents=True)
    plain = chromadb.PersistentClient(path=str(settings.chroma_path))
    plain.create_collection(settings.collection, metadata={"hnsw:space": "ip"})  # pre-1.0 way
    with pytest.raises(CollectionMetricError, match=r"'ip', newsqa needs 'cosine'") as raised:
        IndexService(settings, embedding=hash_embedding)
    assert f"the embedded Chroma in {settings.chroma_path}" in str(raised.value)
    assert [c.name for c in plain.list_collections()] == [settings.collection]
