"""Who did it, and to whom: the name a sentence puts in the role the question asks about.

"Who called the Security Council meeting?" over "… a Security Council meeting called by the
United States will pit backers of President Nicolas Maduro against … Juan Guaido" asks for the
United States, the doer of "called", not for the person the passages talk most about. Doers
are read off two surface shapes, no parser: the passive "<verb> by [the] <Name>" and the active
"<Name> [has|had|will|also …] <verb>". "Who did the Wild hire …?" asks for the object instead:
"hired [former Devils coach] John Hynes", "John Hynes was hired". "How did Maduro respond?" and
"What did Maduro do?" ask what the named one did: the sentences where it is the doer of some
verb ("Maduro dug in", "Maduro has also called home …"), not those that mention it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from qa.answer.terms import stem_of, word_set
from qa.answer.who import is_role

# "Who [else] [has|will|did …] <verb> …?" with the verb in lower case: "Who did Maduro accuse?"
# asks for the object (the doer is Maduro) and "Who is …?" names no deed.
_WHO_VERB = re.compile(
    r"^\s*who\s+(?:else\s+)?(?:(?P<aux>has|have|had|will|would|did|does|do|can|could|may|"
    r"might)\s+)?(?P<verb>\w+)",
    re.I,
)
# "Who did the Minnesota Wild hire …?", "Which team did the Chiefs beat?": the doer is named, the
# answer is the one the verb is done to.
_OBJECT_QUESTION = re.compile(
    r"^\s*(?i:who|whom|(?:which|what)\s+[\w\-]+)\s+(?:else\s+)?(?:did|does|do|will|would)\s+"
    r"(?:(?:the|a|an)\s+)?(?P<subject>[A-Z][\w.&'’\-]*(?:\s+(?:of\s+)?[A-Z][\w.&'’\-]*)*"
    r"|[a-z]+)\s+(?P<verb>[a-z]+)\b",
)
# "How did Maduro respond?", "What has Guaido vowed?", "Why did Apple cut prices?": the named
# one is the doer (not after "is"/"was": "What is Maduro accused of?" makes it the object).
_ACTOR_QUESTION = re.compile(
    r"^\s*(?i:how|what|why)\s+(?i:did|does|do|has|have|had|will|would)\s+(?:the\s+)?"
    r"(?P<actor>[A-Z][\w.&'’\-]*(?:\s+[A-Z][\w.&'’\-]*)*)\s+[a-z]+\b",
)
# What follows a name without making it a doer ("backers of Maduro against Trump").
_FUNCTION_WORDS = word_set(
    """a an the and or but nor of for to in on at by with from against as than that which who
    whom whose into onto over under about after before between during while if so is are was
    were be been"""
)
_NOT_A_DEED = word_set(
    """is are was were be been being has have had will would did does do can could may might
    else"""
)
_SAYING = word_set("say tell think believe know expect want claim")
# Words that may stand between a doer and its verb in the active shape ("Pompeo is expected to
# address", "Canada has quickly recognized", "the Trump administration recognized").
_BETWEEN = (
    r"(?:(?:administration|government|officials|authorities|has|have|had|will|would|also|"
    r"then|later|quickly|first|reportedly|"
    r"(?:is|are|was|were)\s+(?:expected|set|due|scheduled|likely)\s+to|"
    r"(?:plans|planned|vowed|promised|wants|hopes|intends)\s+to)\s+)*"
)


class Named(Protocol):
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


def asked_deed(question: str) -> str | None:
    """The stem of the verb a "Who <verb> …?" question asks the doer of, or None."""
    match = _WHO_VERB.match(question)
    if match is None or (match.group("aux") or "").lower() in ("did", "does", "do"):
        return None  # "Who did Maduro accuse?": see asked_object
    verb = match.group("verb")
    if not verb.islower() or verb in _NOT_A_DEED:
        return None
    return stem_of(verb)


def doers(sentence: str, names: Sequence[Named], deed: str) -> list[int]:
    """Indexes into `names` of the names `sentence` makes the doer of a verb with stem `deed`."""
    found: list[int] = []
    for verb in re.finditer(r"\b[a-z]+\b", sentence):
        if stem_of(verb.group()) != deed:
            continue
        passive = re.match(r"\s+by\s+(?:the\s+)?", sentence[verb.end() :])
        for i, name in enumerate(names):
            by_name = passive is not None and name.start == verb.end() + passive.end()
            if by_name or re.fullmatch(rf"\s+{_BETWEEN}", sentence[name.end : verb.start()]):
                found.append(i)
    return found


def asked_object(question: str) -> str | None:
    """The stem of the verb a "Who did <doer> <verb> …?" question asks the object of, or None."""
    match = _OBJECT_QUESTION.match(question)
    if match is None or match.group("verb") in _NOT_A_DEED | _SAYING:
        return None  # "Who did Russia say backs Maduro?" asks about the backing
    return stem_of(match.group("verb"))


def objects(sentence: str, names: Sequence[Named], deed: str) -> list[int]:
    """Indexes into `names` of the names `sentence` makes the object of a verb with stem `deed`:
    "hired John Hynes", "hired former coach John Hynes", "Hynes was hired"."""
    found: list[int] = []
    for verb in re.finditer(r"\b[a-z]+\b", sentence):
        if stem_of(verb.group()) != deed:
            continue
        after = [
            i
            for i, name in enumerate(names)
            if name.start >= verb.end()
            and re.fullmatch(
                r"\s+(?!by\b)(?:[a-z][\w'’\-]*\s+){0,3}", sentence[verb.end() : name.start]
            )
        ]
        if after:
            first = after[0]
            # "hired former Devils coach John Hynes": the name after the role is the one.
            if (
                first + 1 < len(names)
                and re.fullmatch(
                    r"\s+[a-z]+\s+", sentence[names[first].end : names[first + 1].start]
                )
                and is_role(sentence[names[first].end : names[first + 1].start].strip())
            ):
                first += 1
            found.append(first)
        found.extend(
            i
            for i, name in enumerate(names)
            if re.fullmatch(
                r"\s+(?:was|were|is|are|has been|have been|had been|will be)"
                r"\s+(?:[a-z]+ly\s+)?",
                sentence[name.end : verb.start()],
            )
        )
    return found


def asked_actor(question: str) -> str | None:
    """The name a "How/What/Why did <Name> <verb> …?" question asks about the deeds of."""
    match = _ACTOR_QUESTION.match(question)
    return match.group("actor") if match else None


def acts(sentence: str, actor: str) -> bool:
    """Whether `sentence` makes `actor` (or its last word: "Nicolas Maduro" is "Maduro") the
    doer of a verb: "Maduro dug in", "Maduro has refused", not "backing for Maduro's government"
    or "backers of Maduro against"."""
    surname = re.escape(actor.split()[-1])
    for match in re.finditer(rf"\b{surname}\s+{_BETWEEN}(?P<verb>[a-z]+)\b", sentence):
        if match.group("verb") not in _FUNCTION_WORDS:
            return True
    return False


# "What did Healy say …?", "How did Jordan react …?": the answer is best in the one's own words.
_SAYING_FRAME = re.compile(
    r"\b(?:say|said|react|respond|warn|tell|told|think|feel|describe|explain|comment|claim|"
    r"argue|admit|reply|replied)\w*\b",
    re.I,
)
_SPEECH = (
    r"(?:said|says|say|told|tells|added|adds|remarked|wrote|writes|tweeted|posted|insisted|"
    r"warned|warns|explained|noted|stated|argued|admitted|continued|responded|replied|"
    r"acknowledged|conceded|declared|stressed)"
)
_QUOTE_MARK = re.compile(r"[“”\"]")
# Words after "said" that start another clause: "said after a meeting when Jordan …".
_CLAUSE_WORDS = r"(?:after|before|when|while|that|as|of|to|in|on|at|for|and|but|because)"


def asks_for_words(question: str) -> bool:
    """Whether the question asks what someone said or how they reacted."""
    return _SAYING_FRAME.search(question) is not None


def quotes(sentence: str, actor: str) -> bool:
    """Whether `sentence` quotes `actor` (or its last word) and says so: "“… a blip,” Healy
    said", "said captain Heung-Min Son", "Jordan, a founding member of …, said"; not "“…,”
    Gimenez said after a meeting when Jordan …"."""
    if not _QUOTE_MARK.search(sentence):
        return False
    name = re.escape(actor.split()[-1])
    speaker_first = rf"\b{name}(?:\s+(?:[a-z]+ly\s+)?|,[^,.“”\"]{{1,70}},\s+){_SPEECH}\b"
    verb_first = rf"\b{_SPEECH}\s+(?:(?!{_CLAUSE_WORDS}\b)[\w.’'()\-]+\s+){{0,4}}?\(?{name}\b"
    return re.search(f"{speaker_first}|{verb_first}", sentence) is not None
