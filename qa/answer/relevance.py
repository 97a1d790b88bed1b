"""Sentence relevance: how well each sentence of the retrieved passages covers the question.

* lexical coverage — the IDF-weighted share of the question's content stems the sentence
  contains (IDF over the retrieved sentences; a term no passage mentions weighs most);
* embedding cosine between question and sentence for a lexical shortlist, when a model is given
  (stored sentence vectors make it free);
* for ranking only: a prior for the passage's retrieval rank, the question's phrases kept,
  and for a question about a day, how near the passage's publication date is to it.

Relevance is the abstention signal; the ranking score picks the sentences the strategies read.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from index.sentences import code_scale
from qa.answer import lexicon
from qa.answer.config import AnswerConfig
from qa.answer.injection import looks_like_injection
from qa.answer.sentences import Sentence, split_sentences
from qa.answer.shape import QuestionShape
from qa.answer.terms import Idf, acronym_alternatives, stems, synonyms
from qa.answer.when import published_day
from qa.types import Passage

if TYPE_CHECKING:
    from qa.answer.vectors import SentenceVectors

FRAME_STEMS = frozenset(stems(" ".join(sorted(lexicon.FRAME_WORDS))))


@dataclass(eq=False)  # compared and hashed by identity: one object per sentence
class Scored:
    passage_index: int
    sentence: Sentence
    stems: set[str]
    pairs: frozenset[tuple[str, str]] = frozenset()  # adjacent content stems, in order
    relevance: float = 0.0  # lexical (+ cosine), the abstention signal
    score: float = 0.0  # relevance + retrieval prior, the ranking signal
    parts: dict[str, float] = field(default_factory=dict)


def score_sentences(
    shape: QuestionShape,
    passages: list[Passage],
    config: AnswerConfig,
    vectors: SentenceVectors | None = None,
) -> list[Scored]:
    scored = [
        Scored(i, sentence, set(ordered), frozenset(itertools.pairwise(ordered)))
        for i, passage in enumerate(passages)
        for sentence in split_sentences(passage.text)
        if not looks_like_injection(sentence.text)  # article text is data, never orders
        for ordered in [stems(sentence.text)]
    ]
    if not scored or not shape.terms:
        return scored
    alternatives = acronym_alternatives(shape.text, [p.text for p in passages])
    for item in scored:  # "IMF" asked, "International Monetary Fund" written: a match
        matched = [t for t, forms in alternatives.items() if any(f <= item.stems for f in forms)]
        item.stems |= set(matched)
    days_late = _days_late(shape.as_of, passages)
    date_fits = _date_fits(days_late, config)
    _add_datelines(shape, scored, date_fits)
    idf = Idf(s.stems for s in scored)
    title_stems = [set(stems(p.title)) for p in passages]
    source_stems = [set(stems(p.source)) for p in passages]
    seen = set().union(*(s.stems for s in scored), *title_stems, *source_stems)
    weights = {term: idf(term) for term in shape.terms}
    if not any(t in shape.name_terms and t not in seen for t in shape.terms):
        unseen = shape.plain_terms & (set(weights) - seen)
        for term in unseen:
            framing_only = term in FRAME_STEMS and len(unseen) == 1
            weights[term] *= 0.0 if framing_only else config.unseen_word_weight
    total = sum(weights.values())
    if total <= 0:  # the question's only words frame it ("How did they react?")
        return scored
    for item in scored:
        found = sum(w * _match(t, item.stems, config) for t, w in weights.items())
        elsewhere = [t for t in weights if t not in item.stems]
        source, title = source_stems[item.passage_index], title_stems[item.passage_index]
        in_source = sum(weights[t] for t in elsewhere if t in source)
        in_title = sum(weights[t] for t in elsewhere if t in title and t not in source)
        lexical = (found + config.w_source * in_source + config.w_title * in_title) / total
        item.parts = {"lexical": lexical}
        item.relevance = lexical
    if vectors is not None:
        add_cosines(vectors, shape.text, scored, passages, config)
    add_ranking_scores(shape, scored, idf, config)
    for item in scored:
        fit = date_fits[item.passage_index]
        if fit > 0:
            item.parts["date_fit"] = fit
            item.score += config.w_as_of * fit
    _discount_later_reports(shape, days_late, scored, config)
    return scored


def _discount_later_reports(
    shape: QuestionShape, days_late: list[int | None], scored: list[Scored], config: AnswerConfig
) -> None:
    """ "Who was the Panthers' head coach on November 6, 2023?": an article published weeks
    later tells its own day's state (the interim coach after a firing), unless the sentence
    names the asked day. Only for a short question naming a day: a long multi-hop question
    names several articles' days, and a month or year ("after September 2018") spans the
    later articles that recount it."""
    as_of = shape.as_of
    if as_of is None or shape.long or str(as_of.day) not in shape.terms:
        return
    said = set(stems(f"{as_of:%B} {as_of.day}"))
    late = [days is not None and days >= config.as_of_days for days in days_late]
    for item in scored:
        if late[item.passage_index] and not said <= item.stems:
            item.parts["later_report"] = item.relevance  # for the abstention's reason
            item.relevance *= config.later_report_weight
            item.score *= config.later_report_weight


def _add_datelines(shape: QuestionShape, scored: list[Scored], date_fits: list[float]) -> None:
    """A passage published on the asked day says that day, as its title says the story's
    words: its sentences match the question's date terms."""
    as_of = shape.as_of
    if as_of is None or not any(date_fits):
        return
    said = set(stems(f"{as_of:%B} {as_of.day} {as_of.year}")) & set(shape.terms)
    for item in scored:
        if date_fits[item.passage_index] > 0:
            item.stems |= said


