"""`Evidence`: the ranked sentences of one question, their parses, and how answers are built.

Strategies read sentences through it: `doc()` parses on demand (the best few are parsed in one
batch up front), `cite()` turns sentences into verbatim citations, `build()` and `abstain()`
make the Answer, whose Markdown comes from qa/render.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from qa.answer.citations import also_reported_by, make_citation
from qa.answer.confidence import Signals, calibrated
from qa.answer.config import AnswerConfig
from qa.answer.lexicon import STOPWORDS
from qa.answer.nlp import ParseCache
from qa.answer.reading import acts
from qa.answer.relevance import Scored, pick_sentences, ranked
from qa.answer.roles import role_conflict
from qa.answer.shape import QuestionShape
from qa.answer.terms import stem_of, stems
from qa.render import answer_markdown
from qa.types import Answer, AnswerItem, AnswerKind, Citation, Lead, Passage

if TYPE_CHECKING:
    from spacy.tokens import Doc

NO_PASSAGE_REASON = "The articles don't say: no article matched the question."
_INNER_CAPITAL = re.compile(r"(?<=[\w,;’'\-] )[A-Z][\w’'\-]*")
_CAPITAL_WORD = re.compile(r"\b[A-Z][\w’'\-]*")
_LOWER_WORD = re.compile(r"\b[a-z][\w’'\-]*")


def _in_title_case(line: str) -> bool:
    """A line whose every content word is capitalised, at least three of them."""
    content = [w for w in _ANY_WORD.findall(line) if w.lower() not in STOPWORDS]
    return len(content) >= _TITLE_CASE_WORDS and all(w[:1].isupper() for w in content)


_ANY_WORD = re.compile(r"\b[^\W\d_][\w’'\-]*")
_TITLE_CASE_WORDS = 3


def _unpossessed(word: str) -> str:
    return word.removesuffix("’s").removesuffix("'s")


@dataclass
class Evidence:
    shape: QuestionShape
    passages: list[Passage]
    scored: list[Scored]
    config: AnswerConfig
    parser: ParseCache
    ranked: list[Scored] = field(default_factory=list)
    chosen: list[Scored] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ranked = ranked(self.scored)
        if self.ranked and self.shape.actor:
            # "How did Maduro respond?": a sentence where Maduro is the subject of a verb ranks
            # higher than one that only names him.
            top = self.ranked[: self.config.parse_sentences]
            for item, doc in zip(top, self.parse(top), strict=True):
                if acts(doc, self.shape.actor):
                    item.score *= 1.0 + self.config.w_actor
            self.ranked = ranked(self.scored)
        if self.ranked:
            self.chosen = pick_sentences(self.ranked, self.config)

    # --- parsing -------------------------------------------------------------------------------
    def parse(self, items: Iterable[Scored]) -> list[Doc]:
        return self.parser.parse_many([s.sentence.text for s in items])

    def doc(self, item: Scored) -> Doc:
        return self.parser.parse(item.sentence.text)

    # --- pools of sentences --------------------------------------------------------------------
    @property
    def best(self) -> Scored:
        return self.ranked[0]

    def close_and_further(self) -> tuple[list[Scored], list[Scored]]:
        """The chosen and close sentences (to follow_ratio of the best), and those further
        down (to reading_ratio), each best first."""
        top = self.chosen[0].score
        follow, reading = self.config.follow_ratio * top, self.config.reading_ratio * top
        close = [s for s in self.ranked if s.score >= follow and s not in self.chosen]
        further = [s for s in self.ranked if reading <= s.score < follow]
        return [*self.chosen, *close], further

    @cached_property
    def name_words(self) -> frozenset[str]:
        """Capitalised words that may be part of a name: those the passages capitalise inside a
        sentence (not after a full stop, colon, quote or line break) or never write in lower
        case ("Brock" of "Brock Purdy" opening every sentence; not "Current Fed", "Laid").
        Headlines never count as mid-sentence capitals: they capitalise at will. Nor does a
        line of the text in title case, a headline repeated there ("Wullaert Fires Belgium to
        3-2 Home Win": "Fires" is no name word, the passages write "fired")."""
        text = "\n".join(p.text for p in self.passages)
        headlines = "\n".join(dict.fromkeys(p.title for p in self.passages))
        lower = {stem_of(w) for w in _LOWER_WORD.findall(f"{text}\n{headlines}")}
        prose = "\n".join(line for line in text.splitlines() if not _in_title_case(line))
        inner = {_unpossessed(w) for w in _INNER_CAPITAL.findall(prose)}
        capitalised = {_unpossessed(w) for w in _CAPITAL_WORD.findall(f"{text}\n{headlines}")}
        never_lower = {w for w in capitalised - inner if w.lower() not in STOPWORDS}
        found = inner | {w for w in never_lower if stem_of(w) not in lower}
        # The parse splits "Bankman-Fried" into "Bankman", "-", "Fried": each capitalised
        # part of a name word is one too, or a sentence opening with the name loses "Bankman".
        return frozenset(found | {part for w in found for part in w.split("-") if part.istitle()})

    def published(self, item: Scored) -> str:
        return self.passages[item.passage_index].published

    # --- answers -------------------------------------------------------------------------------
    def cite(self, chosen: list[Scored]) -> list[Citation]:
        citations = []
        for n, s in enumerate(chosen, start=1):
            scores = {k: round(v, 4) for k, v in {"sentence": s.score, **s.parts}.items()}
            passage = self.passages[s.passage_index]
            citations.append(make_citation(n, passage, s.sentence, scores=scores))
        return citations

    def led_by(self, sentence: Scored) -> list[Scored]:
        """`sentence` first, then the other chosen sentences."""
        others = [s for s in self.chosen if s is not sentence]
        return [sentence, *others[: self.config.max_sentences - 1]]

    def build(
        self,
        kind: AnswerKind,
        citations: list[Citation],
        lead: Lead | None = None,
        items: list[AnswerItem] | None = None,
        signals: Signals | None = None,
    ) -> Answer:
        """The answer, its Markdown and its confidence (`signals`: what the strategy saw of
        its lead; without them, only the sentences count)."""
        signals = signals or self.signals(kind, citations)
        features = signals.features()
        confidence = calibrated(features, self.config.confidence_weights)
        answer = Answer(
            question=self.shape.text,
            answer="",
            kind=kind,
            lead=lead,
            items=items or [],
            citations=citations,
            confidence=round(confidence, 4),
            doubtful=confidence < self.config.doubtful_below,
            confidence_signals=features,
            also_reported_by=also_reported_by(citations, self.passages),
        )
        self._check_roles(answer)
        answer.answer = answer_markdown(answer)
        return answer

    def _check_roles(self, answer: Answer) -> None:
        """A citation whose sentence holds the answer in another role than the asked one is
        marked unsupported (the strategies avoid such readings; this is the last check)."""
        for citation in answer.citations:
            names = [i.text for i in answer.items if citation.n in i.citations]
            if answer.lead is not None and citation.n in answer.lead.citations:
                names.append(answer.lead.text)
            if names and role_conflict(self.shape, self.parser.parse(citation.quote), names):
                citation.supported = False

    def signals(self, kind: AnswerKind, citations: list[Citation], **lead: Any) -> Signals:
        """What any answer's confidence reads (the best sentence, the first cited one), and
        what the strategy adds of its lead (`Signals` fields)."""
        cited = citations[0].scores if citations else {}
        return Signals(
            kind=kind,
            relevance=self.best.relevance if self.ranked else 0.0,
            cited_score=cited.get("sentence", 0.0),
            cited_lexical=cited.get("lexical", 0.0),
            cited_cosine=cited.get("cosine", 0.0),
            long=self.shape.long,
            **lead,
        )

    def abstain(self, reason: str = "") -> Answer:
        return abstain(self.shape, self.passages, self.ranked, self.config, reason)


def abstain(
    shape: QuestionShape,
    passages: list[Passage],
    order: list[Scored],
    config: AnswerConfig,
    reason: str = "",
) -> Answer:
    """Say what is missing and show the nearest passages (best sentence first)."""
    indices = list(dict.fromkeys(s.passage_index for s in order))[: config.nearest]
    nearest = [passages[i] for i in indices] or passages[: config.nearest]
    reason = reason or abstention_reason(shape, passages, order)
    return Answer(
        question=shape.text,
        answer=reason,
        kind="abstention",
        abstained=True,
        reason=reason,
        nearest=nearest,
    )


def seen_stems(passages: list[Passage], order: list[Scored]) -> set[str]:
    """Every stem the passages' sentences, titles and outlet names use."""
    seen: set[str] = set().union(*(s.stems for s in order))
    return seen | {stem for p in passages for stem in stems(f"{p.title} {p.source}")}


def _only_later_reports_speak(order: list[Scored]) -> bool:
    """A sentence of a later article (relevance.py left it out) was more relevant than any
    sentence that counted."""
    later = [s.parts["later_report"] for s in order if "later_report" in s.parts]
    counted = [s.relevance for s in order if "later_report" not in s.parts]
    return bool(later) and max(later) > max(counted, default=0.0)


_EDGE_PUNCTUATION = re.compile(r"^[\W_]+|[\W_]+$")  # "¿Qué" is "Qué"


def abstention_reason(shape: QuestionShape, passages: list[Passage], order: list[Scored]) -> str:
    """What is missing, in the question's words: the asked thing ("Shohei Ohtani's wife"),
    else the question words no passage uses, names first."""
    if not passages:
        return NO_PASSAGE_REASON
    seen = seen_stems(passages, order)
    if shape.attribute and shape.attribute not in seen:
        return f"The articles don't give {shape.attribute_text}: no passage found mentions it."
    if shape.as_of is not None and _only_later_reports_speak(order):
        day = f"{shape.as_of:%B} {shape.as_of.day}, {shape.as_of.year}"
        return (
            f"The articles don't say for {day}: the passages found that speak to it were "
            "published well after that day, and none reports it."
        )
    missing: dict[str, str] = {}
    for word in shape.text.split():
        word = _EDGE_PUNCTUATION.sub("", word).removesuffix("'s").removesuffix("’s")
        stem = (stems(word) or [""])[0]
        if stem and stem in shape.terms and stem not in seen:
            missing.setdefault(stem, word)
    named = sorted(missing.values(), key=lambda w: not w[:1].isupper())
    if named:
        quoted = [f"“{w}”" for w in named[:4]]
        joined = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
        return f"The articles don't say: none of the passages found mentions {joined}."
    return (
        "The articles don't say: the closest passages touch on the question's words "
        "but no sentence answers it."
    )
