"""The offline answerer: pick the sentences of the retrieved passages that answer the question.

Every sentence of every passage is scored against the question:

* lexical coverage — the IDF-weighted share of the question's content stems the sentence
  contains (IDF over the retrieved sentences; a term no passage mentions weighs most);
* embedding cosine between question and sentence, when an embedding model is given;
* a small prior for the passage's retrieval rank.

The best few non-redundant sentences become the answer, each followed by its [n] marker.
List questions ("which countries …") are answered with the names read out of the answering
sentences. When even the best sentence scores below ABSTAIN_THRESHOLD, we abstain.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from index.sentences import code_scale
from qa.answer.agent import acts, asked_actor, asks_for_words, quotes
from qa.answer.citations import also_reported_by, make_citation
from qa.answer.injection import looks_like_injection
from qa.answer.lead import (
    SINGLE_FACT_TERMS,
    asks_for_a_name,
    asks_for_another,
    best_name,
    display_name,
    is_company_noun,
    is_organisation_noun,
    is_shouting,
    lead_sentences,
    names_an_outlet,
    outlet_names,
    without_exclusion,
)
from qa.answer.lists import (
    ListQuery,
    capitalised_words,
    coordinated_lists,
    detect_list_question,
    find_entities,
    is_country,
    matches_kind,
    normalise_item,
)
from qa.answer.numbers import asks_for_a_number, figure_in
from qa.answer.sentences import Sentence, split_sentences
from qa.answer.terms import (
    STOPWORDS,
    SYNONYM_WEIGHT,
    Idf,
    acronym_alternatives,
    stem_of,
    stems,
    synonyms,
    word_set,
    words,
)
from qa.answer.vectors import SentenceVectors
from qa.answer.when import asks_when, date_in, describe, written_date_in
from qa.answer.who import (
    Description,
    asked_role,
    described_as_person,
    description_of,
    is_role,
    named_subject,
)
from qa.types import Answer, AnswerItem, Citation, Passage, Turn

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

    from index.settings import Settings

# --- the knobs, all in one place ------------------------------------------------------------
# Abstain when the best sentence's relevance (before the retrieval prior) is below this.
# Keyed by scorer, because cosine shifts the scale. Calibrated on the MultiHop-RAG dev split
# (null vs answerable queries): see qa/answer/calibrate.py.
ABSTAIN_THRESHOLD = {"lexical": 0.18, "embedding": 0.26}
# ... and the best sentence must cover at least this many average question terms' IDF mass.
MIN_TERM_SHARE = 1.0
# Weight of the embedding cosine against lexical coverage (which is 1). Dev: 0.5 beat 0.25, 1
# and 2 (AUC null-vs-answerable 0.984 vs 0.985/0.977/0.966 and more gold-fact hits).
W_COSINE = 0.5
# Sentences (best lexical first) that get a cosine. Stored sentence vectors make a cosine free,
# but giving one to every sentence did not pay: on dev it was level (strict 0.620 vs 0.615,
# citation precision 0.633 vs 0.622, within a handful of questions), on test it traded
# citation precision (0.672 -> 0.584) for strict accuracy (0.758 -> 0.790) and false
# abstention (0.092 -> 0.007): cosine lets sentences that echo the question's topic without
# its terms outrank the lexical evidence. So the cosine still only reorders this shortlist;
# without stored vectors (older stores, other models) the shortlist is embedded now (~40 ms
# of CPU per sentence).
EMBED_SHORTLIST = 4
# Prior for the passage's retrieval rank, 1/(1+rank) times this. With the reranked passages
# (dev, scripts/tune_answers.py): 0 -> 0.25 lifts citation precision 0.492 -> 0.605 at the same
# strict accuracy (0.549); 0.5 and 1.0 add under a point of precision and lose strict accuracy.
W_RETRIEVAL = 0.25
# Weight of the share of the question's adjacent content-stem pairs ("antitrust lawsuit",
# "welcome bonus") a sentence keeps, in the ranking only (not the abstention signal): a
# question paraphrases its evidence sentence but keeps some of its phrases, while the
# neighbouring sentences repeat the story's single words. Dev (MultiHop, inference): 0 -> 0.5
# citation precision 0.633 -> 0.647, strict 0.637 -> 0.646; 0.25 / 1.0 gave 0.640 / 0.645.
W_PAIRS = 0.5
W_TITLE = 0.5  # a question term found only in the passage's title counts this much
W_SOURCE = 1.0  # one naming the passage's outlet ("according to Polygon") is met (dev: 0.5 -> 1.0
# cut false abstention 0.084 -> 0.031, null abstention unchanged)
# A lower-case question word no passage uses ("What did Pompeo plan to do?" over "Pompeo is
# expected to address …") weighs this share of its IDF, unless a capitalised word is missing
# too: articles paraphrase verbs and common nouns, while a missing name ("Super Bowl") is the
# sign they do not cover the question. Dev (scripts/tune_answers.py): 1 -> 0.5 strict 0.628 ->
# 0.637, false abstention 0.013 -> 0.004, null abstention 0.958 -> 0.947, citation precision
# 0.637 -> 0.633; 0.3 gave up three null queries (0.926) for another point of strict. Basing
# the weight on the question's best-matched term instead (x0.75) scored level on dev but made
# "How did Maduro respond?" quote the backers' sentence instead of abstaining.
UNSEEN_WORD_WEIGHT = 0.5
# Words that frame what kind of answer is wanted, not what it is about: "How did Maduro
# respond?", "Why is the military important?". Articles report the reaction or the stakes
# without using the word, so when it is the only question word no passage uses, it weighs
# nothing. With another unseen word ("… respond to the earthquake?") it keeps its weight: the
# articles may well not cover the question.
FRAME_STEMS = frozenset(
    stems(
        "respond responded response responses react reacted reaction reactions reply replied "
        "important importance significant significance"
    )
)
# "How did Maduro respond?" / "What did Maduro do?": a sentence making the named one the doer
# of a verb ("Maduro dug in and accused …") ranks this share higher than one that only names
# it ("… backing for Maduro's government"). Neither dev set asks this shape; set on the sample
# corpus's questions (tests/test_answer_extractive.py).
W_ACTOR = 0.3
# An all-capitals headline or caption ("AT CHRISTMAS, DON MCLEAN SINGS THE PRAISES …") repeats
# the story's words without answering; it ranks at this share of its score.
W_HEADLINE = 0.5
MAX_SENTENCES = 3
FOLLOW_RATIO = 0.8  # further sentences must score at least this share of the best one
# A date or figure that leads the answer may come from a sentence scoring down to this share of
# the best one: the sentence giving the day often words the event differently ("On Wednesday 6
# December, the magazine announced Swift had earned the honour" for "What day did Time name
# Taylor Swift Person of the Year?"). Below FOLLOW_RATIO only a written-out date counts: a bare
# "today" or "Thursday" there is as likely the day of another event in the story. User-question
# dev, 0.8 -> 0.5: when leads 0.50 -> 0.875, number 0.50 -> 0.625, nothing else moved; 0.4 the
# same, 0.3 gave up a null question.
READING_RATIO = 0.5
REDUNDANT_JACCARD = 0.6  # stem overlap above which a sentence repeats a chosen one
LIST_RATIO = 0.85  # sentences read for list items must score this share of the best one
LIST_SENTENCES = 6
# With no enumeration among those, one further down (to this share of the best relevance,
# naming at least LIST_FURTHER_ITEMS) answers. User-question dev list recall 0.312 -> 0.406
# at 0.4 (0.45: no change; 0.3-0.4 alike), 0.438 with outlets matched whole (lead.py).
LIST_FURTHER_RATIO = 0.4
LIST_FURTHER_ITEMS = 3
MIN_WORDS = 5  # shorter sentences (captions, bylines) are down-weighted
NEAREST = 3
NO_PASSAGE_REASON = "The articles don't say: no article matched the question."
# "How much/many …?" abstains when none of this many best sentences gives a figure of the kind.
FIGURE_SENTENCES = 12

_WORD = re.compile(r"[A-Za-z0-9]+(?:[-'’][A-Za-z0-9]+)*")
T = TypeVar("T")


@dataclass
class Scored:
    passage_index: int
    sentence: Sentence
    stems: set[str]
    pairs: frozenset[tuple[str, str]] = frozenset()  # adjacent content stems, in order
    relevance: float = 0.0  # lexical (+ cosine), the abstention signal
    score: float = 0.0  # relevance + retrieval prior, the ranking signal
    parts: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Query:
    text: str
    terms: list[str]  # content stems used for scoring (the list kind removed)
    list_query: ListQuery | None
    pairs: frozenset[tuple[str, str]] = frozenset()  # adjacent content stems, in order
    plain_terms: frozenset[str] = frozenset()  # stems the question writes only in lower case
    name_terms: frozenset[str] = frozenset()  # stems of capitalised words after the first
    actor: str | None = None  # "How did Maduro respond?": the one whose deeds are asked about
    attribute: str | None = None  # "Who is Ohtani's wife?": the stem of what is asked of someone


def parse_query(question: str) -> Query:
    list_query = detect_list_question(question)
    ordered = stems(without_exclusion(question))
    terms = list(dict.fromkeys(ordered))
    if list_query is not None:
        # "countries" names the answer's type; the answering sentence lists countries
        # instead of saying the word, so the word must not count toward relevance.
        content = [t for t in terms if t != list_query.kind_stem]
        terms = content or terms
    plain, names = _plain_and_name_stems(question)
    # Phrases tell only in long questions: in "Who founded Acme Labs?" one pair is half the
    # mass and outweighs the sentences' other evidence (user-question dev lead 0.575 -> 0.525).
    long_question = len(set(ordered)) > SINGLE_FACT_TERMS
    pairs = frozenset((a, b) for a, b in itertools.pairwise(ordered) if a != b and long_question)
    # Only a short question names its thing outright; a long multi-hop one paraphrases ("the
    # industry's most brilliant"): checked there too, MultiHop dev lost 5 of 226 answerable.
    attribute = None if long_question else possessed_noun(question)
    return Query(question, terms, list_query, pairs, plain, names, asked_actor(question), attribute)


# Words that end the noun phrase after a possessive: "Ohtani's wife in 2023", "… cover that …".
_PHRASE_END = word_set("""that which who whom whose in on at for from with by during after before
    since when while and or but to as is was are were be been has have had did does do will""")


_AUXILIARY_QUESTION = re.compile(
    r"^\s*(?:how|what|why|when|where|who|which)\s+(?:did|does|do|has|have|had|will|would|can|"
    r"could|should|might|may)\b",
    re.I,
)


def possessed_noun(question: str) -> str | None:
    """The stem of the thing a question asks of someone: "Who is Shohei Ohtani's wife?" ->
    "wife", "Who photographed Taylor Swift's Time Person of the Year cover?" -> "cover"; None
    when the phrase ends in a name ("OpenAI's interim CEO"), is the subject of a verb ("How
    did Maduro's government respond?") or is a role, which articles often abbreviate ("Nike's
    chief financial officer" / "CFO": `who.asked_role` reads those)."""
    if _AUXILIARY_QUESTION.match(question) or asked_role(question) is not None:
        return None
    match = re.search(r"\w(?:'s|’s)\s+([^?!.,;:]+)", question)
    if match is None:
        return None
    phrase: list[str] = []
    for word in match.group(1).split():
        if word.lower() in _PHRASE_END:
            break
        phrase.append(word)
    head = phrase[-1] if phrase else ""
    if not head.isalpha() or not head.islower() or head in STOPWORDS:
        return None
    return stem_of(head)


def _plain_and_name_stems(question: str) -> tuple[frozenset[str], frozenset[str]]:
    """Stems the question writes only in lower case ("respond"), and stems of its capitalised
    words ("Maduro"; the first word is capitalised anyway and counts as neither)."""
    written = _WORD.findall(question)
    names = frozenset(stem_of(w) for w in written[1:] if w[:1].isupper())
    capitalised = names | {stem_of(w) for w in written[:1] if w[:1].isupper()}
    return frozenset(stem_of(w) for w in written if w[:1].islower()) - capitalised, names


class ExtractiveAnswerer:
    def __init__(self, settings: Settings, embedding: BaseEmbedding | None = None):
        self.settings = settings
        self.vectors = SentenceVectors(embedding) if embedding is not None else None

    @property
    def scorer(self) -> str:
        return "embedding" if self.vectors is not None else "lexical"

    def stream(
        self, question: str, passages: list[Passage], history: list[Turn] | None = None
    ) -> Iterator[Answer]:
        """Same shape as LLMAnswerer.stream (no text deltas: the answer comes whole)."""
        yield self.answer(question, passages, history)

    def answer(
        self, question: str, passages: list[Passage], history: list[Turn] | None = None
    ) -> Answer:
        """`history` is accepted for a uniform interface; the question should already be
        condensed (condense_question) — extractive scoring reads only the question."""
        started = time.perf_counter()
        query = parse_query(question)
        scored = self.score_sentences(query, passages)
        threshold = ABSTAIN_THRESHOLD[self.scorer]
        if not self.answerable(query, scored, threshold) or _attribute_unmentioned(
            query, passages, scored
        ):
            answer = abstain(query, passages, scored)
        else:
            answer = (
                list_answer(query, passages, scored, threshold)
                or name_answer(query, passages, scored)
                or when_answer(query, passages, scored)
                or who_is_answer(query, passages, scored)
                or number_answer(query, passages, scored)
                or sentence_answer(query, passages, scored)
            )
        answer.timings_ms["answer"] = (time.perf_counter() - started) * 1000
        return answer

    def answerable(self, query: Query, scored: list[Scored], threshold: float) -> bool:
        """The best sentence is relevant enough, and matches at least one average question
        term's worth of IDF mass (long multi-hop questions meet the first bar with a few terms;
        "capital of Australia" must not pass on "capital" alone)."""
        if not scored or not query.terms:
            return False
        best_lexical = max(s.parts.get("lexical", 0.0) for s in scored)
        return max(
            s.relevance for s in scored
        ) >= threshold and best_lexical >= MIN_TERM_SHARE / len(query.terms)

    # --- scoring ------------------------------------------------------------------------------
    def score_sentences(self, query: Query, passages: list[Passage]) -> list[Scored]:
        scored = [
            Scored(i, sentence, set(ordered), frozenset(itertools.pairwise(ordered)))
            for i, passage in enumerate(passages)
            for sentence in split_sentences(passage.text)
            if not looks_like_injection(sentence.text)  # article text is data, never orders
            for ordered in [stems(sentence.text)]
        ]
        if not scored or not query.terms:
            return scored
        alternatives = acronym_alternatives(query.text, [p.text for p in passages])
        for item in scored:  # "IMF" asked, "International Monetary Fund" written: a match
            item.stems |= {
                term
                for term, phrases in alternatives.items()
                if any(phrase <= item.stems for phrase in phrases)
            }
        idf = Idf(s.stems for s in scored)
        title_stems = [set(stems(p.title)) for p in passages]
        source_stems = [set(stems(p.source)) for p in passages]
        seen = set().union(*(s.stems for s in scored), *title_stems, *source_stems)
        weights = {term: idf(term) for term in query.terms}
        if not any(t in query.name_terms and t not in seen for t in query.terms):
            unseen = query.plain_terms & (set(weights) - seen)
            for term in unseen:
                framing_only = term in FRAME_STEMS and len(unseen) == 1
                weights[term] *= 0.0 if framing_only else UNSEEN_WORD_WEIGHT
        total = sum(weights.values())
        if total <= 0:  # the question's only words frame it ("How did they react?")
            return scored
        for item in scored:
            found = sum(w * _match(t, item.stems) for t, w in weights.items())
            elsewhere = [t for t in weights if t not in item.stems]
            in_source = sum(weights[t] for t in elsewhere if t in source_stems[item.passage_index])
            in_title = sum(
                weights[t]
                for t in elsewhere
                if t in title_stems[item.passage_index]
                and t not in source_stems[item.passage_index]
            )
            lexical = (found + W_SOURCE * in_source + W_TITLE * in_title) / total
            if len(words(item.sentence.text)) < MIN_WORDS:
                lexical *= 0.5
            item.parts = {"lexical": lexical}
            item.relevance = lexical
        if self.vectors is not None:
            add_cosines(self.vectors, query.text, scored, passages)
        add_ranking_scores(query, scored, idf)
        return scored


def _attribute_unmentioned(query: Query, passages: list[Passage], scored: list[Scored]) -> bool:
    """ "Who is Ohtani's wife?" over passages none of which says "wife": the articles don't say,
    however well the name matches (the nearest name would be a wrong answer)."""
    return query.attribute is not None and query.attribute not in _seen_stems(passages, scored)


def _seen_stems(passages: list[Passage], scored: list[Scored]) -> set[str]:
    """Every stem the passages' sentences, titles and outlet names use."""
    seen: set[str] = set().union(*(s.stems for s in scored))
    return seen | {stem for p in passages for stem in stems(f"{p.title} {p.source}")}


def add_ranking_scores(query: Query, scored: list[Scored], idf: Idf) -> None:
    """The ranking score: relevance plus the passage's retrieval prior and the question's
    phrases kept, raised for a sentence where the asked-about one acts, lowered for a
    headline."""
    pair_weights = {pair: (idf(pair[0]) + idf(pair[1])) / 2 for pair in query.pairs}
    pairs_total = sum(pair_weights.values())
    for item in scored:
        if pairs_total:
            kept = sum(w for pair, w in pair_weights.items() if pair in item.pairs)
            item.parts["pairs"] = kept / pairs_total
        item.score = (
            item.relevance
            + W_RETRIEVAL / (1.0 + item.passage_index)
            + W_PAIRS * item.parts.get("pairs", 0.0)
        )
        if query.actor and acts(item.sentence.text, query.actor):
            item.score *= 1.0 + W_ACTOR
        if is_shouting(item.sentence.text):
            item.score *= W_HEADLINE


def _match(term: str, sentence_stems: set[str]) -> float:
    if term in sentence_stems:
        return 1.0
    return SYNONYM_WEIGHT if synonyms(term) & sentence_stems else 0.0


def add_cosines(
    vectors: SentenceVectors, question: str, scored: list[Scored], passages: list[Passage]
) -> None:
    """Blend the embedding cosine into the relevance of the lexical shortlist. A passage that
    carries its stored sentence vectors (pooled at ingest from the chunk's own model pass)
    gives its sentences a cosine for free; the rest of the shortlist is embedded now."""
    query = vectors.query(question)
    shortlist = sorted(scored, key=lambda s: s.relevance, reverse=True)[:EMBED_SHORTLIST]
    for item in scored:
        item.relevance = item.parts["lexical"] / (1.0 + W_COSINE)
    per_passage: dict[int, tuple[list[tuple[int, int]], np.ndarray] | None] = {}
    to_embed = []
    for item in shortlist:
        index = item.passage_index
        if index not in per_passage:
            per_passage[index] = _stored_cosines(passages[index], query)
        stored = per_passage[index]
        if stored is None:
            to_embed.append(item)
        else:
            _blend_cosine(item, _overlapping(item.sentence, *stored))
    if to_embed:
        cosines = vectors.texts([s.sentence.text for s in to_embed]) @ query
        for item, cosine in zip(to_embed, cosines, strict=True):
            _blend_cosine(item, float(cosine))


def _stored_cosines(
    passage: Passage, query: np.ndarray
) -> tuple[list[tuple[int, int]], np.ndarray] | None:
    stored = passage.sentence_vectors
    if stored is None:
        return None
    spans, codes = stored
    if codes.shape[1] != query.shape[0]:
        return None
    return spans, (codes.astype(np.float32) @ query) / code_scale()


def _overlapping(sentence: Sentence, spans: list[tuple[int, int]], cosines: np.ndarray) -> float:
    """The cosine of the stored sentence that overlaps this one most (the two splitters
    mostly agree; where they do not, the larger share decides)."""
    overlaps = [min(sentence.end, end) - max(sentence.start, start) for start, end in spans]
    best = int(np.argmax(overlaps)) if overlaps else -1
    return float(cosines[best]) if best >= 0 and overlaps[best] > 0 else 0.0


def _blend_cosine(item: Scored, cosine: float) -> None:
    item.parts["cosine"] = max(cosine, 0.0)
    item.relevance = (item.parts["lexical"] + W_COSINE * item.parts["cosine"]) / (1.0 + W_COSINE)


# --- answers ------------------------------------------------------------------------------------
def _ranked(scored: list[Scored]) -> list[Scored]:
    return sorted(scored, key=lambda s: s.score, reverse=True)


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def pick_sentences(scored: list[Scored], limit: int = MAX_SENTENCES) -> list[Scored]:
    """The best sentence, then up to `limit-1` others close in score that add something new."""
    ranked = _ranked(scored)
    chosen = [ranked[0]]
    for candidate in ranked[1:]:
        if len(chosen) >= limit or candidate.score < FOLLOW_RATIO * ranked[0].score:
            break
        if all(_jaccard(candidate.stems, c.stems) < REDUNDANT_JACCARD for c in chosen):
            chosen.append(candidate)
    return chosen


def _cite(chosen: list[Scored], passages: list[Passage]) -> list[Citation]:
    return [
        make_citation(
            n,
            passages[s.passage_index],
            s.sentence,
            scores={"sentence": round(s.score, 4), **{k: round(v, 4) for k, v in s.parts.items()}},
        )
        for n, s in enumerate(chosen, start=1)
    ]


def sentence_answer(query: Query, passages: list[Passage], scored: list[Scored]) -> Answer:
    chosen = pick_sentences(scored)
    own_words = _own_words(query, passages, scored, chosen)
    if own_words is not None:
        chosen = _with_own_words(query, chosen, own_words)
    return _quoting_answer(query, passages, _cite(chosen, passages))


def _own_words(
    query: Query, passages: list[Passage], scored: list[Scored], chosen: list[Scored]
) -> Scored | None:
    """For "What did Healy say …?": the first chosen sentence that quotes Healy, else the best
    sentence of the lead's article that does; None if none does."""
    actor = query.actor
    if actor is None or not asks_for_words(query.text):
        return None
    article = passages[chosen[0].passage_index].article_id
    same_article = (s for s in _ranked(scored) if passages[s.passage_index].article_id == article)
    return next(
        (s for s in itertools.chain(chosen, same_article) if quotes(s.sentence.text, actor)), None
    )


def _with_own_words(query: Query, chosen: list[Scored], own_words: Scored) -> list[Scored]:
    """The quote leads when the question names nothing but the speaker ("What did Guaido
    say?", "How did Maduro react?"): the best sentence is then just one that names him. With a
    topic ("… about Meta's offer") the best sentence stays first (on dev, leading with the
    quote there changed nothing) and the quote, if not chosen, replaces the weakest other."""
    assert query.actor is not None
    others = [s for s in chosen if s is not own_words]
    if set(query.terms) - FRAME_STEMS <= set(stems(query.actor)):
        return [own_words, *others[: MAX_SENTENCES - 1]]
    if len(others) < len(chosen):  # already chosen
        return chosen
    return [chosen[0], own_words, *chosen[1 : MAX_SENTENCES - 1]]


def _quoting_answer(
    query: Query, passages: list[Passage], citations: list[Citation], lead: str = ""
) -> Answer:
    """The cited sentences, each with its marker, after an optional lead line."""
    quotes = " ".join(f"{c.quote} [{c.n}]" for c in citations)
    return Answer(
        question=query.text,
        answer=f"{lead}\n\n{quotes}" if lead else quotes,
        citations=citations,
        also_reported_by=also_reported_by(citations, passages),
    )


def name_answer(query: Query, passages: list[Passage], scored: list[Scored]) -> Answer | None:
    """ "Who …?" / "Which company …?": the name first, cited to the sentences that say it."""
    if not asks_for_a_name(query.text):
        return None
    candidate = best_name(query.text, passages, _ranked(scored))
    if candidate is None:
        return None
    citations = _cite(lead_sentences(candidate, pick_sentences(scored)), passages)
    naming = [c for c in citations if candidate.text in c.quote] or citations[:1]
    markers = "".join(f"[{c.n}]" for c in naming)
    lead = f"**{display_name(candidate.text, passages)}** {markers}."
    return _quoting_answer(query, passages, citations, lead)


def when_answer(query: Query, passages: list[Passage], scored: list[Scored]) -> Answer | None:
    """ "When …?": the day first (resolved against the article's date), cited to the sentence
    that gives it; None when no answering sentence gives a date."""
    if not asks_when(query.text):
        return None
    return _led_from_the_close_sentences(
        query,
        passages,
        scored,
        read=lambda s: date_in(s.sentence.text, passages[s.passage_index].published),
        lead=lambda found, cited: f"{describe(found, cited.published)} [1].",
        read_further=lambda s: (
            date_in(s.sentence.text, passages[s.passage_index].published)
            if written_date_in(s.sentence.text)
            else None
        ),
    )


def number_answer(query: Query, passages: list[Passage], scored: list[Scored]) -> Answer | None:
    """ "How much/many/old …?": the figure first, cited to the sentence that gives it. When no
    sentence near the top gives a figure of the asked kind, the articles don't say; when only
    one further down does, None (the best sentences are quoted instead)."""
    if not asks_for_a_number(query.text):
        return None
    answer = _led_from_the_close_sentences(
        query,
        passages,
        scored,
        read=lambda s: figure_in(s.sentence.text, query.text),
        lead=lambda found, cited: f"**{found.text}** [1].",
    )
    if answer is not None:
        return answer
    if any(figure_in(s.sentence.text, query.text) for s in _ranked(scored)[:FIGURE_SENTENCES]):
        return None
    return abstain(
        query,
        passages,
        scored,
        reason="The articles don't say: no passage found gives that figure.",
    )


def who_is_answer(query: Query, passages: list[Passage], scored: list[Scored]) -> Answer | None:
    """ "Who is <Name>?": what the articles call that one (title or apposition) first, cited to
    the sentence that says it; None when no retrieved sentence describes the name cleanly."""
    name = named_subject(query.text)
    if name is None:
        return None
    chosen = pick_sentences(scored)
    # Any retrieved sentence that describes the name will do, the best-scoring first among
    # those that say of what ("OpenAI’s CEO" over a headline's bare "CEO").
    pool = chosen + _ranked(scored)
    pool.sort(key=lambda s: not _names_something(description_of(name, s.sentence.text)))
    return _led_by_a_reading(
        query,
        passages,
        chosen,
        pool,
        read=lambda s: description_of(name, s.sentence.text),
        lead=lambda found, cited: f"**{name}**: {found.text} [1].",
    )


def _names_something(description: Description | None) -> bool:
    """A description naming more than a role: "OpenAI’s CEO", "Venezuelan Foreign Minister",
    not "CEO"."""
    return description is not None and any(
        w[:1].isupper() and not is_role(w) for w in description.text.split()
    )


def _led_from_the_close_sentences(
    query: Query,
    passages: list[Passage],
    scored: list[Scored],
    read: Callable[[Scored], T | None],
    lead: Callable[[T, Citation], str],
    read_further: Callable[[Scored], T | None] | None = None,
) -> Answer | None:
    """_led_by_a_reading over the chosen sentences and those scoring close to the best: a date
    or a figure must come from a sentence that answers, not from anywhere in the passages.
    Sentences further down, to READING_RATIO of the best, are read with `read_further` when
    given (a stricter reading: a date written out, not "today")."""
    chosen = pick_sentences(scored)
    ranked = _ranked(scored)
    close = [s for s in ranked if s.score >= FOLLOW_RATIO * chosen[0].score]
    further = [
        s
        for s in ranked
        if READING_RATIO * chosen[0].score <= s.score < FOLLOW_RATIO * chosen[0].score
    ]
    further_ids = {id(s) for s in further}
    read_further = read_further or read

    def reading(item: Scored) -> T | None:
        return read_further(item) if id(item) in further_ids else read(item)

    return _led_by_a_reading(
        query, passages, chosen, chosen + close + further, read=reading, lead=lead
    )


def _led_by_a_reading(
    query: Query,
    passages: list[Passage],
    chosen: list[Scored],
    pool: list[Scored],
    read: Callable[[Scored], T | None],
    lead: Callable[[T, Citation], str],
) -> Answer | None:
    """The first sentence of `pool` that `read` finds something in becomes citation [1], led by
    `lead(found, citation)`; the other chosen sentences follow. None if nothing is found."""
    found_in = next(((s, found) for s in pool if (found := read(s)) is not None), None)
    if found_in is None:
        return None
    sentence, found = found_in
    chosen = [sentence, *[s for s in chosen if s is not sentence][: MAX_SENTENCES - 1]]
    citations = _cite(chosen, passages)
    return _quoting_answer(query, passages, citations, lead(found, citations[0]))


def list_answer(
    query: Query, passages: list[Passage], scored: list[Scored], threshold: float
) -> Answer | None:
    """Names of the asked-for kind read out of the answering sentences; None if none found."""
    if query.list_query is None:
        return None
    ranked = _ranked(scored)
    floor = max(threshold, LIST_RATIO * ranked[0].relevance)
    relevant = [s for s in ranked if s.relevance >= floor][:LIST_SENTENCES]
    known = frozenset(capitalised_words("\n".join(p.text for p in passages)))
    # The question's own words and the outlets' names ("TechCrunch") are not items.
    question_words = {w for w in words(query.text) if w not in STOPWORDS}
    list_query, outlets = query.list_query, outlet_names(passages)

    def read(item: Scored) -> tuple[list[str], bool]:
        items, is_list = _items_in(item.sentence.text, list_query, known, question_words)
        return [name for name in items if not names_an_outlet(name, outlets)], is_list

    listing = _listing_sentences([(s, *read(s)) for s in relevant], ranked, floor, read)
    if not listing:
        return _no_other_named(query, passages, relevant)
    if is_organisation_noun(query.list_query.kind):
        listing = _without_people_and_countries(listing, query.list_query.kind, scored)
        if not listing:
            return None
    citations = _cite([s for s, _ in listing], passages)
    merged: dict[str, AnswerItem] = {}
    for citation, (_, items) in zip(citations, listing, strict=True):
        for name in items:
            item = merged.setdefault(normalise_item(name), AnswerItem(text=name))
            if citation.n not in item.citations:
                item.citations.append(citation.n)
    lines = [
        f"- {item.text} " + "".join(f"[{n}]" for n in item.citations) for item in merged.values()
    ]
    return Answer(
        question=query.text,
        answer="\n".join(lines),
        citations=citations,
        items=list(merged.values()),
        also_reported_by=also_reported_by(citations, passages),
    )


def _listing_sentences(
    per_sentence: list[tuple[Scored, list[str], bool]],
    ranked: list[Scored],
    floor: float,
    read: Callable[[Scored], tuple[list[str], bool]],
) -> list[tuple[Scored, list[str]]]:
    """The sentences whose items answer a list question, with their items. Sentences that
    enumerate ("A, B and C") answer it directly; with none among the best, an enumeration
    further down; with none at all, names mentioned in passing. (An enumeration whose names
    the question excludes, "Which other countries …", means the articles name no more.)"""
    listing = [(s, items) for s, items, is_list in per_sentence if items and is_list]
    if listing or any(is_list for _, _, is_list in per_sentence):
        return listing
    return _enumeration_further_down(ranked, floor, read) or [
        (s, items) for s, items, _ in per_sentence[:MAX_SENTENCES] if items
    ]


def _no_other_named(query: Query, passages: list[Passage], relevant: list[Scored]) -> Answer | None:
    """ "Which other countries …?" and the passages name none: say so, with the nearest
    passages. Any other list question with no item is passed on (None)."""
    if not asks_for_another(query.text) or query.list_query is None:
        return None
    reason = f"The articles found name no other {query.list_query.kind}."
    nearest = [passages[s.passage_index] for s in relevant[:NEAREST]]
    return Answer(
        question=query.text,
        answer=reason,
        abstained=True,
        reason=reason,
        nearest=list({p.chunk_id: p for p in nearest}.values()),
    )


def _without_people_and_countries(
    listing: list[tuple[Scored, list[str]]], kind: str, scored: list[Scored]
) -> list[tuple[Scored, list[str]]]:
    """Items of an organisation list that are organisations: "Which companies did the FTC
    sue?" is not answered by "Zapolsky", Amazon's general counsel, and "Which two Israeli
    startups …?" not by "Israel". Sentences left with no item are dropped."""
    texts = [s.sentence.text for s in scored]
    company = is_company_noun(kind)
    kept = [
        (
            s,
            [
                name
                for name in items
                if not described_as_person(name, texts) and not (company and is_country(name))
            ],
        )
        for s, items in listing
    ]
    return [(s, items) for s, items in kept if items]


def _enumeration_further_down(
    ranked: list[Scored],
    floor: float,
    read: Callable[[Scored], tuple[list[str], bool]],
) -> list[tuple[Scored, list[str]]]:
    """When no sentence near the top enumerates, the best one further down (to
    LIST_FURTHER_RATIO of the best relevance) that does: "Which networks are in NASCAR's new
    media deal?" is answered by "… a $7.7 billion deal with Fox Sports, NBC, Amazon, and Warner
    Bros. Discovery.", below the headlines that repeat the question's words."""
    lowest = LIST_FURTHER_RATIO * ranked[0].relevance
    for item in ranked:
        if lowest <= item.relevance < floor:
            items, is_list = read(item)
            if is_list and len(items) >= LIST_FURTHER_ITEMS:
                return [(item, items)]
    return []


def _items_in(
    sentence: str, list_query: ListQuery, known: frozenset[str], question_words: set[str]
) -> tuple[list[str], bool]:
    """Names of the asked-for kind in `sentence`, and whether they come as an enumeration."""
    entities = [
        e
        for e in find_entities(sentence, known)
        if not e.possessive and matches_kind(e.text, list_query)
    ]
    runs = coordinated_lists(sentence, entities)
    named = [e for run in runs for e in run] if runs else entities
    return [e.text for e in named if not set(words(e.text)) & question_words], bool(runs)


def abstain(
    query: Query, passages: list[Passage], scored: list[Scored], reason: str = ""
) -> Answer:
    nearest_order: dict[int, float] = {}
    for s in _ranked(scored):
        nearest_order.setdefault(s.passage_index, s.score)
    nearest = [passages[i] for i in list(nearest_order)[:NEAREST]] or passages[:NEAREST]
    reason = reason or abstention_reason(query, passages, scored)
    return Answer(
        question=query.text, answer=reason, abstained=True, reason=reason, nearest=nearest
    )


def abstention_reason(query: Query, passages: list[Passage], scored: list[Scored]) -> str:
    if not passages:
        return NO_PASSAGE_REASON
    seen = _seen_stems(passages, scored)
    missing_by_stem: dict[str, str] = {}
    for word in _WORD.findall(query.text):
        stem = (stems(word) or [""])[0]
        if stem and stem in query.terms and stem not in seen:
            missing_by_stem.setdefault(stem, word.removesuffix("'s").removesuffix("’s"))
    # Names first: "none mentions Engadget" says more than "none mentions recently".
    missing = sorted(missing_by_stem.values(), key=lambda w: not w[:1].isupper())
    if missing:
        return (
            "The articles don't say: none of the passages found mentions "
            + _join_words(missing[:4])
            + "."
        )
    return (
        "The articles don't say: the closest passages touch on the question's words "
        "but no sentence answers it."
    )


def _join_words(items: list[str]) -> str:
    quoted = [f"“{w}”" for w in items]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]
