"""Fold the conversation into a follow-up question so it can be retrieved on its own.

With an LLM, the model rewrites the question (prompt: prompts/condense_question.txt).
Offline — or when the model fails — the names and dates of the previous user turn are
carried into a question that leans on them ("what did he say?", "and China?").
"""

from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.answer import lexicon
from qa.answer.llm import LLMUnavailable
from qa.answer.nlp import shared_cache
from qa.answer.shape import Form, analyse, with_exclusion
from qa.answer.terms import true_cased
from qa.types import Turn

log = logging.getLogger(__name__)

DEFAULT_PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"
MAX_CONDENSED_CHARS = 600
DEFAULT_BUDGET_S = 30.0  # wait for a bare llama-index LLM (an LLMAnswerer brings its own)

_FOLLOW_UP_START = re.compile(r"^\s*(?:and|what about|how about|what of|also|but)\b", re.I)
# "which" straight before a verb ("which back …"), not before a noun or an auxiliary.
_BARE_WHICH = re.compile(
    r"^\s*(which)\s+(?!(?:is|are|was|were|do|does|did|has|have|had|will|would|can|could|of|"
    r"about|one|ones)\b)(?=[a-z])",
    re.I,
)
_QUESTION_WORDS = lexicon.word_set("what which who whom whose when where why how")
_TITLES = lexicon.ROLES | frozenset(lexicon.ROLE_ACRONYMS)
TOPIC_TURNS = 3  # user turns looked back for the names a follow-up leans on
_MARKUP = re.compile(r"\[\d{1,3}\]|\*\*")


def _entities(text: str) -> list[tuple[str, str]]:
    """(text, label) of the names and dates spaCy finds in `text`."""
    doc = shared_cache().parse(text)
    return [
        (ent.text.removeprefix("the ").removeprefix("The "), ent.label_)
        for ent in doc.ents
        if (ent.label_ in lexicon.NAME_LABELS or ent.label_ in lexicon.DATE_LABELS)
        and ent.text.split()[0].lower() not in _QUESTION_WORDS
        and not all(t.lower_ in _TITLES for t in ent)  # "the CFO" is no name
    ]


def _names_and_dates(text: str) -> list[str]:
    found = _entities(text)
    names = [t for t, label in found if label not in lexicon.DATE_LABELS]
    dates = [t for t, label in found if label in lexicon.DATE_LABELS]
    return list(dict.fromkeys(names + dates))


def _leans_on_history(question: str) -> bool:
    if _FOLLOW_UP_START.match(question):
        return True
    if _pronouns_from_history(question):
        return True
    return not _names_of_its_own(question)


def _names_of_its_own(question: str) -> bool:
    """Whether the question names something: a name or date, or a word the parse tags as a
    proper noun, which the entity model may have missed ("the jury that found Google …").
    A title alone names no one: "Who is the CEO now?" asks about the conversation's company."""
    doc = shared_cache().parse(question)
    proper = [t for t in doc if t.pos_ == "PROPN" and t.lower_ not in _QUESTION_WORDS | _TITLES]
    return bool(_names_and_dates(question) or proper)


def _pronouns_from_history(question: str) -> list[str]:
    """The question's words that point back at the conversation: demonstratives ("that
    drug"), and pronouns with no name before them in the question itself ("Whose liver did
    Lucas Goeller receive in his first transplant?" needs no history)."""
    doc = shared_cache().parse(question)
    found = []
    for token in doc:
        word = token.lower_
        # Not a relative "that", an existential "there", nor a count ("one goal").
        if word not in lexicon.ANAPHORA or token.tag_ in ("WDT", "EX", "CD"):
            continue
        # Any name, not only a person's: the small model often mistypes a person it sees once.
        if word in lexicon.PERSONAL_PRONOUNS and any(
            ent.end <= token.i and ent.label_ in lexicon.NAME_LABELS for ent in doc.ents
        ):
            continue
        found.append(word)
    return found


def _is_fragment(question: str) -> bool:
    """ "and China?", "what about Russia?": no question of its own after the follow-up word."""
    rest = _FOLLOW_UP_START.sub("", question, count=1).strip()
    first = rest.split()[0].lower() if rest else ""
    return not rest or first not in _QUESTION_WORDS | {
        "is",
        "are",
        "was",
        "were",
        "do",
        "does",
        "did",
    }


