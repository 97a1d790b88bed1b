"""The answer strategies, tried in order: the first that returns an Answer answers (an
abstention is an Answer too; None passes the question on). Each reads only the question's
shape and the ranked, parsed sentences (`Evidence`):

0. ContestAnswer — "who won the Raiders vs Lions game?": the side a sentence says won, or
   the articles don't say;
1. ListAnswer — "which countries …": the items holding the asked role, each cited;
2. NameAnswer — "who …", "which company …": the name of the asked type the best sentences
   agree on, preferring the one holding the asked role;
3. DateAnswer — "when …": a date in a clause that answers, read against the article's date;
4. DescriptionAnswer — "who is <Name>?": what the articles call that one;
5. FigureAnswer — "how much / many / old …": the figure of the asked kind (MeasureAnswer:
   of the asked noun, "what was the 10-year Treasury yield");
6. SentenceAnswer — the best sentences, quoted (and the speaker's own words for "what did X
   say").
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from qa.answer import lexicon
from qa.answer.evidence import Evidence
from qa.answer.reading import (
    KIND_LABEL,
    Candidate,
    Role,
    candidates,
    clause_roles,
    described_in_asked_role,
    descriptions_of,
    holds_asked_role,
    item_text,
    kind_phrases,
    predicate_clauses,
    prep_objects,
    quotes,
    read_clauses,
    type_fit,
)
from qa.answer.relevance import Scored
from qa.answer.shape import FIGURE_TYPES, NAME_TYPES, AnswerType, Form, QuestionShape
from qa.answer.terms import stem_of, stems, words
from qa.answer.when import DateReading, describe, read_date
from qa.types import Answer, AnswerItem, Lead, Passage

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from spacy.tokens import Doc, Span, Token


class Strategy(Protocol):
    def answer(self, shape: QuestionShape, evidence: Evidence) -> Answer | None: ...


# --- names shared by the name and list strategies ------------------------------------------------
def _outlet_words(passages: list[Passage]) -> set[str]:
    return {w for p in passages for w in words(p.source)}


@dataclass(frozen=True)
class _Excluded:
    """What cannot answer: a name made only of the question's own words, in any form
    ("Steeler" for "Steelers"), restates it (not the kind noun: "Which organization" may be
    answered by "Organization of American States"), and one holding most of a name the
    question gives is that name ("Nicolas Maduro" for "Maduro"); a name adding words of its
    own may answer ("The Exorcist III" for "Which Exorcist sequel", "San Francisco Giants"
    beside "the San Diego Padres"). No word of a name the question leaves out, nor of an
    outlet's name for a name answer (a list item may: "Fox Sports" beside "Essentially
    Sports")."""

    asked: frozenset[str]
    anchors: tuple[frozenset[str], ...]
    banned: frozenset[str]
    acronyms: frozenset[str] = frozenset()  # the question's names in capitals: "CZ", "SBF"

    @cached_property
    def asked_stems(self) -> frozenset[str]:
        return frozenset(stem_of(w) for w in self.asked)

    @property
    def words(self) -> frozenset[str]:
        """Every word named above: a short name is not expanded into any of them."""
        return self.asked | self.banned

    def allows(self, name: str) -> bool:
        said = set(words(name))
        return (
            bool(said)
            and not name.isdigit()
            and not said & self.banned
            and not {stem_of(w) for w in said} <= self.asked_stems
            and not any(len(anchor & said) >= min(2, len(anchor)) for anchor in self.anchors)
            and not self.spelt_in_capitals(name)
        )

    def spelt_in_capitals(self, name: str) -> bool:
        """The question writes the name as its initials: "Changpeng Zhao" for "CZ"."""
        return _initials(name) in self.acronyms


def _excluded(shape: QuestionShape, outlet_words: set[str]) -> _Excluded:
    outlet_words = outlet_words - lexicon.STOPWORDS
    left_out = {w for name in shape.excluded for w in words(name)}
    asked = set(shape.question_words) - set(shape.kind_words)
    asked |= {part for word in asked for part in word.split("-")}  # "Israel-Hamas war"
    anchors = tuple(frozenset(words(a.text)) for a in shape.anchors if a.is_name)
    acronyms = frozenset(_ACRONYM.findall(shape.text))
    return _Excluded(frozenset(asked), anchors, frozenset(outlet_words | left_out), acronyms)


_ACRONYM = re.compile(r"\b[A-Z]{2,5}\b")


# --- 1. lists -----------------------------------------------------------------------------------
@dataclass
class _Reading:
    sentence: Scored
    items: list[str]
    by_role: bool  # the items hold the asked role of a clause with the anchors in place
    enumerates: bool  # the items come as "A, B and C"


class ListAnswer:
    def answer(self, shape: QuestionShape, evidence: Evidence) -> Answer | None:
        if shape.form is not Form.LIST:
            return None
        config = evidence.config
        floor = max(config.abstain_lexical, config.list_ratio * evidence.best.relevance)
        relevant = [s for s in evidence.ranked if s.relevance >= floor][: config.list_sentences]
        excluded = _excluded(shape, outlet_words=set())  # a list item may name an outlet
        evidence.parse(relevant)  # one batch: faster than one sentence at a time
        readings = [_list_reading(shape, s, evidence.doc(s), excluded) for s in relevant]
        listing = [r for r in readings if r.items and r.by_role]
        if listing:
            listing += _more_holders(shape, evidence, relevant, excluded)
        listing = listing or [r for r in readings if r.items and r.enumerates]
        if not listing and not any(r.enumerates for r in readings):
            listing = [r for r in readings[: config.max_sentences] if r.items]
        if not listing:
            if shape.another:
                kind = next(iter(shape.kind_words), "one")
                return evidence.abstain(f"The articles found name no other {kind}.")
            return None
        citations = evidence.cite([r.sentence for r in listing])
        # One item per name across the listing sentences, citing each sentence naming it.
        items: dict[str, AnswerItem] = {}
        for citation, reading in zip(citations, listing, strict=True):
            for name in reading.items:
                entry = items.setdefault(_key(name), AnswerItem(text=name))
                if citation.n not in entry.citations:
                    entry.citations.append(citation.n)
        signals = evidence.signals("list", citations, in_role=any(r.by_role for r in listing))
        return evidence.build("list", citations, items=list(items.values()), signals=signals)


