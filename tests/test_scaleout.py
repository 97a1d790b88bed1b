"""Scale-out: two `qa serve` processes over one `chroma run` server serve one index.

Each process keeps its own lexical index here (separate QA_DATA_DIR, no shared QA_BM25_DIR, the
harder case): the Chroma catalog revision tells a process that another one wrote, it indexes just
the chunks written since, and an article ingested through one server is found, with the same
citations, by the other; an article deleted through one is gone from the other's searches.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from qa.client import Client
from qa.retrieval.corpus import REVISION_TTL_S
from tests.api_fixtures import SEED_QUESTION, ChromaServer, QAServer

pytestmark = pytest.mark.slow  # two model-loading server processes: > 60 s on 2 busy cores

DOC = (
    "# Tidal power plant opens in Kervallec\n\n"
    "The Kervallec tidal power plant began supplying 57 megawatts to the grid on Tuesday. "
    "Engineer Aurelie Tanguy said the turbines sit 30 metres below the surface.\n"
)
QUESTION = "How many megawatts does the Kervallec tidal power plant supply?"


def citations(answer: dict) -> list[tuple[str, int, int, str]]:
    return [(c["article_id"], c["start"], c["end"], c["quote"]) for c in answer["citations"]]


def test_two_servers_share_one_chroma_index(tmp_path: Path) -> None:
    chroma = ChromaServer(tmp_path / "chroma")
    servers = [QAServer(tmp_path / f"node{i}", QA_CHROMA_URL=chroma.url) for i in (1, 2)]
    try:
        chroma.start()
        started = time.monotonic()
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        print(f"two qa serve processes ready in {time.monotonic() - started:.1f} s")
        one, two = (Client(s.url) for s in servers)
        for client in (one, two):  # both found the empty index and ingested the sample
            health = client.health()
            assert health["chroma"] == chroma.url and health["articles"] >= 1

        upload = tmp_path / "tidal.md"
        upload.write_text(DOC, encoding="utf-8")
        report = one.upload([upload])
        uploaded_at = time.monotonic()
        assert report.added == 1
        (article_id,) = report.article_ids

        first = httpx.post(
            f"{servers[0].url}/api/v1/answer", json={"question": QUESTION}, timeout=60
        ).json()
        # Another process's write reaches this one's searches within REVISION_TTL_S (the
        # revision is re-checked at most that often). Warm servers answer the first question
        # sooner than that after the upload, so wait out the window.
        time.sleep(max(0.0, uploaded_at + REVISION_TTL_S - time.monotonic()))
        second = httpx.post(
            f"{servers[1].url}/api/v1/answer", json={"question": QUESTION}, timeout=60
        ).json()
        assert "57 megawatts" in first["answer"]
        assert second["answer"] == first["answer"]
        assert citations(second) == citations(first)
        assert article_id in {c[0] for c in citations(second)}

        seed_one, seed_two = (c.ask(SEED_QUESTION) for c in (one, two))
        assert seed_one.answer == seed_two.answer and "Russia" in seed_one.answer

        assert two.delete(article_id)  # and back the other way
        assert one.get_article(article_id) is None
        # Another process's delete reaches this one's searches within REVISION_TTL_S (the
        # revision is re-checked at most that often; a search that fetches a deleted chunk
        # drops it at once); allow 1 s on top.
        deadline = time.monotonic() + REVISION_TTL_S + 1.0
        while True:
            after = one.ask(QUESTION)
            cited = {c.article_id for c in after.citations}
            if article_id not in cited or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert article_id not in cited
    except Exception:
        for server in servers:
            print(server.output()[-3000:])
        raise
    finally:
        for server in servers:
            server.stop()
        chroma.stop()
