"""Sentence spans of a chunk and their compact vectors.

Retrieval scores chunks by their best sentence (gold facts are single sentences), so ingest
stores one vector per sentence beside the chunk's own. The vectors come from the same model pass
as the chunk vector (the token states of each sentence, mean-pooled: "late chunking"), so they
cost no extra model time. They travel in the chunk's Chroma metadata as int8 codes, so they are
upserted, reused and deleted with the chunk and work the same against a Chroma server.
"""

from __future__ import annotations

import base64
import re

import numpy as np

METADATA_KEY = "sentence_vectors"
_SCALE = 127.0
# A sentence ends at . ! ? … (optionally closed by quotes/brackets) followed by whitespace and a
# capital or digit, or at a line break. Rough by design: it only has to be the same at ingest
# and at query time, which this module guarantees by being the one place that splits.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)]*\s+(?=[\"'“‘(]?[A-Z0-9])|\n+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, surrounding whitespace excluded."""
    spans = []
    start = 0
    for match in [*_SENTENCE_END.finditer(text), None]:
        end = match.start() if match else len(text)
        piece = text[start:end]
        stripped = piece.strip()
        if stripped:
            lead = len(piece) - len(piece.lstrip())
            spans.append((start + lead, start + lead + len(stripped)))
        if match:
            start = match.end()
    return spans


def encode_vectors(vectors: np.ndarray) -> str:
    """(n, dim) unit vectors -> text for a metadata field: int8 codes, base64, dim-prefixed."""
    codes = np.clip(np.rint(np.asarray(vectors, dtype=np.float32) * _SCALE), -127, 127)
    dim = vectors.shape[1] if vectors.ndim == 2 else 0
    return f"{dim}:" + base64.b64encode(codes.astype(np.int8).tobytes()).decode("ascii")


def decode_vectors(text: str) -> np.ndarray | None:
    """The int8 codes (n, dim) of `encode_vectors`' text; None when it is not such text."""
    dim_text, _, payload = str(text).partition(":")
    try:
        dim = int(dim_text)
        raw = np.frombuffer(base64.b64decode(payload, validate=True), dtype=np.int8)
    except ValueError:
        return None
    if dim <= 0 or raw.size % dim:
        return None
    return raw.reshape(-1, dim)


def code_scale() -> float:
    """Divide a dot product of codes with a unit vector by this to get the cosine."""
    return _SCALE
