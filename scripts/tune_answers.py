"""Score the offline answerer's knobs on the MultiHop-RAG *dev* split, fast.

    QA_DATA_DIR=/path/to/index .venv/bin/python scripts/tune_answers.py [--lexical]
        [--set sentence_floor=0.3,0.5 --set w_articles=0.2,0.35 ...]

Retrieval runs once per question and is cached
(`<data dir>/dev-passages-<reranker hash>-k<top_k>.pkl`, so a retrained reranker or another
QA_TOP_K gets fresh passages); each setting (fields of qa.answer.config.AnswerConfig, every
combination of the values given) then re-answers the same passages (~1 min per setting on 2
cores with the embedding scorer). Prints
strict/loose accuracy, citation precision, null and false abstention per setting — the figures
`qa eval answers` gives, on dev only (never tune on test).
"""

from __future__ import annotations

from index.offline import apply_offline_defaults

apply_offline_defaults()

# ruff: noqa: E402 - imports after the offline env defaults
import argparse
import hashlib
import itertools
import pickle

from index.embedding import make_embedding
from index.settings import Settings
from qa.answer import AnswerConfig, ExtractiveAnswerer
from qa.eval.answers import citation_precision, loose_match, strict_match
from qa.eval.multihop import load_queries
from qa.retrieval.rerank import DEFAULT_MODEL_PATH

TYPES = ("inference_query", "null_query")


def cached_passages(settings: Settings, queries: list) -> list:
    fingerprint = hashlib.sha256(DEFAULT_MODEL_PATH.read_bytes()).hexdigest()[:12]
    cache = settings.data_dir / f"dev-passages-{fingerprint}-k{settings.top_k}.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    from qa.assistant import Assistant
    from qa.eval.retrieval import COLLECTION, open_multihop_index

    assistant = Assistant(settings, collection=COLLECTION, service=open_multihop_index(settings))
    passages = [assistant.search(q.query).passages for q in queries]
    cache.write_bytes(pickle.dumps(passages))
    return passages


def score(answerer: ExtractiveAnswerer, queries: list, passages: list) -> dict[str, float]:
    rows: dict[str, list[float]] = {
        k: [] for k in ("strict", "loose", "cp", "null_abst", "false_abst")
    }
    for query, found in zip(queries, passages, strict=True):
        answer = answerer.answer(query.query, found)
        if query.question_type == "null_query":
            rows["null_abst"].append(answer.abstained)
            continue
        rows["false_abst"].append(answer.abstained)
        rows["strict"].append(strict_match(answer, query.answer))
        rows["loose"].append(loose_match(answer.answer, query.answer))
        precision = citation_precision(answer, query.facts)
        if precision is not None:
            rows["cp"].append(precision)
    return {k: round(sum(v) / len(v), 4) if v else 0.0 for k, v in rows.items()}


def _number(text: str) -> int | float:
    return int(text) if text.lstrip("-").isdigit() else float(text)


def parse_settings(specs: list[str]) -> list[dict[str, int | float]]:
    """["name=1,2", ...] -> every combination of AnswerConfig overrides."""
    axes = []
    for spec in specs:
        name, values = spec.split("=", 1)
        if name not in AnswerConfig.model_fields:
            raise SystemExit(f"--set {spec}: AnswerConfig has no field {name!r}")
        axes.append([(name, _number(v)) for v in values.split(",")])
    return [dict(combo) for combo in itertools.product(*axes)] or [{}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lexical", action="store_true", help="no embedding cosine")
    parser.add_argument("--set", action="append", default=[], help="field=v1,v2,...")
    args = parser.parse_args()
    settings = Settings()
    queries = [q for q in load_queries("dev", include_null=True) if q.question_type in TYPES]
    passages = cached_passages(settings, queries)
    embedding = None if args.lexical else make_embedding(settings)
    for overrides in parse_settings(args.set):
        config = AnswerConfig(**overrides)
        answerer = ExtractiveAnswerer(settings, embedding, config=config)
        label = " ".join(f"{k}={v}" for k, v in overrides.items()) or "defaults"
        print(label, score(answerer, queries, passages), flush=True)


if __name__ == "__main__":
    main()
