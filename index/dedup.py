"""Near-duplicate articles (the same wire story from several outlets), found with MinHash.

Both copies stay in the index; they are linked so answers can say "also reported by …" instead
of citing the same text twice, and retrieval can keep copies from crowding out other articles.

Stored articles are found by LSH band keys kept in their catalog records (`band_keys`): the
store looks up the records sharing a band with a new signature, so an ingest reads a handful of
records instead of the whole catalog (at 20k articles the whole-catalog read and LSH rebuild
took ~34 s per ingest call). Articles of the ingest in progress, not yet stored, are kept in an
in-memory LSH. Candidates from either side are confirmed by their estimated Jaccard similarity.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping

import numpy as np
from datasketch import MinHash, MinHashLSH

NUM_PERM = 128
SHINGLE_WORDS = 5
SCHEME = "affine64"  # pinned: signatures are stored, so the hash scheme must never drift
# Jaccard similarity of 5-word shingles above which two bodies count as the same story. Rewritten
# coverage of one event scores well under 0.2; syndicated copies with a changed intro or footer
# score above 0.6.
THRESHOLD = 0.6
# LSH bands x rows per band: datasketch's optimum for THRESHOLD and NUM_PERM (MinHashLSH picks
# the same 18 x 7). Pinned, because the band keys are stored: a change needs a backfill.
BANDS, ROWS = 18, 7
BAND_FIELDS = tuple(f"lsh{band}" for band in range(BANDS))
# Shingle words, not the project's tokenizer (index.tokens): signatures and band keys are stored,
# so what a shingle is must never drift either.
_WORD = re.compile(r"\w+")

# The stored signatures sharing at least one band key: (article id, encoded signature) pairs.
BandLookup = Callable[[Mapping[str, int]], Iterable[tuple[str, str]]]


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


def band_keys(minhash: MinHash) -> dict[str, int]:
    """One integer per LSH band (56 bits: Chroma metadata integers are signed 64-bit). Two
    signatures share a key when the band's rows are equal, the condition MinHashLSH tests; a
    rare hash collision only adds a candidate, which the Jaccard check then drops."""
    values = np.asarray(minhash.hashvalues, dtype=np.uint64)
    return {
        field: int.from_bytes(
            hashlib.blake2b(
                values[band * ROWS : (band + 1) * ROWS].tobytes(), digest_size=7
            ).digest(),
            "big",
        )
        for band, field in enumerate(BAND_FIELDS)
    }


def stored_band_keys(encoded: str) -> dict[str, int]:
    """The band keys of an encoded signature, for its catalog record ({} without one)."""
    minhash = decode(encoded)
    return band_keys(minhash) if minhash is not None else {}


class DuplicateFinder:
    """Near duplicates of an article among the stored ones and those of the current ingest."""

    def __init__(self, lookup: BandLookup) -> None:
        self._lookup = lookup
        self._lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
        self._pending: dict[str, MinHash] = {}

    def add(self, article_id: str, minhash: MinHash) -> None:
        """An article of this ingest: found by the later ones before it is stored."""
        if article_id in self._pending:
            self._lsh.remove(article_id)
        self._pending[article_id] = minhash
        self._lsh.insert(article_id, minhash)

    def matches(self, article_id: str, minhash: MinHash) -> list[str]:
        """Articles whose estimated Jaccard similarity reaches THRESHOLD."""
        candidates: dict[str, MinHash | None] = {
            other: decode(encoded) for other, encoded in self._lookup(band_keys(minhash))
        }
        # This ingest's version of an article replaces its stored one.
        candidates.update({other: self._pending[other] for other in self._lsh.query(minhash)})
        candidates.update(
            {other: self._pending[other] for other in candidates if other in self._pending}
        )
        return sorted(
            other
            for other, stored in candidates.items()
            if other != article_id and stored is not None and stored.jaccard(minhash) >= THRESHOLD
        )