def _days_late(as_of: date | None, passages: list[Passage]) -> list[int | None]:
    """How many days after the asked day each passage was published (None: no day asked, or
    the passage is undated)."""
    if as_of is None:
        return [None] * len(passages)
    days = [published_day(p.published) for p in passages]
    return [(day - as_of).days if day is not None else None for day in days]


def _date_fits(days_late: list[int | None], config: AnswerConfig) -> list[float]:
    """A question about a day ("the yield on September 26, 2023", "the Chiefs' game on
    September 24") is answered by what was reported then: each passage's fit, 1 when it was
    published that day, less each day after, 0 from as_of_days on, before it or undated."""
    return [
        max(0.0, 1.0 - late / config.as_of_days) if late is not None and late >= 0 else 0.0
        for late in days_late
    ]


def _match(term: str, sentence_stems: set[str], config: AnswerConfig) -> float:
    if term in sentence_stems:
        return 1.0
    return config.synonym_weight if synonyms(term) & sentence_stems else 0.0


def add_ranking_scores(
    shape: QuestionShape, scored: list[Scored], idf: Idf, config: AnswerConfig
) -> None:
    """Relevance plus the passage's retrieval prior and the question's phrases kept."""
    pair_weights = {pair: (idf(pair[0]) + idf(pair[1])) / 2 for pair in shape.pairs}
    pairs_total = sum(pair_weights.values())
    for item in scored:
        if pairs_total:
            kept = sum(w for pair, w in pair_weights.items() if pair in item.pairs)
            item.parts["pairs"] = kept / pairs_total
        item.score = (
            item.relevance
            + config.w_retrieval / (1.0 + item.passage_index)
            + config.w_pairs * item.parts.get("pairs", 0.0)
        )


def add_cosines(
    vectors: SentenceVectors,
    question: str,
    scored: list[Scored],
    passages: list[Passage],
    config: AnswerConfig,
) -> None:
    """Blend the embedding cosine into the lexical shortlist's relevance: free from a passage's
    stored sentence vectors where it carries them, else embedded now."""
    query = vectors.query(question)
    shortlist = sorted(scored, key=lambda s: s.relevance, reverse=True)[: config.embed_shortlist]
    for item in scored:
        item.relevance = item.parts["lexical"] / (1.0 + config.w_cosine)
    stored = {i: _stored_cosines(passages[i], query) for i in {s.passage_index for s in shortlist}}
    to_embed = [s for s in shortlist if stored[s.passage_index] is None]
    for item in shortlist:
        found = stored[item.passage_index]
        if found is not None:
            _blend_cosine(item, _overlapping(item.sentence, *found), config)
    if to_embed:
        cosines = vectors.texts([s.sentence.text for s in to_embed]) @ query
        for item, cosine in zip(to_embed, cosines, strict=True):
            _blend_cosine(item, float(cosine), config)


def _stored_cosines(
    passage: Passage, query: np.ndarray
) -> tuple[list[tuple[int, int]], np.ndarray] | None:
    if passage.sentence_vectors is None or passage.sentence_vectors[1].shape[1] != query.shape[0]:
        return None
    spans, codes = passage.sentence_vectors
    return spans, (codes.astype(np.float32) @ query) / code_scale()


def _overlapping(sentence: Sentence, spans: list[tuple[int, int]], cosines: np.ndarray) -> float:
    """The cosine of the stored sentence that overlaps this one most."""
    overlaps = [min(sentence.end, end) - max(sentence.start, start) for start, end in spans]
    best = int(np.argmax(overlaps)) if overlaps else -1
    return float(cosines[best]) if best >= 0 and overlaps[best] > 0 else 0.0


def _blend_cosine(item: Scored, cosine: float, config: AnswerConfig) -> None:
    item.parts["cosine"] = max(cosine, 0.0)
    blended = item.parts["lexical"] + config.w_cosine * item.parts["cosine"]
    item.relevance = blended / (1.0 + config.w_cosine)


def ranked(scored: list[Scored]) -> list[Scored]:
    return sorted(scored, key=lambda s: s.score, reverse=True)


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def pick_sentences(scored: list[Scored], config: AnswerConfig) -> list[Scored]:
    """The best sentence, then up to max_sentences-1 others close in score that add
    something new."""
    order = ranked(scored)
    chosen = [order[0]]
    floor = config.follow_ratio * order[0].score
    for candidate in order[1:]:
        if len(chosen) >= config.max_sentences or candidate.score < floor:
            break
        if all(_jaccard(candidate.stems, c.stems) < config.redundant_jaccard for c in chosen):
            chosen.append(candidate)
    return chosen
