""" "Who is <Name>?" answered with what the articles call that one.

News copy introduces people with a title or an apposition: "Venezuelan Foreign Minister Jorge
Arreaza", "Alexei Pushkov, chairman of the information committee at the Russian Federation
Council,", "the country's self-declared interim leader, Juan Guaido". The answer leads with that
description, cited to the sentence it comes from. Only these clean shapes are read; anything
else falls back to quoting the best sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.answer.terms import ROLE_ACRONYMS, word_set

# "Who is Juan Guaido?" -> "Juan Guaido": the question is only a name, so it asks what that one
# is. Not "Who is the CEO of OpenAI?" (a role: the answer is a name).
_WHO_IS_NAME = re.compile(
    r"^\s*(?i:who\s+(?:is|was|are|were)\s+)"
    r"([A-Z][\w.'’\-]*(?:\s+(?:[A-Z][\w.'’\-]*|de|da|del|van|von|bin|al))*)\s*\??\s*$"
)
# Words that end a description read backwards from ", Name" (the description starts after them).
_BOUNDARY = word_set(
    """of to for by with against from at in on and or but said says told while as than
    that which who"""
)
# Words that name a role: a title must hold one ("Foreign Minister", "human-rights chief").
_ROLES = word_set(
    """president secretary minister chief leader head spokesman spokeswoman spokesperson chairman
    chairwoman chair director envoy ambassador adviser advisor official founder co-founder
    executive ceo cfo lawmaker senator sen. governor gov. mayor judge justice king queen prince
    princess pope general commander prosecutor attorney lawyer analyst professor economist
    correspondent reporter editor coach player singer actor actress rapper star owner investor
    billionaire entrepreneur candidate premier chancellor diplomat activist representative rep.
    manager partner officer counsel quarterback receiver kicker pitcher striker goalkeeper
    midfielder linebacker cornerback"""
)
# Roles a company can hold too ("investor SoftBank", "its partner Microsoft").
_ORGANISATION_ROLES = word_set("investor owner partner manager player star representative")
_TITLE_WORD = re.compile(r"^(?:[A-Z][\w.'’\-]*|[a-z]+(?:-[a-z]+)+|[a-z.]+)$")
_POSSESSIVES = word_set("its his her their our my your")
MAX_DESCRIPTION_WORDS = 12


@dataclass(frozen=True)
class Description:
    text: str  # "chairman of the information committee at the Russian Federation Council"
    start: int  # offsets in the sentence
    end: int


def named_subject(question: str) -> str | None:
    """The name a "Who is <Name>?" question asks about; None for any other question."""
    match = _WHO_IS_NAME.match(question)
    return match.group(1) if match else None


def description_of(name: str, sentence: str) -> Description | None:
    """The title before the name, or the apposition after or before it; None if none is
    cleanly there."""
    match = re.search(rf"\b{re.escape(name)}\b", sentence)
    if match is None:
        return None
    found = descriptions_of(name, sentence, match)
    return found[0] if found else None


def descriptions_of(
    name: str, sentence: str, match: re.Match[str] | None = None
) -> list[Description]:
    """Every clean description of the name's first mention, in description_of's order."""
    match = match or re.search(rf"\b{re.escape(name)}\b", sentence)
    if match is None:
        return []
    start = _full_name_start(sentence, match.start())
    shapes = (
        _apposition_after(sentence, match.end()),
        _title_before(sentence, start),
        _apposition_before(sentence, start),
        _role_as(sentence, match.end()),
    )
    return [shape for shape in shapes if shape is not None]


def described_as_person(name: str, sentences: list[str]) -> bool:
    """Whether some sentence gives `name` a person's title or apposition ("Amazon general
    counsel David Zapolsky" makes "Zapolsky" a person, not a company)."""
    for sentence in sentences:
        if name not in sentence:
            continue
        match = re.search(rf"\b{re.escape(name)}\b", sentence)
        if match is None:
            continue
        start = _full_name_start(sentence, match.start())
        found = (
            _apposition_after(sentence, match.end())
            or _title_before(sentence, start)
            or _apposition_before(sentence, start)
        )
        if found and any(
            is_role(w) and w.lower() not in _ORGANISATION_ROLES for w in found.text.split()
        ):
            return True
    return False