def _more_holders(
    shape: QuestionShape, evidence: Evidence, read: list[Scored], excluded: _Excluded
) -> list[_Reading]:
    """Further down the best sentences, those whose items hold the asked role with the
    anchors in place too: "Besides the U.S., Canada … have thrown their support behind
    Guaido" says "recognized" in other words, so it scores below "16 nations … recognized
    Guaido"."""
    further = [s for s in evidence.ranked[: evidence.config.parse_sentences] if s not in read]
    evidence.parse(further)
    readings = (_list_reading(shape, s, evidence.doc(s), excluded) for s in further)
    return [r for r in readings if r.items and r.by_role]


def _list_reading(shape: QuestionShape, item: Scored, doc: Doc, excluded: _Excluded) -> _Reading:
    asked = shape.answer_type
    # Places and organisations must be typed so ("Israel" is no startup); others take any name.
    fit = 1.0 if asked in (AnswerType.PLACE, AnswerType.ORGANISATION, AnswerType.TEAM) else 0.5
    entities = {t.i: ent for ent in doc.ents for t in ent}
    clauses = read_clauses(doc, shape)
    holders = [t for c in clauses if c.anchors_fit for t in c.holders]
    if holders:
        names = [item_text(t, entities) for t in holders if _item_fits(t, entities, shape, fit)]
        usable = [n for n in dict.fromkeys(names) if excluded.allows(n)]
        if usable or (names and (shape.another or shape.excluded)):
            # Holders all excluded ("which other countries …"): the sentence still answers,
            # and says there are no more.
            return _Reading(item, usable, True, True)
    if clauses and all(c.conflict for c in clauses):
        # The sentence carries the predicate for other parties ("… backing for Maduro's
        # government" when Guaido's backers are asked): its names hold another role.
        return _Reading(item, [], False, False)
    found = [
        c
        for c in candidates(doc, shape)
        if type_fit(c.label, asked) > 0
        and c.label != KIND_LABEL
        and not (asked is AnswerType.ORGANISATION and c.label in lexicon.PLACE_LABELS)
        and excluded.allows(c.text)
    ]
    # A coordinated run with one member of the asked type is of that type throughout ("Snap,
    # Bose, Razer, Epson, Amazon": the model calls Bose a person); alone, a name must fit.
    runs = [r for r in _coordinated(doc, found) if any(type_fit(c.label, asked) >= fit for c in r)]
    alone = [c for c in found if type_fit(c.label, asked) >= fit]
    chosen = [c for run in runs for c in run] if runs else alone
    names = list(dict.fromkeys(c.text for c in chosen))
    return _Reading(item, names, False, bool(runs))


def _item_fits(token: Token, entities: dict[int, Span], shape: QuestionShape, fit: float) -> bool:
    if token.i in entities:
        return type_fit(entities[token.i].label_, shape.answer_type) >= fit or (
            shape.answer_type is AnswerType.PLACE and entities[token.i].label_ == "NORP"
        )
    if token.pos_ == "PROPN":
        return type_fit("PROPN", shape.answer_type) > 0
    # "many countries in Europe", "16 nations", "much of Latin America"
    if shape.kind and stem_of(token.lemma_) in (stem_of(shape.kind), "nation", "countri"):
        return True
    return token.lower_ in ("much", "many", "most") and any(c.i in entities for c in token.subtree)


def _coordinated(doc: Doc, found: list[Candidate]) -> list[list[Candidate]]:
    """Runs of ≥2 candidates joined by conjunction: "Russia, China … and Turkey"."""
    by_root = {c.root: c for c in found}
    runs: list[list[Candidate]] = []
    for candidate in found:
        token = doc[candidate.root]
        if token.dep_ == "conj" and token.head.i in by_root:
            continue  # not the first of its run
        run, stack = [candidate], [token]
        while stack:
            for child in stack.pop().children:
                if child.dep_ in ("conj", "appos") and child.i in by_root:
                    run.append(by_root[child.i])
                    stack.append(child)
        if len(run) >= 2:
            runs.append(sorted(run, key=lambda c: c.start))
    return runs


# --- 2. names -----------------------------------------------------------------------------------
@dataclass
class _Name:
    text: str
    fit: float = 0.0
    score: float = 0.0
    role_score: float = 0.0  # best score of a sentence where it holds the asked role
    role_sentence: Scored | None = None
    sentences: list[Scored] = field(default_factory=list)
    labels: Counter[str] = field(default_factory=Counter)  # entity labels of its mentions
    read_in_full: bool = False  # a mention of more than one word was read
    surname: str | None = None  # the one word it was read as, when that ends its full name
    margin: float = 0.0  # the winner's score minus the next name's

    def vote_fit(self, asked: AnswerType) -> float:
        """Its type fit by the labels its mentions got, a full name's thrice: the small model
        calls "Altman" a place twice and "Sam Altman" a person once. Untyped runs count only
        when no mention is typed; one word is a person's name only as part of a full name
        (news name people in full: "OpenAI" tagged a person is the company)."""
        typed = self._typed_votes()
        label = max(typed, key=lambda k: typed[k]) if typed else "PROPN"
        return self._label_fit(label, asked)

    def exact_share(self, asked: AnswerType) -> float:
        """The share of its (typed) mentions' votes for exactly the asked type: "Altman" a
        person once and an organisation twice is a third a person."""
        typed = self._typed_votes()
        exact = sum(n for label, n in typed.items() if self._label_fit(label, asked) >= 1.0)
        return exact / sum(typed.values()) if typed else 0.0

    def _typed_votes(self) -> dict[str, int]:
        return {label: n for label, n in self.labels.items() if label != "PROPN"}

    def _label_fit(self, label: str, asked: AnswerType) -> float:
        fit = type_fit(label, asked)
        if label in lexicon.PERSON_LABELS and " " not in self.text.strip():
            fit = min(fit, 0.5)
        return fit


class NameAnswer:
    def answer(self, shape: QuestionShape, evidence: Evidence) -> Answer | None:
        if shape.form is not Form.NAME or shape.answer_type not in NAME_TYPES:
            return None
        winner = best_name(shape, evidence)
        if winner is None:
            return None
        together = _held_together(shape, evidence, winner) or _joint_subjects(
            shape, evidence, winner
        )
        if together is not None:
            return together
        # One sentence naming the answer (in the best sentence's passage if one does: that
        # passage answers), then the best sentences; two at most.
        home = evidence.chosen[0].passage_index
        at_home = [s for s in winner.sentences if s.passage_index == home][:1]
        first = [winner.role_sentence] if winner.role_sentence else at_home or winner.sentences[:1]
        citations = evidence.cite([*first, *(s for s in evidence.chosen if s not in first)][:2])
        naming = [c for c in citations if winner.text in c.quote] or citations[:1]
        lead = Lead(text=winner.text, citations=[c.n for c in naming])
        signals = evidence.signals(
            "name",
            citations,
            in_role=winner.role_score > 0,
            name_fit=winner.fit,
            name_exact=winner.exact_share(shape.answer_type),
            name_margin=winner.margin,
            name_sentences=len(winner.sentences),
        )
        return evidence.build("name", citations, lead, signals=signals)


