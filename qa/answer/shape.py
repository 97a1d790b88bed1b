"""`QuestionShape`: what a question asks for, read once from its spaCy parse.

"Which countries recognized Guaido?" -> a LIST of PLACEs, the subject of "recognize", with the
anchor Guaido as its object. Every strategy and the abstention read this shape; nothing
downstream parses the question again.

The small English model parses news sentences well and questions less well ("countries" in
"which countries back Guaido" may come out a verb), so the wh-phrase is read from positions
(the words after the wh-word up to the verb) and the parse supplies roles where it is sure.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from qa.answer import lexicon
from qa.answer.config import AnswerConfig
from qa.answer.terms import role_keys, stem_of, stems, synonyms, words
from qa.answer.when import parse_day

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token


class AnswerType(StrEnum):
    PERSON = "person"
    ORGANISATION = "organisation"
    TEAM = "team"  # an organisation or a place's name: "Milwaukee" beat "the Tigers"
    PLACE = "place"
    GROUP = "group"
    WORK = "work"
    THING = "thing"  # a typed common noun NER does not cover: "which antibiotic"
    NAME = "name"  # a name of any kind ("which X" with an unknown X)
    DATE = "date"
    MONEY = "money"
    PERCENT = "percent"
    COUNT = "count"
    AGE = "age"
    DURATION = "duration"  # "how long": "six weeks", not "No. 3"
    SCORE = "score"  # "by what score …", "what was the Bears' record …": "3-1", "3-7"
    DESCRIPTION = "description"  # "Who is Juan Guaido?"
    SENTENCE = "sentence"  # how / why / what did X say


class Form(StrEnum):
    NAME = "name"
    LIST = "list"
    DATE = "date"
    FIGURE = "figure"
    DESCRIPTION = "description"
    SENTENCE = "sentence"


NAME_TYPES = frozenset(
    AnswerType(t)
    for t in ("person", "organisation", "team", "place", "group", "work", "thing", "name")
)
FIGURE_TYPES = frozenset(
    AnswerType(t) for t in ("money", "percent", "count", "age", "duration", "score")
)


@dataclass(frozen=True)
class Anchor:
    """A thing the question is about, and its role relative to the asked predicate."""

    text: str  # "Guaido", "the US"
    stems: frozenset[str]
    role: str  # subject | object | possessor | attribute | <preposition> | other
    is_name: bool
    label: str = ""  # its entity label when spaCy typed it ("PERSON", "ORG")


@dataclass(frozen=True)
class QuestionShape:
    text: str
    wh: str  # who | which | what | when | where | why | how | how much | how many | … | ""
    answer_type: AnswerType
    form: Form
    kind: str | None = None  # the wh-phrase's head noun, singular: "country", "antibiotic"
    kind_words: frozenset[str] = frozenset()  # ... as written, lower case: {"countries"}
    predicate: str | None = None  # lemma of the asked verb: "recognize" (None for "be")
    predicate_stems: frozenset[str] = frozenset()  # its stem and synonyms
    asked_role: str = "subject"  # the wh-phrase's role: subject | object | attribute
    anchors: tuple[Anchor, ...] = ()
    as_of: date | None = None  # "as of November 17, 2023"
    excluded: tuple[str, ...] = ()  # names to leave out: "besides the US", "(not Pompeo)"
    another: bool = False  # "who else", "which other countries"
    count: int | None = None  # "which two startups"
    attribute: str | None = None  # stem of the thing asked of someone: "Ohtani's wife"
    attribute_text: str = ""  # "Shohei Ohtani's wife"
    subject_name: str | None = None  # "Who is Juan Guaido?" -> "Juan Guaido"
    actor: str | None = None  # "How did Maduro respond?" -> "Maduro"
    asks_for_words: bool = False  # what did X say / how did X react
    change: bool = False  # "by how much did the shares fall": a change, a percentage first
    counted: str | None = None  # "how many people": stem of "people"
    measure: str | None = None  # "What was the 10-year Treasury yield …?": "yield"
    roles: frozenset[str] = frozenset()  # role words asked of: "chief executive" -> {"ceo"}
    # "Who won the Raiders vs Lions game?": the two sides of the contest asked of, one of
    # which is the answer
    sides: tuple[str, ...] = ()
    # --- for sentence relevance ---
    terms: tuple[str, ...] = ()
    pairs: frozenset[tuple[str, str]] = frozenset()
    plain_terms: frozenset[str] = frozenset()
    name_terms: frozenset[str] = frozenset()
    long: bool = False
    question_words: frozenset[str] = field(default_factory=frozenset)


_WH_TAGS = frozenset({"WDT", "WP", "WP$", "WRB"})
_HOW = {
    "much": AnswerType.MONEY,
    "old": AnswerType.AGE,
    "long": AnswerType.DURATION,
    **dict.fromkeys(("many", "far", "big", "large", "tall", "high"), AnswerType.COUNT),
}
_NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
_EXCLUSION_SUFFIX = re.compile(r"\s*\(not ([^()]*)\)\s*$")
_OTHER_THAN = re.compile(
    r"\b(?i:besides|except(?: for)?|apart from|other than|aside from)\s+((?:the\s+)?"
    r"[A-Z][\w.&'’\-]*(?:\s+[A-Z][\w.&'’\-]*)*)"
)


# A condensed follow-up ends with the names it leans on, after its question mark ("How old is
# he? (Julian Nagelsmann, Germany)", qa.conversation). They found the passages; the answer
# parses the question and weighs its terms without them (as anchors they made a figure "about"
# them a condition of the answer), and, as words of the question, they cannot be the answer.
_CONTEXT_SUFFIX = re.compile(r"(?<=\?)\s*\((?!not )([^()]*)\)\s*$")


def without_condensed_suffix(question: str) -> str:
    """The question without what a condensed follow-up appended: "(not …)" or its context."""
    return _CONTEXT_SUFFIX.sub("", _EXCLUSION_SUFFIX.sub("", question))


def with_exclusion(question: str, names: list[str]) -> str:
    """ "Who else will address the meeting? (not Mike Pompeo)": how a condensed follow-up names
    the answers already given (excluded from the answer, not scored)."""
    return f"{question.strip()} (not {', '.join(names)})"


def singular(noun: str) -> str:
    noun = noun.lower()
    if noun in ("people", "media", "staff", "police"):
        return {"people": "person"}.get(noun, noun)
    if noun.endswith("ies") and len(noun) > 4:
        return noun[:-3] + "y"
    if noun.endswith("ses") and not noun.endswith("sses"):
        return noun[:-1]
    if noun.endswith("s") and not noun.endswith(("ss", "us", "is")):
        return noun[:-1]
    return noun


def is_plural(token: Token) -> bool:
    text = token.text.lower()
    return token.tag_ in ("NNS", "NNPS") or (singular(text) != text and text != "news")


_NOUN_TYPES = {
    noun: kind
    for nouns, kind in (
        (lexicon.WORK_NOUNS, AnswerType.WORK),
        (lexicon.PERCENT_NOUNS, AnswerType.PERCENT),
        (lexicon.SCORE_NOUNS, AnswerType.SCORE),
        (lexicon.MONEY_NOUNS, AnswerType.MONEY),
        (lexicon.DATE_NOUNS, AnswerType.DATE),
        (lexicon.GROUP_NOUNS, AnswerType.GROUP),
        (lexicon.PLACE_NOUNS, AnswerType.PLACE),
        (lexicon.ORGANISATION_NOUNS, AnswerType.ORGANISATION),
        (lexicon.TEAM_NOUNS, AnswerType.TEAM),
        (lexicon.PERSON_NOUNS, AnswerType.PERSON),
    )
    for noun in nouns
}


def type_of_noun(noun: str) -> AnswerType | None:
    """The answer type a noun asks for, as written or singular ("sales" is money; "sale" is
    not listed)."""
    noun = noun.lower()
    return _NOUN_TYPES.get(noun) or _NOUN_TYPES.get(singular(noun))


@dataclass(frozen=True)
class _Asked:
    """What the wh-phrase asks for: the answer's type and form, the kind noun, a count."""

    wh: str
    answer_type: AnswerType = AnswerType.SENTENCE
    form: Form = Form.SENTENCE
    kind: Token | None = None
    count: int | None = None
    counted: str | None = None  # "how many people": the stem of what is counted


