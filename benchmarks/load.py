"""Load test of the HTTP API: concurrent questions, then questions while articles are ingested.

    .venv/bin/python benchmarks/load.py [--clients 32] [--seconds 60] [--url http://127.0.0.1:PORT]

Without --url it starts `qa serve` on a free loopback port over a fresh data dir (the server
ingests the sample corpus into an empty index). Loopback only: any other host is refused.

Phase 1: `--clients` asyncio clients (httpx) POST /api/v1/answer (extractive mode, questions
about the sample article) in a loop for `--seconds`. Phase 2: the same load while a writer
POSTs MultiHop-RAG records to /api/v1/articles in batches. Printed per phase: requests, errors
(by status or exception), throughput, latency p50/p95/p99/max. Consistency: every citation of
every answer is re-checked afterwards against the article body (quote == body[start:end]) and
each ingested article must be findable by its title once its batch returned.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from qa.eval import multihop  # noqa: E402

API = "/api/v1"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
QUESTIONS = [
    "which countries back Maduro?",
    "Who is Juan Guaido?",
    "What did Mike Pompeo say at the United Nations?",
    "Who called the Security Council meeting on Venezuela?",
    "What did Guaido tell his followers to do if he is arrested?",
    "What is Venezuela's foreign minister called?",
    "Why did Venezuelans take to the streets?",
    "Which countries recognised Guaido as interim president?",
]
INGEST_BATCH = 5
REQUEST_TIMEOUT_S = 120.0
KEEPALIVE_EXPIRY_S = 2.0


@dataclass
class Phase:
    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    citations: set[tuple[str, int, int, str]] = field(default_factory=set)
    answers: dict[str, set[str]] = field(default_factory=dict)
    cited: dict[str, set[str]] = field(default_factory=dict)  # question -> cited article ids
    error_samples: list[str] = field(default_factory=list)

    def error(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(f"{time.strftime('%H:%M:%S')} {kind}: {detail[:300]}")

    @property
    def requests(self) -> int:
        return len(self.latencies) + sum(self.errors.values())

    def row(self) -> dict[str, Any]:
        ordered = sorted(self.latencies) or [0.0]

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

        return {
            "phase": self.name,
            "requests": self.requests,
            "ok": len(self.latencies),
            "errors": dict(self.errors),
            "throughput_rps": round(self.requests / self.seconds, 2),
            "p50_s": round(statistics.median(ordered), 3),
            "p95_s": round(pct(0.95), 3),
            "p99_s": round(pct(0.99), 3),
            "max_s": round(ordered[-1], 3),
            "distinct_answers_per_question": max(
                (len(v) for v in self.answers.values()), default=0
            ),
            "questions_with_changing_answers": {
                q: sorted(self.cited.get(q, ())) for q, v in self.answers.items() if len(v) > 1
            },
            "error_samples": self.error_samples,
        }


async def ask_loop(client: httpx.AsyncClient, phase: Phase, deadline: float, offset: int) -> None:
    turn = offset
    while time.monotonic() < deadline:
        question = QUESTIONS[turn % len(QUESTIONS)]
        turn += 1
        started = time.monotonic()
        try:
            reply = await client.post(
                f"{API}/answer", json={"question": question, "mode": "extractive"}
            )
        except httpx.HTTPError as error:
            phase.error(type(error).__name__, f"{error!r} after {time.monotonic() - started:.2f} s")
            continue
        if reply.status_code != 200:
            phase.error(f"HTTP {reply.status_code}", reply.text)
            continue
        phase.latencies.append(time.monotonic() - started)
        answer = reply.json()
        phase.answers.setdefault(question, set()).add(answer["answer"])
        for c in answer["citations"]:
            phase.citations.add((c["article_id"], c["start"], c["end"], c["quote"]))
            phase.cited.setdefault(question, set()).add(c["article_id"])


async def run_phase(
    base: str, name: str, clients: int, seconds: float, writer: Any = None
) -> tuple[Phase, Any]:
    phase = Phase(name)
    # keepalive_expiry below uvicorn's 5 s keep-alive timeout: with both at 5 s (httpx's
    # default) a pooled connection can be reused just as the server closes it (ReadError).
    limits = httpx.Limits(
        max_connections=clients + 2,
        max_keepalive_connections=clients + 2,
        keepalive_expiry=KEEPALIVE_EXPIRY_S,
    )
    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT_S, limits=limits) as client:
        started = time.monotonic()
        deadline = started + seconds
        writing = asyncio.create_task(writer(client, deadline)) if writer else None
        await asyncio.gather(*(ask_loop(client, phase, deadline, i) for i in range(clients)))
        phase.seconds = time.monotonic() - started  # the questions' window, not the writer's
        written = await writing if writing else None
    return phase, written


def ingest_writer(records: list[dict[str, Any]]):
    """POST batches of records until they run out or the phase ends; then check each title."""

    async def write(client: httpx.AsyncClient, deadline: float) -> dict[str, Any]:
        done, latencies, errors, missing = [], [], Counter(), []
        for start in range(0, len(records), INGEST_BATCH):
            if time.monotonic() >= deadline:
                break
            batch = records[start : start + INGEST_BATCH]
            began = time.monotonic()
            reply = await client.post(
                f"{API}/articles", json={"records": batch}, timeout=REQUEST_TIMEOUT_S * 5
            )
            latencies.append(time.monotonic() - began)
            if reply.status_code != 200:
                errors[f"HTTP {reply.status_code}"] += 1
                continue
            done.extend(batch)
        for record in done:  # every stored article is searchable by its title
            reply = await client.post(f"{API}/search", json={"question": record["title"], "k": 5})
            urls = {p["url"] for p in reply.json().get("passages", [])}
            if record["url"] not in urls:
                missing.append(record["url"])
        return {
            "batches": len(latencies),
            "articles": len(done),
            "errors": dict(errors),
            "batch_p50_s": round(statistics.median(latencies), 2) if latencies else None,
            "not_found_by_title": missing,
        }

    return write


def verify_citations(base: str, citations: set[tuple[str, int, int, str]]) -> dict[str, int]:
    """quote == body[start:end] for every distinct citation seen under load."""
    bodies: dict[str, str] = {}
    bad = 0
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S) as client:
        for article_id, start, end, text in citations:
            if article_id not in bodies:
                reply = client.get(f"{API}/articles/{quote(article_id, safe='')}")
                bodies[article_id] = (
                    reply.json().get("body", "") if reply.status_code == 200 else ""
                )
            if bodies[article_id][start:end] != text:
                bad += 1
    return {"checked": len(citations), "mismatched": bad, "articles": len(bodies)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "QA_DATA_DIR": str(data_dir),
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "ORT_DISABLE_TELEMETRY": "1",
    }
    for name in ("QA_CHROMA_URL", "QA_LLM_BASE_URL", "QA_API_KEY"):
        env.pop(name, None)
    log = (data_dir / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("qa")),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=data_dir,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"qa serve exited with {process.returncode}; see {log.name}")
        try:
            if httpx.get(f"{base}{API}/health", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise SystemExit("qa serve did not become healthy in 300 s")


def corpus_records(count: int) -> list[dict[str, Any]]:
    records = multihop.corpus_records()
    return [r for r in records if r.get("title") and r.get("url")][:count]


def markdown(rows: list[dict[str, Any]]) -> str:
    head = "| phase | requests | errors | req/s | p50 s | p95 s | p99 s | max s |"
    lines = [head, "|" + "---|" * 8]
    for r in rows:
        lines.append(
            f"| {r['phase']} | {r['requests']} | {sum(r['errors'].values())} "
            f"{r['errors'] or ''} | {r['throughput_rps']} | {r['p50_s']} | "
            f"{r['p95_s']} | {r['p99_s']} | {r['max_s']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--ingest-articles", type=int, default=60)
    parser.add_argument("--url", help="an already running server (loopback only)")
    parser.add_argument("--server-log", type=Path, help="keep the started server's log here")
    args = parser.parse_args()

    process = None
    scratch = tempfile.TemporaryDirectory(prefix="newsqa-load-")
    if args.url:
        if urlparse(args.url).hostname not in LOOPBACK:
            raise SystemExit(f"{args.url}: this benchmark only talks to loopback servers")
        base = args.url.rstrip("/")
    else:
        process, base = start_server(Path(scratch.name))
    try:
        with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S) as client:
            for question in QUESTIONS:  # warm-up: model, snapshot, caches
                client.post(f"{API}/answer", json={"question": question, "mode": "extractive"})
            health = client.get(f"{API}/health").json()
        records = corpus_records(args.ingest_articles + INGEST_BATCH)
        alone = time.monotonic()  # one batch with no question load, for comparison
        reply = httpx.post(
            f"{base}{API}/articles",
            json={"records": records[:INGEST_BATCH]},
            timeout=REQUEST_TIMEOUT_S * 5,
        )
        batch_alone_s = round(time.monotonic() - alone, 2) if reply.status_code == 200 else None
        answer_only, _ = asyncio.run(run_phase(base, "answer", args.clients, args.seconds))
        mixed, ingest = asyncio.run(
            run_phase(
                base,
                "answer + ingest",
                args.clients,
                args.seconds,
                ingest_writer(records[INGEST_BATCH:]),
            )
        )
        ingest["batch_alone_s"] = batch_alone_s
        rows = [answer_only.row(), mixed.row()]
        checks = verify_citations(base, answer_only.citations | mixed.citations)
    finally:
        if process is not None:
            process.terminate()
            process.wait(30)
            if args.server_log:
                args.server_log.write_bytes((Path(scratch.name) / "serve.log").read_bytes())
        scratch.cleanup()
    summary = {
        "clients": args.clients,
        "seconds_per_phase": args.seconds,
        "index_at_start": {k: health.get(k) for k in ("articles", "chunks")},
        "phases": rows,
        "ingest_during_load": ingest,
        "citations": checks,
    }
    print(json.dumps(summary, indent=2))
    print()
    print(markdown(rows))


if __name__ == "__main__":
    main()
