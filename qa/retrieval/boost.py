"""Gradient-boosted trees in numpy: the reranker's non-linear scorer.

A linear model over the reranker's features cannot say "the outlet's clause matters only when the
question names an outlet" or "a dense match counts only if some question term is there too"; small
trees can. Training is Newton boosting on the logistic loss with histogram splits (XGBoost's
recipe, no randomness, so the same data always gives the same trees). Trees are complete binary
trees of a fixed depth stored as flat arrays, so scoring a few hundred candidates is a handful of
vectorised numpy gathers (well under a millisecond per tree batch) and the model file is small JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_BINS = 32


@dataclass
class TreeEnsemble:
    """`feature`/`threshold`: (trees, 2**depth - 1) internal nodes in level order; a row goes right
    when x[feature] > threshold. `leaf`: (trees, 2**depth) values. Score = base + sum of leaves."""

    depth: int
    feature: np.ndarray
    threshold: np.ndarray
    leaf: np.ndarray
    base: float

    def score(self, x: np.ndarray) -> np.ndarray:
        n, trees = len(x), len(self.feature)
        if n == 0 or trees == 0:
            return np.full(n, self.base)
        position = np.zeros((n, trees), dtype=np.int64)
        tree_index = np.arange(trees)[None, :]
        row_index = np.arange(n)[:, None]
        for level in range(self.depth):
            node = (1 << level) - 1 + position
            values = x[row_index, self.feature[tree_index, node]]
            position = 2 * position + (values > self.threshold[tree_index, node])
        return self.base + self.leaf[tree_index, position].sum(axis=1)

    def truncated(self, trees: int) -> TreeEnsemble:
        return TreeEnsemble(
            self.depth, self.feature[:trees], self.threshold[:trees], self.leaf[:trees], self.base
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "depth": self.depth,
            "base": round(self.base, 6),
            "feature": self.feature.tolist(),
            "threshold": [[_json_float(t) for t in row] for row in self.threshold.tolist()],
            "leaf": self.leaf.round(6).tolist(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TreeEnsemble:
        return cls(
            depth=int(data["depth"]),
            feature=np.asarray(data["feature"], dtype=np.int64),
            threshold=np.asarray(
                [[_parse_float(t) for t in row] for row in data["threshold"]], dtype=np.float64
            ),
            leaf=np.asarray(data["leaf"], dtype=np.float64),
            base=float(data["base"]),
        )


def fit_trees(
    x: np.ndarray,
    y: np.ndarray,
    trees: int = 200,
    depth: int = 3,
    learning_rate: float = 0.1,
    l2: float = 1.0,
    min_hessian: float = 1.0,
) -> TreeEnsemble:
    """Boost `trees` depth-`depth` trees on the logistic loss; labels y in {0, 1}."""
    edges = [_bin_edges(x[:, j]) for j in range(x.shape[1])]
    bins = np.stack(
        [np.searchsorted(e, x[:, j], side="left") for j, e in enumerate(edges)], axis=1
    )  # bin b holds edges[b-1] < v <= edges[b]
    rate = min(max(float(y.mean()), 1e-6), 1 - 1e-6)
    base = float(np.log(rate / (1 - rate)))
    margin = np.full(len(y), base)
    inner = (1 << depth) - 1
    feature = np.zeros((trees, inner), dtype=np.int64)
    threshold = np.full((trees, inner), np.inf)
    leaf = np.zeros((trees, 1 << depth))
    for t in range(trees):
        p = 1.0 / (1.0 + np.exp(-margin))
        g, h = p - y, p * (1 - p)
        position = np.zeros(len(y), dtype=np.int64)
        for level in range(depth):
            nodes = 1 << level
            split_feature, split_bin = _best_splits(bins, g, h, position, nodes, l2, min_hessian)
            offset = nodes - 1
            for node in range(nodes):
                f, b = split_feature[node], split_bin[node]
                if f >= 0:
                    feature[t, offset + node] = f
                    threshold[t, offset + node] = edges[f][b]
            right = bins[np.arange(len(y)), np.maximum(split_feature[position], 0)]
            right = (split_feature[position] >= 0) & (right > split_bin[position])
            position = 2 * position + right
        sums_g = np.bincount(position, weights=g, minlength=1 << depth)
        sums_h = np.bincount(position, weights=h, minlength=1 << depth)
        leaf[t] = -learning_rate * sums_g / (sums_h + l2)
        margin += leaf[t][position]
    return TreeEnsemble(depth, feature, threshold, leaf, base)


def _best_splits(
    bins: np.ndarray,
    g: np.ndarray,
    h: np.ndarray,
    position: np.ndarray,
    nodes: int,
    l2: float,
    min_hessian: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Per node: the (feature, bin) split of best gain, or feature -1 when nothing helps."""
    best_gain = np.zeros(nodes)
    best_feature = np.full(nodes, -1, dtype=np.int64)
    best_bin = np.zeros(nodes, dtype=np.int64)
    total_g = np.bincount(position, weights=g, minlength=nodes)
    total_h = np.bincount(position, weights=h, minlength=nodes)
    parent = total_g**2 / (total_h + l2)
    width = MAX_BINS + 1
    for j in range(bins.shape[1]):
        key = position * width + bins[:, j]
        hist_g = np.bincount(key, weights=g, minlength=nodes * width).reshape(nodes, width)
        hist_h = np.bincount(key, weights=h, minlength=nodes * width).reshape(nodes, width)
        left_g, left_h = np.cumsum(hist_g, axis=1), np.cumsum(hist_h, axis=1)
        right_g, right_h = total_g[:, None] - left_g, total_h[:, None] - left_h
        gain = left_g**2 / (left_h + l2) + right_g**2 / (right_h + l2) - parent[:, None]
        gain[(left_h < min_hessian) | (right_h < min_hessian)] = 0.0
        b = np.argmax(gain, axis=1)
        g_best = gain[np.arange(nodes), b]
        better = g_best > best_gain + 1e-12
        best_gain[better], best_feature[better], best_bin[better] = g_best[better], j, b[better]
    return best_feature, best_bin


def _bin_edges(column: np.ndarray) -> np.ndarray:
    """Up to MAX_BINS upper bin edges from the column's quantiles (distinct values only)."""
    values = np.unique(column)
    if len(values) <= MAX_BINS:
        return values.astype(np.float64)
    quantiles = np.quantile(column, np.linspace(0, 1, MAX_BINS + 1)[1:])
    return np.unique(quantiles).astype(np.float64)


def _json_float(value: float) -> float | str:
    return "inf" if value == np.inf else value  # exact: a rounded edge could flip a row


def _parse_float(value: float | str) -> float:
    return float("inf") if value == "inf" else float(value)