def _held_together(shape: QuestionShape, evidence: Evidence, winner: _Name) -> Answer | None:
    """ "Who backs Maduro?" over "Russia, China, Iran, Syria, Cuba and Turkey have voiced their
    backing for Maduro's government": the winner holds the asked role with others in one
    clause, so the answer is all of them, as a list."""
    item = winner.role_sentence
    if item is None or shape.long:
        return None
    reading = _list_reading(shape, item, evidence.doc(item), _excluded(shape, set()))
    keys = [_key(name) for name in reading.items]
    if not reading.by_role or len(keys) < 2 or not any(k in _key(winner.text) for k in keys):
        return None
    citations = evidence.cite([item])
    items = [AnswerItem(text=name, citations=[1]) for name in reading.items]
    signals = evidence.signals("list", citations, in_role=True)
    return evidence.build("list", citations, items=items, signals=signals)


def _joint_subjects(shape: QuestionShape, evidence: Evidence, winner: _Name) -> Answer | None:
    """ "Who won the 2023 Nobel Prize in chemistry?" over "Moungi Bawendi, Louis Brus and
    Alexei Ekimov have split the 2023 Nobel prize": the name is one of several subjects of
    its sentence's verb, each of the asked type, so the answer is all of them."""
    if shape.long or shape.asked_role != "subject" or not winner.sentences or winner.fit < 1.0:
        return None
    item = winner.sentences[0]
    doc = evidence.doc(item)
    entities = {t.i: ent for ent in doc.ents for t in ent}
    excluded = _excluded(shape, set())
    for token in doc:
        if token.dep_ not in ("nsubj", "nsubjpass") or _key(token.text) not in _key(winner.text):
            continue
        subjects = clause_roles(token.head)[0]
        names = [
            item_text(t, entities)
            for t in subjects
            if t.i in entities and type_fit(entities[t.i].label_, shape.answer_type) >= 1.0
        ]
        names = [n for n in dict.fromkeys(names) if excluded.allows(n)]
        if len(names) >= 2 and any(_key(winner.text) in _key(n) for n in names):
            citations = evidence.cite([item])
            items = [AnswerItem(text=name, citations=[1]) for name in names]
            signals = evidence.signals("list", citations, in_role=False)
            return evidence.build("list", citations, items=items, signals=signals)
    return None


def best_name(shape: QuestionShape, evidence: Evidence) -> _Name | None:
    """The name the best sentences agree on: summed sentence scores (more for a clause's
    subject), repetition across the retrieved articles and titles, a bonus for the exact type
    and a cut for a near one; a name holding the asked role in a sentence close to the best
    outranks names that are only repeated; a name read in another role is not counted there."""
    config = evidence.config
    passages = evidence.passages
    outlets = _outlet_words(passages)
    excluded = _excluded(shape, outlets)
    single_fact = not shape.long and not (set(shape.question_words) & outlets)
    read = config.single_fact_sentences_read if single_fact else config.sentences_read
    floor = config.sentence_floor * evidence.best.score
    reading = [s for s in evidence.ranked[:read] if s.score >= floor]
    # Beyond those, a sentence close to the best may hold the asked role ("16 nations from the
    # Organization of American States recognized Guaido"): its role holders count too. Roles
    # are not read for a long question (see _read_names), so it has none to parse.
    role_floor = config.role_floor * evidence.best.score
    further = (
        [s for s in evidence.ranked[read : config.parse_sentences] if s.score >= role_floor]
        if not shape.long
        else []
    )
    names: dict[str, _Name] = {}
    evidence.parse([*reading, *further])
    for item in [*reading, *further]:
        _read_names(shape, evidence, item, item in further, names, excluded)
    if not names:
        return None
    _expand_short_names(names, passages, excluded.words, evidence.name_words)
    names = _merge_same_names(names)
    _merge_acronyms(names)
    # "Zhao", read for "Who succeeds CZ?", grew into the question's "CZ": Changpeng Zhao
    names = {k: n for k, n in names.items() if not excluded.spelt_in_capitals(n.text)}
    if not names:
        return None
    _type_from_full_mentions(names.values(), evidence)
    w_articles = config.single_fact_w_articles if single_fact else config.w_articles
    for name in names.values():
        name.fit = name.vote_fit(shape.answer_type)
        name.score += w_articles * max(0, len(_articles_naming(name.text, passages)) - 1)
        name.score += config.w_title_name * len(_articles_naming(name.text, passages, True))
        # The exact type's bonus and the near type's cut in proportion to the mentions' votes
        # (all for the asked type: the whole bonus; none: the whole cut).
        exact = name.exact_share(shape.answer_type)
        cut = config.kind_mismatch + (1.0 - config.kind_mismatch) * exact
        name.score = name.score * cut + config.w_kind * exact
    # "Who else will address the meeting?": the sentences that answer it well name everyone
    # who will; no other name there, no name answer.
    found = list(names.values())
    holding = [n for n in found if n.role_score >= role_floor]
    if shape.another:
        answering = [n for n in found if max(s.score for s in n.sentences) >= role_floor]
        holding = [n for n in holding if n in answering] or answering
        if not holding:
            return None
    winner = max(holding or found, key=lambda n: n.score)
    winner.margin = winner.score - max((n.score for n in found if n is not winner), default=0.0)
    if shape.answer_type is AnswerType.PLACE and winner.fit < 1.0:
        return None  # "Which country …" is answered by a place or not by a name at all
    winner.sentences = _naming_sentences(winner.text, evidence.ranked, winner.fit)
    return winner


