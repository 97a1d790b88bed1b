"""Who did it: the name a sentence makes the doer of the question's verb.

"Who called the Security Council meeting?" over "… a Security Council meeting called by the
United States will pit backers of President Nicolas Maduro against … Juan Guaido" asks for the
United States, the doer of "called", not for the person the passages talk most about. Two
shapes are read off the surface, no parser: the passive "<verb> by [the] <Name>" and the active
"<Name> [has|had|will|also …] <verb>".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from qa.answer.terms import stem_of, word_set

# "Who [else] [has|will|did …] <verb> …?" with the verb in lower case: "Who did Maduro accuse?"
# asks for the object (the doer is Maduro) and "Who is …?" names no deed.
_WHO_VERB = re.compile(
    r"^\s*who\s+(?:else\s+)?(?:(?:has|have|had|will|would|did|does|do|can|could|may|might)\s+)?"
    r"(?P<verb>\w+)",
    re.I,
)
_NOT_A_DEED = word_set(
    """is are was were be been being has have had will would did does do can could may might
    else"""
)
# Words that may stand between a doer and its verb in the active shape ("Pompeo is expected to
# address", "Canada has quickly recognized", "the Trump administration recognized").
_BETWEEN = (
    r"(?:(?:administration|government|officials|authorities|has|have|had|will|would|also|"
    r"then|later|quickly|first|reportedly|"
    r"(?:is|are|was|were)\s+(?:expected|set|due|scheduled|likely)\s+to|"
    r"(?:plans|planned|vowed|promised|wants|hopes|intends)\s+to)\s+)*"
)


class Named(Protocol):
    start: int
    end: int


def asked_deed(question: str) -> str | None:
    """The stem of the verb a "Who <verb> …?" question asks the doer of, or None."""
    match = _WHO_VERB.match(question)
    if match is None:
        return None
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
        passive = re.match(r"\s+by\s+(?:the\s+)?", sentence[verb.end():])
        for i, name in enumerate(names):
            by_name = passive is not None and name.start == verb.end() + passive.end()
            if by_name or re.fullmatch(rf"\s+{_BETWEEN}", sentence[name.end:verb.start()]):
                found.append(i)
    return found
