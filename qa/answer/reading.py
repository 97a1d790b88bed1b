"""Reading parsed sentences: typed candidates, and who holds which role in a clause.

A clause *answers* a question when its verb (or a noun made of it: "backing", "support") is
the question's predicate, the question's anchors stand in it in their roles, and the candidate
holds the asked role. "Which countries back Maduro?" over "Russia, China … have voiced their
backing for Maduro's government": "backing" is the predicate, Maduro is in the clause but not
its subject, and Russia and its conjuncts are the subject. The same reading flags a role error:
an answer that is the *object* of the clause when the subject is asked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from qa.answer import lexicon
from qa.answer.shape import NAME_TYPES, AnswerType, QuestionShape, singular
from qa.answer.terms import role_keys, stem_of, stems

if TYPE_CHECKING:
    from spacy.tokens import Doc, Span, Token

_SUBJECT_DEPS = frozenset({"nsubj", "csubj"})
_OBJECT_DEPS = frozenset({"dobj", "nsubjpass", "attr", "oprd", "dative"})
_NOMINAL_DEPS = frozenset({"dobj", "nsubj", "nsubjpass", "attr"})
_QUANTIFIERS = frozenset({"much", "many", "most", "some", "all", "part", "parts"})
_NAME_PUNCT = frozenset({"&", "-", ".", "'", "’"})
_NAME_POS = frozenset({"PROPN", "NOUN", "NUM"})
_QUOTE_MARKS = frozenset('“”"')
_NOT_ONLY = frozenset({"only", "just", "merely", "simply", "even", "least"})
_CLOSING = frozenset({*_QUOTE_MARKS, "’", "'", ",", ";", ":", "("})  # no part of a name's end
_ROLE_WORDS = lexicon.ROLES | frozenset(lexicon.ROLE_ACRONYMS)
# Products, drugs, works and typed common nouns: NER leaves most of them untyped or mistyped.
_KINDS_NER_MISSES = frozenset({AnswerType.THING, AnswerType.WORK})
KIND_LABEL = "KIND"


@dataclass(frozen=True)
class Candidate:
    """A span that may answer: an entity, a proper-noun run, or a noun phrase of the kind."""

    text: str
    start: int  # character offsets in the sentence
    end: int
    # spaCy entity label; "PROPN" for an untyped proper-noun run; KIND_LABEL for a phrase the
    # sentence itself calls the asked kind ("the drug lecanemab")
    label: str
    root: int  # token index of the span's head


def type_fit(label: str, asked: AnswerType) -> float:
    """1 for a span of the asked type, 0.5 for a near one (the small model mixes people,
    organisations and places up), 0 for one that cannot answer."""
    exact = {
        AnswerType.PERSON: lexicon.PERSON_LABELS,
        AnswerType.ORGANISATION: lexicon.ORGANISATION_LABELS,
        AnswerType.TEAM: lexicon.TEAM_LABELS,
        AnswerType.PLACE: lexicon.PLACE_LABELS,
        AnswerType.GROUP: lexicon.GROUP_LABELS,
        AnswerType.WORK: lexicon.WORK_LABELS,
        AnswerType.THING: lexicon.NAME_LABELS,
        AnswerType.NAME: lexicon.NAME_LABELS,
    }.get(asked, frozenset())
    if label in exact or label == KIND_LABEL:
        return 1.0
    if label == "PROPN" or (label in lexicon.NAME_LABELS and asked in NAME_TYPES):
        return 0.5
    return 0.0


def candidates(
    doc: Doc, shape: QuestionShape, name_words: frozenset[str] | None = None
) -> list[Candidate]:
    """Entities of name types (not one the parse reads as an adjective: "American
    agriculture" names no answer but a nationality), proper-noun runs the model left untyped,
    and (for a typed common noun: "which antibiotic") names in apposition to that noun or
    noun phrases headed by it; each cut into the names it holds (`name_pieces`, `name_words`
    as there)."""
    # a date or a figure is no untyped name
    taken = {i for ent in doc.ents for i in range(ent.start, ent.end)}
    spans = [
        (ent, ent.label_)
        for ent in doc.ents
        if ent.label_ in lexicon.NAME_LABELS
        and (ent.root.pos_ != "ADJ" or shape.answer_type is AnswerType.GROUP)
    ]
    spans += [(run, "PROPN") for run in _proper_runs(doc, taken)]
    found = [
        _candidate(p, label)
        for span, label in spans
        for p in name_pieces(span, name_words, typed=label != "PROPN")
    ]
    if shape.answer_type in _KINDS_NER_MISSES and shape.kind:
        found += [c for c in kind_phrases(doc, shape.kind) if c.root not in taken]
    kept = (c for c in found if not _denied(doc[c.root]) and not _describes_kind(doc, c, shape))
    return sorted(kept, key=lambda c: c.start)


def _describes_kind(doc: Doc, candidate: Candidate, shape: QuestionShape) -> bool:
    """The name only describes a noun of the asked kind that names something after it: "US"
    in "US market monitor Luminate" for "Which market monitor …?" (the monitor is Luminate,
    not the US). Not "the Congress party" nor "Congress party figure X": Congress is the party."""
    if shape.kind is None:
        return False
    token = doc[candidate.root]
    while token.dep_ in _MODIFIER_DEPS and token.head.i > token.i:
        token = token.head
        if singular(token.text) == shape.kind:
            head = token.head
            return token.dep_ in _MODIFIER_DEPS and head.i > token.i and _written_as_name(head.text)
    return False


_MODIFIER_DEPS = frozenset({"compound", "amod", "nmod", "npadvmod"})


def _denied(token: Token) -> bool:
    """The sentence sets the name aside with "not": "Navalny, not All the Beauty and the
    Bloodshed, won", "Messi, and not Ronaldo, scored"."""
    before = [c for c in token.children if c.dep_ == "neg" and c.i < token.i]
    if token.dep_ in ("appos", "conj"):
        head = token.head
        before += [c for c in head.children if c.dep_ == "neg" and head.i < c.i < token.i]
    # "not only Apple but also Google", "not just Smith": no setting aside
    return any(t.i + 1 >= len(t.doc) or t.doc[t.i + 1].lower_ not in _NOT_ONLY for t in before)


def name_pieces(
    span: Span, name_words: frozenset[str] | None = None, typed: bool = False
) -> list[Span]:
    """The names a span holds: split at line breaks, titles ("OpenAI CEO Sam Altman" is OpenAI
    and Sam Altman), punctuation no name holds ("Caesars Sportsbook: Caesars"; not "AT&T")
    and, in a run the model left untyped (`typed` False: it drew no boundary there),
    capitalised words that are no name's (`name_words`: "Wullaert Fires Belgium" in a
    title-case line); each trimmed of leading words that are no part of a name ("Current
    Fed", "Whereas Google")."""
    pieces: list[Span] = []
    start = span.start
    for token in [*span, None]:
        if (
            token is None
            or token.is_space
            or token.lower_ in lexicon.TITLE_WORDS
            or (token.is_punct and token.text not in _NAME_PUNCT)
            or (not typed and token.i > start and _no_name_word(token, name_words))
        ):
            end = token.i if token is not None else span.end
            piece = _trim_name(span.doc[start:end], name_words)
            if piece is not None:
                pieces.append(piece)
            start = end + 1
    return pieces


def _no_name_word(token: Token, name_words: frozenset[str] | None) -> bool:
    """A capitalised word the passages never use in a name (an acronym always may be one)."""
    return (
        name_words is not None
        and token.is_alpha
        and token.text.istitle()
        and token.text not in name_words
    )


def _trim_name(span: Span, name_words: frozenset[str] | None) -> Span | None:
    """The span without leading words that are no part of a name: lower case, no noun
    ("Whereas Google"), a stopword that is no proper noun, or a word the passages capitalise
    only at a sentence's start ("Current Fed", "Loading Treasury")."""
    doc, start, end = span.doc, span.start, span.end
    while start < end - 1:
        first = doc[start]
        unnamed = name_words is not None and first.text not in name_words
        if not (
            not _written_as_name(first.text)
            or first.pos_ not in _NAME_POS
            or (first.pos_ != "PROPN" and first.is_stop)
            or (unnamed and (first.is_sent_start or first.pos_ != "PROPN"))
        ):
            break
        start += 1
    while end > start and (doc[end - 1].is_punct or doc[end - 1].tag_ == "POS"):
        end -= 1
    return doc[start:end] if end > start and _written_as_name(doc[start].text) else None


def _written_as_name(word: str) -> bool:
    """Capitalised, or a brand's inner capital after a small letter ("iRobot", "eBay")."""
    return word[:1].isupper() or (word[:1].islower() and any(c.isupper() for c in word[1:]))


def _candidate(span: Span, label: str) -> Candidate:
    # "West Indies’ Shai Hope" is Shai Hope
    start = max((t.i + 1 for t in span[:-1] if t.tag_ == "POS"), default=span.start)
    end = span.end
    doc = span.doc
    while start < end and (doc[start].lower_ in ("the", "a", "an") or doc[start].is_quote):
        start += 1
    while end > start and (doc[end - 1].tag_ == "POS" or doc[end - 1].text in _CLOSING):
        end -= 1
    trimmed = doc[start:end]
    root = trimmed.root if len(trimmed) else span.root
    return Candidate(trimmed.text, trimmed.start_char, trimmed.end_char, label, root.i)


def _proper_runs(doc: Doc, taken: set[int]) -> Iterator[Span]:
    """Runs of proper nouns no entity covers; a capitalised common noun continues one
    ("Caesars Sportsbook")."""
    start = None
    for token in [*doc, None]:
        inside = (
            token is not None
            and token.i not in taken
            and token.is_alpha
            and (
                token.pos_ == "PROPN"
                or (start is not None and token.pos_ == "NOUN" and token.text[:1].isupper())
            )
            and not (token.i == 0 and token.lower_ in lexicon.STOPWORDS)
        )
        if inside and start is None:
            start = token.i
        elif not inside and start is not None:
            yield doc[start : token.i if token is not None else len(doc)]
            start = None


def kind_phrases(doc: Doc, kind: str) -> Iterator[Candidate]:
    """What the sentence calls the kind noun: "the antibiotic doxycycline", "lithium chloride,
    a salt", "X is a salt", "the product is a tampon", "a startup named Induced AI"."""
    for token in doc:
        if singular(token.text) == kind:
            spans = (s for s in _called_so(token) if not _denied(s.root))
            yield from (_candidate(span, KIND_LABEL) for span in spans)


def _called_so(noun: Token) -> Iterator[Span]:
    """The spans the sentence says are of the kind `noun` names, by the parse around it."""
    doc = noun.doc
    for child in noun.children:  # "the drug, lecanemab", "the Preparedness Framework"
        if child.dep_ == "appos":  # "the ship, a tanker named Ever Given": the name
            named = [doc[n.left_edge.i : n.i + 1] for n in _called(child)]
            yield from named or [doc[child.left_edge.i : child.right_edge.i + 1]]
        elif child.dep_ == "compound" and child.i > noun.i:
            yield doc[child.left_edge.i : child.right_edge.i + 1]
    if noun.dep_ in ("amod", "compound") and noun.head.i > noun.i:
        # "the antibiotic doxycycline", "the drug lecanemab": the kind noun modifies the name
        yield doc[noun.i + 1 : noun.head.i + 1]
    elif noun.dep_ == "attr":  # "X is a salt"
        subject = next((c for c in noun.head.children if c.dep_ == "nsubj"), None)
        if subject is not None:
            yield doc[subject.left_edge.i : subject.i + 1]
    elif noun.dep_ == "appos":  # "lithium chloride, a salt", "“Pink Friday 2,” her album"
        end = min(noun.head.right_edge.i, noun.left_edge.i - 1) + 1
        yield doc[noun.head.left_edge.i : end]
    elif noun.dep_ == "nsubj" and noun.head.lemma_ == "be":  # "the product is a tampon"
        yield from (doc[c.left_edge.i : c.i + 1] for c in noun.head.children if c.dep_ == "attr")
    yield from (doc[name.left_edge.i : name.i + 1] for name in _called(noun))


def _called(noun: Token) -> Iterator[Token]:
    """The name a participle gives the noun ("a startup named Induced AI", "a tool known as
    Copilot"); the parse may hang the participle on the noun's verb ("unveiled a model this
    week called Gemini")."""
    participles = [c for c in noun.children if c.dep_ == "acl"]
    if noun.dep_ == "dobj":
        participles += [c for c in noun.head.children if c.dep_ in ("advcl", "acl", "xcomp")]
    for participle in participles:
        if participle.tag_ != "VBN" or participle.lemma_ not in lexicon.NAMING_VERBS:
            continue
        for child in participle.children:
            if child.dep_ in ("oprd", "attr"):
                yield child
            elif child.dep_ == "prep" and child.lower_ == "as":
                yield from (c for c in child.children if c.dep_ == "pobj")


# --- roles ---------------------------------------------------------------------------------------
def predicate_clauses(doc: Doc, shape: QuestionShape) -> list[Token]:
    """The verbs of `doc` that carry the question's predicate: the verb itself ("recognized")
    or the verb governing a noun made of it ("have thrown their *support* behind")."""
    if not shape.predicate_stems:
        return []
    verbs: list[Token] = []
    for token in doc:
        if not ({stem_of(token.lemma_), stem_of(token.text)} & shape.predicate_stems):
            continue
        verb = token
        if token.pos_ not in ("VERB", "AUX"):
            # A noun carries the predicate only as its verb's object or subject ("voiced their
            # backing for"); not "supporters", nor "a rally of support".
            if token.lemma_.endswith(("er", "or")) or token.dep_ not in _NOMINAL_DEPS:
                continue
            verb = token.head
            if verb.pos_ not in ("VERB", "AUX"):
                continue
        if verb not in verbs:
            verbs.append(verb)
    return verbs


def _expand(token: Token) -> list[Token]:
    """A token and its conjuncts and appositions: "Russia, China … and Turkey"."""
    found = [token]
    for child in token.children:
        if child.dep_ in ("conj", "appos") and not _denied(child):
            found += _expand(child)
        elif child.dep_ == "prep" and child.lower_ == "of" and token.lower_ in _QUANTIFIERS:
            # "much of Latin America and many countries in Europe": the conjunct hangs off
            # the object of "of", but is a holder in its own right
            for obj in (c for c in child.children if c.dep_ == "pobj"):
                found += _expand_children(obj, "conj")
    return found


def _expand_children(token: Token, dep: str) -> list[Token]:
    return [g for c in token.children if c.dep_ == dep for g in _expand(c)]


def prep_objects(verb: Token, prepositions: tuple[str, ...]) -> list[Token]:
    """The objects of the verb's prepositions of these words ("lost … to Oklahoma")."""
    return [
        g
        for c in verb.children
        if c.dep_ == "prep" and c.lower_ in prepositions
        for g in _expand_children(c, "pobj")
    ]


def clause_roles(verb: Token) -> tuple[list[Token], list[Token]]:
    """(subjects, objects) of a clause; a passive's agent ("called by the United States") is
    its subject; "besides X" before the subject joins the subjects."""
    subjects: list[Token] = []
    objects: list[Token] = []
    obliques: list[Token] = []  # "in favor of Bailey Zappe": objects only without a direct one
    for child in verb.children:
        if child.dep_ in _SUBJECT_DEPS:
            subjects += _expand(child)
        elif child.dep_ in _OBJECT_DEPS:
            objects += _expand(child)
        elif child.dep_ == "agent" or (child.dep_ == "prep" and child.lower_ == "besides"):
            subjects += _expand_children(child, "pobj")
        elif child.dep_ == "prep":
            obliques += _expand_children(child, "pobj")
    objects = objects or obliques
    if verb.dep_ == "acl" and verb.tag_ == "VBN":
        objects += _expand(verb.head)  # "a meeting called by the United States"
    elif not subjects and verb.dep_ in ("conj", "xcomp") and verb.head.pos_ in ("VERB", "AUX"):
        subjects = clause_roles(verb.head)[0]  # "Maduro has called home … and closed …"
    elif (
        not subjects
        and verb.dep_ in ("relcl", "acl", "xcomp", "conj")
        and verb.head.pos_ in ("NOUN", "PROPN")
    ):
        if any(c.dep_ in ("nsubjpass", "auxpass") for c in verb.children):
            objects += _expand(verb.head)  # "the company, which was sold to Parker Brothers"
        else:
            subjects = _expand(verb.head)  # "countries that back Guaido"
    return subjects, objects


def _stems_of(tokens: Iterable[Token]) -> set[str]:
    """Stems of the phrases the tokens head."""
    return set().union(*(stems(" ".join(t.text for t in token.subtree)) for token in tokens))


def _names_someone(tokens: list[Token]) -> bool:
    """A proper noun that is no day or time ("on Nov. 2": the parse calls "Nov." one)."""
    return any(
        t.pos_ == "PROPN" and t.ent_type_ not in _WHEN_LABELS
        for token in tokens
        for t in token.subtree
    )


_WHEN_LABELS = frozenset({"DATE", "TIME"})


@dataclass(frozen=True)
class ClauseReading:
    verb: Token
    holders: list[Token]  # tokens in the asked role
    others: list[Token]  # tokens in the other role
    anchors_fit: bool  # the question's name anchors stand in their roles
    conflict: bool  # an anchor's slot holds another name ("16 nations from the OAS" for "US")


def read_clauses(doc: Doc, shape: QuestionShape) -> list[ClauseReading]:
    """Every clause of `doc` carrying the predicate, with who holds the asked role and whether
    the anchors are where the question puts them."""
    readings = []
    named = [a for a in shape.anchors if a.is_name]
    sentence = set(stems(doc.text))
    for verb in predicate_clauses(doc, shape):
        subjects, objects = clause_roles(verb)
        holders, others = (
            (subjects, objects) if shape.asked_role == "subject" else (objects, subjects)
        )
        described = [verb.head] if verb.dep_ in ("acl", "relcl") else []
        clause = _stems_of([verb, *subjects, *described])  # a participle's includes its noun
        fit, conflict = True, False
        for anchor in named:
            # The parties stand in the clause; a setting (a possessor or a preposition's
            # object: "Texas's law" read in "In Texas, …") anywhere in the sentence.
            setting = anchor.role not in ("subject", "object", "attribute", "other")
            if not anchor.stems & (sentence if setting else clause):
                fit = False
            elif anchor.role in ("subject", "object") and anchor.stems & _stems_of(holders):
                # the anchor holds the asked role: the clause says the reverse
                fit = fit and bool(anchor.stems & _stems_of(others))
            if anchor.role in ("subject", "object"):
                slot = subjects if anchor.role == "subject" else objects
                conflict = conflict or (_names_someone(slot) and not anchor.stems & _stems_of(slot))
        # An anchor's slot holding another name ("recognized Guaido" for "who backs Maduro?",
        # Maduro elsewhere in the sentence) puts the anchors out of place.
        readings.append(ClauseReading(verb, holders, others, fit and not conflict, conflict))
    return readings


class Role(Enum):
    """Where a clause carrying the predicate puts a candidate."""

    ANCHORED = "anchored"  # the asked role, the question's anchors in theirs
    HELD = "held"  # the asked role, anchors elsewhere but no other party where they belong
    OTHER = "other"  # another role


def holds_asked_role(
    doc: Doc, shape: QuestionShape, candidate: Candidate, strict: bool = False
) -> Role | None:
    """ANCHORED when a clause carrying the predicate has the candidate in the asked role with
    the anchors in place; else OTHER when a clause has it in the other role; else HELD when
    one has it in the asked role with no other party where the anchors belong; None when no
    clause carrying the predicate mentions it. `strict` (checking a claim's support) is also
    OTHER when it holds the asked role towards a party the question does not name. Choosing
    names does not use that: the anchors are often paraphrased there, and it cost held-out
    swapped pairs (docs/answerer.md, round 9)."""
    wrong = weak = False
    for reading in read_clauses(doc, shape):
        in_holders = any(_within(candidate, t) for t in reading.holders)
        in_others = any(_within(candidate, t) for t in reading.others)
        if in_holders and reading.anchors_fit:
            return Role.ANCHORED
        # "Russia … backing for Maduro's government": it holds the role towards a name the
        # question does not ask about
        towards_another = strict and in_holders and _names_someone(reading.others)
        wrong = wrong or (in_others and not in_holders) or towards_another
        weak = weak or (in_holders and not reading.conflict)
    return Role.OTHER if wrong else (Role.HELD if weak else None)


def _within(candidate: Candidate, token: Token) -> bool:
    """The candidate's head is the token, or inside the token's phrase (not its clauses)."""
    if not token.left_edge.i <= candidate.root <= token.right_edge.i:
        return False
    inner = token.doc[candidate.root]
    while inner.i != token.i and inner.head.i != inner.i:
        if inner.dep_ in ("relcl", "acl", "conj", "appos", "poss"):
            return False
        inner = inner.head
    return True


# --- who acts, who speaks, what someone is --------------------------------------------------------
def _is_named(token: Token, name: str) -> bool:
    """Whether the phrase headed by `token` says `name` (or its last word: "Maduro")."""
    last = name.split()[-1].lower()
    return any(t.lower_ == last for t in token.subtree if t.i <= token.i)


def acts(doc: Doc, actor: str) -> bool:
    """`actor` is the subject of a verb: "Maduro dug in", not "backing for Maduro's
    government"."""
    subjects = [t for t in doc if t.pos_ == "PROPN" and t.dep_ == "nsubj" and t.head.pos_ == "VERB"]
    return any(_is_named(t, actor) for t in subjects)


def quotes(doc: Doc, actor: str, by_pronoun: bool = False) -> bool:
    """The sentence quotes `actor` and says so ("“… a blip,” Healy said"): a speech verb
    whose subject names the actor (`by_pronoun`: or is a personal pronoun, "He said …" right
    after a sentence about the actor), in a sentence holding a quotation mark."""
    speakers = [t for t in doc if t.dep_ == "nsubj" and t.head.lemma_ in lexicon.SPEECH_VERBS]
    return any(mark in doc.text for mark in _QUOTE_MARKS) and any(
        _is_named(t, actor) or (by_pronoun and t.lower_ in ("he", "she", "they")) for t in speakers
    )


@dataclass(frozen=True)
class Description:
    text: str  # "chairman of the information committee at the Russian Federation Council"
    start: int  # character offsets in the sentence
    end: int


def _description(doc: Doc, start: int, end: int) -> Description | None:
    """doc[start:end] trimmed of punctuation and a trailing conjunction; None if no role word."""
    if not any(t.lower_ in _ROLE_WORDS for t in doc[start:end]):
        return None
    while end > start and (doc[end - 1].is_punct or doc[end - 1].dep_ == "cc"):
        end -= 1
    while start < end and doc[start].is_punct:
        start += 1
    if end <= start:
        return None
    span = doc[start:end]
    return Description(span.text, span.start_char, span.end_char)


def descriptions_of(doc: Doc, name: str) -> list[Description]:
    """What the sentence calls `name`: an apposition after it ("Alexei Pushkov, chairman of
    …"), a title before it ("Venezuelan Foreign Minister Jorge Arreaza"), the phrase it is in
    apposition to ("the country's self-declared interim leader, Juan Guaido"), a copula
    ("Guaido is the head of …") or "as <role>"; each must hold a role word."""
    last = name.split()[-1]
    head = next((t for t in doc if t.text == last), None)
    if head is None:
        return []
    found = [_description(doc, s, e) for s, e in _describing_spans(head, _name_start(head))]
    return [d for d in found if d is not None and len(d.text.split()) <= 14]


def described_in_asked_role(doc: Doc, shape: QuestionShape, candidate: Candidate) -> bool:
    """ "Jean-Claude Blanc, the CEO of Ratcliffe's Ineos Sport" for "Who is the chief
    executive of Ineos Sport?": the sentence describes the person by the asked role, at a
    party the question names (all its words)."""
    named = [a for a in shape.anchors if a.is_name]
    if shape.answer_type is not AnswerType.PERSON or not shape.roles or not named:
        return False
    for description in descriptions_of(doc, candidate.text):
        said = set(stems(description.text))
        if role_keys(description.text) & shape.roles and any(a.stems <= said for a in named):
            return True
    return False


def _name_start(head: Token) -> int:
    """Where the name whose head is `head` starts: its entity (after a title the entity
    swallowed: "Nike CFO Matthew Friend"), else its run of proper nouns up to a role word
    ("Foreign Minister Jorge Arreaza")."""
    doc = head.doc
    entity = next((e for e in doc.ents if e.start <= head.i < e.end), None)
    if entity is not None:
        titles = [t.i for t in doc[entity.start : head.i] if t.lower_ in lexicon.TITLE_WORDS]
        return titles[-1] + 1 if titles else entity.start
    start = head.i
    while (
        start > 0 and doc[start - 1].pos_ == "PROPN" and doc[start - 1].lower_ not in lexicon.ROLES
    ):
        start -= 1
    return start


def _describing_spans(head: Token, name_start: int) -> list[tuple[int, int]]:
    """Token ranges that may say what the name is, in the order `descriptions_of` lists."""
    spans = [(c.left_edge.i, c.right_edge.i + 1) for c in head.children if c.dep_ == "appos"]
    left = [t for t in head.lefts if t.i < name_start and t.dep_ in ("compound", "amod", "nmod")]
    if left:
        spans.append((left[0].left_edge.i, name_start))
    if head.dep_ == "appos":
        spans.append((head.head.left_edge.i, head.head.i + 1))
    if head.dep_ == "nsubj" and head.head.lemma_ == "be":
        attrs = [a for a in head.head.children if a.dep_ == "attr"]
        spans += [(a.left_edge.i, a.right_edge.i + 1) for a in attrs]
    if head.dep_ in ("nsubj", "nsubjpass", "dobj"):
        as_preps = [p for p in head.head.children if p.lower_ == "as" and p.dep_ == "prep"]
        roles = [r for p in as_preps for r in p.children if r.dep_ == "pobj"]
        spans += [(r.left_edge.i, r.right_edge.i + 1) for r in roles]
    return spans


def item_text(token: Token, entities: dict[int, Span]) -> str:
    """What a list item says: its entity ("Latin America"), or its own phrase up to its first
    conjunct ("much of Latin America", "16 nations from the Organization of American States")."""
    if token.i in entities:
        return _candidate(entities[token.i], entities[token.i].label_).text
    doc = token.doc
    after = [t for t in token.subtree if t.i > token.i]
    stops = [t.i for t in after if t.dep_ in ("conj", "cc", "appos", "relcl") or t.text in ",;"]
    end = min(stops, default=token.right_edge.i + 1)
    start = token.left_edge.i
    while start < token.i and (
        doc[start].lower_ in ("the", "a", "an", "and", ",") or doc[start].is_quote
    ):
        start += 1
    while end > token.i + 1 and doc[end - 1].text in _CLOSING:
        end -= 1
    return doc[start:end].text
