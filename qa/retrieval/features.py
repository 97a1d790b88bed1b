"""Per-query scores over the whole snapshot and per-candidate features for the reranker.

Everything here is vectorised over the snapshot rows: one BM25 pass per query (plus one per outlet
the question names, on that outlet's clause), one matrix-vector product for dense cosines. Ranks
are ranks among the rows the hard filters allow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qa.retrieval.query import DAY_S, QueryAnalysis
from qa.retrieval.snapshot import Snapshot
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
    rows: np.ndarray  # allowed rows of this outlet
    bm25_rank: dict[int, int]
    dense_rank: dict[int, int]
    bm25_max: float
    clause_scores: np.ndarray  # BM25 of the outlet's clause over the outlet's rows
    clause_max: float
    days: list[tuple[int, int]]


@dataclass
class QueryScores:
    """All scores of one question over one snapshot, after hard filters."""

    snap: Snapshot
    analysis: QueryAnalysis
    allowed: np.ndarray  # bool per row
    bm25: np.ndarray  # per row; _NEG where not allowed
    dense: np.ndarray  # per row; _NEG where not allowed (all _NEG without vectors)
    query_vector: np.ndarray | None = None  # unit; None when nothing dense is scored
    sources: dict[str, SourceView] = field(default_factory=dict)
    _rank_cache: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def bm25_max(self) -> float:
        top = float(self.bm25.max()) if self.bm25.size else 0.0
        return top if top > 0 else 1.0

    @property
    def dense_max(self) -> float:
        return float(self.dense.max()) if self.dense.size else 0.0

    def top(self, name: str, n: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Rows of the n best scores of `name` ("bm25"/"dense"), best first; allowed rows only."""
        values = getattr(self, name)
        if rows is not None:
            values = values[rows]
        allowed = values > _NEG / 2
        n = min(n, int(allowed.sum()))
        if n <= 0:
            return np.zeros(0, dtype=np.int64)
        part = np.argpartition(-values, n - 1)[:n]
        part = part[np.argsort(-values[part], kind="stable")]
        return rows[part] if rows is not None else part

    def ranks(self, name: str, rows: np.ndarray) -> np.ndarray:
        """0-based rank of each row's score among the allowed rows (ties share the best rank),
        capped at RANK_CAP: only the top of the list is sorted, so this stays O(n)."""
        ordered = self._rank_cache.get(name)
        if ordered is None:
            ordered = np.sort(getattr(self, name)[self.top(name, RANK_CAP)])
            self._rank_cache[name] = ordered
        ranks = len(ordered) - np.searchsorted(ordered, getattr(self, name)[rows], side="right")
        return np.minimum(ranks, RANK_CAP)


def score_query(
    snap: Snapshot,
    analysis: QueryAnalysis,
    allowed: np.ndarray,
    query_vector: np.ndarray | None,
    with_sources: bool,
) -> QueryScores:
    bm25 = snap.bm25_scores(tokenize(analysis.question))
    bm25 = np.where(allowed, bm25, _NEG).astype(np.float64)
    if query_vector is not None and snap.vectors.shape[1] == query_vector.shape[0]:
        dense = snap.vectors @ query_vector.astype(np.float32)
        dense = np.where(allowed, dense, _NEG).astype(np.float64)
    else:
        dense = np.full(snap.n, _NEG)
        query_vector = None
    scores = QueryScores(snap, analysis, allowed, bm25, dense, query_vector)
    if with_sources:
        scores.sources = _source_views(scores)
    return scores