def _read_names(
    shape: QuestionShape,
    evidence: Evidence,
    item: Scored,
    role_only: bool,
    names: dict[str, _Name],
    excluded: _Excluded,
) -> None:
    """Count the sentence's typed candidates into `names`; with `role_only`, only those
    holding the asked role; never one read in another role."""
    doc = evidence.doc(item)
    for c in candidates(doc, shape, evidence.name_words):
        if type_fit(c.label, shape.answer_type) == 0 or not excluded.allows(c.text):
            continue
        # A long question (several facts, as MultiHop's) asks its predicate of one hop among
        # many: roles read there mislead more than they help (round 13: role reading for long
        # questions off, dev stories +2, test MultiHop strict +6 of 590, stories +1).
        role = None if shape.long else holds_asked_role(doc, shape, c)
        if role is None and not shape.long and described_in_asked_role(doc, shape, c):
            role = Role.ANCHORED  # a copula question has no predicate: its role is described
        if role is Role.OTHER or (role is None and role_only):
            continue  # it holds the anchor's role here, not the asked one
        name = names.setdefault(_key(c.text), _Name(c.text))
        name.labels[c.label] += _votes(c.text)
        name.read_in_full |= " " in c.text
        if role is not None and item.score > name.role_score:
            name.role_score, name.role_sentence = item.score, item
        if item not in name.sentences:  # Scored compares by identity
            name.sentences.append(item)
            subject = doc[c.root].dep_ in ("nsubj", "nsubjpass")
            name.score += item.score * (1.0 + evidence.config.w_subject * subject)


def _votes(mention: str) -> int:
    """A full name's label counts thrice: the model types a name best where it is in full."""
    return 3 if " " in mention else 1


def _type_from_full_mentions(names: Iterable[_Name], evidence: Evidence) -> None:
    """A surname expanded to its full form ("Bankman-Fried" → "Sam Bankman-Fried") takes the
    labels the model gives the full form where the passages write it: news introduce a person
    in full, then use the surname, which the small model often types as an organisation. A
    first word's expansion ("Venezuelan" → "Venezuelan Observatory") is a guess: left alone."""
    for name in names:
        if name.read_in_full or name.surname is None:
            continue
        written = re.compile(rf"\b{re.escape(name.text)}\b")
        in_full = [s for s in evidence.ranked if written.search(s.sentence.text)]
        for doc in evidence.parse(in_full[: evidence.config.full_name_sentences]):
            for ent in doc.ents:
                if ent.text == name.text or ent.text.endswith(f" {name.text}"):
                    name.labels[ent.label_] += _votes(ent.text)


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", name.lower()).strip()


def _absorb(target: _Name, source: _Name) -> None:
    """`source` is another form of `target`'s name: its sentences, score and role count."""
    target.labels.update(source.labels)
    target.read_in_full |= source.read_in_full
    if source.role_score > target.role_score:
        target.role_score, target.role_sentence = source.role_score, source.role_sentence
    for item in source.sentences:
        if item not in target.sentences:
            target.sentences.append(item)
            target.score += item.score


def _merge_same_names(names: dict[str, _Name]) -> dict[str, _Name]:
    """After short names took the passages' full form ("Sam" and "Altman" both became "Sam
    Altman"), the forms of one name are one candidate."""
    merged: dict[str, _Name] = {}
    for name in names.values():
        first = merged.setdefault(_key(name.text), name)
        if first is not name:
            _absorb(first, name)
    return merged


def _merge_acronyms(names: dict[str, _Name]) -> None:
    """ "SBF" and "Sam Bankman-Fried", "CZ" and "Changpeng Zhao" are one: an all-capitals
    name joins the one other name whose words (and hyphenated parts) it spells."""
    for key, name in list(names.items()):
        letters = name.text
        if not (2 <= len(letters) <= 5 and letters.isalpha() and letters.isupper()):
            continue
        spelt = [n for k, n in names.items() if k != key and _initials(n.text) == letters]
        if len(spelt) == 1:
            _absorb(spelt[0], names.pop(key))


def _initials(name: str) -> str:
    return "".join(w[0] for w in re.split(r"[\s-]+", name) if w[:1].isupper())


def _expand_short_names(
    names: dict[str, _Name],
    passages: list[Passage],
    excluded: frozenset[str],
    name_words: frozenset[str],
) -> None:
    """A one-word name ("Altman", "Fed") becomes the longer name the passages use for it
    ("Sam Altman", "Federal Reserve"), which a reader expects."""
    # Headlines too: a story's chunks past the first often name a person by surname only
    # ("Swift", "Kelce") while the headline gives the full name ("Taylor Swift reveals …").
    titles = dict.fromkeys(p.title for p in passages)
    text = "\n".join([*titles, *(p.text for p in passages)])
    read = {_key(n.text) for n in names.values()}
    for name in names.values():
        short = name.text
        if " " in short or not _ONE_WORD_NAME.fullmatch(short):
            continue
        # A clipped word grows into its full form ("Fed": "Federal Reserve"); a whole name
        # does not ("Russia" is not the "Russian Federation Council", nor "Israel" the
        # "Israeli Defense Forces").
        grown = r"\w*" if len(short) <= _CLIPPED_LETTERS else ""
        pattern = re.compile(  # within a line: a heading above is not the name
            rf"\b((?:[A-Z][a-z][\w’'\-]* +){{1,2}}{re.escape(short)}|{re.escape(short)}{grown}"
            rf"(?: +[A-Z][a-z][\w’'\-]*){{1,2}})\b"
        )
        found = (
            _full_form(m.group(1).split(), short, name_words, excluded)
            for m in pattern.finditer(text)
        )
        counts = Counter(full for full in found if full is not None)
        alone = len(re.findall(rf"\b{re.escape(short)}\b(?!['’]?\s+[A-Z])", text))
        ending = {n: c for n, c in counts.items() if n.split()[-1] == short}
        # A first name ("Taylor") takes its surname when used more often alone than with it
        # only if the surname is a name the sentences read too ("Swift").
        starting = {
            n: c
            for n, c in counts.items()
            if n.split()[0] != short or c >= alone or _key(n.split(maxsplit=1)[-1]) in read
        }
        pick = ending or {n: c for n, c in starting.items() if n.split()[-1] != short}
        if pick:
            name.text = max(pick, key=lambda n: (pick[n], len(n)))
            name.surname = short if name.text.endswith(f" {short}") else None


_CLIPPED_LETTERS = 3  # "Fed", "Gov": a name this short may be the start of a longer word

# One word of letters, or of letter runs joined by a hyphen or an apostrophe: a surname such as
# "Bankman-Fried" or "O'Rourke" is expanded to the full name as "Altman" is.
_ONE_WORD_NAME = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")


