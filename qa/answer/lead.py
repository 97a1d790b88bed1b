"""Entity-first answers for questions that ask for one name ("Who is …", "Which company …").

A multi-hop news question describes its answer through facts from several articles ("the
company Wired says ran a Prime sale and The Verge says dominates e-readers"). The answer is the
name those facts share. So: read capitalised names out of the best-scoring sentences, drop the
names the question itself uses (they describe, they do not answer) and the outlets, and rank the
rest by how relevant the sentences naming them are and by how many of the retrieved articles
name them. The answer then *starts* with that name, cited to the sentences that say it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from qa.answer.agent import asked_deed, asked_object, doers, objects
from qa.answer.lists import (
    capitalised_words,
    find_entities,
    is_country,
    name_spans,
    normalise_item,
)
from qa.answer.numbers import asks_for_a_number
from qa.answer.sentences import Sentence, split_sentences
from qa.answer.terms import STOPWORDS, stems, word_set, words
from qa.answer.when import asks_when
from qa.answer.who import (
    asked_role,
    described_as_person,
    description_of,
    holds_role,
    is_role,
    named_subject,
)
from qa.types import Passage

# "Who …", "Which company …", "What institution …", but not "What is …" / "What did … say"
# (those ask for a description) nor yes/no questions.
_WHO = re.compile(r"^\s*who\b", re.I)
_ELSE = re.compile(r"^\s*(?:(?:who|which\s+\w+|what\s+\w+)\s+else|(?:which|what)\s+other)\b", re.I)
_URL = re.compile(r"\S*(?:https?://|www\.|/)\S*")  # a name never has a slash in it
_EXCLUSION = re.compile(r"\s*\(not [^()]*\)\s*$")
_WHICH_NOUN = re.compile(r"^\s*(?:which|what)\s+([a-z][a-z\-]*)\b", re.I)
_NOT_A_NOUN = word_set(
    """is are was were do does did has have had will would can could should may might must
    about of led made makes drove drives happens causes prompts"""
)
_AFTER_A_VERB = word_set(
    """the a an to in at on by for from with this that these those his her its their it him
    them us me"""
)
# Capitalised words that are not names (months, days, titles) or that every article carries.
_NOT_NAMES = word_set(
    """january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday mr mrs ms dr the a an i it he she
    they we this that these those but and or in on at for as if when while after before
    english british american chinese russian french german italian spanish japanese indian
    israeli palestinian ukrainian european african asian australian canadian mexican brazilian
    iranian saudi korean turkish dutch swedish irish scottish welsh polish venezuelan cuban
    syrian arab muslim jewish christian catholic republican republicans democrat democrats
    democratic"""
)

SENTENCES_READ = 8  # best-scoring sentences whose names are candidates
SENTENCE_FLOOR = 0.3  # ... each at least this share of the best one's score (dev: 0.3 > 0.5)
W_ARTICLES = 0.35  # weight per other retrieved article that names the candidate
# A short question ("Which Twitch co-founder became OpenAI's interim CEO?") asks one fact that
# one sentence gives: its name comes from fewer of the best sentences, and repetition across
# articles counts less (the passages repeat the story's main figure, "Sam Altman").
# MultiHop-RAG questions all have 9+ content words or name their outlets and keep the settings
# above (reading 3 sentences cost them 3 points of strict accuracy on dev). Set on the
# user-question dev set (lead 0.475 -> 0.575 with 3 / 0.2; 2 or 4 sentences: 0.525).
SINGLE_FACT_TERMS = 8
SINGLE_FACT_SENTENCES_READ = 3
SINGLE_FACT_W_ARTICLES = 0.2
W_PERSON = 0.25  # "who" questions: bonus for a multi-word name (a person, not an acronym)
W_INSTITUTION = W_PERSON  # "which organization" questions: the same for an institution's name
W_TITLE = 0.2  # per retrieved article whose title names the candidate: what it is about
W_SUBJECT = 0.1  # share of a sentence's score added for being its first name
# Score factor for a name of the wrong kind: an organisation for "who"/"which individual", a
# country for "which company/institution", a non-country for "which country". Dev (strict):
# 1.0 -> 0.549, 0.7 -> 0.589, 0.5 -> 0.602, 0.3 -> 0.606; citation precision 0.605 -> 0.603.
# "Who is the individual … OpenAI …" answered "OpenAI" 14 times on dev before.
KIND_MISMATCH = 0.5
DEED_FLOOR = 0.6  # "Who <verb> …?": a doer counts from a sentence scoring this share of the best
MAX_LEAD_CITATIONS = 2
NAMING_CITATIONS = 1  # of which at most this many only name the answer (dev: 1 of 2 cites best)
# The noun after "Which/What" that says the answer is a person, a country or an organisation.
_PERSON_NOUNS = word_set(
    """individual person personality figure executive ceo founder entrepreneur player athlete
    actor actress singer artist celebrity author journalist politician leader prodigy judge
    commissioner captain coach manager minister senator official president director officer
    chairman chairwoman chair spokesperson spokesman spokeswoman lawyer attorney prosecutor
    quarterback striker pitcher boxer fighter driver golfer rapper musician scientist
    researcher economist analyst candidate lawmaker governor mayor ambassador envoy
    co-founder cofounder cfo cto coo"""
)
_COUNTRY_NOUNS = word_set("country nation")
_ORG_NOUNS = word_set(
    """company institution organization organisation firm entity agency corporation bank
    brand startup retailer manufacturer"""
)
# A name with one of these before its last word is a person ("President Nicolas Maduro",
# "Foreign Minister Jorge Arreaza"), however institutional the rest looks.
_PERSON_TITLES = word_set(
    """president vice prime minister secretary senator sen rep gov governor mayor pope mr mrs
    ms dr sir dame chancellor"""
)
# Words that make a capitalised name an organisation or a place rather than a person.
_INSTITUTION_WORDS = word_set(
    """council committee party federation ministry inc corp co ltd association bank
    university agency department government league union court congress senate parliament
    organization organisation nations
    assembly commission office group company board house club team fund reserve street
    news times post journal"""
)


class ScoredSentence(Protocol):
    passage_index: int
    sentence: Sentence
    score: float


# The caller's own sentence type (extractive.Scored): what it passes in, it gets back.
S = TypeVar("S", bound=ScoredSentence)


@dataclass
class Candidate(Generic[S]):
    text: str
    score: float = 0.0
    sentences: list[S] = field(default_factory=list)
    # Best score of a sentence that makes this name the doer of the question's verb, its
    # object, or the holder of the asked role ("the CEO of Ratcliffe’s Ineos Sport").
    deed_score: float = 0.0


def asks_for_another(question: str) -> bool:
    """ "Who else …?", "Which other country …?": not the name(s) already given."""
    return bool(_ELSE.match(question))


def with_exclusion(question: str, names: list[str]) -> str:
    """ "Who else will address the meeting? (not Mike Pompeo)": how a condensed follow-up names
    the answers already given (its words are excluded from the answer, not scored)."""
    return f"{question.strip()} (not {', '.join(names)})"


def without_exclusion(question: str) -> str:
    return _EXCLUSION.sub("", question)


def asks_for_a_name(question: str) -> bool:
    if named_subject(question) is not None:
        return False  # "Who is Juan Guaido?" asks what he is, not for a name
    if asks_when(question) or asks_for_a_number(question):
        return False  # "What day …", "What salary …": a date or an amount
    if _WHO.match(question):
        return True
    match = _WHICH_NOUN.match(question)
    if not match:
        return False
    word = match.group(1).lower()
    return word not in _NOT_A_NOUN and not _is_past_verb(word, question[match.end() :])


def _is_past_verb(word: str, rest: str) -> bool:
    """ "What happened to …", "What caused the …", "What prompted Meta …" ask what occurred;
    "Which AI-powered chatbot", "Which listed company" put an adjective before the noun."""
    if not word.endswith("ed") or "-" in word:
        return False
    following = re.sub(r"[^\w'’]", "", rest.split()[0]) if rest.split() else ""
    return not following or following[0].isupper() or following.lower() in _AFTER_A_VERB


def best_name(question: str, passages: list[Passage], ranked: list[S]) -> Candidate[S] | None:
    """The name the best sentences agree on, with the sentences that name it (best first)."""
    if not ranked:
        return None
    floor = SENTENCE_FLOOR * ranked[0].score
    question_words, outlets = _question_words(question), outlet_words(passages)
    single_fact = (
        len(set(stems(without_exclusion(question)))) <= SINGLE_FACT_TERMS
        and not question_words & outlets
    )
    read = SINGLE_FACT_SENTENCES_READ if single_fact else SENTENCES_READ
    w_articles = SINGLE_FACT_W_ARTICLES if single_fact else W_ARTICLES
    reading = [s for s in ranked[:read] if s.score >= floor]
    # The question's own words describe the answer; not the kind noun ("Which organization"
    # may well be answered by "Organization of American States").
    excluded = (question_words - _kind_noun(question)) | outlets
    known = frozenset(capitalised_words("\n".join(p.text for p in passages)))
    candidates = _named_in(question, reading, known, excluded)
    if not candidates:
        return None
    _merge_short_forms(candidates)
    _expand_short_names(candidates, passages, known, excluded)
    kind = asked_kind(question)
    _weigh(candidates.values(), kind, passages, ranked, w_articles)
    winner = _winner(question, candidates, ranked)
    if winner is None or (kind == "country" and not _is_of_kind(winner.text, kind)):
        return None  # "Which country …" is answered by a country or not by a name at all
    winner.sentences = _naming_sentences(winner.text, ranked)
    return winner


def _named_in(
    question: str, reading: list[S], known: frozenset[str], excluded: set[str]
) -> dict[str, Candidate[S]]:
    """The names the sentences read hold, each with its sentences, its score (the sentences'
    scores, the first name of a sentence weighted up) and its best score as the doer, object
    or role holder the question asks for. `known`: the words the passages capitalise."""
    deed, done_to = asked_deed(question), asked_object(question)
    role = asked_role(question)  # "Who is the chief executive of Ineos Sport?"
    candidates: dict[str, Candidate[S]] = {}
    for item in reading:
        if is_shouting(item.sentence.text):
            continue  # "SUPERFAN SPENT NEARLY $9K TO ATTEND": every word looks like a name
        text = _without_urls(item.sentence.text)
        entities = find_entities(text, known)
        doing = set(doers(text, entities, deed)) if deed else set()
        if done_to:
            doing |= set(objects(text, entities, done_to))
        for position, entity in enumerate(entities):
            name = _strip_possessive(entity.text.removeprefix("The ").strip())
            if not _could_be_the_answer(words(name), excluded):
                continue
            candidate = candidates.setdefault(normalise_item(name), Candidate(name))
            if position in doing or (
                role and holds_role(description_of(entity.text, text), text, role)
            ):
                candidate.deed_score = max(candidate.deed_score, item.score)
            if all(item is not s for s in candidate.sentences):
                candidate.sentences.append(item)
                # The sentence's first name is usually its subject, the one it is about.
                candidate.score += item.score * (1.0 + W_SUBJECT * (position == 0))
    return candidates


def _could_be_the_answer(tokens: list[str], excluded: set[str]) -> bool:
    """A name with words, none the question's own, not all of them non-names, not a title."""
    return bool(
        tokens
        and not set(tokens) & excluded
        and not all(t in _NOT_NAMES for t in tokens)
        and not _is_a_title(tokens)
    )


