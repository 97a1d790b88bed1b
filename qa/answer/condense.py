"""Fold the conversation into a follow-up question so it can be retrieved on its own.

With an LLM, the model rewrites the question (prompt: prompts/condense_question.txt).
Offline — or when the model fails — the names and dates of the previous user turn are
carried into a question that leans on them ("what did he say?", "and China?").
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from qa.answer.lead import asks_for_another, with_exclusion
from qa.answer.lists import detect_list_question, find_entities, is_country
from qa.answer.terms import word_set, words
from qa.types import Turn

log = logging.getLogger(__name__)

DEFAULT_PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
MAX_CONDENSED_CHARS = 600
DEFAULT_BUDGET_S = 30.0  # wait for a bare llama-index LLM (an LLMAnswerer brings its own)

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DATE = re.compile(
    rf"\b(?:\d{{4}}-\d{{2}}-\d{{2}}"
    rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?"
    rf"|{_MONTH}\s+\d{{4}}"
    rf"|(?:19|20)\d{{2}})\b"
)
# Words that make a question lean on what came before.
_ANAPHORA = word_set(
    """
    he she it they them him her his hers its their theirs this that these those there then
    same former latter one ones
    """
)
_FOLLOW_UP_START = re.compile(r"^\s*(?:and|what about|how about|what of|also|but)\b", re.I)
# "which" straight before a verb ("which back …"), not before a noun or an auxiliary.
_BARE_WHICH = re.compile(
    r"^\s*(which)\s+(?!(?:is|are|was|were|do|does|did|has|have|had|will|would|can|could|of|"
    r"about|one|ones)\b)(?=[a-z])",
    re.I,
)
_QUESTION_WORDS = word_set(
    """
    what which who whom whose when where why how is are was were do does did
    """
)


def _names_and_dates(text: str) -> list[str]:
    date_spans = [m.span() for m in _DATE.finditer(text)]
    dates = [text[a:b] for a, b in date_spans]
    names = [
        e.text
        for e in find_entities(text)
        if e.text.split()[0].lower() not in _QUESTION_WORDS
        and not any(a < e.end and e.start < b for a, b in date_spans)  # "January" of a date
    ]
    return list(dict.fromkeys(names + dates))


def _leans_on_history(question: str) -> bool:
    if _FOLLOW_UP_START.match(question):
        return True
    if set(words(question)) & _ANAPHORA:
        return True
    return not _names_and_dates(question)


def _is_fragment(question: str) -> bool:
    """ "and China?", "what about Russia?": no question of its own after the follow-up word."""
    rest = _FOLLOW_UP_START.sub("", question, count=1).strip()
    return not rest or rest.split()[0].lower() not in _QUESTION_WORDS


def _with_previous_kind(question: str, previous: str) -> str:
    """ "And which back Guaido?" after "which countries back Maduro?" asks for countries too:
    "which countries back Guaido?"."""
    asked = detect_list_question(previous)
    rest = re.sub(r"^\s*(?:and|but|also)\b[\s,]*", "", question, flags=re.I)
    match = _BARE_WHICH.match(rest)
    if asked is None or match is None or detect_list_question(rest) is not None:
        return question
    return f"{match.group(1)} {asked.kind} {rest[match.end() :]}"


def _substituted(question: str, previous: str) -> str | None:
    """ "and China?" after "What did Russia say?" asks "What did China say?": the fragment's name
    takes the place of the previous question's name of the same kind (country for country,
    other name for other name). None when there is no such name ("and China?" after "which
    countries back Maduro?" asks about China and Maduro)."""
    new_names = [
        e.text for e in find_entities(question) if e.text.split()[0].lower() not in _QUESTION_WORDS
    ]
    if len(new_names) != 1:
        return None
    new = new_names[0]
    new_is_country = is_country(new)
    for entity in find_entities(previous):
        if entity.text.split()[0].lower() in _QUESTION_WORDS or entity.text == new:
            continue
        if is_country(entity.text) == new_is_country:
            return previous[: entity.start] + new + previous[entity.end :]
    return None


def _answered_names(answer: str) -> list[str]:
    """The names an earlier answer gave: its bold lead ("**Mike Pompeo** [1].") or the items
    of a list answer ("- Russia [1]")."""
    lead = re.match(r"\s*\*\*(.+?)\*\*", answer)
    if lead:
        return [lead.group(1)]
    return re.findall(r"^- (.+?)(?: \[\d+\])+\s*$", answer, flags=re.M)


def condense_offline(question: str, history: list[Turn]) -> str:
    previous = next((t.content for t in reversed(history) if t.role == "user"), "")
    if not previous:
        return question
    if asks_for_another(question):
        # "Who else will address the meeting?": name the earlier answer in the question, which
        # is how the answerer knows not to give it again.
        answer = next((t.content for t in reversed(history) if t.role == "assistant"), "")
        given = [n for n in _answered_names(answer) if n.lower() not in question.lower()]
        if given:
            return with_exclusion(question, given)
    if not _leans_on_history(question):
        return question
    if _is_fragment(question) and not set(words(question)) & _ANAPHORA:
        substituted = _substituted(question, previous)
        if substituted is not None:
            return substituted
    rewritten = _with_previous_kind(question, previous)
    has_anaphora = bool(set(words(question)) & _ANAPHORA)
    if _names_and_dates(question) and not has_anaphora and not _is_fragment(question):
        return rewritten  # a full question about a name of its own: carry no other names
    asked = rewritten.lower()
    carried = [x for x in _names_and_dates(previous) if x.lower() not in asked]
    if not carried:
        return rewritten
    return f"{rewritten.strip()} ({', '.join(carried)})"


def condense_question(
    question: str,
    history: list[Turn],
    llm: Any | None = None,
    prompts_dir: Path | None = None,
) -> str:
    """A standalone version of `question` given `history`.

    `llm` is an LLMAnswerer (its client, prompts and time budget are used) or a bare
    llama-index LLM; None means offline. Any failure falls back to the offline rewrite.
    """
    if not any(t.role == "user" for t in history):
        return question
    if llm is not None:
        try:
            return _condense_with_llm(question, history, llm, prompts_dir)
        except Exception as exc:  # the offline rewrite is a fine answer too
            log.warning("condensing with the LLM failed (%s); using the offline rewrite", exc)
    return condense_offline(question, history)


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
