"""Retrieval: BM25 + dense over the store, question priors, a learned reranker, diversity."""

from qa.retrieval.corpus import DenseParams, LexicalCache
from qa.retrieval.query import QueryAnalysis, analyze, find_dates, find_sources
from qa.retrieval.retriever import Retriever
from qa.retrieval.stages import DEFAULT_STAGES, PRESETS, Stages, resolve_stages

__all__ = [
    "DEFAULT_STAGES",
    "PRESETS",
    "DenseParams",
    "LexicalCache",
    "QueryAnalysis",
    "Retriever",
    "Stages",
    "analyze",
    "find_dates",
    "find_sources",
    "resolve_stages",
]
