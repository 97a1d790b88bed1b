"""The second stage: a scorer over `features.FEATURES` (boosted trees, or a logistic model),
trained on the dev split only by `scripts/train_reranker.py` and shipped as a JSON file under
`qa/models/`."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.retrieval.boost import TreeEnsemble
from qa.retrieval.features import FEATURES

log = logging.getLogger(__name__)
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent.parent / "models" / "reranker.json"


@dataclass
class LinearScorer:
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def score(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.weights + self.bias

    def to_json(self) -> dict[str, Any]:
        return {
            "mean": self.mean.round(6).tolist(),
            "scale": self.scale.round(6).tolist(),
            "weights": self.weights.round(6).tolist(),
            "bias": round(float(self.bias), 6),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LinearScorer:
        return cls(
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            weights=np.asarray(data["weights"], dtype=np.float64),
            bias=float(data["bias"]),
        )


Scorer = LinearScorer | TreeEnsemble
_KINDS: dict[str, type[LinearScorer] | type[TreeEnsemble]] = {
    "logistic": LinearScorer,
    "trees": TreeEnsemble,
}


@dataclass
class RerankModel:
    features: tuple[str, ...]
    scorer: Scorer
    diversity: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return "trees" if isinstance(self.scorer, TreeEnsemble) else "logistic"

    def score(self, x: np.ndarray) -> np.ndarray:
        """Log-odds that each row holds a gold fact."""
        return self.scorer.score(x)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "features": list(self.features),
            "diversity": self.diversity,
            "info": self.info,
            **self.scorer.to_json(),
        }

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json()) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL_PATH) -> RerankModel | None:
        """The model, or None (with a warning) if it is missing, unreadable or was trained on
        other features."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            scorer = _KINDS[data.get("kind", "logistic")].from_json(data)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning(
                "no usable reranker model at %s (%s); ranking by fusion + priors", path, exc
            )
            return None
        if tuple(data.get("features", ())) != FEATURES:
            log.warning(
                "reranker %s was trained on other features; retrain it with "
                "scripts/train_reranker.py",
                path,
            )
            return None
        return cls(
            features=FEATURES,
            scorer=scorer,
            diversity=dict(data.get("diversity", {})),
            info=dict(data.get("info", {})),
        )


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    l2: float = 1.0,
    iterations: int = 50,
    sample_weight: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method (IRLS) on standardised features.

    Deterministic: no random initialisation, so the same data always gives the same model.
    Returns (mean, scale, weights, bias).
    """
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    sw = np.ones(len(x)) if sample_weight is None else sample_weight
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0  # never shrink the bias
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -30, 30)))
        gradient = z.T @ (sw * (p - y)) + penalty * w
        hessian = (z * (sw * p * (1 - p))[:, None]).T @ z + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return mean, scale, w[:-1], float(w[-1])