def _list_kind(question: str) -> str | None:
    """The plural noun a list question asks for ("countries"), or None."""
    shape = analyse(question, shared_cache().parse(question))
    if shape.form is not Form.LIST or not shape.kind_words:
        return None
    return next(iter(shape.kind_words))


def _with_previous_kind(question: str, previous: str) -> str:
    """ "And which back Guaido?" after "which countries back Maduro?" asks for countries too:
    "which countries back Guaido?"."""
    rest = re.sub(r"^\s*(?:and|but|also)\b[\s,]*", "", question, flags=re.I)
    match = _BARE_WHICH.match(rest)
    if match is None:
        return question
    kind = _list_kind(previous)
    if kind is None or _list_kind(rest) is not None:
        return question
    return f"{match.group(1)} {kind} {rest[match.end() :]}"


def _is_place(label: str) -> bool:
    return label in lexicon.PLACE_LABELS


def _substituted(question: str, previous: str) -> str | None:
    """ "and China?" after "What did Russia say?" asks "What did China say?": the fragment's name
    takes the place of the previous question's name of the same kind (place for place, other
    name for other name). None when there is no such name."""
    new_names = [(t, label) for t, label in _entities(question) if label not in lexicon.DATE_LABELS]
    if len(new_names) != 1:
        return None
    new, new_label = new_names[0]
    for old, label in _entities(previous):
        if old == new or label in lexicon.DATE_LABELS or old not in previous:
            continue
        if _is_place(label) == _is_place(new_label):
            start = previous.index(old)
            return previous[:start] + new + previous[start + len(old) :]
    return None


def _answered_entities(answer: str) -> list[tuple[str, str]]:
    """(text, label) of the names an earlier answer led with: those of its first paragraph (a
    lead, or the items of a list), read by spaCy from the text without its markers and bold
    marks."""
    first = _MARKUP.sub("", answer.strip().split("\n\n", 1)[0])
    first = re.sub(r"\s+(?=[.,;:])", "", first)  # "Yedidia [1]." -> "Yedidia."
    found = [(t, label) for t, label in _entities(first) if label not in lexicon.DATE_LABELS]
    if found:
        return found
    # A lead of one name the entity model does not know ("Yedidia"): its proper nouns.
    doc = shared_cache().parse(first)
    leading = list(itertools.takewhile(lambda t: t.pos_ == "PROPN", doc))
    return [(" ".join(t.text for t in leading), "")] if leading else []


def _answered_names(answer: str) -> list[str]:
    return [t for t, _ in _answered_entities(answer)]


def _answered_person(history: list[Turn]) -> list[str]:
    """The one person the previous answer led with ("Who took over as Germany head coach?" →
    "Julian Nagelsmann"), which "he" or "she" in the next question most often means."""
    answer = next((t.content for t in reversed(history) if t.role == "assistant"), "")
    people = {
        " ".join(t.split())
        for t, label in _answered_entities(answer)
        if label in lexicon.PERSON_LABELS
    }
    return list(people) if len(people) == 1 else []


def _asks_for_another(question: str) -> bool:
    return bool(
        re.match(
            r"^\s*(?:(?:who|which\s+\w+|what\s+\w+)\s+else|(?:which|what)\s+other)\b",
            question,
            re.I,
        )
    )