def analyse(question: str, doc: Doc, config: AnswerConfig | None = None) -> QuestionShape:
    """The shape of `question`; `doc` is its spaCy parse (of the question without a
    condensed "(not …)" suffix)."""
    config = config or AnswerConfig()
    tokens = [t for t in doc if not t.is_punct]
    wh_index = _wh_index(tokens)
    wh_token = tokens[wh_index] if wh_index is not None else None
    rest = tokens[wh_index + 1 :] if wh_index is not None else tokens
    asked = _asked(wh_token.lower_ if wh_token is not None else "", rest, tokens)
    wh, answer_type, form, kind = asked.wh, asked.answer_type, asked.form, asked.kind
    lowered = question.lower()
    if answer_type is AnswerType.MONEY and ("percent" in lowered or "%" in lowered):
        answer_type = AnswerType.PERCENT
    asked_words = {t.i for t in (wh_token, kind) if t is not None}
    predicate = _predicate(doc, wh_token, asked_words)
    subject_name = _named_subject(tokens, wh) if form is Form.NAME else None
    if subject_name is not None:
        answer_type, form = AnswerType.DESCRIPTION, Form.DESCRIPTION
    anchors = _anchors(doc, asked_words, predicate)
    excluded = _excluded(question)
    kind_words = frozenset({kind.lower_}) if kind is not None else frozenset()
    possessed = _possessed(doc)
    phrase = doc[possessed.left_edge.i : possessed.i + 1] if possessed is not None else None
    return QuestionShape(
        text=question,
        wh=wh,
        answer_type=answer_type,
        form=form,
        kind=singular(kind.text) if kind is not None else None,
        kind_words=kind_words,
        predicate=_lemma(predicate) or None,
        predicate_stems=_with_synonyms(predicate),
        asked_role=_asked_role(doc, wh_token, asked_words, predicate),
        anchors=tuple(a for a in anchors if a.text not in excluded),
        as_of=_as_of(doc),
        excluded=excluded,
        another=bool(re.search(r"\b(?:else|other)\b", lowered)),
        count=asked.count,
        attribute=_attribute(doc, possessed, form),
        attribute_text=phrase.text if phrase is not None else "",
        subject_name=subject_name,
        actor=_actor(tokens, wh),
        asks_for_words=any(t.lemma_.lower() in lexicon.SAYING_QUESTION_VERBS for t in doc),
        change=wh == "how much" and _lemma(predicate) in lexicon.CHANGE_VERBS,
        counted=asked.counted,
        measure=_measure(wh, form, rest),
        roles=role_keys(question),
        sides=_sides(doc, wh, predicate),
        **_scoring_terms(
            question, kind_words if form is Form.LIST else frozenset(), config.single_fact_terms
        ),
    )