def _full_name_start(sentence: str, start: int) -> int:
    """Back over first names when the question gave only the last ("Jorge" of "Jorge
    Arreaza"), but not over the end of a title ("Secretary of State Mike Pompeo")."""
    words = list(re.finditer(r"\S+", sentence[:start]))
    for _ in range(2):
        if (
            len(words) < 2
            or not words[-1].group(0)[0].isupper()
            or is_role(words[-1].group(0))
            or words[-2].group(0) == "of"
        ):
            break
        start = words.pop().start()
    return start


def _apposition_after(sentence: str, after: int) -> Description | None:
    """ "Alexei Pushkov, chairman of the … Council, called …" (lower-case start, closed by a
    comma)."""
    match = re.match(r",\s+((?:the\s+|a\s+|an\s+)?[A-Za-z][^,;:\"“”()]*?),", sentence[after:])
    if not match or len(match.group(1).split()) > MAX_DESCRIPTION_WORDS:
        return None
    first, *rest = match.group(1).split()
    if first in ("the", "a", "an"):
        first = rest[0] if rest else ""
        if not (first[:1].islower() or is_role(first)):
            return None  # "Maduro, the United States said, …"
    elif not is_role(first):
        return None  # "Maduro, delivering vows of loyalty, …" is not what he is
    return Description(match.group(1), after + match.start(1), after + match.end(1))


def _title_before(sentence: str, position: int) -> Description | None:
    """ "Venezuelan Foreign Minister Jorge Arreaza", "U.N. human-rights chief Michelle Bachelet",
    "U.S. Secretary of State Mike Pompeo": title words before the name, holding a role word."""
    words = list(re.finditer(r"\S+", sentence[:position]))
    taken: list[re.Match[str]] = []
    pending: list[re.Match[str]] = []  # "technology" of "chief technology officer"
    for i in range(len(words) - 1, -1, -1):
        text = words[i].group(0)
        through_of = text == "of" and i > 0 and is_role(words[i - 1].group(0))
        if not through_of and (not _TITLE_WORD.match(text) or text.lower() in _BOUNDARY):
            break
        if text.islower() and not is_role(text) and "-" not in text and not through_of:
            if not taken or len(pending) == 2:
                break
            pending.insert(0, words[i])  # kept only if a role or a name comes before it
            continue
        taken[:0] = [words[i], *pending]
        pending = []
    if not any(is_role(w.group(0)) for w in taken):
        return None
    start, end = taken[0].start(), taken[-1].end()
    return Description(sentence[start:end], start, end)


# "Sam Altman ousted as OpenAI’s CEO", "… was fired as CEO of OpenAI": a role after "as",
# a few words after the name (an organisation's possessive or "of <Name>" may frame it).
_NAME_RUN = r"[A-Z][\w.'’\-]*(?:\s+[A-Z][\w.'’\-]*)*"
_ROLE_AS = re.compile(
    r"\s+(?:[a-z]+\s+){0,4}?as\s+(?:the\s+|its\s+|his\s+|her\s+)?"
    r"(?P<text>(?:[A-Z][\w.\-]*(?:['’]s)?\s+)?(?:[a-z\-]+\s+){0,2}"
    r"(?i:" + "|".join(re.escape(r) for r in sorted(_ROLES, key=len, reverse=True)) + r")\b"
    rf"(?:\s+of\s+(?:the\s+)?(?:[A-Z][\w.\-]*\s+)?"
    rf"(?:(?:startup|company|firm|giant|maker|group|lab)\s+)?{_NAME_RUN})?)"
)


def _role_as(sentence: str, after: int) -> Description | None:
    match = _ROLE_AS.match(sentence[after:])
    if not match:
        return None
    text = match.group("text")
    if text.endswith(".") and text.count(".") == 1:
        text = text[:-1]  # the sentence's full stop, not "U.S."
    start = after + match.start("text")
    return Description(text, start, start + len(text))


def is_role(word: str) -> bool:
    return word.lower().strip(",") in _ROLES