def condense_offline(question: str, history: list[Turn]) -> str:
    asked_before = [t.content for t in history if t.role == "user"]
    if not asked_before:
        return question
    # "and guaido?" read as the answers (quoting the articles) write its words: "and Guaido?".
    written = [t.content for t in history if t.role == "assistant"]
    # Only the questions a follow-up can lean on: casing reads every answer of the history.
    asked_before = [_as_written(text, written) for text in asked_before[-TOPIC_TURNS:]]
    previous = asked_before[-1]
    read = _as_written(question, written)
    if _asks_for_another(read):
        # "Who else will address the meeting?": name the earlier answer in the question, which
        # is how the answerer knows not to give it again.
        answer = next((t.content for t in reversed(history) if t.role == "assistant"), "")
        given = [n for n in _answered_names(answer) if n.lower() not in read.lower()]
        if given:
            return with_exclusion(read, given)
    if not _leans_on_history(read):
        return question
    pointers = _pronouns_from_history(read)
    if _is_fragment(read) and not pointers:
        substituted = _substituted(read, previous)
        if substituted is not None:
            return substituted
    rewritten = _with_previous_kind(read, previous)
    if _names_and_dates(read) and not pointers and not _is_fragment(read):
        return rewritten  # a full question about a name of its own: carry no other names
    answered = _answered_person(history) if set(pointers) & lexicon.PERSON_PRONOUNS else []
    carried = _unsaid(answered + _topic(asked_before), rewritten)
    if not carried:
        return rewritten
    return f"{rewritten.strip()} ({', '.join(carried)})"


def _as_written(text: str, written: list[str]) -> str:
    """`text` true-cased by `written`, unless only its first letter would change."""
    cased = true_cased(text, written)
    return text if cased[1:] == text[1:] else cased


def _topic(asked_before: list[str]) -> list[str]:
    """The names and dates of the latest question that has any, among the last few: a third
    question ("Who replaces him?" after "How much was the fine?") still leans on the first."""
    for text in reversed(asked_before[-TOPIC_TURNS:]):
        found = _names_and_dates(text)
        if found:
            return found
    return []


def _unsaid(names: list[str], question: str) -> list[str]:
    """`names` the question does not already say, each once."""
    said = question.lower()
    kept: dict[str, str] = {}
    for name in names:
        if name.lower() not in said:
            kept.setdefault(name.lower(), name)
    return list(kept.values())


@dataclass(frozen=True)
class Condensed:
    """A standalone question, and why the LLM's rewrite was not used when it was asked for."""

    question: str
    unavailable: LLMUnavailable | None = None  # the LLM timed out or could not be reached


def condense_question(
    question: str,
    history: list[Turn],
    llm: Any | None = None,
    prompts_dir: Path | None = None,
) -> str:
    """A standalone version of `question` given `history` (see `condense`)."""
    return condense(question, history, llm, prompts_dir).question


def condense(
    question: str,
    history: list[Turn],
    llm: Any | None = None,
    prompts_dir: Path | None = None,
) -> Condensed:
    """A standalone version of `question` given `history`.

    `llm` is an LLMAnswerer (its client, prompts and time budget are used) or a bare
    llama-index LLM; None means offline. Any failure falls back to the offline rewrite; a
    timeout or an unreachable model is also returned, so the caller need not wait on it again.
    """
    if not any(t.role == "user" for t in history):
        return Condensed(question)
    unavailable = None
    if llm is not None:
        try:
            return Condensed(_condense_with_llm(question, history, llm, prompts_dir))
        except Exception as exc:  # the offline rewrite is a fine answer too
            log.warning("condensing with the LLM failed (%s); using the offline rewrite", exc)
            unavailable = exc if isinstance(exc, LLMUnavailable) else None
    return Condensed(condense_offline(question, history), unavailable)


def _condense_with_llm(
    question: str, history: list[Turn], llm: Any, prompts_dir: Path | None
) -> str:
    from llama_index.core.llms import ChatMessage, MessageRole

    from qa.answer.llm import LLMAnswerer, call_with_deadline, fill, format_history, load_prompt

    if isinstance(llm, LLMAnswerer):
        prompts_dir = prompts_dir or llm.settings.prompts_dir
        budget, client = llm.first_reply_budget_s, llm.llm
    else:
        budget, client = DEFAULT_BUDGET_S, llm
    template = load_prompt(prompts_dir or DEFAULT_PROMPTS_DIR, "condense_question.txt")
    prompt = fill(template, history=format_history(history), question=question.strip())
    message = ChatMessage(role=MessageRole.USER, content=prompt)
    reply = call_with_deadline(lambda: client.chat([message]), budget)
    text = (reply.message.content or "").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    rewritten = lines[0].strip().strip("\"'“”") if lines else ""
    if not rewritten or len(rewritten) > MAX_CONDENSED_CHARS:
        raise ValueError(f"unusable rewrite: {text[:80]!r}")
    return rewritten
