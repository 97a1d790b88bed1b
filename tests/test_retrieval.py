"""Retriever behaviour over a small real index (MiniLM embeddings, the on-disk BM25 index,
Chroma's vector index)."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import SimpleNamespace

import numpy as np
import pytest

from index.lexical import LexicalIndex, lexical_dir
from index.models import Article
from qa.retrieval import LexicalCache, analyze, find_dates
from qa.retrieval.corpus import REVISION_TTL_S, fetch_chunks
from qa.retrieval.diversity import DiversityParams, select
from qa.retrieval.features import SentenceTable
from qa.retrieval.query import find_sources
from qa.retrieval.stages import PRESETS
from tests import retrieval_fixtures
from tests.retrieval_fixtures import DUPLICATE_URL

slice_index = retrieval_fixtures.slice_index  # the shared session fixture

SOURCES = [
    "TechCrunch",
    "The Independent - Sports",
    "The Independent - Life and Style",
    "Cnbc | World Business News Leader",
    "Fortune",
    "Sporting News",
    "CBSSports.com",
]


# --- question analysis (no index needed) ---------------------------------------------------------


def test_day_in_question_is_parsed_to_a_one_day_period():
    (mention,) = find_dates("Did TechCrunch report on October 7, 2023 that Altman left?")
    assert mention.kind == "day"
    assert mention.label() == ("2023-10-07", "2023-10-07")
    assert not mention.hard


def test_month_relative_and_open_ranges_are_parsed():
    newest = int(datetime(2023, 12, 25, 15, tzinfo=UTC).timestamp())
    kinds = {
        m.text: (m.kind, m.label(), m.hard)
        for m in find_dates("in November 2023, after December 5, 2023 and last week", newest)
    }
    assert kinds["in November 2023"] == ("month", ("2023-11-01", "2023-11-30"), False)
    assert kinds["after December 5, 2023"] == ("after", ("2023-12-06", None), False)
    assert kinds["last week"] == ("relative", ("2023-12-19", "2023-12-25"), True)


def test_a_quotations_today_is_not_the_askers_day():
    """ "told employees 'based on today's news, i quit'": the speaker's "today" filtered a
    question about OpenAI to the newest day's articles (TikTok, Ukraine); the asker's own
    "today" still does."""
    newest = int(datetime(2023, 12, 25, 15, tzinfo=UTC).timestamp())
    quoted = (
        "Which OpenAI co-founder told employees 'based on today's news, i quit,' and who "
        'said "we are done this week" or “gone today”?'
    )
    assert find_dates(quoted, newest) == []
    (mention,) = find_dates("What did Brockman say today?", newest)
    assert mention.label() == ("2023-12-25", "2023-12-25") and mention.hard
    assert [m.text for m in find_dates("Who said ‘we quit’ at OpenAI’s office today?", newest)] == [
        "today"
    ]


def test_sources_are_found_by_name_and_alias_case_sensitively():
    question = (
        "Does Cnbc say so, while The Independent - Sports and CBSSports.com disagree, "
        "and was a fortune made?"
    )
    found = [m.source for m in find_sources(question, SOURCES)]
    assert found == [
        "Cnbc | World Business News Leader",
        "The Independent - Sports",
        "CBSSports.com",
    ]
    shared = {m.source for m in find_sources("according to The Independent", SOURCES)}
    assert shared == {"The Independent - Sports", "The Independent - Life and Style"}


def test_days_attach_to_the_outlet_named_before_them():
    analysis = analyze(
        "the TechCrunch report on October 7, 2023 and the Fortune report on November 18, 2023",
        SOURCES,
    )
    days = {s: [m.label()[0] for m in ms] for s, ms in analysis.source_days().items()}
    assert days == {"TechCrunch": ["2023-10-07"], "Fortune": ["2023-11-18"]}


# --- the retriever over the slice ---------------------------------------------------------------


def _published_day(passage) -> str:
    return passage.published[:10]


def test_question_date_is_reported_as_filter(slice_index):
    result = slice_index.retriever.search(
        "What did The Independent - Life and Style report about Taylor Swift on December 6, 2023?"
    )
    assert result.filters.since == result.filters.until == "2023-12-06"
    assert "December 6, 2023" in result.filters.reason
    assert "The Independent - Life and Style" in result.sources
    # the prior puts that outlet's article from that day first
    top = result.passages[0]
    assert top.source == "The Independent - Life and Style"
    assert _published_day(top) in {"2023-12-05", "2023-12-06", "2023-12-07"}


def test_since_until_exclude_out_of_range_passages(slice_index):
    result = slice_index.retriever.search(
        "Taylor Swift and Travis Kelce", k=10, since="2023-10-01", until="2023-10-31"
    )
    assert result.passages
    assert all("2023-10-01" <= _published_day(p) <= "2023-10-31" for p in result.passages)
    assert result.filters.since == "2023-10-01" and result.filters.until == "2023-10-31"
    unfiltered = slice_index.retriever.search("Taylor Swift and Travis Kelce", k=10)
    assert any(not "2023-10-01" <= _published_day(p) <= "2023-10-31" for p in unfiltered.passages)


def test_relative_period_in_question_is_a_hard_filter(slice_index):
    view = slice_index.retriever.index()
    newest = datetime.fromtimestamp(view.newest_ts, tz=UTC).date().isoformat()
    result = slice_index.retriever.search("What happened in sports betting last week?", k=10)
    assert result.filters.until == newest
    assert result.filters.since is not None
    assert all(result.filters.since <= _published_day(p) <= newest for p in result.passages)


def test_source_filter_keeps_only_those_outlets(slice_index):
    result = slice_index.retriever.search("Taylor Swift", k=8, sources=["Fortune"])
    assert result.passages
    assert {p.source for p in result.passages} == {"Fortune"}


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_ablation_preset_returns_scored_passages(slice_index, preset):
    result = slice_index.retriever.search(
        "Sportsbook welcome bonus for new customers", k=5, stages=preset
    )
    assert len(result.passages) == 5
    scores = [p.score for p in result.passages]
    if not PRESETS[preset].diversity:
        assert scores == sorted(scores, reverse=True)
    assert all(p.scores for p in result.passages)
    assert {"index", "analyze", "score", "fetch", "candidates", "diversity"} <= set(
        result.timings_ms
    )


def test_full_pipeline_reports_per_stage_scores(slice_index):
    result = slice_index.retriever.search("Taylor Swift Eras Tour concert film box office")
    stages = set(result.passages[0].scores)
    assert {"bm25", "dense", "fused"} <= stages
    assert stages & {"rerank", "priors"}


def test_stem_pairs_score_a_sentence_that_keeps_the_questions_phrase(slice_index):
    view = slice_index.retriever.index()
    rows = np.flatnonzero(view.alive).tolist()
    chunks, _ = fetch_chunks(slice_index.service.store, view, rows)
    row = next(r for r in rows if len(chunks.texts[r].split(". ")) > 2)
    sentence = max(chunks.texts[row].split(". "), key=len)
    words = sentence.split()
    phrase = " ".join(words[: min(8, len(words))])
    reversed_phrase = " ".join(reversed(words[:8]))
    table = SentenceTable(chunks, rows, view, [phrase, reversed_phrase])
    codes, weights = table.question_pairs(phrase)
    assert len(codes) and (weights > 0).all()
    same = table.pair_matches([row], codes, weights)[0]
    assert 0.5 < same <= 1.0  # the phrase is in one of its sentences
    # the same words in reverse order still pair up (order is ignored); one word alone does not
    assert table.pair_matches([row], *table.question_pairs(reversed_phrase))[0] > 0.5
    lone = table.question_pairs(words[0])
    assert table.pair_matches([row], *lone)[0] == 0.0
    other = next(
        r
        for r in rows
        if phrase not in chunks.texts[r] and chunks.article_ids[r] != chunks.article_ids[row]
    )
    assert table.pair_matches([other], codes, weights)[0] < same


def test_diversity_caps_chunks_per_article(slice_index):
    question = "Houston Astros sign-stealing cheating scandal 2017 trash can banging"
    plain = slice_index.retriever.search(question, k=10, stages="rerank")
    diverse = slice_index.retriever.search(question, k=10, stages="full")
    assert max(Counter(p.article_id for p in plain.passages).values()) > 2
    cap = slice_index.retriever.diversity_params("full").article_cap
    assert max(Counter(p.article_id for p in diverse.passages).values()) <= cap
    assert len({p.article_id for p in diverse.passages}) > len(
        {p.article_id for p in plain.passages}
    )


def test_article_cap_gives_way_when_too_few_articles_fill_the_list():
    # One long article and one short: the cap spreads the list, then the capped chunks fill it
    # (a single-article corpus must still hand the answerer k passages, not `article_cap`).
    snap = SimpleNamespace(
        article_ids=["long"] * 5 + ["short"], sources=["AP"] * 6, near_duplicates={}
    )
    scores = np.array([6.0, 5.0, 4.0, 3.0, 2.0, 1.0])
    picks = select(
        snap, np.arange(6), scores, k=5, named_sources=set(), params=DiversityParams(article_cap=2)
    )
    assert [p.row for p in picks] == [0, 1, 5, 2, 3]
    assert (
        len(
            select(
                snap,
                np.arange(6),
                scores,
                k=10,
                named_sources=set(),
                params=DiversityParams(article_cap=2),
            )
        )
        == 6
    )


def test_near_duplicate_copy_does_not_crowd_out_others(slice_index):
    original = next(a for a in slice_index.articles if a["url"] == slice_index.duplicate_of)
    question = original["title"]
    plain = slice_index.retriever.search(question, k=10, stages="rerank")
    assert {original["url"], DUPLICATE_URL} <= {p.article_id for p in plain.passages}
    result = slice_index.retriever.search(question, k=10)
    ids = {p.article_id for p in result.passages}
    assert len(ids & {original["url"], DUPLICATE_URL}) == 1
    kept = next(p for p in result.passages if p.article_id in {original["url"], DUPLICATE_URL})
    assert set(kept.also_reported_by) == {original["url"], DUPLICATE_URL} - {kept.article_id}


def test_concurrent_searches_match_sequential_ones(slice_index):
    questions = [
        "Taylor Swift Time Person of the Year",
        "NBA Rookie of the Year odds",
        "49ers Ravens Christmas Day",
        "Beyonce Renaissance box office",
    ] * 3
    expected = [[p.chunk_id for p in slice_index.retriever.search(q).passages] for q in questions]
    with ThreadPoolExecutor(max_workers=6) as pool:
        got = list(
            pool.map(
                lambda q: [p.chunk_id for p in slice_index.retriever.search(q).passages], questions
            )
        )
    assert got == expected


def _lexical(slice_index) -> LexicalIndex:
    return LexicalIndex.at(lexical_dir(slice_index.settings, slice_index.service.store.name))


def test_index_opens_without_a_rebuild_in_a_fresh_process(slice_index):
    from qa.retrieval import Retriever

    Retriever(slice_index.service, slice_index.settings)
    LexicalCache.forget()  # a fresh process: opens the index on disk, does not rebuild it
    again = Retriever(slice_index.service, slice_index.settings)
    assert _lexical(slice_index).full_builds == 0
    assert again.search("NBA Rookie of the Year odds", k=3).passages


def test_bm25_follows_upserts_and_deletes_by_another_writer(slice_index):
    from index.service import IndexService

    # a second service on the same data dir stands in for another process writing to the store
    writer = IndexService(
        slice_index.settings,
        embedding=slice_index.service.embedding,
        collection=slice_index.service.store.name,
    )
    article = Article(
        title="Quokka census",
        source="Test Wire",
        url="https://example.org/quokka",
        published=datetime(2023, 12, 1, tzinfo=UTC),
        body="Rottnest Island rangers counted zorblaxian quokkas this spring. " * 3,
    )
    question = "zorblaxian quokkas"
    assert all(
        p.article_id != article.url
        for p in slice_index.retriever.search(question, k=3, stages="bm25").passages
    )
    before = slice_index.retriever.index()
    builds = _lexical(slice_index).full_builds
    writer.ingest_items([article])
    time.sleep(REVISION_TTL_S)  # revision checks are cached this long
    try:
        found = slice_index.retriever.search(question, k=3, stages="bm25")
        assert found.passages[0].article_id == article.url
        assert found.passages[0].scores["bm25"] > 0
        after = slice_index.retriever.index()
        # one small segment more, the old ones kept: no rebuild
        assert {s.name for s in before.segments} <= {s.name for s in after.segments}
        assert after.n > before.n
        again = slice_index.retriever.search(question, k=3, stages="bm25")
        assert again.passages[0].chunk_id == found.passages[0].chunk_id
    finally:
        assert writer.store.delete_article(article.url)
    time.sleep(REVISION_TTL_S)
    gone = slice_index.retriever.search(question, k=3, stages="bm25")
    assert all(p.article_id != article.url for p in gone.passages)
    assert _lexical(slice_index).full_builds == builds


def test_search_latency_is_interactive(slice_index):
    slice_index.retriever.search("warm up")
    started = time.perf_counter()
    for question in ["Taylor Swift Travis Kelce relationship", "Sporting News betting bonus"]:
        slice_index.retriever.search(question)
    assert (time.perf_counter() - started) / 2 < 1.0  # generous: CI machines are shared