def _weigh(
    candidates: Iterable[Candidate[S]],
    kind: str | None,
    passages: list[Passage],
    ranked: list[S],
    w_articles: float,
) -> None:
    """Add to each name's score for the articles and titles naming it and its fit to the
    asked kind; a name not of that kind is scaled down."""
    sentence_texts = [s.sentence.text for s in ranked]
    for candidate in candidates:
        articles = _articles_naming(candidate.text, passages)
        candidate.score += w_articles * max(0, len(articles) - 1)
        candidate.score += W_TITLE * len(_articles_naming(candidate.text, passages, in_title=True))
        if kind == "person" and _looks_like_a_person(candidate.text):
            candidate.score += W_PERSON
        if kind == "organisation" and _looks_like_an_institution(candidate.text):
            candidate.score += W_INSTITUTION
        if not _is_of_kind(candidate.text, kind) or (
            kind == "organisation" and described_as_person(candidate.text, sentence_texts)
        ):
            candidate.score *= KIND_MISMATCH


def _winner(
    question: str, candidates: dict[str, Candidate[S]], ranked: list[S]
) -> Candidate[S] | None:
    """The best-scoring name, among those a sentence close to the best makes do what the
    question asks when there are any: a sentence that says who did it ("called by the United
    States") outweighs how often the passages name someone else."""
    doing_well = [c for c in candidates.values() if c.deed_score >= DEED_FLOOR * ranked[0].score]
    if asks_for_another(question):
        # "Who else will address the meeting?": the sentences that answer it well name everyone
        # who will; the earlier answer is in the (condensed) question's words and so excluded
        # already. No other name there: no name answer (a wrong name is worse than a quote).
        answering = [
            c
            for c in candidates.values()
            if max(s.score for s in c.sentences) >= DEED_FLOOR * ranked[0].score
        ]
        doing_well = [c for c in doing_well if c in answering] or answering
        if not doing_well:
            return None
    return max(doing_well or candidates.values(), key=lambda c: c.score)