def _full_form(
    parts: list[str], short: str, name_words: frozenset[str], excluded: frozenset[str]
) -> str | None:
    """The name that capitalised words around `short` make: what follows an owner ("New
    Zealand’s All Blacks" is All Blacks), without leading words no name starts with ("Singer
    Taylor Swift", "Current Fed", "The Fed"); None if `short` stays alone or a word is
    excluded, a title or a day."""
    if not parts[0].startswith(short):
        owners = [i for i, part in enumerate(parts[:-1]) if part.endswith(("’s", "'s", "’"))]
        parts = parts[owners[-1] + 1 :] if owners else parts
        # the name words right before `short`: "Wullaert Fires Belgium" (a title-case
        # headline) does not make Belgium a longer name
        cut = [i + 1 for i, part in enumerate(parts[:-1]) if _starts_no_name(part, name_words)]
        parts = parts[cut[-1] :] if cut else parts
    else:
        while parts and parts[0] != short and _starts_no_name(parts[0], name_words):
            parts.pop(0)
        ends = [i for i, part in enumerate(parts) if i and part not in name_words]
        parts = parts[: ends[0]] if ends else parts
    tokens = set(words(" ".join(parts)))
    if len(parts) < 2 or tokens & (excluded | lexicon.TITLE_WORDS | lexicon.CALENDAR_WORDS):
        return None
    return " ".join(parts)


def _starts_no_name(word: str, name_words: frozenset[str]) -> bool:
    """An article, a title, a word capitalised only where a sentence starts, or a stopword
    the passages do not capitalise mid-sentence ("Since Spears"; not "the All Blacks")."""
    lower = word.lower()
    return lower in ("the", "a", "an") or lower in lexicon.TITLE_WORDS or word not in name_words


def _articles_naming(name: str, passages: list[Passage], in_title: bool = False) -> set[str]:
    pattern = re.compile(rf"\b{re.escape(name)}\b")
    return {p.article_id for p in passages if pattern.search(p.title if in_title else p.text)}


def _naming_sentences(name: str, order: list[Scored], fit: float) -> list[Scored]:
    """Every ranked sentence that says the name, or a person's last name."""
    forms = {name, name.split()[-1]} if len(name.split()) > 1 and fit else {name}
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(f) for f in forms) + r")\b")
    return [item for item in order if pattern.search(item.sentence.text)]


# --- 3. dates and 5. figures ---------------------------------------------------------------------
# Cheap filters before parsing: a sentence with no digit, month, weekday or day word holds no
# date; one with no digit or number word holds no figure.
_MAY_HOLD_A_DATE = re.compile(
    r"\d|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun|"
    r"today|tonight|yesterday|tomorrow)",
    re.I,
)
_MAY_HOLD_A_FIGURE = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozens?|hundreds?|"
    r"thousands?|millions?|billions?)\b",
    re.I,
)


def _pool(evidence: Evidence, items: list[Scored], may_hold: re.Pattern[str]) -> list[Scored]:
    """The sentences that may hold a date (figure), the first few parsed in one batch."""
    pool = list(dict.fromkeys(s for s in items if may_hold.search(s.sentence.text)))
    evidence.parse(pool[: evidence.config.parse_sentences])
    return pool


class DateAnswer:
    def answer(self, shape: QuestionShape, evidence: Evidence) -> Answer | None:
        if shape.form is not Form.DATE:
            return None
        first, further = evidence.close_and_further()
        dated = (
            (item, found, told)
            for item in _pool(evidence, [*first, *further], _MAY_HOLD_A_DATE)
            for found, told in self._dates_in(shape, evidence, item, item in further)
        )
        best = None
        for item, found, told in dated:
            # The first date; a year alone ("in 2017") gives way to a day or month that a
            # sentence telling of the asked event gives (not "spoke to fans on March 3").
            if best is None or (best[1].year_only and not found.year_only and told):
                best = (item, found)
            if not best[1].year_only:
                break
        if best is not None:
            item, found = best
            text, note = describe(found, evidence.published(item))
            lead = Lead(text=text, note=note, citations=[1])
            return evidence.build("date", evidence.cite(evidence.led_by(item)), lead)
        if not shape.predicate_stems or any(
            predicate_clauses(evidence.doc(s), shape) for s in evidence.chosen
        ):
            return None  # the best sentences tell of the asked event undated: quote them
        return evidence.abstain("The articles don't say: no passage found tells when.")

    @staticmethod
    def _dates_in(
        shape: QuestionShape, evidence: Evidence, item: Scored, written_only: bool
    ) -> Iterator[tuple[DateReading, bool]]:
        """The sentence's dates, each with whether the sentence tells of the asked event."""
        doc = evidence.doc(item)
        clauses = read_clauses(doc, shape)
        if clauses and all(c.conflict for c in clauses):
            # "At an emergency meeting Thursday, 16 nations … recognized Guaido" for "When did
            # the US recognize Guaido?": the sentence dates the event for another party
            return
        # A sentence that does not carry the asked predicate may give a written-out date ("On
        # Wednesday 6 December, Time announced …"), not a bare "today" (another event's day).
        written_only = written_only or bool(shape.predicate_stems and not clauses)
        verbs = {c.verb for c in clauses}
        told = bool(clauses) or not shape.predicate_stems
        for date in (e for e in doc.ents if e.label_ == "DATE"):
            found = read_date(date.text, doc.text, evidence.published(item))
            if found is None or (written_only and not found.written):
                continue
            if found.year_only and not _dates_the_clause(date, verbs, shape):
                continue  # "first new model since 2020", "its 2023 Person of the Year"
            if not _in_question(shape, date.text):
                yield found, told


def _dates_the_clause(year: Span, verbs: set[Token], shape: QuestionShape) -> bool:
    """A year dates the asked event when it is said of the clause carrying the predicate
    ("became chairman in 2004"), not of a noun ("Time's 2023 Person of the Year")."""
    adverbial = year.root.dep_ in ("pobj", "npadvmod") or year.root.head.pos_ in ("VERB", "AUX")
    return adverbial and (not shape.predicate_stems or _clause_verb(year) in verbs)


def _clause_verb(span: Span) -> Token | None:
    """The verb of the clause a span belongs to (not of a clause around that one: "Apple,
    which Jobs started in 1976, released …" dates the starting)."""
    return next((t for t in span.root.ancestors if t.pos_ in ("VERB", "AUX")), None)


_AGE = re.compile(
    r"(?:\baged?\s+(?:of\s+)?(?P<a>\d{1,3})\b|\b(?P<b>\d{1,3})(?:-year-old|\s+years?\s+old)\b"
    r"|,\s+(?P<c>\d{1,3}),)",
    re.I,
)
_YEAR = re.compile(r"^(?:19|20)\d{2}$")
_SCORE = re.compile(r"(?<![\w–-])(?<!\d[.,])\d{1,3}[-–]\d{1,3}(?![\w–-]|[.,]\d)")
_PERCENTAGE = re.compile(r"%|\bper\s?cent\b|\bpercentage points?\b", re.I)
_DURATION = re.compile(r"\b(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|seasons?)\b")


