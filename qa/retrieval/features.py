"""Per-query scores and per-candidate features for the reranker.

BM25 is exact over every live row (the lexical view's compiled loops); dense cosines come
from Chroma's vector index for the nearest rows and from the candidates' own vectors for the rest
(`QueryScores.dense_of`). Ranks are ranks among the rows the hard filters allow: BM25 ranks are
exact up to RANK_CAP, dense ranks exact up to the depth of the dense query (a row below it ranks
at that depth). Everything per candidate reads the candidates' fetched data (`corpus.Chunks`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

from index.kernels import top_positions
from index.lexical import LexicalView, term_keys
from index.sentences import code_scale
from qa.retrieval.corpus import Chunks, DenseHits
from qa.retrieval.query import DAY_S, QueryAnalysis
from qa.retrieval.text import content_stems, named_entities, tokenize

FEATURES: tuple[str, ...] = (
    "bm25_rel",  # BM25 / best BM25 of the query
    "bm25_lrank",  # -log(1 + BM25 rank)
    "dense_cos",  # cosine of the MiniLM vectors
    "dense_gap",  # cosine - best cosine of the query
    "dense_lrank",  # -log(1 + dense rank)
    "src_named",  # the chunk's outlet is named in the question
    "src_bm25_rel",  # BM25 / best BM25 within that outlet
    "src_rr",  # 1 / (1 + BM25 rank within that outlet)
    "clause_bm25_rel",  # BM25 of the outlet's clause of the question, within the outlet
    "src_dense_rr",  # 1 / (1 + dense rank within that outlet)
    "day_match",  # published within a day of a day the question mentions
    "src_day_match",  # ... a day mentioned next to this chunk's outlet
    "period_match",  # inside a month / before / after period the question mentions
    "title_overlap",  # share of the title's stems that occur in the question
    "entity_cov",  # share of the question's capitalised phrases found in the chunk
    "article_bm25_max",  # best bm25_rel of any chunk of the same article
    "article_dense_max",  # best cosine of any chunk of the same article
    "first_chunk",  # chunk 0 of its article (lede)
    "sent_match",  # best sentence's idf-weighted share of the question's stems
    "sent_gap",  # sent_match - best sent_match among the candidates
    "clause_sent_match",  # the same for the clause of the question about this chunk's outlet
    "clause_sent_gap",  # ... minus the best among the same outlet's candidates
    "before_sent_match",  # sentence match with the text just before the outlet's mention
    "after_sent_match",  # ... just after it
    "sent_pairs",  # best sentence's idf-weighted share of the question's adjacent stem pairs
    "sent_pairs_gap",  # sent_pairs - best sent_pairs among the candidates
    "sent_cos",  # best cosine of the question with one of the chunk's sentence vectors
    "sent_cos_gap",  # sent_cos - best sent_cos among the candidates
)
_NEG = -1e9
RANK_CAP = 1000


@dataclass
class SourceView:
    rows: np.ndarray  # allowed rows of this outlet, ascending
    bm25: np.ndarray  # their BM25
    dense: DenseHits  # the outlet's nearest allowed rows
    bm25_max: float
    clause_scores: np.ndarray  # BM25 of the outlet's clause over `rows`
    clause_max: float
    days: list[tuple[int, int]]

    def bm25_rank(self, row: int) -> int:
        """Position of the row in the outlet's BM25 order (ties by row, as a stable sort)."""
        position = int(np.searchsorted(self.rows, row))
        if position >= len(self.rows) or self.rows[position] != row:
            return len(self.rows)
        value = self.bm25[position]
        return int(np.count_nonzero(self.bm25 > value)) + int(
            np.count_nonzero(self.bm25[:position] == value)
        )

    def dense_rank(self, cosine: float, peers: np.ndarray) -> int:
        """Rank among the outlet's rows whose cosine is known (its rows among the question's
        nearest, and the candidates): exact for rows near the question, from below for others.
        Asking Chroma for each named outlet's nearest rows instead (a filtered query, which
        scans the outlet) moved no dev metric by more than 0.002 (docs/performance.md)."""
        return int(np.count_nonzero(peers > cosine))