def _apposition_before(sentence: str, position: int) -> Description | None:
    """ "… supporters of the country's self-declared interim leader, Juan Guaido": the words
    before ", Name" back to a preposition, ending in a lower-case word."""
    head = sentence[:position]
    if not head.rstrip().endswith(","):
        return None
    # "… leader, Juan Guaido." / "… leader, Juan Guaido, said": the name closes the clause; in
    # "… their families, Maduro has worked …" it opens the next one.
    if not re.match(r"[A-Z][\w.'’\-]*(?:\s+[A-Z][\w.'’\-]*)*\s*(?:[.,;:)]|$)", sentence[position:]):
        return None
    body = head.rstrip()[:-1]
    words = list(re.finditer(r"\S+", body))
    taken: list[re.Match[str]] = []
    for word in reversed(words):
        if word.group(0).lower() in _BOUNDARY or word.group(0).endswith((",", ";", ":")):
            break
        taken.insert(0, word)
    if not (2 <= len(taken) <= MAX_DESCRIPTION_WORDS) or not is_role(taken[-1].group(0)):
        return None
    if taken[0].group(0).lower() in _POSSESSIVES:
        return None  # "the new AI and its CEO, Sam Altman": "its" says nothing alone
    start, end = taken[0].start(), taken[-1].end()
    return Description(body[start:end], start, end)


# "Who is the chief executive of Ineos Sport?", "Who is Nike's chief financial officer?": a
# role of an organisation; the answer is the name the articles give that role ("Jean-Claude
# Blanc, the CEO of Ratcliffe’s Ineos Sport").
_WHO_IS = r"^\s*(?i:who)\s+(?:is|was|are|were|will\s+be|has\s+been)\s+"
_ROLE_PHRASE = (
    r"(?:(?:new|current|interim|former|acting)\s+)?"
    r"(?P<role>(?:[a-z\-]+\s+){0,3}?(?:[a-z\-]+|[A-Z]{2,4}))"
)
_ROLE_OF = re.compile(
    rf"{_WHO_IS}(?:the\s+)?{_ROLE_PHRASE}\s+(?:of|at|for)\s+(?:the\s+)?"
    r"(?P<org>[A-Z].*?)\s*\??\s*$"
)
_ORGS_ROLE = re.compile(
    rf"{_WHO_IS}(?P<org>[A-Z][\w.&\-]*(?:\s+[A-Z][\w.&\-]*)*)['’]s\s+{_ROLE_PHRASE}"
    r"\s*\??\s*$"
)


@dataclass(frozen=True)
class AskedRole:
    head: str  # the role's telling word: "executive" of "chief executive officer", "coach"
    organisation: frozenset[str]  # the organisation's words, lower case: {"ineos", "sport"}


def asked_role(question: str) -> AskedRole | None:
    """The role and organisation a "Who is the <role> of <Org>?" / "Who is <Org>'s <role>?"
    question asks the holder of; None when the role holds no role word."""
    match = _ROLE_OF.match(question) or _ORGS_ROLE.match(question)
    if match is None:
        return None
    role = _role_words(match.group("role"))
    if not role or not any(is_role(word) for word in match.group("role").split()):
        return None
    organisation = frozenset(_lower_words(match.group("org")))
    return AskedRole(role[-1], organisation)


def holds_role(description: Description | None, sentence: str, role: AskedRole) -> bool:
    """Whether `description` gives the asked role of the asked organisation: named in the
    description when it says whose role it is ("the CEO of Ratcliffe’s Ineos Sport", not "the
    club's chief executive"), else anywhere in the sentence ("coach Mel Tucker" in a sentence
    about Michigan State)."""
    if description is None or role.head not in _role_words(description.text):
        return False
    says_whose = re.search(
        r"['’]s\b|\b(?:of|at|for)\s+(?:the\s+)?[A-Z]|\b[A-Z]",
        description.text.removeprefix("the ").removeprefix("The "),
    )
    where = description.text if says_whose else sentence
    return bool(role.organisation & set(_lower_words(where)))


def _role_words(text: str) -> list[str]:
    """Lower-case words with role acronyms spelled out and a trailing "officer" after "chief
    …" dropped: "CEO" and "chief executive officer" both give [..., "executive"]."""
    words: list[str] = []
    for word in _lower_words(text):
        words.extend(ROLE_ACRONYMS.get(word, word).split())
    if len(words) >= 2 and words[-1] == "officer" and "chief" in words:
        words.pop()
    return words


def _lower_words(text: str) -> list[str]:
    return [word.lower() for word in re.findall(r"[\w\-]+", text)]
