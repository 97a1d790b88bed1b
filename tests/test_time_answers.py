"""Answers that know time: "today", "this week" and "the latest" are read against the newest
article in the index (not the machine's clock), and an answer drawn from several days says which
day each claim is from (at the rendering edge)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from index.models import Article
from index.service import IndexService
from qa import render
from qa.assistant import Assistant
from qa.retrieval.query import LATEST_DAYS, find_dates
from qa.types import Answer, AnswerItem, Citation
from tests.web_fixtures import make_stories

NEWEST = int(datetime(2023, 11, 14, 15, 0, tzinfo=UTC).timestamp())  # long before "now"


@pytest.mark.parametrize(
    "question",
    [
        "What is the latest on the harbour lighthouse?",
        "What are the latest developments in Gaza?",
        "Most recent news about the ferry strike",
        "What's the newest?",
        "Tell me the latest",
    ],
)
def test_latest_is_a_preference_for_the_newest_days_of_the_index(question: str) -> None:
    (mention,) = find_dates(question, NEWEST)
    assert mention.kind == "latest" and not mention.hard
    assert mention.label() == ("2023-11-12", "2023-11-14")
    assert (mention.until_ts - mention.since_ts) // 86_400 == LATEST_DAYS


@pytest.mark.parametrize(
    "question",
    [
        "Which company released the latest iPhone?",
        "What did the newest member of the board say?",
        "Considering the latest product launch of Beats by Dre, who …?",
    ],
)
def test_latest_about_a_thing_is_not_a_time(question: str) -> None:
    assert find_dates(question, NEWEST) == []


def test_today_and_this_week_count_from_the_newest_article_not_the_clock() -> None:
    (today,) = find_dates("What happened today?", NEWEST)
    (week,) = find_dates("What happened this week?", NEWEST)
    assert today.hard and today.label() == ("2023-11-14", "2023-11-14")
    assert week.hard and week.label() == ("2023-11-08", "2023-11-14")
    assert find_dates("What happened today?", 0) == []  # an empty index has no "today"


@pytest.fixture(scope="module")
def lighthouse_index(tmp_path_factory, embedding) -> Assistant:
    """A dozen local stories over twelve days, and two on the lighthouse: day 3 and day 12."""
    from index.settings import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("time"), chroma_url=None)
    service = IndexService(settings, embedding=embedding)
    start = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    articles = [
        Article(
            title=s.title,
            body=s.body,
            source="Harbour Herald",
            url=f"https://herald.example/{s.slug}",
            published=s.published,
        )
        for s in make_stories(12, start=start)
    ]
    articles += [
        Article(
            title="Lighthouse closed for repairs",
            body="The harbour lighthouse closed for repairs on Monday. Engineers said rust had "
            "eaten the lantern room, and the keeper moved out.",
            source="Harbour Herald",
            url="https://herald.example/lighthouse-closed",
            published=start + timedelta(days=2),
        ),
        Article(
            title="Lighthouse repairs run late",
            body="Repairs to the harbour lighthouse will run two months late, the harbour "
            "office said. The lantern room needs new glass.",
            source="Coastal Gazette",
            url="https://gazette.example/lighthouse-late",
            published=start + timedelta(days=11),
        ),
    ]
    assert service.ingest_items(articles).added == 14
    return Assistant(settings, service=service)


def test_the_latest_on_a_topic_leads_with_its_newest_article(lighthouse_index) -> None:
    latest = lighthouse_index.ask("What is the latest on the harbour lighthouse?")
    assert latest.citations[0].url == "https://gazette.example/lighthouse-late"
    assert "newest" not in latest.filters.reason and "prior" in latest.filters.reason
    plain = lighthouse_index.search("What about the harbour lighthouse?")
    assert plain.filters.reason == ""  # no time reading without a time word


def test_today_is_the_newest_article_day(lighthouse_index) -> None:
    answer = lighthouse_index.ask("What happened to the harbour lighthouse today?")
    assert answer.filters.since == answer.filters.until == "2024-03-12"
    assert "relative to the newest article, 2024-03-12" in answer.filters.reason
    assert {c.url for c in answer.citations} == {"https://gazette.example/lighthouse-late"}


# --- which day each claim is from -------------------------------------------------------------


def _citation(n: int, published: str, url: str = "") -> Citation:
    quote = f"Claim number {n}."
    return Citation(
        n=n,
        article_id=url or f"a{n}",
        chunk_id=f"a{n}:0",
        url=url,
        published=published,
        quote=quote,
        start=0,
        end=len(quote),
        passage=quote,
    )


def test_an_answer_from_several_days_dates_each_claim() -> None:
    answer = Answer(
        question="What is the latest on the lighthouse?",
        answer="It closed for repairs [1]. The repairs run two months late [2][3].",
        citations=[
            _citation(1, "2024-03-03T09:00:00+00:00"),
            _citation(2, "2024-03-12T09:00:00+00:00"),
            _citation(3, "2024-03-12T18:00:00+00:00"),
        ],
    )
    html = render.render_answer(answer, 1)
    day = '<span class="qa-day"> ({})</span>'
    assert day.format("2024&#45;03&#45;03") in html
    assert html.count(day.format("2024&#45;03&#45;12")) == 1  # [2][3]: one day, said once
    assert html.index("&#91;1&#93;") < html.index("2024&#45;03&#45;03")
    assert render.text_with_days(answer) == (
        "It closed for repairs [1] (2024-03-03). "
        "The repairs run two months late [2][3] (2024-03-12)."
    )


def test_an_answer_from_one_day_carries_no_day_labels() -> None:
    answer = Answer(
        question="q",
        answer="One [1]. Two [2].",
        citations=[_citation(1, "2024-03-12T09:00:00"), _citation(2, "2024-03-12T20:00:00")],
    )
    assert "qa-day" not in render.render_answer(answer, 1)
    assert render.text_with_days(answer) == answer.answer


def test_list_answers_date_each_item_and_undated_sources_say_so() -> None:
    answer = Answer(
        question="Which harbours reopened?",
        answer="- Pellworth [1]\n- Kelso [2]",
        items=[
            AnswerItem(text="Pellworth", citations=[1]),
            AnswerItem(text="Kelso", citations=[2]),
        ],
        citations=[
            _citation(1, "2024-03-01T00:00:00"),
            _citation(2, ""),
            _citation(3, "2024-03-05"),
        ],
    )
    html = render.render_answer(answer, 7)
    assert "Pellworth" in html and "(2024&#45;03&#45;01)" in html and "(undated)" in html


def test_a_weekday_in_a_sentence_about_the_future_is_the_next_one() -> None:
    """An article of Wednesday, January 23, 2019: "met on Friday" is the Friday before it,
    "will meet on Friday" the Friday after."""
    from qa.answer.when import read_date

    published = "2019-01-23T10:00:00+00:00"
    past = read_date("Friday", "The council met on Friday.", published)
    future = read_date("Friday", "The council will meet on Friday.", published)
    assert past is not None and past.day == date(2019, 1, 18)
    assert future is not None and future.day == date(2019, 1, 25)
