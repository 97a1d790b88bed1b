"""Sentence embeddings through a llama-index embedding model, cached by text.

Retrieval hands the answerer the same passages again and again (follow-up questions,
re-asks), so sentence vectors are cached: the second answer over a passage costs no
model call for it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding

_CACHE_SIZE = 20_000


class SentenceVectors:
    def __init__(self, embedding: BaseEmbedding):
        self.embedding = embedding
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def query(self, text: str) -> np.ndarray:
        return _unit(np.asarray(self.embedding.get_query_embedding(text), dtype=np.float32))

    def texts(self, texts: list[str]) -> np.ndarray:
        """Unit vectors for `texts`, one row each."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            fresh = self.embedding.get_text_embedding_batch(missing)
            for text, vector in zip(missing, fresh, strict=True):
                self._remember(text, _unit(np.asarray(vector, dtype=np.float32)))
        rows = [self._cache[t] for t in texts]
        for text in texts:
            self._cache.move_to_end(text)
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return np.vstack(rows)

    def _remember(self, text: str, vector: np.ndarray) -> None:
        self._cache[text] = vector
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
