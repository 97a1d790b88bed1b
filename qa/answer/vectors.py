"""Sentence embeddings through a llama-index embedding model, cached by text: follow-up
questions and re-asks hand the answerer the same passages again, at no further model call."""

from __future__ import annotations

import threading
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
        self._lock = threading.Lock()  # servers answer several questions at once

    def query(self, text: str) -> np.ndarray:
        # The retriever embedded this same question moments ago; OnnxEmbedding caches it.
        return _unit(np.asarray(self.embedding.get_query_embedding(text), dtype=np.float32))

    def texts(self, texts: list[str]) -> np.ndarray:
        """Unit vectors for `texts`, one row each."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        with self._lock:
            found = {t: self._cache[t] for t in texts if t in self._cache}
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            fresh = self.embedding.get_text_embedding_batch(missing)
            for text, raw in zip(missing, fresh, strict=True):
                found[text] = _unit(np.asarray(raw, dtype=np.float32))
        with self._lock:
            for text, vector in found.items():
                self._cache[text] = vector
                self._cache.move_to_end(text)
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return np.vstack([found[t] for t in texts])


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
