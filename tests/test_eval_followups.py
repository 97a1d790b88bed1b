"""The follow-up set of `qa eval questions` (`qa.eval.followups`): its rows, and how a two-turn
chat is answered and scored."""

from __future__ import annotations

import pytest

from qa.eval.followups import KINDS, FollowUp, load_followups, score_followup, summarise_followups
from qa.eval.questions import QUESTIONS_DIR, lead_names
from qa.types import Answer, Turn


@pytest.mark.parametrize("split", ["dev", "test"])
def test_follow_up_rows_hold_verbatim_evidence_of_every_kind(
    split: str, bodies: dict[str, str]
) -> None:
    rows = load_followups(QUESTIONS_DIR, split)
    assert len(rows) >= 50 and len({r.id for r in rows}) == len(rows)
    assert {r.kind for r in rows} == set(KINDS)
    for row in rows:
        assert row.evidence in bodies[row.url], row.id
        assert any(form.lower() in row.evidence.lower() for form in row.forms), row.id
        assert row.turn1 and row.question and row.standalone, row.id


def test_the_splits_answer_their_follow_ups_from_different_articles() -> None:
    dev = {r.url for r in load_followups(QUESTIONS_DIR, "dev")}
    test = {r.url for r in load_followups(QUESTIONS_DIR, "test")}
    assert dev and test and not dev & test


CONVERSATION = FollowUp(
    id="c1",
    kind="explicit",
    turn1="Who is Binance's new CEO?",
    question="When did he take over?",
    standalone="When did Richard Teng take over as Binance's CEO?",
    answer="Tuesday",
    aliases=(),
    url="u",
    evidence="Richard Teng took over on Tuesday.",
)


def test_a_follow_up_is_answered_with_the_first_answer_as_history_alone_and_rewritten() -> None:
    asked: list[tuple[str, list[Turn]]] = []

    def ask(question: str, history: list[Turn]) -> Answer:
        # A reader that knows the answer only when the question (or its history) names Teng.
        asked.append((question, history))
        if question == CONVERSATION.turn1:
            return Answer(question=question, answer="Richard Teng [1].")
        knows = "Teng" in question or any("Teng" in t.content for t in history)
        return Answer(
            question=question,
            answer="On Tuesday [1]." if knows else "I don't know.",
            abstained=not knows,
            standalone_question=f"{question} (Richard Teng)" if history else "",
        )

    row = score_followup(CONVERSATION, ask, lead_names)
    assert row["lead"] and not row["bare_lead"] and row["oracle_lead"]
    assert not row["kept"] and row["condensed"] == "When did he take over? (Richard Teng)"
    # The follow-up went with the first turn and the first answer's text, as a client sends it.
    history = next(h for q, h in asked if q == CONVERSATION.question and h)
    assert [(t.role, t.content) for t in history] == [
        ("user", CONVERSATION.turn1),
        ("assistant", "Richard Teng [1]."),
    ]


def test_follow_up_figures_are_per_kind_and_keep_counts_standalone_questions_only() -> None:
    rows = [
        {"kind": "explicit", "lead": True, "bare_lead": False, "oracle_lead": True, "kept": False},
        {
            "kind": "standalone",
            "lead": False,
            "bare_lead": True,
            "oracle_lead": True,
            "kept": False,
        },
        {"kind": "standalone", "lead": True, "bare_lead": True, "oracle_lead": True, "kept": True},
    ]
    figures = summarise_followups(rows)
    assert figures["followup_lead"] == pytest.approx(2 / 3, abs=1e-3)
    assert figures["followup_lead_standalone"] == 0.5
    assert figures["followup_bare_lead_explicit"] == 0.0
    assert figures["followup_lead_implicit"] is None  # no such row
    assert figures["followup_standalone_kept"] == 0.5