def _is_a_title(tokens: list[str]) -> bool:
    """ "Head Coach", "Prime Minister", "Chief Executive": a capitalised role, nobody's name."""
    return all(is_role(t) or t in _ROLE_MODIFIERS for t in tokens)


_ROLE_MODIFIERS = word_set(
    "head assistant deputy vice interim acting general senior former prime foreign state"
)


def _without_urls(text: str) -> str:
    """Links blanked out, offsets kept: "t.co/sR7qfSnWVx Welcome" holds no name."""
    return _URL.sub(lambda m: " " * len(m.group(0)), text)


def is_shouting(sentence: str) -> bool:
    """An all-capitals headline or caption: at least 8 letters, 80 % of them upper case."""
    letters = [c for c in sentence if c.isalpha()]
    return len(letters) >= 8 and sum(c.isupper() for c in letters) >= 0.8 * len(letters)


def lead_sentences(candidate: Candidate[S], best: list[S]) -> list[S]:
    """The best sentences that name the candidate (one per article first), then the best
    sentences overall (they hold the facts the question asks about); at most
    MAX_LEAD_CITATIONS. A sentence naming it in the passage of the best sentence comes first:
    that passage answers the question, so the name is cited where it is the answer, not where
    it is merely mentioned (dev, MultiHop: citation precision +1.1 points, accuracy level)."""
    home = best[0].passage_index if best else None
    at_home = [s for s in candidate.sentences if s.passage_index == home][:1]
    naming: list[S] = []
    seen_passages: set[int] = set()
    for item in at_home + [s for s in candidate.sentences if all(s is not h for h in at_home)]:
        if item.passage_index not in seen_passages:
            naming.append(item)
            seen_passages.add(item.passage_index)
    chosen = naming[:NAMING_CITATIONS]
    for item in best:
        if len(chosen) >= MAX_LEAD_CITATIONS:
            break
        if all(item is not c for c in chosen):
            chosen.append(item)
    return chosen


