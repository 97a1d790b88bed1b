"""The reranker's scorers: boosted trees in numpy, the linear model, and the model file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa.retrieval.boost import TreeEnsemble, fit_trees
from qa.retrieval.features import FEATURES
from qa.retrieval.rerank import DEFAULT_MODEL_PATH, LinearScorer, RerankModel, fit_logistic


def _xor_data(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Label = a XOR b: an interaction no linear model can rank."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 3))
    y = ((x[:, 0] > 0.5) ^ (x[:, 1] > 0.5)).astype(float)
    return x, y


def _accuracy(scores: np.ndarray, y: np.ndarray) -> float:
    return float(((scores > 0) == (y > 0.5)).mean())


def test_trees_learn_an_interaction_a_linear_model_cannot():
    x, y = _xor_data()
    trees = fit_trees(x, y, trees=60, depth=2, learning_rate=0.3)
    mean, scale, weights, bias = fit_logistic(x, y)
    linear = LinearScorer(mean, scale, weights, bias)
    held_x, held_y = _xor_data(seed=1)
    assert _accuracy(trees.score(held_x), held_y) > 0.95
    assert _accuracy(linear.score(held_x), held_y) < 0.7


def test_trees_are_deterministic_and_survive_a_json_round_trip_exactly():
    x, y = _xor_data(500)
    first = fit_trees(x, y, trees=20, depth=3)
    second = fit_trees(x, y, trees=20, depth=3)
    assert np.array_equal(first.score(x), second.score(x))
    restored = TreeEnsemble.from_json(json.loads(json.dumps(first.to_json())))
    assert np.allclose(restored.score(x), first.score(x), atol=1e-4)
    # rows that sit exactly on a split threshold go the same way after the round trip
    on_edges = np.tile(first.threshold[0, :1], (1, 3)).clip(0, 1)
    assert np.allclose(restored.score(on_edges), first.score(on_edges), atol=1e-4)


def test_tree_prefixes_and_empty_input():
    x, y = _xor_data(500)
    trees = fit_trees(x, y, trees=30, depth=2, learning_rate=0.3)
    assert trees.score(np.zeros((0, 3))).shape == (0,)
    few = trees.truncated(5)
    assert few.feature.shape[0] == 5
    loss = [_log_loss(t.score(x), y) for t in (trees.truncated(1), few, trees)]
    assert loss[0] > loss[1] > loss[2]  # boosting lowers the training loss


def _log_loss(margin: np.ndarray, y: np.ndarray) -> float:
    p = 1 / (1 + np.exp(-margin))
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def test_a_constant_feature_never_splits():
    x, y = _xor_data(500)
    x[:, 2] = 7.0
    trees = fit_trees(x, y, trees=20, depth=3)
    used = trees.feature[np.isfinite(trees.threshold)]
    assert 2 not in set(used.tolist())


def test_shipped_model_loads_and_scores_feature_rows():
    model = RerankModel.load(DEFAULT_MODEL_PATH)
    assert model is not None and model.features == FEATURES
    assert model.info["trained_on"].startswith("MultiHop-RAG dev split")
    # Two coherent candidates of one query: the best match on every lexical and dense signal,
    # and a chunk that matches nothing (all-zero rows would be incoherent: rank 0, gap 0).
    best = {
        "bm25_rel": 1.0,
        "bm25_lrank": 0.0,
        "dense_cos": 0.6,
        "dense_gap": 0.0,
        "dense_lrank": 0.0,
        "article_bm25_max": 1.0,
        "article_dense_max": 0.6,
        "sent_match": 1.0,
        "sent_gap": 0.0,
        "sent_pairs": 1.0,
        "sent_pairs_gap": 0.0,
        "sent_cos": 0.7,
        "sent_cos_gap": 0.0,
    }
    nothing = {
        "bm25_rel": 0.0,
        "bm25_lrank": -np.log1p(1000),
        "dense_cos": 0.0,
        "dense_gap": -0.6,
        "dense_lrank": -np.log1p(1000),
        "article_bm25_max": 0.0,
        "article_dense_max": 0.0,
        "sent_match": 0.0,
        "sent_gap": -1.0,
        "sent_pairs": 0.0,
        "sent_pairs_gap": -1.0,
        "sent_cos": 0.0,
        "sent_cos_gap": -0.7,
    }
    rows = np.zeros((2, len(FEATURES)))
    for row, values in enumerate((best, nothing)):
        for name, value in values.items():
            rows[row, FEATURES.index(name)] = value
    scores = model.score(rows)
    assert scores.shape == (2,) and np.isfinite(scores).all()
    assert scores[0] > scores[1]  # the best match outranks a chunk matching nothing


@pytest.mark.parametrize(
    "content",
    ["not json", json.dumps({"kind": "forest"}), json.dumps({"kind": "trees", "features": []})],
)
def test_unusable_model_files_fall_back_with_a_warning(tmp_path, caplog, content):
    path = tmp_path / "reranker.json"
    path.write_text(content, encoding="utf-8")
    assert RerankModel.load(path) is None
    assert "reranker" in caplog.text


def test_saved_model_round_trips(tmp_path):
    x = np.random.default_rng(0).random((300, len(FEATURES)))
    y = (x[:, 0] > 0.5).astype(float)
    model = RerankModel(
        FEATURES,
        fit_trees(x, y, trees=10, depth=2),
        diversity={"article_cap": 3},
        info={"trained_on": "test"},
    )
    path = tmp_path / "m.json"
    model.save(path)
    loaded = RerankModel.load(path)
    assert loaded is not None and loaded.kind == "trees"
    assert loaded.diversity == {"article_cap": 3}
    assert np.allclose(loaded.score(x), model.score(x), atol=1e-4)