def _wh_index(tokens: list[Token]) -> int | None:
    """Where the wh-word is: among the first words, else a wh-determiner opening a clause
    after a comma ("Considering the claims …, which company is implicated …"); a relative
    pronoun ("…, which was sold") determines no noun."""
    for i, t in enumerate(tokens):
        opens_clause = t.dep_ == "det" and t.i > 0 and t.nbor(-1).text == ","
        if t.tag_ in _WH_TAGS and (i < 4 or opens_clause):
            return i
    return None


def _asked(wh: str, rest: list[Token], tokens: list[Token]) -> _Asked:
    """Read the wh-word and the words after it ("how many people", "which two startups",
    "who are", "list the companies")."""
    if wh == "how" and rest and rest[0].lower_ in _HOW:
        how = rest[0].lower_
        counted = _counted(rest[0], rest[1:]) if how == "many" else None
        return _Asked(f"how {how}", _HOW[how], Form.FIGURE, counted=counted)
    if wh == "when":
        return _Asked(wh, AnswerType.DATE, Form.DATE)
    if wh == "where":
        return _Asked(wh, AnswerType.PLACE, Form.NAME)
    if wh in ("who", "whom", "whose"):
        plural = bool(rest) and rest[0].lemma_ == "be" and rest[0].lower_ in ("are", "were")
        return _Asked(wh, AnswerType.PERSON, Form.LIST if plural else Form.NAME)
    if wh in ("which", "what"):
        return _which(wh, rest)
    if tokens and tokens[0].lower_ in ("list", "name") and len(tokens) > 1:
        kind = next((t for t in tokens[1:4] if t.pos_ in ("NOUN", "PROPN")), None)
        if kind is not None:
            return _Asked(wh, type_of_noun(kind.text) or AnswerType.THING, Form.LIST, kind)
    return _Asked(wh)