def _full_names(passages: list[Passage], excluded: set[str]) -> dict[str, int]:
    """Multi-word names in the passages and how often each occurs. A sentence's first word is
    capitalised anyway: it belongs to the name only if the passages never write it in lower
    case ("Alexei Pushkov said" keeps "Alexei"; "Investors Stunned" loses "Investors")."""
    lower_case = set(re.findall(r"\b[a-z][a-z'’\-]*\b", "\n".join(p.text for p in passages)))
    counts: dict[str, int] = {}
    for passage in passages:
        for sentence in split_sentences(passage.text):
            for span, start in name_spans(_without_urls(sentence.text)):
                name = _strip_possessive(span.removeprefix("The ").strip())
                first, _, rest = name.partition(" ")
                at_start = not sentence.text[:start].strip(' "“(')
                if at_start and first.lower() in lower_case:
                    name = rest
                tokens = words(name)
                if len(tokens) > 1 and not set(tokens) & excluded:
                    counts[name] = counts.get(name, 0) + 1
    return counts


def is_organisation_noun(noun: str) -> bool:
    """ "companies", "firm", "teams": the answer is an organisation, never a person."""
    return _singular(noun.lower()) in _ORG_NOUNS | {"team", "club"}


def is_company_noun(noun: str) -> bool:
    """ "companies", "startups", "banks": never a country either (a team may be one)."""
    return _singular(noun.lower()) in _ORG_NOUNS