def figure_in(shape: QuestionShape, doc: Doc) -> str | None:
    """The figure of the asked kind, as the sentence writes it ("about $4.3 billion", "15%",
    "66,000"); a change ("by how much did shares fall") reads a percentage first."""
    if shape.answer_type is AnswerType.SCORE:  # the entity model rarely types "3-1"
        match = _SCORE.search(doc.text)
        return match.group() if match else None
    if shape.answer_type is AnswerType.AGE:
        ages = (m for m in _AGE.finditer(doc.text) if not _age_of_a_thing(doc, m))
        match = next(ages, None)
        return next(g for g in match.groups() if g) if match else None  # "a", "b" or "c"
    for allowed in _figure_labels(shape):
        fitting = [
            ent
            for ent in doc.ents
            if ent.label_ in allowed
            and not _YEAR.match(ent.text)
            and not _in_question(shape, ent.text)
            and _figure_fits(shape, ent)
        ]
        if fitting:
            return _as_written(min(fitting, key=lambda ent: _distance_to_kind(shape, ent)))
    return _count_of(shape, doc) if shape.answer_type is AnswerType.COUNT else None


def _age_of_a_thing(doc: Doc, match: re.Match[str]) -> bool:
    """ "Gellar's 11-year-old son": the age is the son's, a common noun after it; not "the
    29-year-old striker Tessa Wullaert" (a name follows) nor "the 29-year-old said"."""
    span = doc.char_span(match.start(), match.end(), alignment_mode="expand")
    if span is None or span.end >= len(doc):
        return False
    described = span[-1].head if span[-1].head.i >= span.end else doc[span.end]
    while described.dep_ == "compound" and described.head.i > described.i:
        described = described.head
    if described.i + 1 < len(doc) and doc[described.i + 1].text == "-":
        return False  # "the 31-year-old co-founded …": "co" is half a hyphenated verb
    return described.pos_ == "NOUN" and not any(
        t.pos_ == "PROPN" for t in doc[span.end : described.i + 1]
    )


_ATTACHED_UNIT = re.compile(r"[^\W\d_]{1,3}\b")
_ATTACHED_CURRENCY = re.compile(r"(?:\b[A-Z]{1,2})?[$£€¥₹]$")


def _as_written(ent: Span) -> str:
    """The figure with the currency and unit written onto it ("from $20,000", "27m viewers"):
    the entity model's span may stop at the number, and "27" alone is another figure."""
    text = ent.doc.text
    unit = _ATTACHED_UNIT.match(text, ent.end_char)
    currency = _ATTACHED_CURRENCY.search(text, max(0, ent.start_char - 3), ent.start_char)
    return (currency.group() if currency else "") + ent.text + (unit.group() if unit else "")


def _in_question(shape: QuestionShape, figure: str) -> bool:
    """The question gives the figure itself ("the Fifth Third 1.67% Cash/Back Card"): it
    restates the question, as a name made of the question's words does ("20" is not in
    "2023")."""
    return re.search(rf"(?<![\d.,]){re.escape(figure)}(?!\d|[.,]\d)", shape.text) is not None


def _distance_to_kind(shape: QuestionShape, ent: Span) -> tuple[bool, int]:
    """(not said of the asked noun, position): a figure of the clause whose subject is the
    asked noun ("profits climbed 27 per cent to $US22.3 billion" for "What was Microsoft's
    profit?", not the sales figure before it) first, else the sentence's order."""
    kind = stem_of(shape.kind) if shape.kind else None
    verb = next((t for t in ent.root.ancestors if t.pos_ in ("VERB", "AUX")), None)
    said_of = verb is not None and kind is not None and _subject_is(verb, kind)
    return (not said_of, ent.start)


def _subject_is(verb: Token, stem: str) -> bool:
    """The clause's subject is the noun of this stem ("profits climbed …" for "profit")."""
    return any(c.dep_ in ("nsubj", "nsubjpass") and stem_of(c.text) == stem for c in verb.children)


def _count_of(shape: QuestionShape, doc: Doc) -> str | None:
    """ "How many summer routes …": a number the parse hangs on the counted noun ("adds three
    summer routes") where the entity model typed it as no count ("three summer": DATE). Counts
    the model did type were judged above; a number of time units is a duration, not a count."""
    for token in doc:
        if token.dep_ != "nummod" or not token.like_num or token.ent_type_ in lexicon.COUNT_LABELS:
            continue
        noun = token.head
        if shape.counted is None or _DURATION.search(noun.text) or noun.i - token.i > 3:
            continue
        if shape.counted in {stem_of(t.text) for t in doc[token.i + 1 : noun.i + 1]}:
            return doc[token.left_edge.i : token.i + 1].text
    return None


def _figure_labels(shape: QuestionShape) -> list[frozenset[str]]:
    """The entity labels of the asked figure, in the order they are looked for."""
    if shape.answer_type is AnswerType.PERCENT:
        return [lexicon.PERCENT_LABELS]
    if shape.answer_type is AnswerType.DURATION:
        return [frozenset({"DATE", "TIME"})]
    if shape.answer_type is AnswerType.MONEY:
        change = [lexicon.PERCENT_LABELS] if shape.change else []
        return [*change, lexicon.MONEY_LABELS]
    return [lexicon.COUNT_LABELS]


def _figure_fits(shape: QuestionShape, ent: Span) -> bool:
    """A duration counts its units ("six weeks", "a month"; not "Saturday", "last year's");
    "How many people …" needs the people in the figure ("57 megawatts") or within the next
    three words ("66,000 people", "157,000 ultra-directional speakers"; not "two other
    SoftBank-appointed people")."""
    if shape.answer_type is AnswerType.DURATION:
        counted = any(t.like_num or (t.tag_ == "DT" and t.lower_ in ("a", "an")) for t in ent)
        return counted and bool(_DURATION.search(ent.text))
    if _PERCENTAGE.search(ent.text):  # the model calls "5 per cent" money
        return shape.answer_type is AnswerType.PERCENT or shape.change
    if shape.answer_type is AnswerType.COUNT and shape.counted:
        own = re.findall(r"[A-Za-z]+", ent.text)  # "57 megawatts": the unit is in the entity
        after = re.findall(r"[A-Za-z]+", ent.doc.text[ent.end_char :])[:3]
        return shape.counted in {stem_of(w) for w in [*own, *after]}
    return True


