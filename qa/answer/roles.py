"""Support that reads roles: does a cited sentence hold the answer in the asked role?

A quote can name the answer and the question's anchors and still say the reverse: "Which
countries back Guaido?" answered "Russia", citing "Russia, China … have voiced their backing
for Maduro's government". `role_conflict` reads the quote's clauses that carry the question's
predicate and says whether one of them puts an answered name in the other role. It runs on
the extractive answer's lead and items and on each cited claim of an LLM answer (`llm.py`
marks such a citation unsupported). Kept apart from verify.py's lexical support on purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from qa.answer import lexicon
from qa.answer.reading import Role, candidates, holds_asked_role
from qa.answer.shape import QuestionShape
from qa.answer.terms import words

if TYPE_CHECKING:
    from spacy.tokens import Doc

Parse = Callable[[str], "Doc"]


def role_conflict(shape: QuestionShape, quote: Doc, answers: Iterable[str]) -> bool:
    """True when the quote has a clause carrying the question's predicate in which one of
    `answers` holds a role other than the asked one (and nowhere the asked one)."""
    if not shape.predicate_stems:
        return False
    wanted = [w for a in answers if (w := set(words(a)) - lexicon.STOPWORDS)]
    if not wanted:
        return False
    for candidate in candidates(quote, shape):
        said = set(words(candidate.text))
        named = any(w <= said or said <= w for w in wanted if said)
        if named and holds_asked_role(quote, shape, candidate, strict=True) is Role.OTHER:
            return True
    return False


def claim_in_role(shape: QuestionShape, claim: str, quote: str, parse: Parse) -> bool:
    """Whether the names an LLM claim gives that the question does not (its answer) stand in
    the quote in the asked role (True when the quote does not speak to the roles at all:
    lexical support decides then)."""
    asked = set(shape.question_words)
    names = [
        ent.text
        for ent in parse(claim).ents
        if ent.label_ in lexicon.NAME_LABELS and not set(words(ent.text)) & asked
    ]
    return not role_conflict(shape, parse(quote), names)
