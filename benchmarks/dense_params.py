"""What Chroma's approximate dense search costs the MultiHop-RAG metrics, and the dense settings.

    QA_DATA_DIR=/tmp/mhr .venv/bin/python benchmarks/dense_params.py [--split dev] [--limit N]

Runs the full pipeline over the split (dev by default: settings are tuned on dev, test is only
reported) with
- "exact": dense scores by brute force over every stored vector and every row ranked (what the
  in-process snapshot did before searches moved to Chroma's index), as the reference;
- the product's DenseParams (Chroma's HNSW query of `depth` nearest chunks, ranks among them);
- other depths, and other HNSW `ef_search` values (set on the collection, restored after);
and prints each row's metrics and its difference to "exact". Also Chroma's recall@depth of the
exact nearest rows (per question, averaged).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.offline import apply_offline_defaults

apply_offline_defaults()

from index.lexical import LexicalView  # noqa: E402
from index.settings import Settings  # noqa: E402
from qa.eval.multihop import METRIC_NAMES, load_queries  # noqa: E402
from qa.eval.retrieval import open_multihop_index, run_retrieval_eval  # noqa: E402
from qa.retrieval import DenseParams, Retriever  # noqa: E402
from qa.retrieval.corpus import DenseHits, DenseSearch, HardFilter, fetch_chunks  # noqa: E402


class ExactDense(DenseSearch):
    """Every allowed row, by brute force over the stored vectors (the old snapshot's dense)."""

    def __init__(self, store, params: DenseParams, view: LexicalView) -> None:
        super().__init__(store, params)
        rows = np.flatnonzero(view.alive).tolist()
        chunks, _ = fetch_chunks(store, view, rows)
        self.rows = np.array(rows, dtype=np.int64)
        self.matrix = np.vstack([chunks.vectors[r] for r in rows]).astype(np.float32)

    def nearest(self, view, vector, allowed, hard, depth=None, **_):
        keep = allowed[self.rows]
        rows, cosines = self.rows[keep], self.matrix[keep] @ vector.astype(np.float32)
        order = np.argsort(-cosines, kind="stable")
        return DenseHits(rows[order], cosines[order].astype(np.float64), complete=True)


def recall(service, view: LexicalView, questions: list[str], depth: int) -> float:
    exact = ExactDense(service.store, DenseParams(depth=depth), view)
    chroma = DenseSearch(service.store, DenseParams(depth=depth))
    allowed = view.alive.copy()
    found = []
    for question in questions:
        vector = np.asarray(service.embedding.get_query_embedding(question), dtype=np.float32)
        want = set(exact.nearest(view, vector, allowed, HardFilter()).rows[:depth].tolist())
        got = set(chroma.nearest(view, vector, allowed, HardFilter(), depth=depth).rows.tolist())
        found.append(len(want & got) / max(len(want), 1))
    return float(np.mean(found))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="dev")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--depths", default="50,100,200,400")
    parser.add_argument("--ef", default="100,200")
    args = parser.parse_args()
    settings = Settings()
    service = open_multihop_index(settings)
    collection = service.store.chunk_collection
    queries = load_queries(args.split)[: args.limit]
    rows = []

    def run(name: str, retriever: Retriever) -> None:
        started = time.perf_counter()
        result = run_retrieval_eval(
            settings, args.split, ablation=("full",), retriever=retriever, queries=queries
        )
        metrics = result["metrics"]
        latency = result["latency_ms"].get("dense", {}).get("p50")
        rows.append({"name": name, **metrics, "dense_p50_ms": latency})
        print(
            json.dumps({"name": name, "metrics": metrics, "s": time.perf_counter() - started}),
            file=sys.stderr,
            flush=True,
        )

    base = Retriever(service, settings)
    view = base.index()
    exact = Retriever(service, settings)
    exact.dense = ExactDense(service.store, exact.dense_params, view)
    run("exact (brute force, every row ranked)", exact)
    for depth in [int(d) for d in args.depths.split(",")]:
        params = DenseParams(depth=depth)
        run(f"chroma depth {depth}", Retriever(service, settings, dense=params))
    original = (collection.configuration_json or {}).get("hnsw", {}).get("ef_search", 100)
    questions = [q.query for q in queries]
    recalls = {}
    try:
        for ef in [int(e) for e in args.ef.split(",")]:
            collection.modify(configuration={"hnsw": {"ef_search": ef}})
            recalls[ef] = round(recall(service, view, questions, DenseParams().depth), 4)
            if ef != original:
                run(
                    f"chroma depth {DenseParams().depth}, ef_search {ef}",
                    Retriever(service, settings),
                )
    finally:
        collection.modify(configuration={"hnsw": {"ef_search": original}})
    reference = rows[0]
    print(
        f"\n{args.split}: {len(queries)} queries; recall@{DenseParams().depth} by ef_search: "
        f"{recalls}\n"
    )
    print("| setting | " + " | ".join(METRIC_NAMES) + " | dense p50 ms |")
    print("|---|" + "---|" * (len(METRIC_NAMES) + 1))
    for row in rows:
        cells = [
            f"{row[m]:.3f}" + ("" if row is reference else f" ({row[m] - reference[m]:+.3f})")
            for m in METRIC_NAMES
        ]
        print(f"| {row['name']} | " + " | ".join(cells) + f" | {row['dense_p50_ms']} |")


if __name__ == "__main__":
    main()
