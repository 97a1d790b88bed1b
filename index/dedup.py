"""Near-duplicate articles (the same wire story from several outlets), found with MinHash.

Both copies stay in the index; they are linked so answers can say "also reported by …" instead
of citing the same text twice, and retrieval can keep copies from crowding out other articles.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable

import numpy as np
from datasketch import MinHash, MinHashLSH

NUM_PERM = 128
SHINGLE_WORDS = 5
SCHEME = "affine64"  # pinned: signatures are stored, so the hash scheme must never drift
# Jaccard similarity of 5-word shingles above which two bodies count as the same story. Rewritten
# coverage of one event scores well under 0.2; syndicated copies with a changed intro or footer
# score above 0.6.
THRESHOLD = 0.6
_WORD = re.compile(r"\w+")


def signature(body: str) -> MinHash:
    words = _WORD.findall(body.lower())
    shingles = {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(max(1, len(words) - 4))}
    minhash = MinHash(num_perm=NUM_PERM, scheme=SCHEME)
    minhash.update_batch([s.encode("utf-8") for s in shingles])
    return minhash


def encode(minhash: MinHash) -> str:
    return base64.b64encode(np.asarray(minhash.hashvalues, dtype=np.uint64).tobytes()).decode()


def decode(text: str) -> MinHash | None:
    if not text:
        return None
    values = np.frombuffer(base64.b64decode(text), dtype=np.uint64)
    if values.size != NUM_PERM:
        return None
    return MinHash(num_perm=NUM_PERM, hashvalues=values, scheme=SCHEME)


class DuplicateFinder:
    """An in-memory LSH over stored signatures, updated as new articles are ingested."""

    def __init__(self, stored: Iterable[tuple[str, str]] = ()) -> None:
        self._lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
        self._signatures: dict[str, MinHash] = {}
        for article_id, encoded in stored:
            minhash = decode(encoded)
            if minhash is not None:
                self.add(article_id, minhash)

    def add(self, article_id: str, minhash: MinHash) -> None:
        if article_id in self._signatures:
            self._lsh.remove(article_id)
        self._signatures[article_id] = minhash
        self._lsh.insert(article_id, minhash)

    def remove(self, article_id: str) -> None:
        if self._signatures.pop(article_id, None) is not None:
            self._lsh.remove(article_id)

    def matches(self, article_id: str, minhash: MinHash) -> list[str]:
        """Stored articles whose estimated Jaccard similarity reaches THRESHOLD."""
        return sorted(
            other
            for other in self._lsh.query(minhash)
            if other != article_id and self._signatures[other].jaccard(minhash) >= THRESHOLD
        )
