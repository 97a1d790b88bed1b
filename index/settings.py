"""The one typed settings object for the whole product.

It lives in `index/` because `index` is the lowest layer: `qa` and `ui` import it from here,
`index` never imports them. Every field can be set from an env var `QA_<FIELD>` (or a `.env`
file). Build it once at an entry point and pass it explicitly; nothing reads globals.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CORPUS = REPO_ROOT / "samples"
ENV_PREFIX = "QA_"

# Chroma's collection naming rules (chromadb 1.x checks them, with a long traceback): 3-512
# characters from [a-zA-Z0-9._-], alphanumeric at both ends, no "..", not an IP address. The
# catalog collection is the name plus "-articles" (index.store.CATALOG_SUFFIX), so that must
# fit too.
_COLLECTION_CHARS = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9._-]*[a-zA-Z0-9])?")
_COLLECTION_MAX = 512 - len("-articles")


def collection_name_problem(name: str) -> str | None:
    """Why Chroma would refuse `name` as a collection name, or None when it is fine."""
    if not 3 <= len(name) <= _COLLECTION_MAX:
        length = f"3-{_COLLECTION_MAX} characters long, not {len(name)}"
        return f"a Chroma collection name must be {length}"
    if not _COLLECTION_CHARS.fullmatch(name):
        return (
            "a Chroma collection name must contain only letters a-z/A-Z, digits, '.', '_' "
            "and '-', and start and end with a letter or digit"
        )
    if ".." in name:
        return "a Chroma collection name must not contain two periods in a row (..)"
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return None
    return "a Chroma collection name must not be an IP address"


class SettingsError(ValueError):
    """Settings that cannot be used; `problems` has one line per bad value, naming its
    environment variable, the value and the reason: "QA_TOP_K='abc': input should be a
    valid integer"."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


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
    chroma_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="How long one request to a Chroma server may take before it fails (a "
        "frozen server must not hold every worker thread). Raise it for bulk ingests into a "
        "large collection on a cold server: the first 1,000-chunk upsert into an 260k-chunk "
        "collection took over 30 s here.",
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
    llm_timeout_s: float = Field(
        default=30.0, gt=0, description="Per attempt (1 + llm_max_retries attempts per call)."
    )
    llm_max_retries: int = Field(default=1, ge=0, le=5)

    # --- serving -------------------------------------------------------------------------------
    api_key: SecretStr | None = Field(
        default=None,
        description="Bearer key: with it (or ui_users) set, every route but health, the docs "
        "and the login page needs a credential; the key may ask and change articles.",
    )
    ui_users: SecretStr | None = Field(
        default=None,
        description="user:pass[,user:pass]: people who sign in at /login; they may ask.",
    )
    ui_editors: str | None = Field(
        default=None,
        description="user[,user] of ui_users who may also add and delete articles ('*': all).",
    )
    allow_open: bool = Field(
        default=False,
        description="Serve a non-loopback address with no api_key and no ui_users: anyone who "
        "can reach it may ask, upload and delete. Off: such a server refuses to start.",
    )
    prompts_dir: Path = Field(default=REPO_ROOT / "prompts")

    # --- web pages and feeds (index/fetch.py, index/feeds.py) ---------------------------------
    allow_private_urls: bool = Field(
        default=False,
        description="Allow fetching pages and feeds at private, loopback and link-local "
        "addresses (checked after DNS resolution and on every redirect). Off: such URLs are "
        "refused, so a user cannot make the server reach into its own network. Tests turn it "
        "on for their loopback servers.",
    )
    feeds: str = Field(
        default="",
        description="Feed URLs to poll besides the stored feed list (comma or space separated).",
    )
    fetch_timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="Connect and per-read timeout of one fetch."
    )
    fetch_deadline_s: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="Whole-response limit of one fetch: a server that drips bytes is cut off.",
    )
    max_page_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1024, description="Largest article page fetched (bytes)."
    )
    max_feed_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="Largest feed document fetched (bytes)."
    )
    max_redirects: int = Field(default=5, ge=0, le=20)
    fetch_user_agent: str = Field(
        default="newsqa/0.1 (news question answering; feed reader)",
        description="User-Agent of every fetch; robots.txt rules for 'newsqa' apply to it.",
    )
    host_interval_s: float = Field(
        default=1.0,
        ge=0,
        le=3600,
        description="Per-host rate limit: at least this long between two requests to one host.",
    )
    fetch_workers: int = Field(
        default=4, ge=1, le=64, description="Pages fetched at once (different hosts)."
    )
    feed_backoff_s: float = Field(
        default=300.0,
        ge=0,
        description="First wait after a feed fails; doubles with each failure in a row.",
    )
    feed_backoff_max_s: float = Field(default=6 * 3600.0, ge=0)
    poll_interval_s: float = Field(
        default=0.0,
        ge=0,
        description="`qa serve` polls the feeds every this many seconds (0: never; "
        "`qa serve --poll-interval` overrides).",
    )

    @field_validator("collection")
    @classmethod
    def _chroma_accepts_collection(cls, name: str) -> str:
        problem = collection_name_problem(name)
        if problem:
            raise ValueError(problem)
        return name

    @property
    def feed_urls(self) -> list[str]:
        """QA_FEEDS split into URLs, in order, without repeats."""
        return list(dict.fromkeys(self.feeds.replace(",", " ").split()))

    @property
    def feeds_db_path(self) -> Path:
        return self.data_dir / "feeds.sqlite3"

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def bm25_path(self) -> Path:
        return self.bm25_dir or self.data_dir / "bm25"


def load_settings(**values: Any) -> Settings:
    """Settings from the environment (and `values`), for an entry point: bad values raise a
    SettingsError that names each variable, not pydantic's field-by-field traceback."""
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise SettingsError([_problem(error) for error in exc.errors()]) from exc


def _problem(error: Any) -> str:
    """One pydantic error as `QA_NAME='value': reason`."""
    field = str(error["loc"][0]) if error.get("loc") else ""
    variable = ENV_PREFIX + field.upper() if field else "settings"
    secret = field in Settings.model_fields and Settings.model_fields[field].annotation in (
        SecretStr,
        SecretStr | None,
    )
    shown = "(hidden)" if secret else repr(error.get("input"))
    reason = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    reason = re.sub(r", unable to (?:parse|interpret) .*$", "", reason)
    return f"{variable}={shown}: {reason[:1].lower()}{reason[1:]}"
