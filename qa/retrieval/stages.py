"""Which retrieval components run: the ablation switches and the named presets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Stages:
    bm25: bool = True
    dense: bool = True
    fusion: Literal["weighted", "rrf"] = "weighted"
    priors: bool = True  # outlets and days named in the question (and per-outlet sub-queries)
    rerank: bool = True  # the learned reranker (falls back to fusion+priors if no model)
    diversity: bool = True  # near-duplicate collapse, per-article cap, named-outlet coverage

    def describe(self) -> str:
        parts = [name for name in ("bm25", "dense") if getattr(self, name)]
        if self.bm25 and self.dense:
            parts = [f"hybrid({self.fusion})"]
        for name in ("priors", "rerank", "diversity"):
            if getattr(self, name):
                parts.append(name)
        return "+".join(parts)


PRESETS: dict[str, Stages] = {
    "bm25": Stages(dense=False, priors=False, rerank=False, diversity=False),
    "dense": Stages(bm25=False, priors=False, rerank=False, diversity=False),
    "rrf": Stages(fusion="rrf", priors=False, rerank=False, diversity=False),
    "hybrid": Stages(priors=False, rerank=False, diversity=False),
    "hybrid+priors": Stages(rerank=False, diversity=False),
    "hybrid+priors+diversity": Stages(rerank=False),
    "rerank": Stages(diversity=False),
    "full": Stages(),
}
DEFAULT_STAGES = PRESETS["full"]


def resolve_stages(stages: Stages | str | None) -> Stages:
    if stages is None:
        return DEFAULT_STAGES
    if isinstance(stages, Stages):
        return stages
    try:
        return PRESETS[stages]
    except KeyError:
        raise ValueError(f"unknown stages {stages!r}; choose one of {sorted(PRESETS)}") from None