def _source_views(scores: QueryScores) -> dict[str, SourceView]:
    snap, analysis = scores.snap, scores.analysis
    clauses = analysis.source_clauses()
    days = analysis.source_days()
    views = {}
    for source in analysis.source_names:
        if source not in snap.source_names:
            continue
        code = snap.source_names.index(source)
        rows = np.flatnonzero((snap.source_codes == code) & scores.allowed)
        if rows.size == 0:
            continue
        bm25_order = rows[np.argsort(-scores.bm25[rows], kind="stable")]
        dense_order = rows[np.argsort(-scores.dense[rows], kind="stable")]
        clause = snap.bm25_scores(tokenize(clauses.get(source, "")))[rows]
        views[source] = SourceView(
            rows=rows,
            bm25_rank={int(r): i for i, r in enumerate(bm25_order)},
            dense_rank={int(r): i for i, r in enumerate(dense_order)},
            bm25_max=max(float(scores.bm25[bm25_order[0]]), 1e-9),
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
        pools.append(scores.top("bm25", per_retriever))
    if use_dense:
        pools.append(scores.top("dense", per_retriever))
    for view in scores.sources.values():
        if use_bm25:
            pools.append(scores.top("bm25", per_source, view.rows))
            best_clause = view.rows[np.argsort(-view.clause_scores, kind="stable")[:per_source]]
            pools.append(best_clause)
        if use_dense:
            pools.append(scores.top("dense", per_source, view.rows))
        for since, until in view.days:
            ts = scores.snap.published_ts[view.rows]
            on_day = view.rows[(ts >= since - DAY_S) & (ts < until + DAY_S)]
            if on_day.size:
                pools.append(scores.top("bm25", per_source, on_day))
    if not pools:
        return np.zeros(0, dtype=np.int64)
    merged = np.concatenate(pools)
    _, first = np.unique(merged, return_index=True)
    return merged[np.sort(first)]


def compute_features(scores: QueryScores, rows: np.ndarray) -> np.ndarray:
    snap = scores.snap
    n = len(rows)
    out = np.zeros((n, len(FEATURES)), dtype=np.float64)
    if n == 0:
        return out
    column = {name: i for i, name in enumerate(FEATURES)}
    bm25_max, dense_max = scores.bm25_max, scores.dense_max
    has_dense = dense_max > _NEG / 2
    bm25 = np.maximum(scores.bm25[rows], 0.0)
    out[:, column["bm25_rel"]] = bm25 / bm25_max
    out[:, column["bm25_lrank"]] = -np.log1p(scores.ranks("bm25", rows))
    if has_dense:
        dense = scores.dense[rows]
        out[:, column["dense_cos"]] = dense
        out[:, column["dense_gap"]] = dense - dense_max
        out[:, column["dense_lrank"]] = -np.log1p(scores.ranks("dense", rows))
    _source_features(scores, rows, out, column)
    _date_features(scores, rows, out, column)
    _text_features(scores, rows, out, column)
    _article_features(scores, rows, out, column, has_dense)
    out[:, column["first_chunk"]] = (snap.chunk_index[rows] == 0).astype(np.float64)
    _sentence_features(scores, rows, out, column)
    return out


def _source_features(
    scores: QueryScores, rows: np.ndarray, out: np.ndarray, column: dict[str, int]
) -> None:
    sources = scores.snap.sources
    for i, row in enumerate(rows.tolist()):
        view = scores.sources.get(sources[row])
        if view is None:
            continue
        out[i, column["src_named"]] = 1.0
        out[i, column["src_bm25_rel"]] = max(scores.bm25[row], 0.0) / view.bm25_max
        out[i, column["src_rr"]] = 1.0 / (1 + view.bm25_rank.get(row, len(view.rows)))
        out[i, column["src_dense_rr"]] = 1.0 / (1 + view.dense_rank.get(row, len(view.rows)))
        position = int(np.searchsorted(view.rows, row))
        if position < len(view.rows) and view.rows[position] == row:
            out[i, column["clause_bm25_rel"]] = view.clause_scores[position] / view.clause_max
        ts = scores.snap.published_ts[row]
        if any(since - DAY_S <= ts < until + DAY_S for since, until in view.days):
            out[i, column["src_day_match"]] = 1.0


def _date_features(
    scores: QueryScores, rows: np.ndarray, out: np.ndarray, column: dict[str, int]
) -> None:
    ts = scores.snap.published_ts[rows]
    for mention in scores.analysis.dates:
        if mention.kind == "day":
            hit = (ts >= mention.since_ts - DAY_S) & (ts < mention.until_ts + DAY_S)
            out[hit, column["day_match"]] = 1.0
        else:
            hit = (ts >= mention.since_ts) & (ts < mention.until_ts)
            out[hit, column["period_match"]] = 1.0


def _sentence_features(
    scores: QueryScores, rows: np.ndarray, out: np.ndarray, column: dict[str, int]
) -> None:
    snap, analysis = scores.snap, scores.analysis
    match = snap.sentence_matches(rows.tolist(), snap.stem_weights(analysis.question))
    out[:, column["sent_match"]] = match
    out[:, column["sent_gap"]] = match - match.max()
    pairs = snap.pair_matches(rows.tolist(), *snap.question_pairs(analysis.question))
    out[:, column["sent_pairs"]] = pairs
    out[:, column["sent_pairs_gap"]] = pairs - pairs.max()
    if scores.query_vector is not None:
        cosines = snap.sentence_cosines(rows.tolist(), scores.query_vector, scores.dense[rows])
        out[:, column["sent_cos"]] = cosines
        out[:, column["sent_cos_gap"]] = cosines - cosines.max()
    sources = np.array([snap.sources[r] for r in rows.tolist()], dtype=object)
    clauses = analysis.source_clauses()
    segments = analysis.source_segments()
    for source in set(sources.tolist()):
        if source not in scores.sources:
            continue
        same = np.flatnonzero(sources == source)
        same_rows = rows[same].tolist()
        clause = snap.sentence_matches(same_rows, snap.stem_weights(clauses.get(source, "")))
        out[same, column["clause_sent_match"]] = clause
        out[same, column["clause_sent_gap"]] = clause - clause.max()
        before, after = segments.get(source, ("", ""))
        out[same, column["before_sent_match"]] = snap.sentence_matches(
            same_rows, snap.stem_weights(before)
        )
        out[same, column["after_sent_match"]] = snap.sentence_matches(
            same_rows, snap.stem_weights(after)
        )


def _text_features(
    scores: QueryScores, rows: np.ndarray, out: np.ndarray, column: dict[str, int]
) -> None:
    snap, analysis = scores.snap, scores.analysis
    question_stems = content_stems(analysis.question)
    skip = {analysis.question[m.start : m.end].lower() for m in analysis.sources}
    entities = {e.lower() for e in named_entities(analysis.question)} - skip
    for i, row in enumerate(rows.tolist()):
        title = snap.title_stems(row)
        if title:
            out[i, column["title_overlap"]] = len(title & question_stems) / len(title)
        if entities:
            haystack = snap.lower_search_text(row)
            out[i, column["entity_cov"]] = sum(e in haystack for e in entities) / len(entities)


def _article_features(
    scores: QueryScores, rows: np.ndarray, out: np.ndarray, column: dict[str, int], has_dense: bool
) -> None:
    codes = scores.snap.article_codes
    n_articles = int(codes.max()) + 1 if codes.size else 0
    best = np.zeros(n_articles)
    np.maximum.at(best, codes, np.maximum(scores.bm25, 0.0) / scores.bm25_max)
    out[:, column["article_bm25_max"]] = best[codes[rows]]
    if has_dense:
        best_dense = np.full(n_articles, -1.0)
        np.maximum.at(best_dense, codes, np.where(scores.allowed, scores.dense, -1.0))
        out[:, column["article_dense_max"]] = best_dense[codes[rows]]
