"""The in-process Python API: one code path for streamed and plain answers, history as data."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from qa.assistant import Assistant, AssistantError, sentence_deltas
from qa.types import Answer, Turn
from tests.api_fixtures import make_assistant
from tests.fake_llm import FakeLLM

MADURO_BACKERS = ("Russia", "China", "Iran", "Syria", "Cuba", "Turkey")


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return make_assistant(Path(tmp_path_factory.mktemp("assistant")))


def test_ask_names_every_backer_with_a_verbatim_citation(assistant: Assistant) -> None:
    answer = assistant.ask("which countries back Maduro?")
    assert not answer.abstained
    assert [item.text for item in answer.items] == list(MADURO_BACKERS)
    body = assistant.get_article(answer.citations[0].article_id).body
    for citation in answer.citations:
        assert body[citation.start : citation.end] == citation.quote
    assert "Maduro" in answer.citations[0].quote


def test_warm_up_runs_what_the_first_answer_would_otherwise_load(
    assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first question after `qa serve` said "ready" took 6-7 s (round 20 sweep, finding
    12): the spaCy pipeline, nltk's sentence splitter and the tokenizer load on first use. The
    warm-up goes through each of them (over texts no cache holds yet) and stores nothing."""
    import qa.answer.nlp
    import qa.answer.sentences
    import qa.assistant
    import qa.usage

    used: set[str] = set()
    for module, name in (
        (qa.answer.nlp, "pipeline"),
        (qa.answer.sentences, "_punkt"),
        (qa.usage, "_tokenizer"),
    ):
        loader = getattr(module, name)
        monkeypatch.setattr(
            module, name, lambda loader=loader, name=name: used.add(name) or loader()
        )
    fresh = f"Ana Ruiz chaired the meeting at {time.time_ns()}. She said the talks went well."
    monkeypatch.setattr(qa.assistant, "WARM_UP_TEXT", fresh)
    monkeypatch.setattr(qa.assistant, "WARM_UP_QUESTION", f"Who chaired it at {time.time_ns()}?")
    articles = assistant.service.store.count_articles()

    assert assistant.warm_up() > 0
    assert used == {"pipeline", "_punkt", "_tokenizer"}
    assert assistant.service.store.count_articles() == articles


def test_ask_is_the_last_event_of_ask_stream(assistant: Assistant) -> None:
    events = list(assistant.ask_stream("which countries back Maduro?"))
    assert isinstance(events[-1], Answer)
    assert all(not isinstance(e, Answer) for e in events[:-1])
    plain = assistant.ask("which countries back Maduro?")
    assert events[-1].answer == plain.answer
    assert [c.quote for c in events[-1].citations] == [c.quote for c in plain.citations]


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        (
            "**Juan Guaido** is the interim leader [1]. Maduro called it a coup [2].",
            ["**Juan Guaido** is the interim leader [1]. ", "Maduro called it a coup [2]."],
        ),
        (
            "Russia backs him. [1] China too. [2, 3]",
            ["Russia backs him. [1] ", "China too. [2, 3]"],
        ),
        ("- Russia [1]\n- China [1]\n", ["- Russia [1]\n", "- China [1]\n"]),
        ("One sentence [1].", ["One sentence [1]."]),
        ("", []),
    ],
)
def test_sentence_deltas_cut_after_each_sentence_and_its_markers(
    text: str, pieces: list[str]
) -> None:
    assert sentence_deltas(text) == pieces


def test_extractive_answers_stream_sentence_by_sentence(assistant: Assistant) -> None:
    for question in ("Who is Juan Guaido?", "which countries back Maduro?"):
        events = list(assistant.ask_stream(question, mode="extractive"))
        final, deltas = events[-1], events[:-1]
        assert isinstance(final, Answer) and all(isinstance(d, str) for d in deltas)
        assert len(deltas) >= 2 and "".join(deltas) == final.answer  # type: ignore[arg-type]
        assert final.usage is not None and final.usage.counted_by == "tokenizer"
        assert final.usage.completion_tokens > 0


def test_history_as_dicts_or_turns_gives_the_same_follow_up(assistant: Assistant) -> None:
    first = assistant.ask("which countries back Maduro?")
    as_dicts = [
        {"role": "user", "content": "which countries back Maduro?"},
        {"role": "assistant", "content": first.answer},
    ]
    as_turns = [Turn.model_validate(t) for t in as_dicts]
    by_dicts = assistant.ask("What did Russia say?", history=as_dicts)
    by_turns = assistant.ask("What did Russia say?", history=as_turns)
    assert by_dicts.answer == by_turns.answer
    assert not by_dicts.abstained
    assert any("Russia" in c.quote for c in by_dicts.citations)


def test_offline_follow_up_and_which_back_guaido(assistant: Assistant) -> None:
    """The conversation from the product brief, offline: the follow-up asks for countries too,
    about Guaido, and cites the sentence that says who supports him."""
    first = assistant.ask("which countries back Maduro?")
    history = [
        {"role": "user", "content": "which countries back Maduro?"},
        {"role": "assistant", "content": first.answer},
    ]
    answer = assistant.ask("And which back Guaido?", history=history)
    assert answer.standalone_question == "which countries back Guaido?"
    assert not answer.abstained
    quotes = [c.quote for c in answer.citations]
    assert any("thrown their support behind Guaido" in q for q in quotes), quotes
    assert "Canada" in answer.answer


