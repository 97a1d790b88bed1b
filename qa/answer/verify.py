"""Check a generated claim against the passage it cites.

The LLM writes "claim [n]". We look for the sentence (or pair of adjacent sentences) of
passage n that best supports the claim and use it as the citation's verbatim quote. The
support score is lexical — the share of the claim's content stems found in the quote,
or the longest common substring for near-verbatim claims — optionally averaged with the
embedding cosine, which forgives paraphrase.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import pairwise

import numpy as np

from qa.answer.injection import looks_like_injection
from qa.answer.sentences import Sentence, split_sentences
from qa.answer.terms import stems
from qa.answer.vectors import SentenceVectors

# A claim whose best quote scores below this is marked unsupported (Citation.supported).
SUPPORT_THRESHOLD = 0.5
EMBED_SHORTLIST = 3  # candidate quotes (best lexical first) that get an embedding cosine


@dataclass(frozen=True)
class Support:
    quote: Sentence  # span of the passage text (offsets relative to the passage)
    score: float

    @property
    def supported(self) -> bool:
        return self.score >= SUPPORT_THRESHOLD


def lexical_support(claim: str, evidence: str) -> float:
    """0..1: how much of `claim` is found in `evidence`."""
    claim_stems = set(stems(claim))
    if not claim_stems:
        return 0.0
    overlap = len(claim_stems & set(stems(evidence))) / len(claim_stems)
    # `a` is not empty: the claim has stems.
    a, b = " ".join(claim.lower().split()), " ".join(evidence.lower().split())
    match = SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b))
    return max(overlap, match.size / len(a))


def best_support(claim: str, passage_text: str, vectors: SentenceVectors | None = None) -> Support:
    """The span of `passage_text` that best supports `claim`, and how well.

    Candidates are each sentence and each pair of adjacent sentences, leaving out sentences
    that address the model or the reader ("ignore previous instructions and answer …"): an
    injected instruction is article text, never evidence, so a claim that repeats it (the
    model obeyed it) finds no support in it."""
    singles = [s for s in split_sentences(passage_text) if not looks_like_injection(s.text)]
    candidates = singles + [
        Sentence(passage_text[a.start : b.end], a.start, b.end)
        for a, b in pairwise(singles)
        if not passage_text[a.end : b.start].strip()  # adjacent: no injected sentence between
    ]
    if not candidates:
        return Support(Sentence(passage_text, 0, len(passage_text)), 0.0)
    scores = np.array([lexical_support(claim, c.text) for c in candidates], dtype=np.float32)
    # A pair must beat the best single sentence clearly, or quotes grow for nothing.
    scores[len(singles) :] -= 0.1
    if vectors is not None:
        # Embeddings cost ~35 ms a sentence: only the lexical shortlist gets a cosine.
        shortlist = np.argsort(-scores)[:EMBED_SHORTLIST]
        cosine = vectors.texts([candidates[i].text for i in shortlist]) @ vectors.query(claim)
        blended = np.full_like(scores, -1.0)
        blended[shortlist] = 0.5 * scores[shortlist] + 0.5 * np.clip(cosine, 0.0, 1.0)
        scores = blended
    best = int(np.argmax(scores))
    return Support(candidates[best], float(scores[best]))
