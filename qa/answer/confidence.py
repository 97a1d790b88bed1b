"""The confidence of an extractive answer: a logistic model of the chance it is right.

The strategies report what they saw (`Signals`): how relevant the best sentence is, how the
cited sentence scored, and for a name answer how well the name fits the asked type and role
and how far it led the next name. `calibrated` weighs these with `AnswerConfig.
confidence_weights`, fitted on dev by `scripts/fit_confidence.py` (right answers against
wrong ones and answered null questions), stored in qa/models/confidence.json. Before it, the
confidence was the best sentence's relevance times the name's type fit, which ranked
MultiHop-RAG answers no better than chance (docs/answerer.md, round 15). Under
`AnswerConfig.doubtful_below` an answer is marked doubtful, and the chat says so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from qa.types import AnswerKind

MODEL_PATH = Path(__file__).resolve().parent.parent / "models" / "confidence.json"

# Caps keep one extreme value from deciding alone (a name repeated in 30 sentences).
_MAX_MARGIN = 2.0
_MAX_SENTENCES = 10


@dataclass(frozen=True)
class Signals:
    kind: AnswerKind
    relevance: float  # the best sentence's relevance (the abstention signal)
    cited_score: float = 0.0  # the first cited sentence's ranking score ...
    cited_lexical: float = 0.0  # ... its lexical coverage of the question
    cited_cosine: float = 0.0  # ... and its embedding cosine (0 without a model)
    long: bool = False  # a multi-fact question (QuestionShape.long)
    in_role: bool = False  # the lead (a list's items) holds the asked role in a clause
    name_fit: float = 0.0  # a name answer's type fit (1 exact, 0.5 near)
    name_exact: float = 0.0  # the share of its mentions typed exactly as asked
    name_margin: float = 0.0  # its score minus the next name's
    name_sentences: int = 0  # ranked sentences naming it

    def features(self) -> dict[str, float]:
        named = self.kind == "name"
        return {
            "relevance": self.relevance,
            "cited_score": self.cited_score,
            "cited_lexical": self.cited_lexical,
            "cited_cosine": self.cited_cosine,
            "long": float(self.long),
            "kind_name": float(named),
            "kind_list": float(self.kind == "list"),
            "kind_sentences": float(self.kind == "sentences"),
            "kind_figure": float(self.kind in ("figure", "date")),
            "in_role": float(self.in_role),
            "name_fit": self.name_fit if named else 0.0,
            "name_exact": self.name_exact if named else 0.0,
            "name_margin": min(self.name_margin, _MAX_MARGIN) if named else 0.0,
            "name_sentences": float(min(self.name_sentences, _MAX_SENTENCES)) if named else 0.0,
        }


def calibrated(features: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """The modelled chance the answer is right: logistic over `Signals.features()`,
    `weights["bias"]` the intercept; a feature without a weight counts nothing."""
    z = weights.get("bias", 0.0)
    z += sum(weights.get(name, 0.0) * value for name, value in features.items())
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@cache
def _stored_weights(path: Path) -> dict[str, float]:
    return {k: float(v) for k, v in json.loads(path.read_text(encoding="utf-8"))["weights"].items()}


def default_weights() -> dict[str, float]:
    """The fitted weights shipped in qa/models/confidence.json (a copy: the config owns it)."""
    return dict(_stored_weights(MODEL_PATH))