def _counted(many: Token, following: list[Token]) -> str | None:
    """The stem of what "how many" counts: the noun it modifies in the parse ("How many UK
    *participants*"), or the object of its "of" ("How many of the 48 LIV *golfers*"), else
    the first content word after it."""
    if many.dep_ == "amod" and many.head.pos_ == "NOUN":
        return stem_of(many.head.text)
    of = [c for c in many.children if c.dep_ == "prep" and c.lower_ == "of"]
    counted = [o for c in of for o in c.children if o.dep_ == "pobj" and o.pos_ in _NOUN_POS]
    content = counted or [t for t in following if t.lower_ not in lexicon.STOPWORDS]
    return stem_of(content[0].text) if content else None


def _which(wh: str, rest: list[Token]) -> _Asked:
    """ "Which countries …", "what antibiotic …", "What was Temu's revenue …?"."""
    kind, count = _wh_phrase_head(rest)
    kind = kind or _determined_by_wh(rest) or _name_of(rest)
    if kind is not None:
        answer_type = type_of_noun(kind.text) or AnswerType.THING
        if wh == "what" and answer_type is AnswerType.THING and kind.pos_ != "NOUN":
            answer_type = AnswerType.SENTENCE
        form = _form_of(answer_type)
        if form is Form.NAME and (is_plural(kind) or (count or 0) > 1):
            form = Form.LIST
        return _Asked(wh, answer_type, form, kind, count)
    if wh == "what":
        noun = _copula_noun(rest)  # "What was Temu's revenue …?"
        kind_type = type_of_noun(noun.text) if noun is not None else None
        if kind_type in (AnswerType.MONEY, AnswerType.PERCENT, AnswerType.DATE, AnswerType.SCORE):
            return _Asked(wh, kind_type, _form_of(kind_type), noun, count)
    return _Asked(wh, count=count)


def _lemma(token: Token | None) -> str:
    return token.lemma_.lower() if token is not None else ""


def _form_of(answer_type: AnswerType) -> Form:
    forms = {AnswerType.DATE: Form.DATE, AnswerType.SENTENCE: Form.SENTENCE}
    return Form.FIGURE if answer_type in FIGURE_TYPES else forms.get(answer_type, Form.NAME)


def _wh_phrase_head(rest: list[Token]) -> tuple[Token | None, int | None]:
    """ "which [two] [Israeli] startups", "which IPL franchise", "what salary": the last
    common noun after the wh-word, before the verb. None for "what is / what did"."""
    count = None
    run: list[Token] = []
    for token in rest[:6]:
        if token.lower_ in _NUMBER_WORDS:
            count = _NUMBER_WORDS[token.lower_]
            continue
        if token.lower_ in ("other", "else"):
            continue
        if token.lemma_ in ("be", "do", "have") or token.tag_ == "MD" or not token.is_alpha:
            break
        # The small model may tag the noun right after the wh-word a verb ("which countries
        # back …"); after it, a verb or adverb ends the phrase.
        if run and (
            token.pos_ not in ("NOUN", "PROPN", "ADJ", "NUM") or token.tag_.startswith("VB")
        ):
            break
        run.append(token)
    # The phrase's head in the parse first ("which bank CEOs": CEOs, not its compound "bank"),
    # then by position, the last lower-case word (the parse may hang the phrase elsewhere).
    in_run = {t.i for t in run}
    heads = [t for t in run if t.pos_ == "NOUN" and t.head.i not in in_run]
    nouns = (
        heads
        or [t for t in run if t.is_lower and t.pos_ != "ADJ"]
        or [t for t in run if t.pos_ == "NOUN"]
    )
    return (nouns[-1] if nouns else None), count


def _determined_by_wh(rest: list[Token]) -> Token | None:
    """The noun the wh-word determines in the parse, where reading by position found none
    ("Which M.L.B. superstar"), also through the words before the noun ("Which NFL wide
    receiver": the wh-word hangs on "NFL", a compound of "receiver")."""
    for t in rest[:6]:
        determiners = (c for c in t.subtree if c.i < t.i and c.dep_ == "det")
        if t.pos_ in _NOUN_POS and t.is_lower and any(c.tag_ in _WH_TAGS for c in determiners):
            return t
    return None


