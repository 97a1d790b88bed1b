"""Scoring of the typed question set (`qa eval questions`): right thing, right role, abstention."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from qa.eval.answers import risk_coverage
from qa.eval.questions import QUESTIONS_DIR, load_questions
from qa.eval.typed import (
    TypedQuestion,
    load_typed,
    score_typed,
    summarise_stories,
    summarise_typed,
)
from qa.types import Answer, AnswerItem


def question(**fields: Any) -> TypedQuestion:
    row = {
        "id": "t",
        "question": "Who replaced Murati as interim CEO?",
        "kind": "typed",
        "answer_type": "person",
        "form": "name",
        "answer": "Emmett Shear",
        "aliases": ["Shear"],
        "url": "u",
        "evidence": "OpenAI appointed Emmett Shear as interim CEO, replacing Murati.",
        "distractors": ["Murati"],
        "pair": None,
        "as_of": None,
    }
    return TypedQuestion.from_row(row | fields)


def reply(text: str, *, items: list[str] = (), abstained: bool = False) -> Answer:  # type: ignore[assignment]
    return Answer(
        question="q",
        answer=text,
        items=[AnswerItem(text=i) for i in items],
        abstained=abstained,
    )


def test_a_name_answer_is_right_in_its_lead_and_wrong_when_it_names_the_other_party() -> None:
    assert score_typed(question(), reply("**Emmett Shear** [1]."))["right"]
    wrong = score_typed(question(), reply("**Mira Murati** [1].\n\nEmmett Shear later …"))
    assert not wrong["right"] and wrong["role_error"]
    # Both named in the lead: not right (which one is the answer?), but not a role error either.
    both = score_typed(question(), reply("Emmett Shear replaced Murati [1]."))
    assert not both["right"] and not both["role_error"]


def test_a_distractor_inside_the_right_answer_does_not_make_it_wrong() -> None:
    album = question(
        question="What is Nicki Minaj's fifth studio album?",
        answer_type="work",
        answer="Pink Friday 2",
        aliases=[],
        distractors=["Pink Friday"],
    )
    assert score_typed(album, reply("**Pink Friday 2** [1]."))["right"]
    debut = score_typed(album, reply("**Pink Friday** [1]."))
    assert not debut["right"]


def test_a_list_answer_needs_half_the_items_and_no_distractor() -> None:
    q = question(
        form="list",
        answer=["Russia", "China", "Iran", "Cuba"],
        aliases=[],
        distractors=["United States", "Canada"],
    )
    assert score_typed(q, reply("…", items=["Russia", "China"]))["right"]
    assert not score_typed(q, reply("…", items=["Russia"]))["right"]
    mixed = score_typed(q, reply("…", items=["Russia", "China", "Canada"]))
    assert not mixed["right"] and mixed["role_error"] and mixed["list_recall"] == 0.5


def test_list_precision_is_the_share_of_items_that_are_answer_items() -> None:
    """Recall alone rewards naming everything a sentence holds; precision shows the cost."""
    q = question(form="list", answer=["CMA CGM", "the UK", "Maersk"], aliases=[], distractors=[])
    clean = score_typed(q, reply("…", items=["CMA CGM SA", "UK", "Maersk"]))
    noisy = score_typed(q, reply("…", items=["CMA CGM SA", "France", "Maersk", "Melbourne"]))
    assert clean["list_precision"] == 1.0 and noisy["list_precision"] == 0.5
    assert score_typed(q, reply("The articles name Maersk."))["list_precision"] is None
    assert summarise_typed([clean, noisy])["typed_list_precision"] == 0.75


def test_near_misses_are_right_only_when_abstained_and_pairs_need_both() -> None:
    miss = question(kind="near_miss", answer=None, distractors=[])
    assert score_typed(miss, reply("The articles don't say.", abstained=True))["right"]
    assert not score_typed(miss, reply("**Sam Altman** [1]."))["right"]
    a = question(id="a", kind="pair", pair="p1")
    b = question(
        id="b", kind="pair", pair="p1", answer="Murati", aliases=[], distractors=["Emmett Shear"]
    )
    rows = [score_typed(a, reply("**Emmett Shear** [1].")), score_typed(b, reply("**Shear**."))]
    assert summarise_typed(rows)["pair_both_right"] == 0.0
    rows[1] = score_typed(b, reply("**Murati** [1]."))
    assert summarise_typed(rows)["pair_both_right"] == 1.0


def test_role_errors_and_false_abstention_count_answerable_questions_only() -> None:
    rows = [
        score_typed(question(), reply("**Murati** [1].")),
        score_typed(question(), reply("…", abstained=True)),
        score_typed(question(kind="near_miss", answer=None), reply("**Murati**.")),
    ]
    metrics = summarise_typed(rows)
    assert metrics["role_error"] == 0.5
    assert metrics["typed_false_abstention"] == 0.5
    assert metrics["near_miss_abstained"] == 0.0


def test_risk_coverage_orders_answers_by_confidence() -> None:
    rows = [
        {"abstained": False, "right": True, "confidence": 0.9},
        {"abstained": False, "right": False, "confidence": 0.2},
        {"abstained": False, "right": True, "confidence": 0.8},
        {"abstained": True, "right": False, "confidence": 0.1},
        {"abstained": False, "right": False, "confidence": 0.5},
    ]
    curve = risk_coverage(rows)
    assert curve[0] == {"coverage": 0.2, "accuracy": 1.0}
    assert curve[1] == {"coverage": 0.4, "accuracy": 1.0}
    assert curve[-1] == {"coverage": 0.8, "accuracy": 0.5}
    without = [dict(r, confidence=None) for r in rows]
    assert risk_coverage(without) == [{"coverage": 0.8, "accuracy": 0.5}]


def test_a_story_answer_needs_the_full_name_and_each_story_counts_once() -> None:
    story = question(
        id="S1-1",
        kind="story",
        story="FTX",
        answer="Sam Bankman-Fried",
        aliases=[],
        distractors=[],
        short_forms=["Bankman-Fried"],
    )
    right = score_typed(story, reply("**Sam Bankman-Fried** [1]."))
    surname = score_typed(story, reply("**Bankman-Fried** [1]."))
    assert right["right"] and right["story"] == "FTX"
    assert not surname["right"]  # as MultiHop's strict rule: the bare surname is not enough
    other = score_typed(question(kind="story", story="Fed", answer="Federal Reserve"), reply("x"))
    rows = [right, surname, surname, other]  # FTX 1 of 3 right, Fed 0 of 1
    figures = summarise_stories(rows)
    assert figures["story_right"] == 0.25
    assert figures["story_mean"] == round((1 / 3 + 0) / 2, 3)


# --- the data ------------------------------------------------------------------------------


TYPED_COUNTS = {  # per split: writers blind to the code (A-C: 40 % / 60 % of their articles;
    # D-E, round 15: split by article, a hash of its url)
    "dev": {"typed": 40, "pair": 58, "near_miss": 37, "dated": 39},
    "test": {"typed": 56, "pair": 70, "near_miss": 47, "dated": 45},
}


@pytest.mark.parametrize("split", ["dev", "test"])
def test_typed_rows_hold_verbatim_evidence_and_well_formed_pairs(
    split: str, bodies: dict[str, str]
) -> None:
    rows = load_typed(QUESTIONS_DIR, split)
    assert Counter(q.kind for q in rows) == TYPED_COUNTS[split]
    assert len({q.id for q in rows}) == len(rows)
    for q in rows:
        assert q.url in bodies and q.evidence and q.evidence in bodies[q.url], q.id
        if q.kind == "near_miss":
            assert q.answer is None, q.id
            continue
        items = q.answer if isinstance(q.answer, list) else [q.answer]
        assert items and all(isinstance(i, str) and i in q.evidence for i in items), q.id
        assert (q.form == "list") == isinstance(q.answer, list), q.id
        assert (q.kind == "dated") == bool(q.as_of), q.id
    pairs: dict[str | None, list[TypedQuestion]] = {}
    for q in rows:
        if q.kind == "pair":
            pairs.setdefault(q.pair, []).append(q)
    for members in pairs.values():
        assert len(members) == 2
        first, second = members
        for one, other in ((first, second), (second, first)):
            partner = other.answer if isinstance(other.answer, list) else [other.answer]
            assert set(partner) <= set(one.distractors), one.id


def test_typed_splits_share_no_article_with_each_other_or_the_other_sets() -> None:
    dev = {q.url for q in load_typed(QUESTIONS_DIR, "dev")}
    test = {q.url for q in load_typed(QUESTIONS_DIR, "test")}
    others = {q.url for split in ("dev", "test") for q in load_questions(split)}  # type: ignore[arg-type]
    assert not dev & test
    assert not (dev | test) & others


@pytest.mark.parametrize("split", ["dev", "test"])
def test_story_rows_cite_verbatim_sentences_of_two_outlets_and_hide_the_answer(
    split: str, bodies: dict[str, str]
) -> None:
    rows = load_typed(QUESTIONS_DIR, split, "stories")
    assert len(rows) == 72 and len({q.id for q in rows}) == 72
    assert Counter(q.story for q in rows).most_common()[-1][1] == 9  # 8 stories, 9 questions each
    raw = {
        json.loads(line)["id"]: json.loads(line)
        for line in (QUESTIONS_DIR / f"{split}-stories.jsonl").read_text().splitlines()
    }
    for q in rows:
        assert q.kind == "story" and isinstance(q.answer, str), q.id
        assert q.answer.lower() not in q.question.lower(), q.id
        sources = raw[q.id]["sources"]
        assert len({s["source"] for s in sources}) >= 2, q.id
        for source in sources:
            assert source["sentence"] in bodies[source["url"]], q.id
