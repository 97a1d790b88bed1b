"""The one typed settings object for the whole product.

It lives in `index/` because `index` is the lowest layer: `qa` and `ui` import it from here,
`index` never imports them. Every field can be set from an env var `QA_<FIELD>` (or a `.env`
file). Build it once at an entry point and pass it explicitly; nothing reads globals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CORPUS = REPO_ROOT / "samples"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QA_", env_file=".env", extra="ignore")

    # --- storage -----------------------------------------------------------------------------
    data_dir: Path = Field(
        default=Path("data"),
        description="Where the embedded Chroma index and the BM25 index live "
        "(relative paths resolve against the working directory).",
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server (`chroma run`), e.g. http://127.0.0.1:8000. "
        "Unset: embedded Chroma under data_dir.",
    )
    collection: str = Field(default="articles", description="Chroma collection name.")
    bm25_dir: Path | None = Field(
        default=None,
        description="Where the on-disk BM25 index lives; unset: data_dir/bm25. Workers that "
        "share one directory (one machine, or a shared volume) share one index: whoever "
        "ingests writes it, the others map it.",
    )

    # --- chunking & embedding ------------------------------------------------------------------
    chunk_size: int = Field(default=256, ge=32, le=4096, description="Tokens per chunk.")
    chunk_overlap: int = Field(default=32, ge=0, le=1024, description="Token overlap.")
    embedding: Literal["minilm", "openai"] = Field(
        default="minilm",
        description="minilm: all-MiniLM-L6-v2 int8 ONNX shipped on PyPI (offline); "
        "openai: OpenAI embeddings (needs OPENAI_API_KEY).",
    )
    openai_embedding_model: str = "text-embedding-3-small"
    embed_batch_size: int = Field(default=32, ge=1, le=1024)
    embed_threads: int = Field(default=0, ge=0, description="onnxruntime threads; 0 = all cores.")

    # --- retrieval -----------------------------------------------------------------------------
    top_k: int = Field(default=8, ge=1, le=50, description="Passages handed to the answerer.")
    candidates: int = Field(default=50, ge=1, le=500, description="Candidates per retriever.")

    # --- LLM (optional) ------------------------------------------------------------------------
    llm_base_url: str | None = Field(
        default=None, description="OpenAI-compatible server URL (vLLM, Ollama, llama.cpp)."
    )
    llm_model: str = Field(default="gpt-4o-mini", description="Model name sent to the LLM.")
    llm_api_key: SecretStr | None = Field(
        default=None, description="Key for the LLM server; falls back to OPENAI_API_KEY."
    )
    llm_timeout_s: float = Field(default=30.0, gt=0)
    llm_max_retries: int = Field(default=1, ge=0, le=5)

    # --- serving -------------------------------------------------------------------------------
    api_key: SecretStr | None = Field(default=None, description="Bearer token for /api and /v1.")
    ui_users: str | None = Field(default=None, description="user:pass[,user:pass] for the UI.")
    prompts_dir: Path = Field(default=REPO_ROOT / "prompts")

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def bm25_path(self) -> Path:
        return self.bm25_dir or self.data_dir / "bm25"
