"""Feed polling benchmark: 50 loopback feeds x 20 items, polled into an empty index, against the
embedding model alone on the very same chunk texts, in the same run.

    .venv/bin/python benchmarks/feeds.py [--feeds 50] [--items 20] [--words 300] [--repeat 3]
                                          [--host-interval 1.0] [--dir DIR]

Each feed is its own site on its own loopback address (127.0.0.2, 127.0.0.3, ...; the per-host
rate limit applies as it would to 50 outlets) serving an RSS feed and one HTML page per item.
Articles are MultiHop-RAG corpus bodies cut to about `--words` words (whole paragraphs); past
the corpus's 609, two articles' halves are joined (below the near-duplicate threshold).

Reported, as medians of --repeat interleaved rounds: the first poll (robots.txt, feeds, 1,000
pages fetched and extracted, chunked, embedded, written: items/s), the model alone
(`embed_texts` on the chunk texts that poll stored: items/s), their ratio (goal >= 0.8), and a
second poll (everything "not modified": page fetches must be 0). The machine load average at
start and end is printed: figures taken while other work runs are not comparable to idle ones.
"""

from __future__ import annotations

from index.offline import apply_offline_defaults

apply_offline_defaults()

# ruff: noqa: E402 - imports after the offline env defaults
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.web_fixtures

from index.embedding import make_embedding
from index.poller import FeedPoller
from index.service import IndexService, embed_function
from index.settings import Settings
from qa.eval.multihop import corpus_records
from tests.web_fixtures import Route, Story, WebServer, article_html, rss_feed

GOAL_VS_MODEL = 0.8


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_bodies() -> list[dict[str, Any]]:
    return [r for r in corpus_records() if r.get("body")]


def cut(text: str, words: int) -> str:
    """Whole paragraphs up to about `words` words (0: the whole text)."""
    if words <= 0:
        return text
    kept, count = [], 0
    for paragraph in (p.strip() for p in text.split("\n") if p.strip()):
        kept.append(paragraph)
        count += len(paragraph.split())
        if count >= words:
            break
    return "\n\n".join(kept)