def _about_another(shape: QuestionShape, doc: Doc, item: Scored) -> bool:
    """The sentence names other parties, none the question names ("Uber reported net income
    of $221 million" for Hapag-Lloyd's profit). Neither label need match: the small model
    types a name it sees once loosely (Temu a person) or not at all (Uber, a proper noun)."""
    named = [a for a in shape.anchors if a.is_name]
    names_another = any(e.label_ in lexicon.NAME_LABELS for e in doc.ents) or any(
        t.pos_ == "PROPN" for t in doc
    )
    return names_another and bool(named) and not any(a.stems & item.stems for a in named)


class FigureAnswer:
    def answer(self, shape: QuestionShape, evidence: Evidence) -> Answer | None:
        if shape.form is not Form.FIGURE or shape.answer_type not in FIGURE_TYPES:
            return None

        def figure(item: Scored) -> str | None:
            doc = evidence.doc(item)
            return None if _about_another(shape, doc, item) else figure_in(shape, doc)

        first, further = evidence.close_and_further()
        for item in _pool(evidence, [*first, *further], _MAY_HOLD_A_FIGURE):
            found = figure(item)
            if found is not None:
                lead = Lead(text=found, citations=[1])
                return evidence.build("figure", evidence.cite(evidence.led_by(item)), lead)
        top = evidence.ranked[: evidence.config.figure_sentences]
        if any(figure(s) for s in _pool(evidence, top, _MAY_HOLD_A_FIGURE)):
            return None  # a figure further down: quote the best sentences instead
        return evidence.abstain("The articles don't say: no passage found gives that figure.")


class MeasureAnswer:
    """ "What was the 10-year Treasury yield on September 26, 2023?": a figure of any unit
    that the best sentences give of the asked noun ("4.55 per cent"); without one, the best
    sentences are quoted (the noun may be no measure at all: "What was Apple's response?")."""

    def answer(self, shape: QuestionShape, evidence: Evidence) -> Answer | None:
        if shape.measure is None:
            return None
        measure = stem_of(shape.measure)
        for item in _pool(evidence, evidence.chosen, _MAY_HOLD_A_FIGURE):
            doc = evidence.doc(item)
            figure = next((_as_written(e) for e in doc.ents if _gives(e, measure)), None)
            if figure is not None:
                lead = Lead(text=figure, citations=[1])
                return evidence.build("figure", evidence.cite(evidence.led_by(item)), lead)
        return self._named_thing(shape, shape.measure, evidence)

    @staticmethod
    def _named_thing(shape: QuestionShape, noun: str, evidence: Evidence) -> Answer | None:
        """No figure: the noun may name a thing ("What is Google's new flagship AI model?"),
        answered by what a best sentence calls that ("Gemini, its new flagship … model")."""
        excluded = _excluded(shape, set())
        evidence.parse(evidence.chosen)
        for item in evidence.chosen:
            doc = evidence.doc(item)
            found = kind_phrases(doc, noun)
            named = next((c for c in found if _names(doc, c) and excluded.allows(c.text)), None)
            if named is not None:
                lead = Lead(text=named.text, citations=[1])
                return evidence.build("name", evidence.cite(evidence.led_by(item)), lead)
        return None


def _names(doc: Doc, candidate: Candidate) -> bool:
    """The phrase holds a name ("Gemini", "CBD-infused tampon"; not "no easy feat")."""
    span = doc.char_span(candidate.start, candidate.end, alignment_mode="expand")
    return span is not None and any(
        t.pos_ == "PROPN" or t.ent_type_ or (t.is_upper and len(t) > 1) for t in span
    )


_MEASURE_LABELS = lexicon.MONEY_LABELS | lexicon.PERCENT_LABELS | lexicon.COUNT_LABELS


def _gives(ent: Span, measure: str) -> bool:
    """The figure hangs under the noun ("a gross margin of 17.9%") or is said of it, its
    verb's subject ("the yield edged up to 4.55 per cent", "the margin was 18.2%")."""
    if ent.label_ not in _MEASURE_LABELS or _YEAR.match(ent.text):
        return False
    for token in itertools.islice(ent.root.ancestors, 3):
        if stem_of(token.text) == measure:
            return True
        if token.pos_ in ("VERB", "AUX"):
            return _subject_is(token, measure)
    return False


# --- 4. descriptions ----------------------------------------------------------------------------
class ContestAnswer:
    """ "Who won the Raiders vs Lions game?": one of the two sides the question names, the one
    a sentence naming both says won (the subject of "beat", the object of "lost to", the
    higher figure of a score line "Notre Dame 48, USC 20"); otherwise the articles don't say.
    Any other name would be wrong: the question has named both candidates."""

    def answer(self, shape: QuestionShape, evidence: Evidence) -> Answer | None:
        if len(shape.sides) != 2:
            return None
        votes: dict[int, float] = {}
        told: dict[int, Scored] = {}
        reading = evidence.ranked[: evidence.config.parse_sentences]
        for item, doc in zip(reading, evidence.parse(reading), strict=True):
            won = _contest_result(doc, shape.sides)
            if won is not None:
                votes[won] = votes.get(won, 0.0) + item.score
                told.setdefault(won, item)
        asked_loser = shape.predicate in lexicon.LOSING_VERBS
        verb = "lost" if asked_loser else "won"
        if not votes:
            a, b = shape.sides
            return evidence.abstain(
                f"The articles don't say who {verb} between {a} and {b}: no passage found gives "
                "the result."
            )
        winner = max(votes, key=votes.__getitem__)
        answer_side = 1 - winner if asked_loser else winner
        item = told[winner]
        side = shape.sides[answer_side]
        citations = evidence.cite([item])
        lead = Lead(text=_side_as_written(side, item.sentence.text) or side, citations=[1])
        signals = evidence.signals("name", citations, in_role=True, name_fit=1.0)
        return evidence.build("name", citations, lead, signals=signals)


