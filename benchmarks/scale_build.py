"""Builds the cached collections of `benchmarks/scale.py` in a real `chroma run` server.

    .venv/bin/python benchmarks/scale_build.py --source-dir DIR --cache DIR --chunks N

- "multihop-rag": the 7,803 MultiHop-RAG chunks and their catalog, copied as they are from the
  embedded index in `--source-dir` (the one `qa eval retrieval` builds);
- "multihop-rag-<N>": N chunks, the corpus replicated under new ids (and new article ids, so
  they are different articles to the retriever) with perturbed copies of the vectors (gaussian
  noise of std NOISE per component, re-normalised; copy 0 keeps the original vectors), the
  same texts and sentence vectors, and one catalog record per replicated article.

Writes are resumable: ids are deterministic, so a build that was stopped goes on from the
number of chunks already stored. `--adopt` instead keeps a stopped build as the smaller
collection of the whole copies it holds (`multihop-rag-<copies x 7,803>`), so a partial build
serves `scale.py --chunks` at that size without writing a chunk. The server runs only while
this script runs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from index.offline import apply_offline_defaults

apply_offline_defaults()

from index.settings import Settings  # noqa: E402
from index.store import CATALOG_SUFFIX, ArticleStore, open_client  # noqa: E402

SMALL = "multihop-rag"
NOISE = 0.02
BATCH = 1000
_PAGE = 2000
# The first upserts into a large collection on a freshly started server wait for it to load
# (over 30 s at 260k chunks); the build is a batch job, not a request a user waits on.
BULK_TIMEOUT_S = 900.0


def large_name(chunks: int) -> str:
    return f"{SMALL}-{chunks}"


@contextmanager
def chroma_server(path: Path, port: int, log: Path) -> Iterator[str]:
    """A `chroma run` subprocess (this one process is stopped on exit)."""
    import httpx

    path.mkdir(parents=True, exist_ok=True)
    chroma = Path(sys.executable).parent / "chroma"
    cmd = [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    with log.open("ab") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chroma run did not start (see {log})")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def read_all(collection: Any, include: list[str]) -> dict[str, list]:
    out: dict[str, list] = {"ids": [], **{key: [] for key in include}}
    offset = 0
    while True:
        got = collection.get(include=include, limit=_PAGE, offset=offset)
        if not got["ids"]:
            return out
        out["ids"] += got["ids"]
        for key in include:
            out[key] += list(got[key])
        offset += len(got["ids"])


def upsert_copy(
    target: ArticleStore,
    source: dict[str, list],
    catalog: dict[str, list],
    copy: int,
    start: int,
    stop: int,
    seed: int,
    with_bodies: bool,
) -> None:
    """Chunks [start, stop) of copy `copy` (and that copy's catalog records with the first)."""
    suffix = f"#copy{copy}" if copy else ""
    chunks = target._chunks
    vectors = np.asarray(source["embeddings"][start:stop], dtype=np.float32)
    if copy:
        rng = np.random.default_rng([seed, copy, start])
        vectors = vectors + rng.normal(0.0, NOISE, vectors.shape).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    chunks.upsert(
        ids=[cid + suffix for cid in source["ids"][start:stop]],
        embeddings=vectors,
        documents=source["documents"][start:stop],
        metadatas=[
            {**m, "article_id": m["article_id"] + suffix, "url": m.get("url", "") + suffix}
            for m in source["metadatas"][start:stop]
        ],
    )
    if start == 0:
        for first in range(0, len(catalog["ids"]), BATCH):
            window = slice(first, first + BATCH)
            target._catalog.upsert(
                ids=[aid + suffix for aid in catalog["ids"][window]],
                embeddings=[[1.0]] * len(catalog["ids"][window]),
                documents=catalog["documents"][window] if with_bodies else None,
                metadatas=[_suffixed_record(m, suffix) for m in catalog["metadatas"][window]],
            )


def _suffixed_record(meta: dict[str, Any], suffix: str) -> dict[str, Any]:
    import json

    links = json.loads(str(meta.get("near_duplicates", "[]")) or "[]")
    return {**meta, "near_duplicates": json.dumps([link + suffix for link in links])}


def build(source_dir: Path, url: str, chunks: int, seed: int) -> None:
    source_settings = Settings(data_dir=source_dir)
    source_client = open_client(source_settings)
    source_chunks = source_client.get_collection(SMALL, embedding_function=None)
    model = str((source_chunks.metadata or {}).get("embedding_model", ""))
    print(f"reading {SMALL} from {source_dir}", file=sys.stderr)
    source = read_all(source_chunks, ["documents", "metadatas", "embeddings"])
    catalog = read_all(
        source_client.get_collection(SMALL + CATALOG_SUFFIX, embedding_function=None),
        ["documents", "metadatas"],
    )
    n_source = len(source["ids"])
    server = Settings(data_dir=source_dir, chroma_url=url, chroma_timeout_s=BULK_TIMEOUT_S)
    for name, target_n in ((SMALL, n_source), (large_name(chunks), chunks)):
        store = ArticleStore(open_client(server), name, model)
        have = store.count_chunks()
        started = time.perf_counter()
        print(f"{name}: {have} of {target_n} chunks stored", file=sys.stderr)
        done = have
        while done < target_n:
            copy, start = divmod(done, n_source)
            stop = min(start + BATCH, n_source, start + target_n - done)
            upsert_copy(store, source, catalog, copy, start, stop, seed, with_bodies=copy == 0)
            done += stop - start
            if done % 20_000 < BATCH or done == target_n:
                rate = (done - have) / (time.perf_counter() - started)
                print(f"  {name}: {done} chunks ({rate:.0f}/s)", file=sys.stderr, flush=True)
        store.bump_revision()
        band_keys(store)


def band_keys(store: ArticleStore) -> None:
    """The catalog's LSH band keys, backfilled now (the copied records were written without
    them): otherwise the benchmark's first writer ingest would pay for the backfill."""
    started = time.perf_counter()
    store._ensure_band_keys()
    print(f"{store.name}: band keys in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def adopt_partial(url: str, target: int) -> int:
    """A stopped build of `multihop-rag-<target>` kept as a finished collection of the whole
    copies it holds: the last, incomplete copy's chunks and catalog records are deleted, both
    collections renamed `multihop-rag-<N>` (N = whole copies x the corpus) and the revision
    bumped, so `scale.py --chunks N` finds N built. Returns N."""
    client = open_client(Settings(chroma_url=url, chroma_timeout_s=BULK_TIMEOUT_S))
    source_ids = read_all(client.get_collection(SMALL, embedding_function=None), [])["ids"]
    article_ids = read_all(
        client.get_collection(SMALL + CATALOG_SUFFIX, embedding_function=None), []
    )["ids"]
    chunks = client.get_collection(large_name(target), embedding_function=None)
    catalog = client.get_collection(large_name(target) + CATALOG_SUFFIX, embedding_function=None)
    copies = chunks.count() // len(source_ids)
    for collection, ids in ((chunks, source_ids), (catalog, article_ids)):
        extra = [i + f"#copy{copies}" for i in ids]
        for first in range(0, len(extra), BATCH):
            present = collection.get(ids=extra[first : first + BATCH], include=[])["ids"]
            if present:
                collection.delete(ids=present)
    n = copies * len(source_ids)
    if chunks.count() != n or catalog.count() != copies * len(article_ids):
        raise RuntimeError(f"{large_name(target)} is not {copies} whole copies; not adopted")
    chunks.modify(name=large_name(n))
    catalog.modify(name=large_name(n) + CATALOG_SUFFIX)
    model = str((chunks.metadata or {}).get("embedding_model", ""))
    adopted = ArticleStore(
        open_client(Settings(chroma_url=url, chroma_timeout_s=BULK_TIMEOUT_S)), large_name(n), model
    )
    adopted.bump_revision()
    band_keys(adopted)
    print(f"{large_name(target)}: {copies} whole copies kept as {large_name(n)}", file=sys.stderr)
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source-dir", type=Path)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--port", type=int, default=18765)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--adopt",
        action="store_true",
        help="keep a stopped build of --chunks as the whole copies it holds (no writes but "
        "deletes and renames) instead of resuming it",
    )
    args = parser.parse_args()
    if not args.adopt and args.source_dir is None:
        parser.error("--source-dir is required to build")
    with chroma_server(args.cache / "chroma", args.port, args.cache / "chroma.log") as url:
        if args.adopt:
            print(adopt_partial(url, args.chunks))
        else:
            build(args.source_dir, url, args.chunks, args.seed)


if __name__ == "__main__":
    main()
