"""Train the retrieval reranker on the MultiHop-RAG dev split only, reproducibly.

    .venv/bin/python scripts/train_reranker.py [--data-dir /tmp/mhr] [--out qa/models/reranker.json]

For every non-null dev query the retriever's candidates (BM25 + dense + per-outlet sub-queries)
are featurised (qa.retrieval.features.FEATURES) and labelled 1 when the chunk body holds a gold
fact (the paper's relevance). Two model families are fit, both deterministic: logistic regression
(Newton's method) and gradient-boosted trees (qa.retrieval.boost); `--kind` restricts to one. The
family, its L2 strength or tree depth and count, and the diversity parameters (per-article cap,
named-outlet cover bonus) are chosen by 5-fold cross-validation whose folds keep queries sharing a
gold fact together (as split.json does between dev and test), scored on out-of-fold predictions
with the same metric code as the harness. The test split is never read.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.offline import apply_offline_defaults

apply_offline_defaults()

from index.settings import Settings  # noqa: E402
from qa.eval.multihop import (  # noqa: E402
    fact_groups,
    fact_in_chunk,
    load_queries,
    mean_metrics,
    retrieval_metrics,
)
from qa.eval.retrieval import open_multihop_index  # noqa: E402
from qa.retrieval import Retriever  # noqa: E402
from qa.retrieval.boost import TreeEnsemble, fit_trees  # noqa: E402
from qa.retrieval.diversity import DiversityParams, select  # noqa: E402
from qa.retrieval.features import FEATURES  # noqa: E402
from qa.retrieval.rerank import (  # noqa: E402
    DEFAULT_MODEL_PATH,
    LinearScorer,
    RerankModel,
    Scorer,
    fit_logistic,
)

L2_GRID = (0.1, 1.0, 10.0)
# Trees: depth x learning rate 0.05; counts are prefixes of one boosted run, so they cost nothing.
DEPTH_GRID = (2, 3, 4)
TREE_COUNTS = (50, 100, 200, 400)
LEARNING_RATE = 0.05
MIN_HESSIAN = 5.0  # a leaf needs roughly 20+ candidates' worth of curvature
# Caps above 3 score a little higher on the fact metrics (several chunks of a gold article beat
# one, because the model often picks the right article but the wrong chunk) but let two or three
# articles fill the list; 3 is the most we allow.
CAP_GRID = (2, 3)
BONUS_GRID = (0.0, 1.0)
PENALTY_GRID = (0.0, 0.5)
OBJECTIVE = ("hits@4", "mrr@10", "map@10", "evidence_recall@10", "all_evidence@10")


def collect(retriever: Retriever, queries) -> list[dict]:
    """Candidates, features and labels of every query."""
    data = []
    for query in queries:
        scores, rows, x = retriever.candidates(query.query, stages="rerank")
        texts = [scores.snap.texts[r] for r in rows]
        y = np.array([any(fact_in_chunk(f, t) for f in query.facts) for t in texts], dtype=float)
        data.append({"query": query, "scores": scores, "rows": rows, "x": x, "y": y})
    return data


def evaluate(
    data: list[dict], predictions: list[np.ndarray], params: DiversityParams, k: int = 10
) -> dict[str, float]:
    per_query = []
    for item, predicted in zip(data, predictions, strict=True):
        scores, rows = item["scores"], item["rows"]
        picks = select(scores.snap, rows, predicted, k, set(scores.sources), params)
        per_query.append(
            retrieval_metrics(
                [scores.snap.texts[p.row] for p in picks],
                item["query"].facts,
                [{scores.snap.article_ids[p.row], *p.also_reported_by} for p in picks],
                item["query"].urls,
                k=k,
            )
        )
    return mean_metrics(per_query)


def oracle(data: list[dict], k: int = 10) -> dict[str, float]:
    """The best any reranker could do with these candidates: each query's candidates ordered
    greedily by how many gold facts not yet covered they hold (the README's bound)."""
    per_query, pool_recall = [], []
    for item in data:
        facts, snap = item["query"].facts, item["scores"].snap
        holds = [{f for f in facts if fact_in_chunk(f, snap.texts[r])} for r in item["rows"]]
        pool_recall.append(len(set().union(*holds)) / len(set(facts)))
        covered: set[str] = set()
        order: list[int] = []
        for _ in range(min(k, len(holds))):
            rest = [i for i in range(len(holds)) if i not in order]
            best = max(rest, key=lambda i: len(holds[i] - covered))
            order.append(best)
            covered |= holds[best]
        per_query.append(
            retrieval_metrics([snap.texts[item["rows"][i]] for i in order], facts, k=k)
        )
    metrics = mean_metrics(per_query)
    metrics["candidate_evidence_recall"] = float(np.mean(pool_recall))
    return metrics


def objective(metrics: dict[str, float]) -> float:
    return sum(metrics[m] for m in OBJECTIVE)


def out_of_fold(
    data: list[dict], fitter: Callable[[np.ndarray, np.ndarray], Scorer], folds: int, seed: int
) -> dict[str, list[np.ndarray]]:
    """Out-of-fold predictions of each variant the fitter's scorer yields (see `variants`)."""
    fold_of = grouped_folds([d["query"] for d in data], folds, seed)
    predictions: dict[str, list[np.ndarray]] = {}
    for fold in range(folds):
        train = [d for d, f in zip(data, fold_of, strict=True) if f != fold]
        for name, variant in variants(fitter(*stack(train))):
            predicted = predictions.setdefault(name, [np.zeros(0)] * len(data))
            for i in np.flatnonzero(fold_of == fold):
                predicted[i] = variant.score(data[i]["x"])
    return predictions


def grouped_folds(queries: list, folds: int, seed: int) -> np.ndarray:
    """Fold of each query, keeping queries that share a gold fact in one fold.

    MultiHop-RAG asks several questions about the same evidence, and split.json keeps every
    such group on one side. Folds over single queries leak the evidence between train and
    held-out parts: boosted trees then scored MRR 0.79 in that CV but 0.70 on test (the
    linear model 0.71), so model choice must see the same separation as dev/test."""
    roots = fact_groups(queries, by_url=False)
    groups = sorted(set(roots))
    order = np.random.default_rng(seed).permutation(len(groups))
    fold_of_group = {groups[g]: n % folds for n, g in enumerate(order)}
    return np.array([fold_of_group[r] for r in roots])


def variants(scorer: Scorer) -> list[tuple[str, Scorer]]:
    """A boosted model's prefixes (one per TREE_COUNTS), or the linear model itself."""
    if isinstance(scorer, TreeEnsemble):
        return [(f"trees={n}", scorer.truncated(n)) for n in TREE_COUNTS]
    return [("linear", scorer)]


def stack(data: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    return np.vstack([d["x"] for d in data]), np.concatenate([d["y"] for d in data])


def fitters(kind: str) -> list[tuple[str, Callable[[np.ndarray, np.ndarray], Scorer]]]:
    """The model families to cross-validate; "auto" tries both and keeps the better one."""
    linear = [
        (f"logistic l2={l2}", lambda x, y, l2=l2: LinearScorer(*fit_logistic(x, y, l2=l2)))
        for l2 in L2_GRID
    ]
    trees = [
        (
            f"trees depth={d}",
            lambda x, y, d=d: fit_trees(
                x,
                y,
                trees=max(TREE_COUNTS),
                depth=d,
                learning_rate=LEARNING_RATE,
                min_hessian=MIN_HESSIAN,
            ),
        )
        for d in DEPTH_GRID
    ]
    return {"logistic": linear, "trees": trees, "auto": linear + trees}[kind]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="data dir with the multihop-rag collection (default: QA_DATA_DIR)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="first N dev queries (smoke runs)")
    parser.add_argument("--kind", choices=("auto", "trees", "logistic"), default="auto")
    parser.add_argument(
        "--oracle",
        action="store_true",
        help="print the best ordering of the candidates can score, then stop",
    )
    args = parser.parse_args()

    settings = Settings(data_dir=args.data_dir) if args.data_dir else Settings()
    started = time.perf_counter()
    retriever = Retriever(open_multihop_index(settings), settings, model_path=None)
    queries = load_queries("dev")[: args.limit]
    data = collect(retriever, queries)
    positives = int(sum(d["y"].sum() for d in data))
    candidates = int(sum(len(d["y"]) for d in data))
    print(
        f"{len(data)} dev queries, {candidates} candidates, {positives} relevant "
        f"({time.perf_counter() - started:.0f}s)",
        file=sys.stderr,
    )

    if args.oracle:
        print(json.dumps({k: round(v, 4) for k, v in oracle(data).items()}, indent=1))
        return
    best = None
    for fitter_name, fitter in fitters(args.kind):
        predictions = out_of_fold(data, fitter, args.folds, args.seed)
        for variant_name, predicted in predictions.items():
            for cap, bonus, penalty in itertools.product(CAP_GRID, BONUS_GRID, PENALTY_GRID):
                params = DiversityParams(article_cap=cap, cover_bonus=bonus, repeat_penalty=penalty)
                metrics = evaluate(data, predicted, params)
                value = objective(metrics)
                if best is None or value > best[0] + 1e-9:
                    best = (value, fitter, f"{fitter_name} {variant_name}", params, metrics)
        print(
            f"{fitter_name}: best so far {best[2:]} ({time.perf_counter() - started:.0f}s)",
            file=sys.stderr,
        )
    assert best is not None
    _, fitter, variant_name, params, cv_metrics = best
    scorer = dict(variants(fitter(*stack(data))))[variant_name.split()[-1]]
    model = RerankModel(FEATURES, scorer)
    model.diversity = {
        "article_cap": params.article_cap,
        "cover_bonus": params.cover_bonus,
        "repeat_penalty": params.repeat_penalty,
    }
    model.info = {
        "trained_on": "MultiHop-RAG dev split (non-null queries), never test",
        "queries": len(data),
        "candidates": candidates,
        "positives": positives,
        "families": args.kind,
        "chosen": variant_name,
        "seed": args.seed,
        "folds": args.folds,
        "cv_metrics_dev": cv_metrics,
        "command": "scripts/train_reranker.py",
    }
    model.save(args.out)
    print(json.dumps({"out": str(args.out), **model.info}, indent=1))


if __name__ == "__main__":
    main()