def test_a_hung_llm_is_waited_for_once_per_question(assistant: Assistant) -> None:
    """A follow-up asks the LLM twice (condense, then answer). Once the condense call has
    timed out, the answer does not wait on the same dead model again, and the notice states
    the wait there was (all of the client's attempts), not one attempt's timeout."""
    with FakeLLM(hang_s=15) as fake:
        fake.behaviour = "hang"
        settings = assistant.settings.model_copy(
            update={
                "llm_base_url": fake.base_url,
                "llm_model": "fake-model",
                "llm_timeout_s": 1.0,
                "llm_max_retries": 1,
            }
        )
        with_llm = Assistant(settings, service=assistant.service)
        history = [
            {"role": "user", "content": "which countries back Maduro?"},
            {"role": "assistant", "content": "Russia [1]"},
        ]
        started = time.monotonic()
        answer = with_llm.ask("And which back Guaido?", history=history)
        elapsed = time.monotonic() - started
        asked = [r for r in fake.requests if r.get("stream")]
    assert answer.mode == "llm-fallback"
    assert asked == []  # no answer request after the condense call timed out
    match = re.search(r"did not answer within (\d+) s", answer.notice)
    assert match, answer.notice
    condense_s = answer.timings_ms["condense"] / 1000  # the LLM's wait and the offline rewrite
    assert 2 <= int(match.group(1)) <= min(condense_s, with_llm.llm.first_reply_budget_s) + 0.5
    assert elapsed < condense_s + 2  # the answer step added no LLM wait


def test_llm_mode_without_an_llm_is_a_clear_error(assistant: Assistant) -> None:
    with pytest.raises(AssistantError, match="OPENAI_API_KEY or QA_LLM_BASE_URL"):
        assistant.ask("which countries back Maduro?", mode="llm")


def test_health_reports_the_index(assistant: Assistant) -> None:
    health = assistant.health()
    assert health["articles"] == len(assistant.list_articles()) >= 2
    assert health["chunks"] >= health["articles"]
    assert health["llm"] is None


def test_an_empty_index_says_so_instead_of_no_match(tmp_path: Path) -> None:
    """A first `qa ask` before any ingest must point at the fix, not blame the question."""
    empty = make_assistant(tmp_path, ingest=False)
    answer = empty.ask("which countries back Maduro?")
    assert answer.abstained
    assert "no articles yet" in answer.reason and "qa ingest" in answer.reason
    assert answer.answer == answer.reason and not answer.citations


def test_filters_that_leave_nothing_are_named_in_the_reason(assistant: Assistant) -> None:
    by_date = assistant.ask("which countries back Maduro?", since="2031-01-01")
    assert by_date.abstained
    assert "dated on or after 2031-01-01" in by_date.reason
    by_outlet = assistant.ask("which countries back Maduro?", sources=["No Such Outlet"])
    assert by_outlet.abstained
    assert "from No Such Outlet" in by_outlet.reason


def test_a_date_range_leaves_out_undated_articles_at_either_end(tmp_path: Path) -> None:
    """An undated article is stored with published_ts 0: `since` left it out, `until` kept it
    (0 is before any day), so "until 2019-01-25" searched every undated article."""
    assistant = make_assistant(tmp_path, ingest=False)
    report = assistant.ingest_records(
        [
            {
                "title": "Dated ferry story",
                "published": "2023-03-02",
                "body": "The Pellworth ferry resumed its winter crossings on Monday.",
            },
            {
                "title": "Undated ferry story",
                "body": "The Pellworth ferry carried a record number of cyclists this summer.",
            },
        ]
    )
    assert report.added == 2, report.to_dict()

    def titles(**period: str) -> set[str]:
        found = assistant.search("Pellworth ferry", **period)
        return {p.title for p in found.passages}

    assert titles() == {"Dated ferry story", "Undated ferry story"}
    assert titles(until="2023-12-31") == {"Dated ferry story"}
    assert titles(since="2023-01-01") == {"Dated ferry story"}
    assert titles(until="2019-01-25") == set()


def test_an_outlet_filter_ignores_case_and_extra_spaces(assistant: Assistant) -> None:
    """ "techcrunch" named no stored outlet before: the filter matched names exactly."""
    exact = assistant.search("lighthouse lens", sources=["Coastal Gazette"])
    loose = assistant.search("lighthouse lens", sources=["  coastal   GAZETTE "])
    assert exact.passages and {p.source for p in loose.passages} == {"Coastal Gazette"}
    assert [p.chunk_id for p in loose.passages] == [p.chunk_id for p in exact.passages]
    assert not assistant.search("lighthouse lens", sources=["Coastal"]).passages


def test_a_future_date_in_a_record_is_dropped_with_a_warning(tmp_path: Path) -> None:
    """Feeds dropped dates ahead of now, files and records did not: a record dated 2099 moved
    "this month" for every question (relative periods count back from the newest article)."""
    assistant = make_assistant(tmp_path, ingest=False)
    record = {"title": "Ok record", "body": "The Pellworth ferry resumed.", "date": "2099-01-01"}
    report = assistant.ingest_records([record])
    assert report.added == 1 and not report.errors, report.to_dict()
    assert any("2099-01-01 is in the future" in w.reason for w in report.warnings), report.warnings
    (stored,) = assistant.list_articles()
    assert not stored.published, stored
