"""Choosing the final k from ranked candidates so they cover several articles and outlets.

- Near-duplicate articles (the catalog's MinHash links) are one story: the best-ranked copy is
  kept, the other copies' ids go into `also_reported_by`, and their chunks leave the list.
- At most `article_cap` chunks per article, so one long article cannot fill the list while
  other articles can.
- Every outlet the question names gets a bonus until one of its chunks is picked: multi-hop
  questions need evidence from each of them, and early.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qa.retrieval.corpus import Chunks


@dataclass(frozen=True)
class DiversityParams:
    article_cap: int = 2
    cover_bonus: float = 0.0  # added to a named outlet's chunks until the outlet is covered
    repeat_penalty: float = 0.0  # subtracted per chunk already picked from the same article

    @classmethod
    def from_dict(cls, values: dict[str, float]) -> DiversityParams:
        """The settings a trained model stores (numbers in JSON); missing keys keep defaults."""
        defaults = cls()
        return cls(
            article_cap=int(values.get("article_cap", defaults.article_cap)),
            cover_bonus=float(values.get("cover_bonus", defaults.cover_bonus)),
            repeat_penalty=float(values.get("repeat_penalty", defaults.repeat_penalty)),
        )


@dataclass
class Pick:
    row: int
    score: float
    also_reported_by: list[str] = field(default_factory=list)


def collapse_duplicates(
    snap: Chunks, rows: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, dict[str, list[str]]]:
    """Drop chunks of near-duplicate copies of a better-ranked article; map kept -> others."""
    order = np.argsort(-scores, kind="stable")
    keeper_of: dict[str, str] = {}
    others: dict[str, list[str]] = {}
    kept: list[int] = []
    for i in order.tolist():
        article = snap.article_ids[rows[i]]
        keeper = keeper_of.get(article)
        if keeper is None:
            keeper_of[article] = article
            for twin in snap.near_duplicates.get(article, []):
                if twin not in keeper_of:
                    keeper_of[twin] = article
                    others.setdefault(article, []).append(twin)
            kept.append(i)
        elif keeper == article:
            kept.append(i)
    index = np.array(kept, dtype=np.int64)
    return rows[index], scores[index], others


def select(
    snap: Chunks,
    rows: np.ndarray,
    scores: np.ndarray,
    k: int,
    named_sources: set[str],
    params: DiversityParams,
) -> list[Pick]:
    rows, scores, others = collapse_duplicates(snap, rows, scores)
    remaining = list(range(len(rows)))
    per_article: dict[str, int] = {}
    covered: set[str] = set()
    picks: list[Pick] = []
    while remaining and len(picks) < k:
        best, best_value = -1, -np.inf
        for i in remaining:
            article = snap.article_ids[rows[i]]
            if per_article.get(article, 0) >= params.article_cap:
                continue
            source = snap.sources[rows[i]]
            value = scores[i] - params.repeat_penalty * per_article.get(article, 0)
            if source in named_sources and source not in covered:
                value += params.cover_bonus
            if value > best_value:
                best, best_value = i, value
        if best < 0:
            break
        remaining.remove(best)
        row = int(rows[best])
        article = snap.article_ids[row]
        per_article[article] = per_article.get(article, 0) + 1
        covered.add(snap.sources[row])
        picks.append(Pick(row, float(scores[best]), sorted(others.get(article, []))))
    # The cap spreads the list over articles; when there are too few articles to fill it (one
    # long article, a narrow date filter), the capped chunks fill the rest, best first.
    for i in sorted(remaining, key=lambda i: -scores[i])[: k - len(picks)]:
        row = int(rows[i])
        picks.append(Pick(row, float(scores[i]), sorted(others.get(snap.article_ids[row], []))))
    return picks
