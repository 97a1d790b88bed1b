"""Calibrate and compare the extractive answerer on the MultiHop-RAG dev split.

    .venv/bin/python -m qa.answer.calibrate [--embedding] [--limit N]

Retrieval here is a stand-in (bm25s over the corpus chunks, top 8), so the figures measure
the answerer, not the product's retriever. For each dev query we record the best sentence
relevance; null queries ("Insufficient information.") should fall below the abstention
threshold and answerable ones above it. It also reports, for each scorer variant, how often
a cited sentence lies inside a gold evidence fact, how often the gold answer of an inference
query appears in the answer, and the answer latency.
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.settings import Settings
from qa.answer import extractive
from qa.answer.extractive import ExtractiveAnswerer, parse_query
from qa.eval.multihop import corpus_records, read_json
from qa.types import Passage

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

TOP_K = 8


def _squash(text: str) -> str:
    return "".join(text.split()).lower()


def build_retriever(settings: Settings):
    import bm25s
    import Stemmer

    from index.chunking import chunk_article
    from index.models import Article, parse_day

    corpus = corpus_records()
    chunks, meta = [], []
    for record in corpus:
        article = Article(
            title=record["title"],
            body=record["body"],
            source=record["source"],
            url=record["url"],
            published=parse_day(record["published_at"]),
            category=record["category"],
        )
        for chunk in chunk_article(article, settings.chunk_size, settings.chunk_overlap):
            chunks.append(chunk)
            meta.append(article)
    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25()
    corpus_tokens = bm25s.tokenize(
        [c.search_text for c in chunks], stopwords="en", stemmer=stemmer, show_progress=False
    )
    retriever.index(corpus_tokens, show_progress=False)

    def retrieve(question: str) -> list[Passage]:
        tokens = bm25s.tokenize([question], stopwords="en", stemmer=stemmer, show_progress=False)
        ids, scores = retriever.retrieve(tokens, k=TOP_K, show_progress=False)
        passages = []
        for idx, score in zip(ids[0], scores[0], strict=True):
            chunk, article = chunks[int(idx)], meta[int(idx)]
            passages.append(
                Passage(
                    chunk_id=chunk.chunk_id,
                    article_id=chunk.article_id,
                    text=chunk.text,
                    start=chunk.start,
                    end=chunk.end,
                    title=article.title,
                    source=article.source,
                    url=article.url,
                    published=article.published.isoformat() if article.published else "",
                    score=float(score),
                    scores={"bm25": float(score)},
                )
            )
        return passages

    return retrieve


def best_relevance(
    answerer: ExtractiveAnswerer, question: str, passages: list[Passage]
) -> tuple[float, bool]:
    """The best sentence relevance, and whether the answerer (as configured) would answer."""
    query = parse_query(question)
    scored = answerer.score_sentences(query, passages)
    threshold = extractive.ABSTAIN_THRESHOLD[answerer.scorer]
    best = max((s.relevance for s in scored), default=0.0)
    return best, answerer.answerable(query, scored, threshold)


def auc(positives: list[float], negatives: list[float]) -> float:
    """Probability that a random answerable query outscores a random null one."""
    pos, neg = np.array(positives), np.array(negatives)
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + 0.5 * ties)


def best_threshold(positives: list[float], negatives: list[float]) -> tuple[float, float]:
    """Threshold maximising balanced accuracy (answer answerable, abstain on null)."""
    best = (0.0, 0.0)
    for t in np.arange(0.05, 1.0, 0.01):
        answered = float(np.mean(np.array(positives) >= t))
        abstained = float(np.mean(np.array(negatives) < t))
        balanced = (answered + abstained) / 2
        if balanced > best[1]:
            best = (float(t), balanced)
    return best


def evaluate(answerer: ExtractiveAnswerer, dataset: list[tuple[dict, list[Passage]]]) -> dict:
    relevance: dict[str, list[float]] = {"null": [], "answerable": []}
    answers: dict[str, list[bool]] = {"null": [], "answerable": []}
    cited_gold = inference_hits = inference_total = answerable = 0
    latencies = []
    for query, passages in dataset:
        kind = "null" if query["question_type"] == "null_query" else "answerable"
        best, answered = best_relevance(answerer, query["query"], passages)
        relevance[kind].append(best)
        answers[kind].append(answered)
        if kind == "null":
            continue
        started = time.perf_counter()
        answer = (
            extractive.sentence_answer(
                parse_query(query["query"]),
                passages,
                answerer.score_sentences(parse_query(query["query"]), passages),
            )
            if passages
            else None
        )
        latencies.append((time.perf_counter() - started) * 1000)
        if answer is None:
            continue
        answerable += 1
        facts = [_squash(e["fact"]) for e in query["evidence_list"]]
        if any(
            _squash(c.quote) in fact or fact in _squash(c.quote)
            for c in answer.citations
            for fact in facts
        ):
            cited_gold += 1
        if query["question_type"] == "inference_query":
            inference_total += 1
            gold = query["answer"].lower().rstrip(".")
            inference_hits += gold in answer.answer.lower()
    threshold, balanced = best_threshold(relevance["answerable"], relevance["null"])
    return {
        "auc_null_vs_answerable": round(auc(relevance["answerable"], relevance["null"]), 3),
        "best_threshold": round(threshold, 2),
        "balanced_accuracy": round(balanced, 3),
        "median_relevance_null": round(statistics.median(relevance["null"]), 3),
        "median_relevance_answerable": round(statistics.median(relevance["answerable"]), 3),
        "configured_threshold": extractive.ABSTAIN_THRESHOLD[answerer.scorer],
        "answered_answerable": round(float(np.mean(answers["answerable"])), 3),
        "abstained_null": round(1 - float(np.mean(answers["null"])), 3),
        "cited_sentence_in_gold_fact": round(cited_gold / max(answerable, 1), 3),
        "inference_answer_in_text": round(inference_hits / max(inference_total, 1), 3),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--embedding", action="store_true", help="also score with MiniLM")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N dev queries")
    parser.add_argument("--cache", type=Path, help="pickle of the retrieved passages (reused)")
    args = parser.parse_args()
    settings = Settings()
    queries = read_json("MultiHopRAG.json")
    dev = [queries[i] for i in read_json("split.json")["dev"]]
    if args.limit:
        dev = dev[: args.limit]
    if args.cache and args.cache.exists():
        dataset = pickle.loads(args.cache.read_bytes())[: len(dev)]
    else:
        retrieve = build_retriever(settings)
        dataset = [(q, retrieve(q["query"])) for q in dev]
        if args.cache:
            args.cache.write_bytes(pickle.dumps(dataset))
    embedding = None
    if args.embedding:
        from index.embedding import make_embedding

        embedding = make_embedding(settings)
    variants: dict[str, tuple[BaseEmbedding | None, dict[str, float]]] = {
        "lexical": (None, {}),
        "lexical-no-title": (None, {"W_TITLE": 0.0}),
        "lexical+rank-prior": (None, {"W_RETRIEVAL": 0.05}),
    }
    if embedding is not None:
        variants |= {
            "embedding(w=0.5)": (embedding, {}),
            "embedding(w=0.25)": (embedding, {"W_COSINE": 0.25}),
            "embedding(w=1)": (embedding, {"W_COSINE": 1.0}),
            "embedding(shortlist=4)": (embedding, {"EMBED_SHORTLIST": 4}),
            "embedding(shortlist=2)": (embedding, {"EMBED_SHORTLIST": 2}),
        }
    # One answerer per model, so sentence vectors are embedded once for all variants.
    answerers = {
        id(None): ExtractiveAnswerer(settings),
        id(embedding): ExtractiveAnswerer(settings, embedding),
    }
    for name, (model, overrides) in variants.items():
        saved = {k: getattr(extractive, k) for k in overrides}
        for key, value in overrides.items():
            setattr(extractive, key, value)
        try:
            print(name, json.dumps(evaluate(answerers[id(model)], dataset)), flush=True)
        finally:
            for key, value in saved.items():
                setattr(extractive, key, value)


if __name__ == "__main__":
    main()
