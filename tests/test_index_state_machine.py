"""Random sequences of ingest / re-ingest / modify / duplicate / delete / query against the real
index (embedded Chroma and a `chroma run` server) checked against a plain dict of articles.

After every step: catalog ids == model ids; each article holds exactly chunk_article()'s chunks
(no orphan, no duplicate, texts == body[start:end]); near-duplicate links are symmetric and live;
the on-disk BM25 index readers open holds the same live chunks as Chroma, and a unique token of
each live article scores on that article's chunks only. A fake 16-dim hash embedding keeps steps
cheap.
"""

from __future__ import annotations

import contextlib
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from index.offline import apply_offline_defaults

apply_offline_defaults()

from index.dedup import signature  # noqa: E402
from index.models import Article  # noqa: E402
from index.service import IndexService  # noqa: E402
from index.settings import Settings  # noqa: E402
from qa.retrieval.corpus import LexicalCache, fetch_chunks  # noqa: E402
from qa.retrieval.text import tokenize  # noqa: E402
from tests.reliability_fixtures import (  # noqa: E402
    FakeHashEmbedding,
    fake_vector,
    index_problems,
    shared_clients,
    unique_collection,
)

CHUNK_SIZE = 128  # small chunks: a few hundred words already give several chunks per article
CHUNK_OVERLAP = 16
# A vocabulary of made-up words (no stopwords, no stems shared with the tokens below), so random
# bodies never look like near-duplicates of each other by accident.
_SYLLABLES = ["ba", "ke", "lo", "mi", "nu", "pa", "re", "si", "to", "vu", "da", "fe"]
VOCABULARY = [a + b + c for a in _SYLLABLES for b in _SYLLABLES for c in ("n", "r", "l")]
SOURCES = ["Wire One", "Daily Two", "", "The Third"]
# Default suite: ~40 s on a quiet 2-core machine. The slow runs below add 450 longer examples.
EMBEDDED_EXAMPLES = 50
SERVER_EXAMPLES = 20  # each step is an HTTP round trip or three: ~2.5x the embedded cost
STEPS = 8

body_specs = st.tuples(st.integers(0, 2**32 - 1), st.integers(3, 260))


def make_body(seed: int, n_words: int) -> str:
    """Sentences of 4-14 words in paragraphs: deterministic from (seed, n_words)."""
    rng = random.Random(seed)
    sentences, left = [], n_words
    while left > 0:
        size = min(left, rng.randint(4, 14))
        words = [rng.choice(VOCABULARY) for _ in range(size)]
        sentences.append(" ".join(words).capitalize() + ".")
        left -= size
    paragraphs, cursor = [], 0
    while cursor < len(sentences):
        step = rng.randint(1, 4)
        paragraphs.append(" ".join(sentences[cursor : cursor + step]))
        cursor += step
    return "\n\n".join(paragraphs)


def token_of(number: int) -> str:
    return f"zq{number}tok"