def asked_kind(question: str) -> str | None:
    """ "person", "country", "organisation" or None, from "Who …" or the noun phrase after
    "Which" ("Which judge", "Which EU commissioner", "Which All Blacks captain")."""
    noun = _kind_noun_of(question)
    if noun in _PERSON_NOUNS or (_WHO.match(question) and noun not in _ORG_NOUNS):
        return "person"
    if noun in _COUNTRY_NOUNS:
        return "country"
    if noun in _ORG_NOUNS:
        return "organisation"
    return None


def _kind_noun_of(question: str) -> str:
    """The first word of the (up to 4-word) phrase after "Which/What" that names a kind, else
    its first word; singular, lower case."""
    match = re.match(r"^\s*(?:which|what)\s+((?:[\w’'\-]+\s+){0,3}[\w’'\-]+)", question, re.I)
    if not match:
        return ""
    phrase: list[str] = []
    for word in match.group(1).split():
        if word.lower() in _NOT_A_NOUN:
            break
        phrase.append(_singular(word.lower()))
    kinds = _PERSON_NOUNS | _COUNTRY_NOUNS | _ORG_NOUNS
    return next((w for w in phrase if w in kinds), phrase[0] if phrase else "")


def _singular(noun: str) -> str:
    """ "countries" -> "country", "companies" -> "company", "individuals" -> "individual"."""
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    return noun[:-1] if noun.endswith("s") and not noun.endswith("ss") else noun


def _is_of_kind(name: str, kind: str | None) -> bool:
    """Only clear mismatches count: a person is a multi-word non-institutional name (short forms
    were expanded to the passages' full names already); a company can look like a person
    ("Epic Games"), so for organisations only countries are ruled out."""
    if kind == "person":
        return _looks_like_a_person(name)
    if kind == "country":
        return is_country(name)
    if kind == "organisation":
        return not is_country(name) and not _has_person_title(name)
    return True


def _has_person_title(name: str) -> bool:
    return any(token.lower().rstrip(".") in _PERSON_TITLES for token in name.split()[:-1])


def _looks_like_an_institution(name: str) -> bool:
    return bool({t.lower() for t in name.split()} & _INSTITUTION_WORDS)


def _looks_like_a_person(name: str) -> bool:
    """Two or more words, none of them institutional, not an acronym: "Alexei Pushkov"."""
    tokens = name.split()
    return (
        len(tokens) > 1
        and not name.isupper()
        and not {t.lower() for t in tokens} & _INSTITUTION_WORDS
    )


def _naming_sentences(name: str, ranked: list[S]) -> list[S]:
    """Every scored sentence (best first) that says the name, or a person's last name
    ("Altman"; not "States" for "Organization of American States")."""
    forms = {name, name.split()[-1]} if _looks_like_a_person(name) else {name}
    pattern = re.compile(r"\b(?:" + "|".join(re.escape(f) for f in forms) + r")\b")
    return [item for item in ranked if pattern.search(item.sentence.text)]


def _strip_possessive(name: str) -> str:
    return re.sub(r"['’]s?$", "", name)