def _name_of(rest: list[Token]) -> Token | None:
    """ "What is the name of the rugby team that …": the noun whose name is asked (one name:
    "the names of his sons" is a list the sentences rarely give as names)."""
    noun = _copula_noun(rest)
    if noun is None or noun.lower_ != "name":
        return None
    of = next((c for c in noun.children if c.dep_ == "prep" and c.lower_ == "of"), None)
    objects = of.children if of is not None else ()
    return next((c for c in objects if c.dep_ == "pobj" and c.pos_ == "NOUN"), None)


def _copula_noun(rest: list[Token]) -> Token | None:
    """ "What was Temu's revenue …": the noun after the copula, the head of its phrase ("the
    10-year Treasury yield" is a yield, not a year)."""
    if not rest or rest[0].lemma_ != "be":
        return None
    noun = next((t for t in rest[1:] if t.pos_ == "NOUN"), None)
    while noun is not None and noun.dep_ in _MODIFIER_DEPS and noun.head.pos_ in _NOUN_POS:
        noun = noun.head
    if noun is None or noun.pos_ != "NOUN":
        return None
    # the copula's own noun ("the most downloaded free iPhone app"), not a later one ("What is
    # Meltwater valued at in the deal?")
    return noun if noun.head == rest[0] or noun.i - rest[0].i <= 5 else None


_MODIFIER_DEPS = frozenset({"compound", "amod", "npadvmod", "nmod", "poss"})
_NOUN_POS = frozenset({"NOUN", "PROPN"})
_NOMINAL = _NOUN_POS | {"PRON"}


def _predicate(doc: Doc, wh: Token | None, asked: set[int]) -> Token | None:
    """The asked verb: the root when it is a verb, else the first lower-case verb-like word
    after the wh-phrase ("which countries back Guaido"); None for a copula question."""
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    if (
        root is not None
        and root.i not in asked
        and (wh is None or root.i > wh.i)  # "Considering …, which company is implicated"
        and root.pos_ == "VERB"
        and root.is_lower  # "Which character does David Harbour voice?": Harbour is no verb
        and root.lemma_ not in ("be", "have", "do")
    ):
        return root
    start = (max(asked) + 1) if asked else 0
    words_after = []
    for token in doc[start:]:
        if token.lemma_ in ("be", "have") and token.pos_ == "AUX" and token.dep_ == "ROOT":
            return None
        content = token.is_alpha and token.is_lower and token.lower_ not in lexicon.STOPWORDS
        if token.pos_ == "AUX" or not content:
            continue
        if token.tag_.startswith("VB") or token.dep_ == "ROOT" or token.pos_ in ("ADV", "VERB"):
            return token
        words_after.append(token)
    # "Which companies did the FTC sue?": after "did <subject>" the next lower-case word is the
    # verb, whatever tag the model gave it.
    do_form = any(t.lemma_ == "do" for t in doc[start:])
    return words_after[0] if words_after and do_form else None


def _with_synonyms(predicate: Token | None) -> frozenset[str]:
    if predicate is None:
        return frozenset()
    own = {stem_of(predicate.lemma_), stem_of(predicate.text)}
    return frozenset(own).union(*map(synonyms, own))


def _asked_role(doc: Doc, wh: Token | None, asked: set[int], predicate: Token | None) -> str:
    """subject, unless another phrase is the predicate's subject ("Who did the Wild hire?")."""
    if wh is None:
        return "subject"
    if predicate is None:
        return "attribute"
    subjects = [t for t in doc if t.dep_ in ("nsubj", "nsubjpass") and t.pos_ in _NOMINAL]
    if any(t.i not in asked and t.head.i == predicate.i for t in subjects):
        return "object"
    # "Which companies did the FTC sue?": a do-form, then a subject of its own, then the verb
    between = [t for t in doc[wh.i + 1 : predicate.i] if t.i not in asked]
    do_form = any(t.lemma_ == "do" for t in between)
    return "object" if do_form and any(t.pos_ in _NOMINAL for t in between) else "subject"


