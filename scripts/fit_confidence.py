"""Fit the offline answerer's confidence (`AnswerConfig.confidence_weights`) on the dev splits.

    QA_DATA_DIR=/path/to/index .venv/bin/python scripts/fit_confidence.py [--folds 5] [--write]

Answers every dev question of the three sets of `scripts/tune_answers.py` (MultiHop-RAG
inference and null, user and typed questions, stories) with today's answerer, and fits a
logistic regression of "the answer is right" on each answered question's `Signals` features
(qa/answer/confidence.py). An answered null or near-miss question counts as wrong. Prints the
area under the ROC curve of the best sentence's relevance (the main term of the confidence
before round 15) and of the model, cross-validated over the dev questions (the model is never
scored on a question it was fitted on), per set and overall; then the weights fitted on all of
dev, which `--write` stores in qa/models/confidence.json (`AnswerConfig.confidence_weights`
reads them from there). Test is never read here: `tune_answers.py --split test` reports the
test risk-coverage curves of the stored weights.
"""

from __future__ import annotations

from index.offline import apply_offline_defaults

apply_offline_defaults()

# ruff: noqa: E402 - imports after the offline env defaults
import argparse
import json
from typing import Any

import numpy as np
from tune_answers import SETS, load_runs

from index.embedding import make_embedding
from index.settings import Settings
from qa.answer import AnswerConfig, ExtractiveAnswerer
from qa.answer.confidence import MODEL_PATH

L2 = 1.0  # on standardised features; dev CV AUC was level from 1 to 10 (docs/answerer.md)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2) -> tuple[np.ndarray, float]:
    """Weights and intercept on the raw feature scale: Newton's method on the standardised
    features with an L2 penalty (not on the intercept), folded back."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.c_[(x - mean) / scale, np.ones(len(x))]
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-z @ w))
        gradient = z.T @ (p - y) + penalty * w
        hessian = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    weights = w[:-1] / scale
    return weights, float(w[-1] - weights @ mean)


def auc(scores: np.ndarray, right: np.ndarray) -> float | None:
    """The chance a right answer scores above a wrong one (ties count half)."""
    pos, neg = scores[right == 1], scores[right == 0]
    if not len(pos) or not len(neg):
        return None
    above = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    return round(float(above), 3)


def answered(rows: list[dict[str, Any]], names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([[r["signals"].get(n, 0.0) for n in names] for r in rows], dtype=float)
    y = np.array([1.0 if r["right"] else 0.0 for r in rows])
    return x, y


def cross_validated(x: np.ndarray, y: np.ndarray, folds: int) -> np.ndarray:
    order = np.random.default_rng(0).permutation(len(y))
    predicted = np.zeros(len(y))
    for held in np.array_split(order, folds):
        train = np.setdiff1d(order, held)
        weights, bias = fit_logistic(x[train], y[train])
        predicted[held] = x[held] @ weights + bias
    return predicted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--write", action="store_true", help=f"store the weights in {MODEL_PATH}")
    args = parser.parse_args()
    settings = Settings()
    answerer = ExtractiveAnswerer(settings, make_embedding(settings), config=AnswerConfig())
    rows: list[dict[str, Any]] = []
    sets: list[str] = []
    for name, run in load_runs(settings, "dev", list(SETS)):
        before = len(rows)
        run(answerer, rows)
        sets += [name] * (len(rows) - before)
    kept = [(r, s) for r, s in zip(rows, sets, strict=True) if not r["abstained"]]
    names = sorted(kept[0][0]["signals"])
    x, y = answered([r for r, _ in kept], names)
    predicted = cross_validated(x, y, args.folds)
    relevance = x[:, names.index("relevance")]
    print(f"dev answered {len(y)}, right {int(y.sum())}; AUC relevance / model (CV):")
    cv_auc = {}
    for name in [*SETS, "all"]:
        mask = np.array([name in ("all", s) for _, s in kept])
        cv_auc[name] = auc(predicted[mask], y[mask])
        print(f"  {name:9} {auc(relevance[mask], y[mask])} / {cv_auc[name]}")
    weights, bias = fit_logistic(x, y)
    fitted = {"bias": round(bias, 4)} | {
        n: round(float(w), 4) for n, w in zip(names, weights, strict=True)
    }
    print(json.dumps(fitted, indent=1))
    if args.write:
        info = {
            "fitted_on": f"the dev splits of {', '.join(SETS)}: {len(y)} answered questions, "
            f"{int(y.sum())} right",
            "by": "scripts/fit_confidence.py --write",
            "label": "the answer is right; an answered null or near-miss question is wrong",
            "l2": L2,
            f"cv_auc_{args.folds}_fold": cv_auc,
        }
        model = {"kind": "logistic", "weights": fitted, "info": info}
        MODEL_PATH.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
        print(f"written to {MODEL_PATH}")


if __name__ == "__main__":
    main()