def _contest_result(doc: Doc, sides: tuple[str, ...]) -> int | None:
    """Which side the sentence says won, if it names both: the one that beat the other (or
    that the other lost to), else the higher final figure of a score line."""
    if not all(_side_as_written(side, doc.text) for side in sides):
        return None
    for verb in doc:
        lemma = verb.lemma_.lower()
        if verb.pos_ != "VERB" or lemma not in lexicon.CONTEST_VERBS:
            continue
        if not _told_as_fact(verb):
            continue
        subjects, objects = clause_roles(verb)
        # "won 24-18 over the Bills", "lost a nail-biter to Oklahoma"
        if lemma in lexicon.WINNING_VERBS:
            winners, losers = subjects, objects + prep_objects(verb, ("over", "against"))
        else:
            winners, losers = objects + prep_objects(verb, ("to",)), subjects
        won = [i for i, side in enumerate(sides) if _side_among(winners, side)]
        lost = [i for i, side in enumerate(sides) if _side_among(losers, side)]
        if len(won) == 1 and lost == [1 - won[0]]:
            return won[0]
    first, second = (_score_after(doc.text, side) for side in sides)
    if first is None or second is None or first == second:
        return None
    return 0 if first > second else 1


def _told_as_fact(verb: Token) -> bool:
    """Not negated, hoped for, tried or supposed: "haven't beaten", "can beat", "hope to
    beat", "failed to beat", "if the Bengals beat the Bills"."""
    if verb.dep_ == "xcomp":
        return False
    return not any(
        c.dep_ == "neg" or c.tag_ == "MD" or (c.dep_ == "mark" and c.lower_ in ("if", "unless"))
        for c in verb.children
    )


def _side_as_written(side: str, text: str) -> str | None:
    """The longest end of the side's name the text says ("Chiefs" of "Super Bowl LVII
    Chiefs"), matched as whole words, as written ("Djoković")."""
    parts = side.split()
    for start in range(len(parts)):
        name = " ".join(parts[start:])
        if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text):
            return name
    return None


def _side_among(tokens: list[Token], side: str) -> bool:
    """Whether one of the phrases names the side: all its words ("the Las Vegas Raiders" for
    "Raiders") or only names of it ("Joshua" for "Anthony Joshua"; not "Jake Paul" for
    "Logan Paul")."""
    wanted = set(stems(side))
    for token in tokens:
        phrase = list(token.subtree)
        said = set(stems(" ".join(t.text for t in phrase)))
        named = set(stems(" ".join(t.text for t in phrase if t.pos_ == "PROPN")))
        if wanted <= said or (named and named <= wanted):
            return True
    return False


def _score_after(text: str, side: str) -> int | None:
    """The figure after the side's name in a score line ("Notre Dame 48, USC 20"); of a box
    score's row ("Raiders 0 7 7 0 14"), the last: the final. Not a record ("Raiders 3-5")."""
    name = _side_as_written(side, text)
    if name is None:
        return None
    found = re.search(rf"(?<!\w){re.escape(name)}((?:\s+\d{{1,3}})+)\b(?![.,:\-–]\d)", text)
    return int(found.group(1).split()[-1]) if found else None


class DescriptionAnswer:
    def answer(self, shape: QuestionShape, evidence: Evidence) -> Answer | None:
        name = shape.subject_name
        if shape.form is not Form.DESCRIPTION or name is None:
            return None
        last = re.compile(rf"\b{re.escape(name.split()[-1])}\b")
        pool = [*evidence.chosen, *evidence.ranked]
        pool = [s for s in dict.fromkeys(pool) if last.search(s.sentence.text)]
        pool = pool[: evidence.config.parse_sentences]
        found = [(s, d) for s in pool for d in descriptions_of(evidence.doc(s), name)]
        if not found:
            return None
        sentence, description = found[0]
        citations = evidence.cite(evidence.led_by(sentence))
        lead = Lead(text=description.text, subject=name, citations=[1])
        return evidence.build("description", citations, lead)


# --- 6. sentences -------------------------------------------------------------------------------
class SentenceAnswer:
    def answer(self, shape: QuestionShape, evidence: Evidence) -> Answer | None:
        chosen = evidence.chosen
        own = self._own_words(shape, evidence)
        if own:
            others = [s for s in chosen if s not in own]
            # The best sentence stays first unless the question asks of the speaker alone.
            topic = set(shape.terms) - {stem_of(w) for w in lexicon.FRAME_WORDS}
            if topic <= {stem_of(w) for w in words(shape.actor or "")} or own[0] is chosen[0]:
                chosen = [*own, *others]
            else:
                chosen = [chosen[0], *own, *others[1:]]
            chosen = chosen[: evidence.config.max_sentences]
        return evidence.build("sentences", evidence.cite(chosen))

    @staticmethod
    def _own_words(shape: QuestionShape, evidence: Evidence) -> list[Scored]:
        """For "What did Healy say …?": the first chosen sentence that quotes Healy, else the
        best of the lead's article that does; with the next sentence when it goes on with
        the quotation (it opens with a quotation mark and names no speaker of its own)."""
        if shape.actor is None or not shape.asks_for_words:
            return []
        article = evidence.passages[evidence.chosen[0].passage_index].article_id
        said = re.compile(rf"\b{re.escape(shape.actor.split()[-1])}\b")
        following = _following(evidence.ranked)
        after_naming = {following[s] for s in following if said.search(s.sentence.text)}
        same = [
            s
            for s in evidence.ranked
            if evidence.passages[s.passage_index].article_id == article
            and (said.search(s.sentence.text) or s in after_naming)
            and any(mark in s.sentence.text for mark in _QUOTE_MARKS)
        ][: evidence.config.parse_sentences]
        for item in dict.fromkeys([*evidence.chosen, *same]):
            if quotes(evidence.doc(item), shape.actor, by_pronoun=item in after_naming):
                after = following.get(item)
                if after is not None and _continues_quotation(evidence.doc(after)):
                    return [item, after]
                return [item]
        return []


_QUOTE_MARKS = '“”"'


def _following(sentences: list[Scored]) -> dict[Scored, Scored]:
    """Each sentence's next one in its passage."""
    in_order = sorted(sentences, key=lambda s: (s.passage_index, s.sentence.start))
    return {s: t for s, t in itertools.pairwise(in_order) if s.passage_index == t.passage_index}


def _continues_quotation(doc: Doc) -> bool:
    """ "“I think players should take responsibility …": a sentence that opens a quotation
    and has no speech verb, so the speaker is the one quoted just before."""
    return doc.text.lstrip()[:1] in _QUOTE_MARKS and not any(
        t.lemma_ in lexicon.SPEECH_VERBS and t.pos_ == "VERB" for t in doc
    )


STRATEGIES: tuple[Strategy, ...] = (
    ContestAnswer(),
    ListAnswer(),
    NameAnswer(),
    DateAnswer(),
    DescriptionAnswer(),
    FigureAnswer(),
    MeasureAnswer(),
    SentenceAnswer(),
)