def _anchor_role(token: Token, predicate: Token | None) -> str:
    dep = token.dep_
    if dep == "poss":
        return "possessor"
    if dep == "pobj":
        return token.head.lower_
    if predicate is not None and token.head.i != predicate.i:
        return "other"
    if dep in ("nsubj", "compound") and predicate is not None and token.i < predicate.i:
        # "did Maduro respond": the small model calls Maduro a compound; "When was Jim
        # Harbaugh suspended?" it calls a subject, of a passive verb: what the verb acts on
        return "object" if _passive(predicate) else "subject"
    if dep in ("dobj", "nsubjpass", "attr", "oprd"):
        return "object"
    return "other"


def _passive(verb: Token) -> bool:
    """ "was suspended", "were fired": a past participle after a form of "be"."""
    return verb.tag_ in ("VBN", "VBD") and any(
        c.dep_ in ("aux", "auxpass") and c.lemma_ == "be" for c in verb.children
    )


def _anchors(doc: Doc, asked: set[int], predicate: Token | None) -> list[Anchor]:
    spans: list[Span] = [e for e in doc.ents if e.label_ not in ("DATE", "TIME", "CARDINAL")]
    taken = {i for e in spans for i in range(e.start, e.end)}
    spans += [c for c in doc.noun_chunks if not taken & set(range(c.start, c.end))]
    anchors = []
    for span in sorted(spans, key=lambda s: s.start):
        content = frozenset(stems(span.text))
        if not content or asked & set(range(span.start, span.end)):
            continue
        text = re.sub(r"['’]s$", "", span.text).strip()
        is_name = any(t.pos_ == "PROPN" for t in span)
        label = getattr(span, "label_", "")
        anchors.append(Anchor(text, content, _anchor_role(span.root, predicate), is_name, label))
    return anchors


def _sides(doc: Doc, wh: str, predicate: Token | None) -> tuple[str, ...]:
    """The two sides of the contest a "who won / lost" question names: "the Raiders vs Lions
    game", "the fight between Anthony Joshua and Otto Wallin"; not when something else is
    won in that contest ("Who won MVP in the Chiefs vs Eagles game?")."""
    if wh not in ("who", "which") or _lemma(predicate) not in lexicon.CONTEST_VERBS:
        return ()
    for token in doc:
        if token.lower_ in lexicon.SIDES_WORDS:
            before, stop = _capitalised_run(doc, token.i - 1, -1)
            after, _ = _capitalised_run(doc, token.i + 1)
            opening = stop + 1
        elif token.lower_ == "between":
            before, joined = _capitalised_run(doc, token.i + 1)
            if joined >= len(doc) or doc[joined].lower_ != "and":
                continue
            after, _ = _capitalised_run(doc, joined + 1)
            opening = token.i
        else:
            continue
        if before and after and _is_the_contest(doc, predicate, opening):
            return (before, after)
    return ()


def _is_the_contest(doc: Doc, predicate: Token | None, opening: int) -> bool:
    """The sides are what is won, not a setting of it: no preposition stands between the verb
    and them ("the coin toss *in* the Chiefs vs Eagles game")."""
    start = predicate.i + 1 if predicate is not None else 0
    return not any(t.pos_ == "ADP" for t in doc[start:opening])


def _capitalised_run(doc: Doc, start: int, step: int = 1) -> tuple[str, int]:
    """The words of a name from `start` on (backwards with `step` -1), after a leading "the":
    capitalised ones, "49ers", "&" between them; not a day or a month ("Jets Monday")."""
    if 0 <= start < len(doc) and step == 1 and doc[start].lower_ == "the":
        start += 1
    run = []
    index = start
    while 0 <= index < len(doc) and _side_word(doc[index]):
        run.append(doc[index].text)
        index += step
    while run and run[-1] == "&":
        run.pop()
    return " ".join(run if step == 1 else reversed(run)), index


def _side_word(token: Token) -> bool:
    word = token.text
    if token.lower_ in ("the", "a", "an") or token.lower_ in lexicon.CALENDAR_WORDS:
        return False
    return word == "&" or word[:1].isupper() or (word[:1].isdigit() and word[-1:].isalpha())


def _excluded(question: str) -> tuple[str, ...]:
    suffix = _EXCLUSION_SUFFIX.search(question)
    listed = suffix.group(1).split(",") if suffix else []
    names = [n.strip() for n in listed if n.strip()]
    names += [m.group(1).removeprefix("the ") for m in _OTHER_THAN.finditer(question)]
    return tuple(dict.fromkeys(names))