@dataclass
class QueryScores:
    """All scores of one question, after hard filters."""

    view: LexicalView
    analysis: QueryAnalysis
    allowed: np.ndarray  # bool per row of the view
    bm25: np.ndarray  # per row; _NEG where not allowed
    dense: DenseHits  # nearest allowed rows (empty when nothing dense is scored)
    query_vector: np.ndarray | None = None  # unit; None when nothing dense is scored
    sources: dict[str, SourceView] = field(default_factory=dict)
    chunks: Chunks | None = None  # the candidates' data, once fetched
    _rank_cache: dict[str, np.ndarray] = field(default_factory=dict)
    _known: dict[int, float] = field(default_factory=dict)  # row -> cosine

    @property
    def snap(self) -> Chunks:
        """The candidates' data (name kept from the whole-corpus snapshot it replaces)."""
        assert self.chunks is not None, "candidates not fetched yet"
        return self.chunks

    @cached_property
    def bm25_max(self) -> float:
        top = float(self.bm25.max()) if self.bm25.size else 0.0
        return top if top > 0 else 1.0

    @property
    def dense_max(self) -> float:
        return float(self.dense.cosines.max()) if self.dense.cosines.size else _NEG

    @property
    def has_dense(self) -> bool:
        return self.query_vector is not None

    def learn_cosines(self, rows: Sequence[int], cosines: Sequence[float]) -> None:
        for row, cosine in zip(rows, cosines, strict=True):
            self._known[int(row)] = float(cosine)

    def dense_of(self, rows: np.ndarray) -> np.ndarray:
        """Cosine of each row (_NEG where unknown or nothing dense is scored)."""
        if not self.has_dense:
            return np.full(len(rows), _NEG)
        return np.array([self._known.get(int(r), _NEG) for r in rows], dtype=np.float64)

    def top_bm25(self, n: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Rows of the n best BM25 scores (allowed rows only, best first, ties by row)."""
        if rows is None and n <= RANK_CAP:
            return self._best_bm25[:n]  # a prefix of the same order: found once per question
        if rows is None:
            rows = np.arange(len(self.bm25))
        return rows[_top(self.bm25[rows], n)]

    @cached_property
    def _best_bm25(self) -> np.ndarray:
        """Rows of the RANK_CAP best BM25 scores: the candidates' and the rank features'."""
        return _top(self.bm25, RANK_CAP)

    def top_dense(self, n: int) -> np.ndarray:
        return self.dense.rows[:n]

    def ranks(self, name: str, rows: np.ndarray) -> np.ndarray:
        """0-based rank of each row's score among the allowed rows (ties share the best rank),
        capped: BM25 at RANK_CAP (only the top is sorted, so this stays O(n)), dense at the
        depth of the dense query."""
        ordered = self._rank_cache.get(name)
        if ordered is None:
            if name == "bm25":
                ordered = np.sort(self.bm25[self.top_bm25(RANK_CAP)])
            else:
                ordered = np.sort(self.dense.cosines)
            self._rank_cache[name] = ordered
        values = self.bm25[rows] if name == "bm25" else self.dense_of(rows)
        ranks = len(ordered) - np.searchsorted(ordered, values, side="right")
        return np.minimum(ranks, RANK_CAP if name == "bm25" else min(len(ordered), RANK_CAP))


def _top(values: np.ndarray, n: int) -> np.ndarray:
    """Positions of the n largest values above _NEG, best first; equal values by position,
    also at the cut (a stable sort's first n, without sorting everything)."""
    return top_positions(np.ascontiguousarray(values, dtype=np.float64), n, _NEG / 2)


def warm_up(view: LexicalView) -> None:
    """Load the compiled BM25 loops for this view's arrays now (numba's cache: ~0.5 s once per
    process), so that the first question does not wait for them."""
    nothing = view.terms([])
    view.bm25(nothing)
    view.bm25_at(nothing, None, np.zeros(min(view.n, 1), dtype=np.int64))
    _top(np.zeros(1), 1)


def score_query(
    view: LexicalView,
    analysis: QueryAnalysis,
    allowed: np.ndarray,
    query_vector: np.ndarray | None,
    dense: DenseHits,
    with_sources: bool,
) -> QueryScores:
    counts = _counts(tokenize(analysis.question))
    bm25 = view.bm25(view.terms(counts), list(counts.values()))
    bm25 = np.where(allowed, bm25, _NEG)
    scores = QueryScores(view, analysis, allowed, bm25, dense, query_vector)
    scores.learn_cosines(dense.rows.tolist(), dense.cosines.tolist())
    if with_sources:
        scores.sources = _source_views(scores)
    return scores


def _counts(tokens: Sequence[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for token in tokens:
        counts[token] = counts.get(token, 0) + 1
    return counts


def _clause_bm25(scores: QueryScores, clause: str, rows: np.ndarray) -> np.ndarray:
    """BM25 of a part of the question at some rows."""
    counts = _counts(tokenize(clause))
    return scores.view.bm25_at(scores.view.terms(counts), list(counts.values()), rows)


def _source_views(scores: QueryScores) -> dict[str, SourceView]:
    view, analysis = scores.view, scores.analysis
    clauses = analysis.source_clauses()
    days = analysis.source_days()
    views = {}
    for source in analysis.source_names:
        if source not in view.all_source_names:
            continue
        code = view.all_source_names.index(source)
        rows = view.source_rows(code)
        rows = rows[scores.allowed[rows]]
        if rows.size == 0:
            continue
        bm25 = scores.bm25[rows]
        clause = _clause_bm25(scores, clauses.get(source, ""), rows)
        in_outlet = view.source_codes[scores.dense.rows] == code
        dense = DenseHits(scores.dense.rows[in_outlet], scores.dense.cosines[in_outlet])
        views[source] = SourceView(
            rows=rows,
            bm25=bm25,
            dense=dense,
            bm25_max=max(float(bm25.max()), 1e-9),
            clause_scores=clause,
            clause_max=max(float(clause.max()), 1e-9),
            days=[(d.since_ts, d.until_ts) for d in days.get(source, [])],
        )
    return views


def candidate_rows(
    scores: QueryScores, per_retriever: int, per_source: int, use_bm25: bool, use_dense: bool
) -> np.ndarray:
    """Union of the best rows of each retriever, and of each named outlet's sub-query."""
    pools = []
    if use_bm25:
        pools.append(scores.top_bm25(per_retriever))
    if use_dense and scores.has_dense:
        pools.append(scores.top_dense(per_retriever))
    for view in scores.sources.values():
        if use_bm25:
            pools.append(scores.top_bm25(per_source, view.rows))
            best_clause = view.rows[_top(view.clause_scores, per_source)]
            pools.append(best_clause)
        if use_dense and scores.has_dense:
            pools.append(view.dense.rows[:per_source])
        for since, until in view.days:
            ts = scores.view.published_ts[view.rows]
            on_day = view.rows[(ts >= since - DAY_S) & (ts < until + DAY_S)]
            if on_day.size:
                pools.append(scores.top_bm25(per_source, on_day))
    if not pools:
        return np.zeros(0, dtype=np.int64)
    merged = np.concatenate(pools).astype(np.int64)
    _, first = np.unique(merged, return_index=True)
    return merged[np.sort(first)]


def compute_features(scores: QueryScores, rows: np.ndarray) -> np.ndarray:
    n = len(rows)
    out = np.zeros((n, len(FEATURES)), dtype=np.float64)
    if n == 0:
        return out
    chunks = scores.snap
    column = {name: i for i, name in enumerate(FEATURES)}
    bm25_max = scores.bm25_max
    bm25 = np.maximum(scores.bm25[rows], 0.0)
    out[:, column["bm25_rel"]] = bm25 / bm25_max
    out[:, column["bm25_lrank"]] = -np.log1p(scores.ranks("bm25", rows))
    dense = scores.dense_of(rows)
    if scores.has_dense:
        dense_max = max(scores.dense_max, float(dense.max()))
        out[:, column["dense_cos"]] = dense
        out[:, column["dense_gap"]] = dense - dense_max
        out[:, column["dense_lrank"]] = -np.log1p(scores.ranks("dense", rows))
    _source_features(scores, rows, dense, out, column)
    _date_features(scores, rows, out, column)
    _text_features(scores, rows, out, column)
    _article_features(scores, rows, out, column)
    out[:, column["first_chunk"]] = [
        float(int(chunks.metas[r].get("chunk_index", 0) or 0) == 0) for r in rows.tolist()
    ]
    _sentence_features(scores, rows, dense, out, column)
    return out


def _source_features(
    scores: QueryScores,
    rows: np.ndarray,
    dense: np.ndarray,
    out: np.ndarray,
    column: dict[str, int],
) -> None:
    sources = scores.snap.sources
    row_list = rows.tolist()
    peers = {
        name: _outlet_peers(
            view, [i for i, r in enumerate(row_list) if sources[r] == name], rows, dense
        )
        for name, view in scores.sources.items()
    }
    for i, row in enumerate(row_list):
        view = scores.sources.get(sources[row])
        if view is None:
            continue
        out[i, column["src_named"]] = 1.0
        out[i, column["src_bm25_rel"]] = max(scores.bm25[row], 0.0) / view.bm25_max
        out[i, column["src_rr"]] = 1.0 / (1 + view.bm25_rank(row))
        if scores.has_dense:
            rank = view.dense_rank(dense[i], peers[sources[row]])
            out[i, column["src_dense_rr"]] = 1.0 / (1 + rank)
        position = int(np.searchsorted(view.rows, row))
        if position < len(view.rows) and view.rows[position] == row:
            out[i, column["clause_bm25_rel"]] = view.clause_scores[position] / view.clause_max
        ts = scores.view.published_ts[row]
        if any(since - DAY_S <= ts < until + DAY_S for since, until in view.days):
            out[i, column["src_day_match"]] = 1.0


def _outlet_peers(
    view: SourceView, positions: list[int], rows: np.ndarray, dense: np.ndarray
) -> np.ndarray:
    """Cosines of the outlet's rows known for this search: its nearest rows and candidates."""
    extra = [dense[i] for i in positions if rows[i] not in set(view.dense.rows.tolist())]
    return np.concatenate([view.dense.cosines, np.asarray(extra, dtype=np.float64)])


def _date_features(
    scores: QueryScores, rows: np.ndarray, out: np.ndarray, column: dict[str, int]
) -> None:
    ts = scores.view.published_ts[rows]
    for mention in scores.analysis.dates:
        if mention.kind == "day":
            hit = (ts >= mention.since_ts - DAY_S) & (ts < mention.until_ts + DAY_S)
            out[hit, column["day_match"]] = 1.0
        else:
            hit = (ts >= mention.since_ts) & (ts < mention.until_ts)
            out[hit, column["period_match"]] = 1.0


def _text_features(
    scores: QueryScores, rows: np.ndarray, out: np.ndarray, column: dict[str, int]
) -> None:
    chunks, analysis = scores.snap, scores.analysis
    question_stems = content_stems(analysis.question)
    skip = {analysis.question[m.start : m.end].lower() for m in analysis.sources}
    entities = {e.lower() for e in named_entities(analysis.question)} - skip
    for i, row in enumerate(rows.tolist()):
        title = _title_stems(str(chunks.metas[row].get("title", "")))
        if title:
            out[i, column["title_overlap"]] = len(title & question_stems) / len(title)
        if entities:
            haystack = chunks.search_text(row).lower()
            out[i, column["entity_cov"]] = sum(e in haystack for e in entities) / len(entities)


@lru_cache(maxsize=65536)
def _title_stems(title: str) -> frozenset[str]:
    """A title's stems (titles recur across searches: a bounded cache, not per corpus)."""
    return frozenset(content_stems(title))


def _article_features(
    scores: QueryScores, rows: np.ndarray, out: np.ndarray, column: dict[str, int]
) -> None:
    """Best BM25 of any allowed chunk of the same article (exact: its rows are contiguous in
    the view), and best cosine among the article's chunks whose cosine is known (the dense
    hits and the candidates: the best chunk of an article near the question is among them)."""
    view = scores.view
    bm25_max = scores.bm25_max
    known = sorted(scores._known.items()) if scores.has_dense else []
    known_rows = np.array([r for r, _ in known], dtype=np.int64)
    known_cos = np.array([c for _, c in known], dtype=np.float64)
    for i, row in enumerate(rows.tolist()):
        start, stop = view.article_span(row)
        best = max(float(scores.bm25[start:stop].max()), 0.0)
        out[i, column["article_bm25_max"]] = best / bm25_max
        if scores.has_dense:
            a, b = np.searchsorted(known_rows, [start, stop])
            inside = known_rows[a:b]
            cosines = known_cos[a:b][scores.allowed[inside]]
            out[i, column["article_dense_max"]] = float(cosines.max()) if cosines.size else -1.0


def _sentence_features(
    scores: QueryScores,
    rows: np.ndarray,
    dense: np.ndarray,
    out: np.ndarray,
    column: dict[str, int],
) -> None:
    analysis = scores.analysis
    clauses = analysis.source_clauses()
    segments = analysis.source_segments()
    texts = [analysis.question, *clauses.values(), *(t for pair in segments.values() for t in pair)]
    table = SentenceTable(scores.snap, rows.tolist(), scores.view, texts)
    row_list = rows.tolist()
    match = table.matches(row_list, table.weights(analysis.question))
    out[:, column["sent_match"]] = match
    out[:, column["sent_gap"]] = match - match.max()
    pairs = table.pair_matches(row_list, *table.question_pairs(analysis.question))
    out[:, column["sent_pairs"]] = pairs
    out[:, column["sent_pairs_gap"]] = pairs - pairs.max()
    if scores.query_vector is not None:
        cosines = table.sentence_cosines(row_list, scores.query_vector, dense)
        out[:, column["sent_cos"]] = cosines
        out[:, column["sent_cos_gap"]] = cosines - cosines.max()
    sources = np.array([scores.snap.sources[r] for r in row_list], dtype=object)
    for source in set(sources.tolist()):
        if source not in scores.sources:
            continue
        same = np.flatnonzero(sources == source)
        same_rows = rows[same].tolist()
        clause = table.matches(same_rows, table.weights(clauses.get(source, "")))
        out[same, column["clause_sent_match"]] = clause
        out[same, column["clause_sent_gap"]] = clause - clause.max()
        before, after = segments.get(source, ("", ""))
        out[same, column["before_sent_match"]] = table.matches(same_rows, table.weights(before))
        out[same, column["after_sent_match"]] = table.matches(same_rows, table.weights(after))


# --- sentences of the candidates ------------------------------------------------------------------


class SentenceTable:
    """The candidates' sentences over the question's stems, built once per search from the
    bodies the lexical index stores as term numbers (nothing is tokenised per search).

    Stems of the question (and its clauses) that the index holds get ids 0..q-1 with their
    BM25 idf; every other stem is OTHER. Facts are single sentences, so a chunk is scored by
    its best sentence."""

    def __init__(
        self, chunks: Chunks, rows: Sequence[int], view: LexicalView, texts: Sequence[str]
    ) -> None:
        idf = view.idf_of(s for text in texts for s in tokenize(text))
        self.ids = {stem: i for i, stem in enumerate(idf)}
        self.other = len(self.ids)
        self.size = len(self.ids) + 1
        self.idf = np.zeros(self.size)
        self.idf[: len(self.ids)] = list(idf.values())
        keys = term_keys(list(self.ids))
        order = np.argsort(keys)
        sorted_keys, sorted_ids = keys[order], order
        self.chunks = chunks
        self.tokens: dict[int, np.ndarray] = {}  # row -> ids of its body's stems, in order
        self.lengths: dict[int, np.ndarray] = {}  # row -> token count of each sentence
        for row in rows:
            hashes, lengths = view.sentences(row)
            ids = np.full(len(hashes), self.other, dtype=np.int64)
            if len(sorted_keys) and len(hashes):
                at = np.minimum(np.searchsorted(sorted_keys, hashes), len(sorted_keys) - 1)
                hit = sorted_keys[at] == hashes
                ids[hit] = sorted_ids[at[hit]]
            self.tokens[row] = ids
            self.lengths[row] = np.asarray(lengths, dtype=np.int64)

    def weights(self, text: str) -> np.ndarray:
        """idf per id for the stems of `text` (0 elsewhere, and at OTHER)."""
        weights = np.zeros(self.size)
        for stem in set(tokenize(text)):
            if stem in self.ids:
                weights[self.ids[stem]] = self.idf[self.ids[stem]]
        return weights

    def _flat(self, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids of the rows' tokens, the sentence number of each, first sentence of each row);
        a row with no sentence gets one empty sentence."""
        lengths = [self.lengths[r] if len(self.lengths[r]) else np.zeros(1, np.int64) for r in rows]
        per_row = np.array([len(x) for x in lengths], dtype=np.int64)
        all_lengths = np.concatenate(lengths)
        sentence_of = np.repeat(np.arange(len(all_lengths)), all_lengths)
        ids = np.concatenate([self.tokens[r] for r in rows])
        firsts = np.concatenate([[0], np.cumsum(per_row)[:-1]])
        return ids, sentence_of, firsts

    def matches(self, rows: Sequence[int], weights: np.ndarray) -> np.ndarray:
        """Per row: the largest idf-weighted share of the text's stems one sentence holds."""
        total = weights.sum()
        if total <= 0 or not len(rows):
            return np.zeros(len(rows))
        ids, sentence_of, firsts = self._flat(rows)
        n_sentences = int(firsts[-1] + max(len(self.lengths[rows[-1]]), 1))
        distinct = np.unique(sentence_of * self.size + ids)  # each stem once per sentence
        sums = np.bincount(
            distinct // self.size, weights=weights[distinct % self.size], minlength=n_sentences
        )
        return np.maximum.reduceat(sums, firsts) / total

    def _pair_code(self, a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray | int:
        return np.minimum(a, b) * (self.size + 1) + np.maximum(a, b)

    def question_pairs(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The text's adjacent stem pairs (stems the index holds) as sorted codes, and each
        pair's mean idf."""
        ids = [self.ids[t] for t in tokenize(text) if t in self.ids]
        weights = {
            int(self._pair_code(a, b)): (self.idf[a] + self.idf[b]) / 2
            for a, b in itertools.pairwise(ids)
            if a != b
        }
        codes = np.array(sorted(weights), dtype=np.int64)
        return codes, np.array([weights[c] for c in codes.tolist()])

    def pair_matches(
        self, rows: Sequence[int], codes: np.ndarray, weights: np.ndarray
    ) -> np.ndarray:
        """Per row: the largest idf-weighted share of the question's stem pairs one sentence
        holds (at most 1). A question paraphrases its evidence sentence but keeps phrases
        ("cut 870 jobs", "default search engine"); unigram matches cannot see them."""
        total = weights.sum()
        if total <= 0 or not len(rows):
            return np.zeros(len(rows))
        ids, sentence_of, firsts = self._flat(rows)
        n_sentences = int(firsts[-1] + max(len(self.lengths[rows[-1]]), 1))
        same = sentence_of[:-1] == sentence_of[1:]
        pairs = np.asarray(self._pair_code(ids[:-1][same], ids[1:][same]))
        at = np.minimum(np.searchsorted(codes, pairs), len(codes) - 1)
        values = np.where(codes[at] == pairs, weights[at], 0.0)
        sums = np.bincount(sentence_of[:-1][same], weights=values, minlength=n_sentences)
        return np.minimum(np.maximum.reduceat(sums, firsts) / total, 1.0)

    def has_sentence_vectors(self, row: int) -> bool:
        """Stored vectors that line up one-to-one with this splitter's sentences of the row."""
        return self._sentence_codes(row) is not None

    def _sentence_codes(self, row: int) -> np.ndarray | None:
        """The row's stored sentence vectors when they line up with this splitter's sentences."""
        codes = self.chunks.sentence_codes.get(row)
        if codes is None or len(codes) == 0 or len(codes) != len(self.lengths[row]):
            return None
        return codes

    def sentence_cosines(
        self, rows: Sequence[int], query_vector: np.ndarray, fallback: np.ndarray
    ) -> np.ndarray:
        """Per row, the best cosine between the question and one of its sentences (the stored
        sentence vectors); `fallback` (the chunk's own cosine) where a row has none, or where
        they do not line up with this splitter's sentences."""
        best = np.array(fallback, dtype=np.float64)
        usable: list[int] = []
        codes: list[np.ndarray] = []
        for i, row in enumerate(rows):
            row_codes = self._sentence_codes(row)
            if row_codes is not None:
                usable.append(i)
                codes.append(row_codes)
        if not usable or query_vector.size == 0:
            return best
        if codes[0].shape[1] != query_vector.shape[0]:
            return best
        sims = np.vstack(codes).astype(np.float32) @ query_vector.astype(np.float32)
        starts = np.cumsum(np.array([0] + [len(c) for c in codes[:-1]], dtype=np.int64))
        best[usable] = np.maximum.reduceat(sims, starts) / code_scale()
        return best