def _expand_short_names(
    candidates: dict[str, Candidate[S]],
    passages: list[Passage],
    known: frozenset[str],
    excluded: set[str],
) -> None:
    """A one-word name ("Altman", "Fed") becomes the longer name the passages use for it
    ("Sam Altman", "Federal Reserve"): the full name is what a reader (and a grader) expects."""
    full_names = _full_names(passages, excluded | STOPWORDS | _NOT_NAMES)
    for candidate in candidates.values():
        if " " in candidate.text:
            continue
        short = candidate.text
        alone = _standalone_count(short, passages)
        matches = [
            (count, name)
            for name, count in full_names.items()
            if name.split()[-1] == short
            or (
                len(short) >= 3
                and short.isalpha()
                and name.split()[0].startswith(short)
                and name.split()[0] != short
            )
            # "Caesars" -> "Caesars Sportsbook" only where the passages mostly say
            # the longer name ("Apple" stays "Apple", not "Apple Watch").
            or (name.split()[0] == short and count >= alone)
        ]
        if matches:
            candidate.text = max(matches)[1]


def _standalone_count(name: str, passages: list[Passage]) -> int:
    """Occurrences of `name` not followed by another capitalised word."""
    pattern = re.compile(rf"\b{re.escape(name)}\b(?!['’]?\s+[A-Z])")
    return sum(len(pattern.findall(p.text)) for p in passages)


def display_name(name: str, passages: list[Passage]) -> str:
    """ "The Federal Reserve" when the passages mostly write "the Federal Reserve"."""
    escaped = re.escape(name)
    total = sum(len(re.findall(rf"\b{escaped}\b", p.text)) for p in passages)
    with_the = sum(len(re.findall(rf"\b[Tt]he {escaped}\b", p.text)) for p in passages)
    return f"The {name}" if total and with_the * 2 >= total else name


def _question_words(question: str) -> set[str]:
    return {w for w in words(question) if w not in STOPWORDS}


def _kind_noun(question: str) -> set[str]:
    """The kind word(s) as the question writes them ("countries", "commissioner")."""
    noun = _kind_noun_of(question)
    written = re.findall(r"[\w’'\-]+", question)[:6]
    # Only a common noun: "Which IPL franchise" must still keep "IPL" out of the answer.
    return {w for w in written if noun and w.islower() and _singular(w) == noun}


def outlet_names(passages: list[Passage]) -> list[frozenset[str]]:
    """The words of each distinct outlet name among the passages."""
    return list({frozenset(words(p.source)) for p in passages})


def outlet_words(passages: list[Passage]) -> set[str]:
    return set().union(*outlet_names(passages)) - STOPWORDS


def names_an_outlet(name: str, outlets: list[frozenset[str]]) -> bool:
    """ "TechCrunch", "The Verge": every word of `name` is in one outlet's name (`outlet_names`).
    Not "Fox Sports" because a passage comes from "Essentially Sports"."""
    name_words = set(words(name)) - STOPWORDS
    return bool(name_words) and any(name_words <= outlet for outlet in outlets)


def _articles_naming(name: str, passages: list[Passage], in_title: bool = False) -> set[str]:
    """Ids of the retrieved articles whose passage text (or title) says `name`."""
    pattern = re.compile(rf"\b{re.escape(name)}\b")
    return {p.article_id for p in passages if pattern.search(p.title if in_title else p.text)}


def _merge_short_forms(candidates: dict[str, Candidate[S]]) -> None:
    """ "Altman" and "Sam Altman" are one person: the longer name takes the shorter's sentences
    (and score) when the shorter is its last word(s). Not the first: "Apple" is not "Apple
    Watch"."""
    keys = sorted(candidates, key=lambda k: len(k.split()))
    for short in keys:
        short_words = short.split()
        for long in keys:
            long_words = long.split()
            if len(long_words) <= len(short_words) or long not in candidates:
                continue
            if long_words[-len(short_words) :] == short_words:
                target, source = candidates[long], candidates.pop(short)
                target.deed_score = max(target.deed_score, source.deed_score)
                for item in source.sentences:
                    if all(item is not s for s in target.sentences):
                        target.sentences.append(item)
                        target.score += item.score
                target.sentences.sort(key=lambda s: s.score, reverse=True)
                break