def make_stories(records: list[dict[str, Any]], n: int, words: int) -> list[Story]:
    start = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
    stories = []
    for i in range(n):
        record = records[i % len(records)]
        body = cut(record["body"], words)
        if i >= len(records):  # join two articles' halves: new text, not a near-duplicate
            other = cut(records[(i * 7 + 101) % len(records)]["body"], words)
            body = body[: len(body) // 2] + "\n\n" + other[len(other) // 2 :]
        stories.append(
            Story(
                slug=f"story-{i}",
                title=str(record.get("title") or f"Story {i}")[:150] + f" ({i})",
                body=body,
                published=start + timedelta(minutes=17 * i),
                author=str(record.get("author") or ""),
            )
        )
    return stories


class Sites:
    """One loopback web server per feed, each on its own 127.0.0.x address."""

    def __init__(self, stories: list[Story], feeds: int, items: int) -> None:
        self.servers: list[WebServer] = []
        for f in range(feeds):
            server = WebServer(f"127.0.0.{f + 2}")
            own = stories[f * items : (f + 1) * items]
            for story in own:
                server.routes[f"/news/{story.slug}"] = Route(
                    article_html(story, site=f"Outlet {f}")
                )
            feed = rss_feed(
                own, lambda s, srv=server: srv.url(f"/news/{s.slug}"), title=f"Outlet {f}"
            )
            server.routes["/feed.xml"] = Route(feed, "application/rss+xml")
            self.servers.append(server)

    @property
    def feed_urls(self) -> list[str]:
        return [server.url("/feed.xml") for server in self.servers]

    def page_hits(self) -> int:
        return sum(len(server.hits_for("/news/")) for server in self.servers)

    def close(self) -> None:
        for server in self.servers:
            server.close()


def warm_up(story: Story, embedding: Any) -> None:
    """Pay one-time costs (imports of trafilatura, llama-index's splitter and chromadb,
    onnxruntime's first run) outside the timers, as benchmarks/ingest.py does."""
    import chromadb  # noqa: F401

    from index.chunking import chunk_article
    from index.feeds import page_article
    from index.fetch import Fetched

    html = article_html(story)
    page = Fetched("http://warm.example/", "http://warm.example/", 200, "text/html", None, html)
    article = next(a for a in page_article(page) if not hasattr(a, "fatal"))
    embed_function(embedding)([c.search_text for c in chunk_article(article)[:4]])


def one_poll_round(
    sites: Sites, embedding: Any, args: argparse.Namespace, made: list[Path]
) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-feeds-", dir=args.dir))
    made.append(data_dir)
    settings = Settings(
        data_dir=data_dir,
        chroma_url=None,
        allow_private_urls=True,
        host_interval_s=args.host_interval,
    )
    poller = FeedPoller(settings, IndexService(settings, embedding=embedding))
    try:
        for url in sites.feed_urls:
            poller.add_feed(url, check=False)
        pages_before = sites.page_hits()
        started = time.perf_counter()
        first = poller.poll().to_dict()
        wall = time.perf_counter() - started
        if first["failed"] or first["feeds_failed"]:
            raise SystemExit(f"poll failed: {json.dumps(first)[:2000]}")
        pages = sites.page_hits() - pages_before
        started = time.perf_counter()
        second = poller.poll().to_dict()
        second_wall = time.perf_counter() - started
        texts = [chunk.search_text for chunk in poller.service.store.iter_chunks()]
        return {
            "new": first["new"],
            "wall_s": wall,
            "pages_fetched": pages,
            "second_wall_s": second_wall,
            "second_fetched": second["fetched"],
            "second_not_modified": second["not_modified"],
            "texts": texts,
        }
    finally:
        poller.close()


def model_round(texts: list[str], embedding: Any) -> float:
    started = time.perf_counter()
    embed_function(embedding)(texts)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--items", type=int, default=20, help="items per feed")
    parser.add_argument("--words", type=int, default=300, help="article length (0: whole)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (medians)")
    parser.add_argument(
        "--host-interval",
        type=float,
        default=Settings.model_fields["host_interval_s"].default,
        help="per-host rate limit, seconds (default: the setting's default)",
    )
    parser.add_argument("--dir", type=Path, default=None, help="where temp indexes go")
    args = parser.parse_args()
    if args.feeds > 250:
        raise SystemExit("at most 250 feeds (one 127.0.0.x address each)")

    load_start = os.getloadavg()
    stories = make_stories(load_bodies(), args.feeds * args.items, args.words)
    embedding = make_embedding(Settings())
    warm_up(stories[0], embedding)
    sites = Sites(stories, args.feeds, args.items)
    made: list[Path] = []
    polls: list[dict[str, Any]] = []
    models: list[float] = []
    try:
        for round_no in range(args.repeat):
            # Alternate who goes first (the model embeds the texts the first poll stored):
            # load on a shared machine drifts, and drift then evens out.
            steps = ["poll", "model"] if round_no % 2 == 0 else ["model", "poll"]
            for step in steps:
                log(f"round {round_no + 1}/{args.repeat}: {step}")
                if step == "poll":
                    polls.append(one_poll_round(sites, embedding, args, made))
                else:
                    models.append(model_round(polls[0]["texts"], embedding))
    finally:
        sites.close()
        for path in made:
            shutil.rmtree(path, ignore_errors=True)
    results = summarise(args, polls, models, load_start, os.getloadavg())
    print_summary(results)
    print(json.dumps(results))


def summarise(
    args: argparse.Namespace,
    polls: list[dict[str, Any]],
    models: list[float],
    load_start: tuple[float, float, float],
    load_end: tuple[float, float, float],
) -> dict[str, Any]:
    items = polls[0]["new"]
    chunks = len(polls[0]["texts"])
    poll_wall = statistics.median(p["wall_s"] for p in polls)
    model_wall = statistics.median(models)
    return {
        "feeds": args.feeds,
        "items": items,
        "chunks": chunks,
        "words_per_article": args.words,
        "host_interval_s": args.host_interval,
        "repeat": args.repeat,
        "poll_wall_s": round(poll_wall, 2),
        "poll_items_per_s": round(items / poll_wall, 2),
        "pages_fetched": polls[0]["pages_fetched"],
        "model_wall_s": round(model_wall, 2),
        "model_items_per_s": round(items / model_wall, 2),
        "ratio_poll_to_model": round(model_wall / poll_wall, 3),
        "all_poll_walls_s": [round(p["wall_s"], 2) for p in polls],
        "all_model_walls_s": [round(m, 2) for m in models],
        "second_poll_wall_s": round(statistics.median(p["second_wall_s"] for p in polls), 2),
        "second_poll_page_fetches": max(p["second_fetched"] for p in polls),
        "second_poll_not_modified": polls[0]["second_not_modified"],
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in load_end],
        "cores": os.cpu_count(),
    }


def print_summary(r: dict[str, Any]) -> None:
    verdict = "ok" if r["ratio_poll_to_model"] >= GOAL_VS_MODEL else "BELOW GOAL"
    print(
        "\n".join(
            [
                f"{r['feeds']} feeds x {r['items'] // max(1, r['feeds'])} items = {r['items']} "
                f"articles, {r['chunks']} chunks (~{r['words_per_article']} words each; "
                f"medians of {r['repeat']})",
                f"poll (fetch+extract+embed+write) {r['poll_wall_s']:8.1f} s "
                f"{r['poll_items_per_s']:7.2f} items/s ({r['pages_fetched']} pages fetched)",
                f"embedding model alone            {r['model_wall_s']:8.1f} s "
                f"{r['model_items_per_s']:7.2f} items/s",
                f"poll/model {r['ratio_poll_to_model']:.3f} (goal >= {GOAL_VS_MODEL}: {verdict})",
                f"second poll {r['second_poll_wall_s']:.2f} s, {r['second_poll_page_fetches']} "
                f"page fetches, {r['second_poll_not_modified']} feeds not modified",
                f"load average {r['load_average_start']} -> {r['load_average_end']} on "
                f"{r['cores']} cores (not idle when above ~0.5)",
            ]
        )
    )


if __name__ == "__main__":
    main()
