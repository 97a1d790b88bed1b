"""The user-style question sets and their scoring (`qa eval questions`)."""

from __future__ import annotations

from collections import Counter

import pytest

from qa.eval.answers import lead_sentence, risk_coverage
from qa.eval.questions import UserQuestion, load_questions, score, summarise
from qa.types import Answer, AnswerItem, Citation, Lead

COUNTS = {"who": 14, "org": 10, "when": 8, "number": 8, "list": 8, "null": 12}  # per 60


@pytest.mark.parametrize("split", ["dev", "test"])
def test_every_answer_is_in_its_evidence_sentence_in_its_article(
    split: str, bodies: dict[str, str]
) -> None:
    questions = [q for q in load_questions(split) if q.type != "describe"]  # type: ignore[arg-type]
    sets = len(questions) // 60  # sets of 60 written apart: dev 2, test 3 (round 15 added one each)
    assert len(questions) == 60 * sets and sets >= 1
    assert Counter(q.type for q in questions) == {k: v * sets for k, v in COUNTS.items()}
    assert len({q.id for q in questions}) == len(questions)
    for q in questions:
        if q.type == "null":
            assert q.answer is None and q.url is None
            continue
        assert q.evidence and q.evidence in bodies[q.url], q.id
        for item in q.answer if isinstance(q.answer, list) else [q.answer]:
            assert item in q.evidence, (q.id, item)


@pytest.mark.parametrize(("split", "count"), [("dev", 20), ("test", 30)])
def test_describe_questions_quote_their_evidence(
    split: str, count: int, bodies: dict[str, str]
) -> None:
    describe = [q for q in load_questions(split) if q.type == "describe"]  # type: ignore[arg-type]
    assert len(describe) == count
    assert len({q.url for q in describe}) == count  # one article each
    for q in describe:
        assert q.url and q.evidence and q.evidence in bodies[q.url], q.id
        assert isinstance(q.answer, str) and q.answer in q.evidence, q.id
        assert all(alias in bodies[q.url] for alias in q.aliases), q.id


def test_a_describe_question_is_scored_on_its_first_quote() -> None:
    question = UserQuestion(
        "d",
        "How did Maduro respond to the US?",
        "describe",
        "breaking ties",
        (),
        "u",
        "Maduro announced he was breaking ties.",
    )
    cited = Citation(
        n=1,
        article_id="a",
        chunk_id="a-0",
        url="u",
        start=0,
        end=1,
        quote="Maduro announced he was breaking ties with the United States.",
    )
    other = cited.model_copy(update={"quote": "Russia backs Maduro.", "url": "v"})
    first = score(question, Answer(question="q", answer="…", citations=[cited, other]))
    second = score(
        question,
        Answer(
            question="q", answer=f"{other.quote} [1] {cited.quote} [2]", citations=[other, cited]
        ),
    )
    assert first["describe_first_quote"] and first["describe_gold_article"]
    assert not second["describe_first_quote"] and second["describe_anywhere"]
    assert not second["describe_gold_article"]
    report = summarise("dev", [first, second], [0.1])
    assert report["metrics"]["describe_first_quote"] == 0.5
    assert "lead" not in first


def test_the_held_out_set_uses_other_articles() -> None:
    dev = {q.url for q in load_questions("dev") if q.url}
    test = {q.url for q in load_questions("test") if q.url}
    assert dev and test and not dev & test


def _answer(text: str, url: str = "", abstained: bool = False, lead: str | None = None) -> Answer:
    citations = (
        []
        if abstained
        else [Citation(n=1, article_id="a", chunk_id="a-0", url=url, quote="q", start=0, end=1)]
    )
    return Answer(
        question="q",
        answer=text,
        citations=citations,
        abstained=abstained,
        lead=Lead(text=lead, citations=[1]) if lead is not None else None,
    )


def test_scoring_reads_the_lead_and_whole_words() -> None:
    who = next(q for q in load_questions("dev") if q.type == "who")
    text = f"**{who.answer}** [1].\n\nSome long quote. [1]"
    right = score(who, _answer(text, who.url or "", lead=str(who.answer)))
    assert right["lead"] and right["anywhere"] and right["cited_gold_article"]
    # The name only in the quote, not in the lead: found, but not the lead.
    late = score(who, _answer(f"Something else entirely [1]. Then {who.answer} [1]."))
    assert not late["lead"] and late["anywhere"] and not late["cited_gold_article"]
    # Part of a word is not the answer ("Time" is not in "Timeline").
    partial = score(who, _answer(f"{str(who.answer).replace(' ', '')}x [1]"))
    assert not partial["lead"]


def test_the_lead_is_the_structured_lead_else_the_first_sentence_or_item() -> None:
    assert lead_sentence(_answer("On Nov. 4, the club said so. [1]", lead="Nov. 4")) == "Nov. 4"
    assert lead_sentence(_answer("The club said so. [1] More. [2]")) == "The club said so."
    listed = _answer("- Russia [1]\n- China [1]").model_copy(
        update={"items": [AnswerItem(text="Russia", citations=[1])]}
    )
    assert lead_sentence(listed) == "Russia"
    described = _answer("x").model_copy(
        update={"lead": Lead(text="Venezuelan Foreign Minister", subject="Jorge Arreaza")}
    )
    assert lead_sentence(described) == "Jorge Arreaza: Venezuelan Foreign Minister"


def test_user_questions_get_a_risk_coverage_curve_by_confidence() -> None:
    rows = [
        {"abstained": False, "confidence": 0.9, "right": True},
        {"abstained": False, "confidence": 0.5, "right": False},
        {"abstained": True, "confidence": 0.0, "right": False},
        {"abstained": False, "confidence": 0.7, "right": True},
        {"abstained": False, "confidence": 0.8, "right": True},
    ]
    curve = risk_coverage(rows)
    assert [p["coverage"] for p in curve] == [0.2, 0.4, 0.6, 0.8]
    assert [p["accuracy"] for p in curve] == [1.0, 1.0, 1.0, 0.75]


def test_summary_counts_abstention_and_list_recall() -> None:
    questions = load_questions("dev")
    listed = next(q for q in questions if q.type == "list")
    null = next(q for q in questions if q.type == "null")
    items = list(listed.answer or [])
    rows = [
        score(listed, _answer("\n".join(f"- {i} [1]" for i in items[:1]))),
        score(null, _answer("The articles don't say.", abstained=True)),
    ]
    report = summarise("dev", rows, [0.1, 0.3])
    assert report["metrics"]["list_recall"] == pytest.approx(1 / len(items), abs=1e-3)
    assert report["metrics"]["list_precision"] is None  # no list answer had items
    with_items = _answer("…").model_copy(
        update={"items": [AnswerItem(text=items[0], citations=[1]), AnswerItem(text="Narnia")]}
    )
    assert score(listed, with_items)["list_precision"] == 0.5
    assert report["metrics"]["null_abstention"] == 1.0
    assert report["metrics"]["false_abstention"] == 0.0