def _as_of(doc: Doc) -> date | None:
    """A date the question holds ("as of November 17, 2023", "in March 2023")."""
    days = (parse_day(e.text) for e in doc.ents if e.label_ == "DATE")
    return next((d for d in days if d is not None), None)


def _possessed(doc: Doc) -> Token | None:
    """The common noun a proper name possesses: "Ohtani's wife"; "Taylor Swift's Time Person
    of the Year cover" (the phrase's last common noun when the possessed word is a name)."""
    for token in doc:
        if not any(c.dep_ == "poss" and c.pos_ == "PROPN" for c in token.children):
            continue
        if token.pos_ == "NOUN" and token.is_lower:
            return token
        later = [t for t in token.subtree if t.i > token.i and t.pos_ == "NOUN" and t.is_lower]
        if token.pos_ == "PROPN" and later:
            return later[-1]
    return None


def _attribute(doc: Doc, token: Token | None, form: Form) -> str | None:
    """ "Who is Shohei Ohtani's wife?" -> "wife": a thing asked of someone, which articles
    name outright (a role such as "CFO" is often abbreviated: not checked). Not for lists:
    there the possessed noun sets the scene the items share ("Which networks are in NASCAR's
    new media deal?"), which writers paraphrase as they do figures ("contract" / "deal")."""
    if form not in (Form.NAME, Form.DATE) or len(doc) > 14:
        return None
    if token is None or token.lower_ in lexicon.ROLES or token.lower_ in lexicon.ROLE_ACRONYMS:
        return None
    return stem_of(token.text)


def _measure(wh: str, form: Form, rest: list[Token]) -> str | None:
    """ "What was the 10-year Treasury yield …?", "What was Texas's AP ranking …?": the noun
    a figure may answer when its unit is not known from the noun (a yield is given in per
    cent, a ranking as "No. 3"); the sentences say which figure is said of it."""
    if wh != "what" or form is not Form.SENTENCE:
        return None
    noun = _copula_noun(rest)
    return singular(noun.text) if noun is not None else None


def _named_subject(tokens: list[Token], wh: str) -> str | None:
    """ "Who is Juan Guaido?" -> "Juan Guaido": the question is only a name."""
    if wh != "who" or len(tokens) < 3 or tokens[1].lemma_ != "be":
        return None
    name = tokens[2:]
    only_name = all(t.pos_ == "PROPN" or (t.text[:1].isupper() and t.is_alpha) for t in name)
    return " ".join(t.text for t in name) if only_name else None


def _actor(tokens: list[Token], wh: str) -> str | None:
    """ "How/What/Why did Maduro respond?" -> "Maduro": the one whose deeds are asked."""
    if wh not in ("how", "what", "why") or len(tokens) < 3:
        return None
    if tokens[1].lemma_ not in ("do", "have", "will") or tokens[1].pos_ != "AUX":
        return None
    names = itertools.takewhile(lambda t: t.text[:1].isupper(), tokens[2:])
    return " ".join(t.text for t in names if t.lower_ != "the") or None


def _scoring_terms(
    question: str, kind_words: frozenset[str], single_fact_terms: int
) -> dict[str, Any]:
    """Content stems for sentence relevance. A list's kind ("countries") names the answer's
    type, which the answering sentence shows by listing countries, so it does not count."""
    ordered = stems(without_condensed_suffix(question))
    terms = list(dict.fromkeys(ordered))
    kind_stems = {stem_of(w) for w in kind_words}
    terms = [t for t in terms if t not in kind_stems] or terms
    written = re.findall(r"[A-Za-z0-9]+(?:[-'’][A-Za-z0-9]+)*", question)
    names = frozenset(stem_of(w) for w in written[1:] if w[:1].isupper())
    capitalised = names | {stem_of(w) for w in written[:1] if w[:1].isupper()}
    plain = frozenset(stem_of(w) for w in written if w[:1].islower()) - capitalised
    # Digits are no fact of their own: "$8.5 million" or "November 17, 2023" constrain one.
    long = len({t for t in ordered if not t.isdigit()}) > single_fact_terms
    pairs = frozenset((a, b) for a, b in itertools.pairwise(ordered) if a != b and long)
    return {
        "terms": tuple(terms),
        "pairs": pairs,
        "plain_terms": plain,
        "name_terms": names,
        "long": long,
        "question_words": frozenset(w for w in words(question) if w not in lexicon.STOPWORDS),
    }
