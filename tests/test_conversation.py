"""Follow-up questions offline (`qa.conversation.condense_offline`) and how the answerer reads
the names a condensed follow-up carries. Measured on the follow-up set of `qa eval questions`
(docs/answerer.md, "Round 20")."""

from __future__ import annotations

import pytest

from index.settings import Settings
from qa.answer import ExtractiveAnswerer
from qa.conversation import condense_question
from qa.types import Turn
from tests.test_answer_extractive import _passage


def chat(question: str, answer: str) -> list[Turn]:
    return [Turn(role="user", content=question), Turn(role="assistant", content=answer)]


BALLON_DOR = chat("Who won the Ballon d'Or in 2023?", "**Lionel Messi** [1].")


@pytest.mark.parametrize(
    "question",
    [
        # "his" stands for the name before it in the question itself.
        "Where did Kylian Mbappe play in his first professional season?",
        # a relative "that", not a demonstrative pointing back.
        "How many people sat on the jury that convicted Sam Bankman-Fried?",
        # a proper noun the entity model does not find is still a name of the question's own.
        "What did Ozempic do to appetite?",
    ],
)
def test_a_question_that_stands_alone_carries_nothing_from_the_history(question: str) -> None:
    assert condense_question(question, BALLON_DOR) == question


def test_he_after_an_answer_naming_one_person_means_that_person() -> None:
    history = chat(
        "Who took over as Germany head coach after Hansi Flick?", "**Julian Nagelsmann** [1]."
    )
    condensed = condense_question("How old is he?", history)
    assert condensed.startswith("How old is he? (Julian Nagelsmann")
    assert "Hansi Flick" in condensed  # the question's own names still go with it
    # An answer naming no person leaves the question's names alone.
    history = chat("What did Sergey Lavrov say in Morocco?", "He called it a coup [1].")
    assert condense_question("And what did he say about the U.S.?", history).endswith(
        "(Sergey Lavrov, Morocco)"
    )


def test_the_names_a_follow_up_carries_find_passages_but_are_not_what_is_asked() -> None:
    """Parsed as part of the question, "(Julian Nagelsmann, Germany, Hansi Flick)" made the
    names anchors of an age question: the sentence naming them won over the one giving the
    age, and an abstention listed them as missing words."""
    answerer = ExtractiveAnswerer(Settings())
    passage = _passage(
        "a",
        "Germany named Julian Nagelsmann head coach after Hansi Flick was sacked. At just 36 "
        "years old, the coach is a rising star.",
    )
    answer = answerer.answer("How old is he? (Julian Nagelsmann, Germany, Hansi Flick)", [passage])
    assert answer.lead is not None and answer.lead.text == "36", answer.answer
    other = _passage("b", "The crypto exchange reached a peak valuation of $32 billion.")
    declined = answerer.answer("Who is its chief executive? (FTX)", [other])
    assert declined.abstained and "FTX" not in declined.answer
    # A name the follow-up carried still cannot be its answer.
    named = _passage("c", "Ramp bought Venue, and Ramp's chief executive Eric Glyman said so.")
    answer = answerer.answer("Who is its chief executive? (Ramp)", [named])
    assert answer.lead is not None and answer.lead.text == "Eric Glyman", answer.answer


BINANCE = chat(
    "Why is Binance's CEO stepping down?",
    "Changpeng Zhao is stepping down [1]. Richard Teng will be the exchange's new CEO [2].",
)


def test_a_third_question_leans_on_the_last_question_that_named_something() -> None:
    history = [*BINANCE, *chat("How much was the fine?", "**$150 million** [1].")]
    assert condense_question("Who replaces him?", history) == "Who replaces him? (Binance)"


def test_a_title_alone_is_no_name_of_the_question_s_own() -> None:
    assert condense_question("Who is the CEO now?", BINANCE) == "Who is the CEO now? (Binance)"
    assert condense_question("Who is the CFO?", BINANCE) == "Who is the CFO? (Binance)"


def test_who_else_after_a_one_name_answer_leaves_that_name_out() -> None:
    """The entity model finds no name in "Yedidia." alone: the lead's proper nouns are one."""
    history = chat("Who testified against Sam Bankman-Fried?", "**Yedidia** [1].\n\nAdam …")
    assert condense_question("Who else?", history) == "Who else? (not Yedidia)"


def test_a_follow_up_in_one_case_is_read_as_the_answers_write_its_words() -> None:
    history = chat(
        "which countries back maduro?",
        "- Russia [1]\n- China [1]\n\nRussia and China back Maduro's government; the U.S. "
        "recognized Guaido [1].",
    )
    assert condense_question("and guaido?", history) == "Which countries back Guaido?"
    assert condense_question("WHAT ABOUT GUAIDO?", history) == "Which countries back Guaido?"


def test_a_name_is_carried_once() -> None:
    history = chat("What is Sam Bankman-Fried charged with?", "**Sam Bankman-Fried** faces …")
    assert condense_question("Who testified against him?", history) == (
        "Who testified against him? (Sam Bankman-Fried)"
    )
