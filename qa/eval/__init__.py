"""Evaluation harnesses over MultiHop-RAG (Tang & Yang, COLM 2024)."""

from qa.eval.multihop import (
    MultiHopQuery,
    corpus_path,
    corpus_records,
    fact_in_chunk,
    load_queries,
    retrieval_metrics,
)
from qa.eval.retrieval import format_retrieval_report, run_retrieval_eval

__all__ = [
    "MultiHopQuery",
    "corpus_path",
    "corpus_records",
    "fact_in_chunk",
    "format_retrieval_report",
    "load_queries",
    "retrieval_metrics",
    "run_retrieval_eval",
]