class IndexMachine(RuleBasedStateMachine):
    """Subclassed per backend with `settings_for(collection)` provided."""

    base_settings: Settings

    def __init__(self) -> None:
        super().__init__()
        self.settings = self.base_settings.model_copy(update={"collection": unique_collection()})
        self.service = IndexService(self.settings, embedding=FakeHashEmbedding())
        self.store = self.service.store
        self.model: dict[str, Article] = {}
        self.tokens: dict[str, str] = {}  # article_id -> its unique title token
        self.deleted_tokens: set[str] = set()
        self.counter = 0
        self.retriever = None

    def teardown(self) -> None:
        client = self.store._client
        for name in (self.store.name, self.store.name + "-articles"):
            with contextlib.suppress(Exception):  # already gone: nothing to clean
                client.delete_collection(name)

    # --- helpers ------------------------------------------------------------------------------
    def _new_article(
        self,
        spec: tuple[int, int],
        *,
        body: str | None = None,
        anonymous: bool = False,
        version: int = 0,
    ) -> Article:
        number = self.counter
        self.counter += 1
        token = token_of(number)
        rng = random.Random(spec[0] ^ number)
        article = Article(
            title=f"Story {token} v{version}",
            body=body if body is not None else make_body(*spec),
            source=rng.choice(SOURCES),
            url="" if anonymous else f"https://news.test/{number}",
            published=datetime(2023, 1, 1, tzinfo=UTC) + timedelta(days=rng.randint(0, 300)),
            origin=f"gen#{number}",
            file_key=f"file-{number}" if anonymous else "",  # as if each came alone from a file
        )
        self.tokens[article.article_id] = token
        return article

    def _ingest(self, articles: list[Article]):
        report = self.service.ingestor().ingest(articles)
        assert report.failed == 0 and not report.errors, report.to_dict()
        for article in articles:
            self.model[article.article_id] = article
        return report

    def _pick(self, index: int, *, with_url: bool = False) -> Article:
        ids = sorted(a for a, art in self.model.items() if art.url or not with_url)
        return self.model[ids[index % len(ids)]]

    def _has_url_article(self) -> bool:
        return any(a.url for a in self.model.values())

    def _editable(self) -> list[Article]:
        """Articles from a file of their own, long enough that one more sentence keeps the
        edited text a near-duplicate whatever MinHash's estimate error."""
        found = [a for a in self.model.values() if a.file_key and len(a.body.split()) >= 60]
        return sorted(found, key=lambda a: a.article_id)

    # --- rules --------------------------------------------------------------------------------
    @rule(specs=st.lists(body_specs, min_size=1, max_size=3), anonymous=st.booleans())
    def ingest_new(self, specs, anonymous):
        articles = [self._new_article(spec, anonymous=anonymous) for spec in specs]
        report = self._ingest(articles)
        assert (report.added, report.updated, report.unchanged) == (len(articles), 0, 0)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def reingest_unchanged(self, data):
        ids = sorted(self.model)
        chosen = data.draw(st.lists(st.sampled_from(ids), min_size=1, max_size=4, unique=True))
        revision = self.store.revision()
        report = self._ingest([self.model[a].model_copy() for a in chosen])
        assert (report.unchanged, report.added, report.updated) == (len(chosen), 0, 0)
        assert report.embedded == 0
        assert self.store.revision() == revision, "an unchanged re-ingest must not write"

    @precondition(lambda self: self._has_url_article())
    @rule(
        index=st.integers(0, 10**6),
        spec=body_specs,
        change=st.sampled_from(["body", "title", "append", "truncate"]),
    )
    def modify(self, index, spec, change):
        old = self._pick(index, with_url=True)
        token = self.tokens[old.article_id]
        if change == "body":
            new = old.model_copy(update={"body": make_body(*spec)})
        elif change == "title":
            new = old.model_copy(update={"title": f"Story {token} v{spec[1]}"})
        elif change == "append":
            new = old.model_copy(update={"body": old.body + "\n\n" + make_body(*spec)})
        else:
            new = old.model_copy(
                update={"body": old.body[: max(1, len(old.body) // 3)].strip() or "Short."}
            )
        report = self._ingest([new])
        expected = (0, 0, 1) if new.content_hash == old.content_hash else (0, 1, 0)
        assert (report.added, report.updated, report.unchanged) == expected

    @precondition(lambda self: self._editable())
    @rule(index=st.integers(0, 10**6), spec=body_specs, same_story=st.booleans())
    def edit_file(self, index, spec, same_story):
        """A file edited in place (no url: the id is a hash of the body, so it changes) replaces
        its earlier version; another story saved under the same file is kept beside it."""
        candidates = self._editable()
        old = candidates[index % len(candidates)]
        if same_story:
            new = old.model_copy(update={"body": old.body + " Bakn kelr mipl resn tovl."})
            self.tokens[new.article_id] = self.tokens.pop(old.article_id)  # same title
        else:
            # Another story: not the same text by chance (make_body with the seed that made
            # the old body and one word more or less is the same story, and is replaced).
            assume(signature(make_body(*spec)).jaccard(signature(old.body)) < 0.3)
            new = self._new_article(spec, anonymous=True).model_copy(
                update={"file_key": old.file_key, "source": old.source}
            )
        report = self.service.ingestor().ingest([new])
        assert report.failed == 0 and not report.errors, report.to_dict()
        if same_story:
            assert (report.added, report.updated, report.warnings) == (0, 1, [])
            del self.model[old.article_id]
        else:
            assert (report.added, report.updated, len(report.warnings)) == (1, 0, 1)
            assert old.article_id in report.warnings[0].reason
            self.model[old.article_id] = old.model_copy(update={"file_key": ""})
        self.model[new.article_id] = new
        assert self.store.get_article(new.article_id).file_key == new.file_key

    @precondition(lambda self: self.model)
    @rule(index=st.integers(0, 10**6))
    def duplicate(self, index):
        """The same story from another outlet: a new url, the same body -> linked both ways."""
        original = self._pick(index)
        copy = self._new_article((0, 0), body=original.body)
        self._ingest([copy])
        assert original.article_id in self.store.get_article(copy.article_id).near_duplicates

    @precondition(lambda self: self.model)
    @rule(index=st.integers(0, 10**6))
    def delete(self, index):
        article = self._pick(index)
        assert self.store.delete_article(article.article_id) is True
        del self.model[article.article_id]
        self.deleted_tokens.add(self.tokens[article.article_id])

    @rule()
    def delete_missing(self):
        assert self.store.delete_article("https://news.test/never-ingested") is False

    @precondition(lambda self: self.model)
    @rule(index=st.integers(0, 10**6))
    def query_dense(self, index):
        """The product's candidate fetch returns a chunk's own vector (cosine 1 with itself), and
        Chroma's nearest-neighbour query never returns a deleted one.

        The product takes dense candidates from Chroma's HNSW query, which is approximate: in a
        CI run over a Chroma server it once missed a chunk at distance ~0 (top hit 0.69) after
        in-place vector updates, and hypothesis could not replay it (the graph is built with
        random levels). The reranker's cosines are exact (from the fetched vectors), so
        exactness is asserted there and liveness where Chroma answers."""
        article = self._pick(index)
        chunks = self.store.get_chunks(
            [
                c.chunk_id
                for c in self.store.iter_chunks()
                if c.metadata.get("article_id") == article.article_id
            ]
        )
        target = chunks[index % len(chunks)]
        query = np.asarray(fake_vector(target.search_text))
        view = LexicalCache.get(self.settings, self.store)
        (row,) = view.rows_of([target.chunk_id]).tolist()
        assert row >= 0, "a live chunk is missing from the lexical index"
        fetched, missing = fetch_chunks(self.store, view, [row])
        assert not missing and fetched.chunk_ids[row] == target.chunk_id
        assert float(fetched.vectors[row] @ query) > 1 - 1e-5  # its own vector, not a near one
        hits = self.store.query(query.tolist(), k=3)
        live = {c.chunk_id for c in self.store.iter_chunks()}
        assert hits and all(hit.chunk_id in live for hit in hits)

    @precondition(lambda self: self.model)
    @rule(index=st.integers(0, 10**6))
    def search(self, index):
        """The product's Retriever finds an article by its unique token, never a deleted one."""
        from qa.retrieval import Retriever

        if self.retriever is None:
            self.retriever = Retriever(self.service, self.settings)
        article = self._pick(index)
        result = self.retriever.search(f"what about {self.tokens[article.article_id]}", k=4)
        found = {p.article_id for p in result.passages}
        # Near-duplicate copies are collapsed into the best one (diversity), which names the
        # others in also_reported_by: the article is found either way.
        represented = found | {a for p in result.passages for a in p.also_reported_by}
        assert article.article_id in represented
        assert represented <= set(self.model), (
            f"deleted articles returned: {represented - set(self.model)}"
        )

    # --- invariants ---------------------------------------------------------------------------
    @invariant()
    def index_matches_model(self):
        problems = index_problems(self.store, self.model, CHUNK_SIZE, CHUNK_OVERLAP)
        assert not problems, "\n".join(problems)

    @invariant()
    def exact_copies_are_linked(self):
        by_body: dict[str, list[str]] = {}
        for article_id, article in self.model.items():
            by_body.setdefault(article.body, []).append(article_id)
        links = {r.article_id: set(r.near_duplicates) for r in self.store.list_articles()}
        for group in by_body.values():
            for article_id in group:
                assert set(group) - {article_id} <= links.get(article_id, set()), group

    @invariant()
    def bm25_agrees_with_chroma(self):
        view = LexicalCache.get(self.settings, self.store)
        live = sorted(view.live_chunk_ids())
        assert live == sorted(c.chunk_id for c in self.store.iter_chunks())
        if not live:
            return
        rows = np.flatnonzero(view.alive).tolist()
        article_of = {row: view.article_id(row) for row in rows}
        for article_id, token in self.tokens.items():
            scores = view.bm25(view.terms(tokenize(token)))
            hits = {row for row in rows if scores[row] > 0}
            hit_articles = {article_of[row] for row in hits}
            if article_id in self.model:
                assert hits == {r for r in rows if article_of[r] == article_id}, token
            else:
                assert not hit_articles, f"deleted {token} still in BM25: {hit_articles}"


def run_machine(base: Settings, examples: int, steps: int, *, derandomize: bool) -> None:
    import qa.retrieval.corpus as corpus_module

    machine = type("Machine", (IndexMachine,), {"base_settings": base})
    # Searches re-check the store revision at most every REVISION_TTL_S (0.5 s) by design; steps
    # follow each other faster, so check on every search to compare with the model exactly.
    ttl, corpus_module.REVISION_TTL_S = corpus_module.REVISION_TTL_S, 0.0
    try:
        _run(machine, examples, steps, derandomize)
    finally:
        corpus_module.REVISION_TTL_S = ttl


def _run(machine: type, examples: int, steps: int, derandomize: bool) -> None:
    with shared_clients():
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=examples,
                stateful_step_count=steps,
                deadline=None,
                database=None,
                derandomize=derandomize,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )


def embedded_settings(path: Path) -> Settings:
    return Settings(data_dir=path, chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)


# The search rule found a real bug: among copies of one story ingested together, the learned
# reranker (leaning on dense features, noise under the hash embedding) ranked the only chunk
# holding a copy's unique title token last, out of the top k. Fixed by the retriever's lexical
# anchor (the best BM25 chunk always makes the final k); the rule now runs in every suite.


def test_embedded_index_follows_model(fresh_dir):
    run_machine(embedded_settings(fresh_dir("sm")), EMBEDDED_EXAMPLES, STEPS, derandomize=True)


def test_server_index_follows_model(fresh_dir, chroma_server):
    base = embedded_settings(fresh_dir("sm")).model_copy(update={"chroma_url": chroma_server})
    run_machine(base, SERVER_EXAMPLES, STEPS, derandomize=True)


@pytest.mark.slow
def test_embedded_index_follows_model_long(fresh_dir):
    run_machine(embedded_settings(fresh_dir("sm")), 300, 25, derandomize=False)


@pytest.mark.slow
def test_server_index_follows_model_long(fresh_dir, chroma_server):
    base = embedded_settings(fresh_dir("sm")).model_copy(update={"chroma_url": chroma_server})
    run_machine(base, 150, 25, derandomize=False)
