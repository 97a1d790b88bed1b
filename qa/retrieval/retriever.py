"""Hybrid retrieval: BM25 over the on-disk lexical index + dense from Chroma's vector index,
question priors, a learned reranker and a diversity pass. One Retriever per process serves every
thread; it holds no per-chunk data (see corpus.py), so start-up does not grow with the corpus."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

import numpy as np

from index.lexical import LexicalView
from index.models import parse_day
from index.sentences import sentence_spans
from index.service import IndexService
from index.settings import Settings
from qa.retrieval.corpus import (
    DenseHits,
    DenseParams,
    DenseSearch,
    HardFilter,
    LexicalCache,
    fetch_chunks,
)
from qa.retrieval.diversity import DiversityParams, Pick, select
from qa.retrieval.features import (
    FEATURES,
    QueryScores,
    candidate_rows,
    compute_features,
    score_query,
    warm_up,
)
from qa.retrieval.query import DAY_S, QueryAnalysis, analyze
from qa.retrieval.rerank import DEFAULT_MODEL_PATH, RerankModel
from qa.retrieval.stages import Stages, resolve_stages
from qa.types import DateFilter, Passage, SearchResult

DateLike = str | date | datetime | None
RRF_K = 60
# Fusion and priors without the learned model (the "hybrid"/"hybrid+priors" ablation rows and
# the fallback when no model file is present): hand-set, in units of the best BM25 score.
DENSE_WEIGHT = 0.3
PRIOR_WEIGHTS = {
    "src_named": 0.25,
    "src_rr": 0.5,
    "src_day_match": 0.3,
    "day_match": 0.1,
    "period_match": 0.1,
}
FALLBACK_DIVERSITY = DiversityParams(article_cap=2, cover_bonus=0.3)
# A candidate Chroma no longer has (deleted by a process that does not share the lexical index)
# is dropped and the candidates drawn again; this many times at most.
_REFETCHES = 3


class Retriever:
    def __init__(
        self,
        service: IndexService,
        settings: Settings,
        model_path: Path | None = DEFAULT_MODEL_PATH,
        dense: DenseParams | None = None,
    ) -> None:
        self.service = service
        self.settings = settings
        self.model = RerankModel.load(model_path) if model_path else None
        self.dense_params = dense or DenseParams()
        self.dense = DenseSearch(service.store, self.dense_params)
        self._embed_lock = threading.Lock()
        # Open the lexical index (or build it, once) and load the compiled loops that score it
        # now, not on the first question.
        warm_up(self.index())

    def index(self) -> LexicalView:
        """The lexical view searches read now (re-opened when the store's revision moves)."""
        return LexicalCache.get(self.settings, self.service.store)

    # --- public -------------------------------------------------------------------------------
    def search(
        self,
        question: str,
        k: int | None = None,
        since: DateLike = None,
        until: DateLike = None,
        sources: Iterable[str] | None = None,
        stages: Stages | str | None = None,
    ) -> SearchResult:
        stages = resolve_stages(stages)
        k = k or self.settings.top_k
        timings: dict[str, float] = {}  # per stage; they add up to the whole search
        scores, date_filter, source_list, rows = self._score_and_fetch(
            question, since, until, sources, stages, timings
        )
        rows, ranking = self._rank(scores, rows, stages, timings)
        tick = time.perf_counter()
        picks = self._select(scores, rows, ranking, k, stages)
        timings["diversity"] = _ms(tick)
        passages = [self._passage(scores, pick, rows, ranking) for pick in picks]
        return SearchResult(
            question=question,
            passages=passages,
            filters=date_filter,
            sources=source_list,
            timings_ms=timings,
        )

    def candidates(
        self, question: str, stages: Stages | str | None = None
    ) -> tuple[QueryScores, np.ndarray, np.ndarray]:
        """(scores, candidate rows, feature matrix): what the reranker sees; for training."""
        stages = resolve_stages(stages)
        scores, _, _, rows = self._score_and_fetch(question, None, None, None, stages, {})
        return scores, rows, compute_features(scores, rows)

    # --- stages -------------------------------------------------------------------------------
    def _score_and_fetch(
        self,
        question: str,
        since: DateLike,
        until: DateLike,
        sources: Iterable[str] | None,
        stages: Stages,
        timings: dict[str, float],
    ) -> tuple[QueryScores, DateFilter, list[str], np.ndarray]:
        """Scores, candidate rows and the candidates' data (fetched by id in one round trip).
        A candidate Chroma no longer holds is tombstoned and the candidates are drawn again."""
        vector: list[np.ndarray | None] = []
        for _ in range(_REFETCHES):
            scores, date_filter, source_list = self._score(
                question, since, until, sources, stages, timings, vector
            )
            rows = self._candidate_rows(scores, stages)
            tick = time.perf_counter()
            chunks, missing = fetch_chunks(self.service.store, scores.view, rows.tolist())
            timings["fetch"] = _ms(tick)
            if not missing:
                break
            LexicalCache.report_missing(self.settings, self.service.store, scores.view, missing)
        keep = np.array([r in chunks for r in rows.tolist()], dtype=bool)
        rows = rows[keep] if len(rows) else rows
        scores.chunks = chunks
        if scores.has_dense and len(rows):
            cosines = [float(chunks.vectors[r] @ scores.query_vector) for r in rows.tolist()]
            scores.learn_cosines(rows.tolist(), cosines)
        return scores, date_filter, source_list, rows

    def _score(
        self,
        question: str,
        since: DateLike,
        until: DateLike,
        sources: Iterable[str] | None,
        stages: Stages,
        timings: dict[str, float],
        vector_cache: list[np.ndarray | None],
    ) -> tuple[QueryScores, DateFilter, list[str]]:
        tick = time.perf_counter()
        view = self.index()
        timings["index"] = _ms(tick)
        tick = time.perf_counter()
        analysis = analyze(question, view.source_names, view.newest_ts)
        allowed, date_filter, hard = _hard_filters(view, analysis, since, until, stages.priors)
        source_list = _stored_sources(sources or (), view.all_source_names)
        if source_list:
            codes = [i for i, name in enumerate(view.all_source_names) if name in source_list]
            allowed &= np.isin(view.source_codes, codes)
            hard = HardFilter(hard.since_ts, hard.until_ts, tuple(source_list))
        if not stages.priors:
            analysis = QueryAnalysis(question)  # no outlet/day priors for this ablation row
        timings["analyze"] = _ms(tick)
        tick = time.perf_counter()
        if not vector_cache:
            use_vector = stages.dense or stages.rerank
            vector_cache.append(
                np.asarray(self.service.embedding.get_query_embedding(question), dtype=np.float32)
                if use_vector
                else None
            )
        vector = vector_cache[0]
        timings["embed"] = _ms(tick)
        tick = time.perf_counter()
        dense = DenseHits.empty()
        allowed_count = int(allowed.sum())
        if vector is not None:
            dense = self.dense.nearest(view, vector, allowed, hard, allowed_count=allowed_count)
        timings["dense"] = _ms(tick)
        tick = time.perf_counter()

        scores = score_query(view, analysis, allowed, vector, dense, with_sources=stages.priors)
        timings["score"] = _ms(tick)
        if not source_list:
            source_list = analysis.source_names
        return scores, date_filter, source_list

    def _candidate_rows(self, scores: QueryScores, stages: Stages) -> np.ndarray:
        per_retriever = max(self.settings.candidates, 10)
        return candidate_rows(
            scores,
            per_retriever,
            per_source=10,
            use_bm25=stages.bm25 or stages.rerank,
            use_dense=stages.dense or stages.rerank,
        )

    def _rank(
        self, scores: QueryScores, rows: np.ndarray, stages: Stages, timings: dict[str, float]
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Candidate rows and their per-stage scores; ranking["final"] orders them."""
        tick = time.perf_counter()
        ranking: dict[str, np.ndarray] = {}
        if stages.bm25 or stages.rerank:
            ranking["bm25"] = np.maximum(scores.bm25[rows], 0.0)
        if stages.dense or stages.rerank:
            ranking["dense"] = scores.dense_of(rows)
        ranking["final"] = _fuse(scores, rows, stages)
        if stages.bm25 and stages.dense:
            ranking["fused"] = ranking["final"]
        timings["candidates"] = _ms(tick)
        needs_features = stages.priors or stages.rerank
        if needs_features and len(rows):
            tick = time.perf_counter()
            features = compute_features(scores, rows)
            if stages.rerank and self.model is not None:
                ranking["rerank"] = ranking["final"] = self.model.score(features)
            elif stages.priors:
                column = {name: i for i, name in enumerate(FEATURES)}
                bonus = sum(w * features[:, column[n]] for n, w in PRIOR_WEIGHTS.items())
                ranking["priors"] = ranking["final"] = ranking["final"] + bonus
            timings["rerank"] = _ms(tick)
        return rows, ranking

    def _select(
        self,
        scores: QueryScores,
        rows: np.ndarray,
        ranking: dict[str, np.ndarray],
        k: int,
        stages: Stages,
    ) -> list[Pick]:
        final = ranking["final"]
        if not stages.diversity:
            order = np.argsort(-final, kind="stable")[:k]
            picks = [Pick(int(rows[i]), float(final[i])) for i in order]
        else:
            named = set(scores.sources) if stages.priors else set()
            picks = select(scores.snap, rows, final, k, named, self.diversity_params(stages))
        if stages.rerank and stages.bm25:
            _keep_lexical_anchor(scores, rows, final, picks, k)
        return picks

    def diversity_params(self, stages: Stages | str | None = None) -> DiversityParams:
        """The trained model's diversity settings when it ranks, else the fallback ones."""
        stages = resolve_stages(stages)
        if stages.rerank and self.model is not None and self.model.diversity:
            return DiversityParams.from_dict(self.model.diversity)
        return FALLBACK_DIVERSITY

    def _passage(
        self, scores: QueryScores, pick: Pick, rows: np.ndarray, ranking: dict[str, np.ndarray]
    ) -> Passage:
        chunks = scores.snap
        meta = chunks.metas[pick.row]
        position = int(np.flatnonzero(rows == pick.row)[0])
        passage = Passage(
            chunk_id=chunks.chunk_ids[pick.row],
            article_id=chunks.article_ids[pick.row],
            text=chunks.texts[pick.row],
            start=int(meta.get("start", 0) or 0),
            end=int(meta.get("end", 0) or 0),
            title=str(meta.get("title", "")),
            source=str(meta.get("source", "")),
            url=str(meta.get("url", "")),
            author=str(meta.get("author", "")),
            published=str(meta.get("published", "")),
            published_ts=int(meta.get("published_ts", 0) or 0),
            category=str(meta.get("category", "")),
            score=pick.score,
            scores={
                name: round(float(values[position]), 6)
                for name, values in ranking.items()
                if name != "final"
            },
            also_reported_by=pick.also_reported_by,
        )
        codes = chunks.sentence_codes.get(pick.row)
        spans = sentence_spans(passage.text)
        if codes is not None and len(codes) and len(codes) == len(spans):
            passage.attach_sentence_vectors(spans, codes)
        return passage


def _keep_lexical_anchor(
    scores: QueryScores, rows: np.ndarray, final: np.ndarray, picks: list[Pick], k: int
) -> None:
    """The best BM25 chunk always makes the final k (it takes the last slot if the reranker
    left it out). The reranker leans on dense features; when the embedding knows nothing of a
    word (a name, a code, a rare term) the only chunk that contains it can be ranked last, and a
    user searching for that word must still see it."""
    if not len(rows) or not picks:
        return
    bm25 = scores.bm25[rows]
    best = int(np.argmax(bm25))
    if bm25[best] <= 0:
        return
    anchor = int(rows[best])
    article = scores.snap.article_ids[anchor]
    if any(
        p.row == anchor
        or scores.snap.article_ids[p.row] == article
        or article in p.also_reported_by
        for p in picks
    ):
        return
    pick = Pick(anchor, float(final[best]))
    if len(picks) >= k:
        picks[-1] = pick
    else:
        picks.append(pick)


def _fuse(scores: QueryScores, rows: np.ndarray, stages: Stages) -> np.ndarray:
    if len(rows) == 0:
        return np.zeros(0)
    if stages.bm25 and not stages.dense:
        return np.maximum(scores.bm25[rows], 0.0)
    if stages.dense and not stages.bm25:
        return scores.dense_of(rows)
    if stages.fusion == "rrf":
        return 1.0 / (RRF_K + 1 + scores.ranks("bm25", rows)) + 1.0 / (
            RRF_K + 1 + scores.ranks("dense", rows)
        )
    bm25 = np.maximum(scores.bm25[rows], 0.0) / scores.bm25_max
    dense = scores.dense_of(rows)
    low, high = float(dense.min()), float(dense.max())
    dense_rel = (dense - low) / (high - low) if high > low else np.zeros_like(dense)
    return bm25 + DENSE_WEIGHT * dense_rel


def _hard_filters(
    view: LexicalView,
    analysis: QueryAnalysis,
    since: DateLike,
    until: DateLike,
    from_question: bool,
) -> tuple[np.ndarray, DateFilter, HardFilter]:
    """Explicit since/until always filter; relative periods in the question ("last week") filter
    too; other dates in the question are priors and are reported as such."""
    allowed = view.alive.copy()
    since_ts = _day_ts(since)
    until_day = _day_ts(until)
    until_ts = until_day + DAY_S if until_day is not None else None
    reasons = []
    if since_ts is not None or until_ts is not None:
        reasons.append("requested range")
    elif from_question:
        hard = [m for m in analysis.dates if m.hard]
        if hard:
            since_ts = max(m.since_ts for m in hard)
            until_ts = min(m.until_ts for m in hard)
            reasons.append(
                f"question says {hard[0].text!r} (relative to the newest article, "
                f"{_iso(view.newest_ts)})"
            )
    if since_ts is not None:
        allowed &= view.published_ts >= since_ts
    if until_ts is not None:  # an undated article (0) is in no range, as `since` leaves it out
        allowed &= (view.published_ts > 0) & (view.published_ts < until_ts)
    pushed = HardFilter(since_ts, until_ts)
    if reasons:
        applied = DateFilter(
            since=_iso(since_ts) if since_ts is not None else None,
            until=_iso(until_ts - 1) if until_ts is not None else None,
            reason=reasons[0],
        )
        return allowed, applied, pushed
    soft = [m for m in analysis.dates if not m.hard] if from_question else []
    if not soft:
        return allowed, DateFilter(), pushed
    spans = [m.label() for m in soft]
    starts = [s for s, _ in spans if s]
    ends = [u for _, u in spans if u]
    prior = DateFilter(
        since=min(starts) if starts else None,
        until=max(ends) if ends else None,
        reason="preferring articles published "
        + ", ".join(repr(m.text) for m in soft)
        + " (a prior, not a filter: other dates stay searchable)",
    )
    return allowed, prior, pushed


def _stored_sources(requested: Iterable[str], stored: Iterable[str]) -> list[str]:
    """The stored outlet names a filter asks for, matched without case or extra spaces
    ("techcrunch" is TechCrunch); the names as given when none is stored (they match no row)."""
    wanted = {_folded(name) for name in requested}
    return sorted({n for n in stored if _folded(n) in wanted} or set(requested))


def _folded(name: str) -> str:
    return " ".join(name.split()).casefold()


def _day_ts(value: DateLike) -> int | None:
    parsed = parse_day(value) if value is not None else None
    if parsed is None:
        return None
    return int(datetime(parsed.year, parsed.month, parsed.day, tzinfo=parsed.tzinfo).timestamp())


def _iso(ts: int | None) -> str:
    from datetime import UTC

    return datetime.fromtimestamp(ts or 0, tz=UTC).date().isoformat()


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 3)
