"""A small real index for the retrieval tests: MultiHop-RAG articles that hold every gold article
of 46 dev queries, a few distractors and a near-duplicate copy, embedded with the real MiniLM.

Shared by test_retrieval.py and test_eval_retrieval.py; built once per test session.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from index.offline import apply_offline_defaults
from qa.eval.multihop import corpus_records

apply_offline_defaults()

# Gold articles of dev queries (chosen greedily by length: whole queries, fewest words).
GOLD_URLS = (
    "https://fortune.com/2023/10/10/taylor-swift-eras-tour-movie-amc-concert-blockbuster/",
    "https://fortune.com/2023/12/03/beyonce-tops-box-office-concert-film-renaissance/",
    "https://www.essentiallysports.com/mlb-baseball-news-how-did-the-houston-astros-cheat-in-"
    "twenty-seventeen-everything-to-know-about-a-dark-moment-in-mlb-history/",
    "https://www.foxnews.com/lifestyle/young-taylor-swift-fans-go-viral-struggling-open-stars-cd-"
    "making-me-laugh",
    "https://www.independent.co.uk/life-style/taylor-swift-time-person-of-the-year-b2459419.html",
    "https://www.independent.co.uk/life-style/taylor-swift-travis-kelce-relationship-b2459441.html",
    "https://www.independent.co.uk/life-style/taylor-swift-travis-kelce-tweets-b2453410.html",
    "https://www.independent.co.uk/life-style/travis-kelce-taylor-swift-children-b2438558.html",
    "https://www.sportingnews.com/us/betting/news/best-sportsbook-bonus-offers-eagles-seahawks-mnf-"
    "bet365-betmgm-betrivers-caesars-draftkings-fanduel%C2%A0/0cac736f90d80f21daafd8a2",
    "https://www.sportingnews.com/us/betting/news/nba-roty-odds/7af3a635d324b28ff4c554fd",
    "https://www.sportingnews.com/us/nfl/news/best-chiefs-jets-prop-stars-bets-fanduel-kelce-swift-"
    "snf/581275901fe0e3011cdcb562",
    "https://www.theage.com.au/culture/music/when-pop-culture-and-sport-collide-a-timeline-of-"
    "taylor-swift-s-nfl-takeover-20230926-p5e7lu.html?ref=rss&utm_medium=rss&utm_source=rss_culture",
    "https://www.yardbarker.com/nfl/articles/christmas_day_preview_49ers_ravens_square_off_in_"
    "potential_super_bowl_sneak_peek/s1_13132_39720250",
)
DISTRACTORS = 6  # the shortest articles of outlets not among the gold ones
DUPLICATE_URL = "https://example.org/syndicated-copy"
COLLECTION = "mh-slice"


@dataclass
class SliceIndex:
    settings: object
    service: object
    retriever: object
    articles: list[dict]
    duplicate_of: str  # url of the article copied to DUPLICATE_URL


_built: dict[str, SliceIndex] = {}
_lock = threading.Lock()


def _articles() -> tuple[list[dict], str]:
    corpus = corpus_records()
    by_url = {a["url"]: a for a in corpus}
    chosen = [by_url[u] for u in GOLD_URLS]
    gold_sources = {a["source"] for a in chosen}
    others = sorted(
        (a for a in corpus if a["source"] not in gold_sources), key=lambda a: len(a["body"])
    )
    seen: set[str] = set()
    for article in others:
        if article["source"] not in seen and len(seen) < DISTRACTORS:
            seen.add(article["source"])
            chosen.append(article)
    original = chosen[-1]
    copy = dict(
        original,
        url=DUPLICATE_URL,
        source="Syndicated Wire",
        title=original["title"] + " (wire copy)",
        body=original["body"] + "\n\nThis story was syndicated.",
    )
    return [*chosen, copy], original["url"]


def build_slice_index(root: Path) -> SliceIndex:
    from index.service import IndexService
    from index.settings import Settings
    from qa.retrieval import Retriever

    articles, duplicate_of = _articles()
    corpus_file = root / "slice.json"
    corpus_file.write_text(json.dumps(articles), encoding="utf-8")
    settings = Settings(data_dir=root / "data")
    service = IndexService(settings, collection=COLLECTION)
    report = service.ingest_paths([corpus_file])
    assert report.failed == 0, report
    return SliceIndex(settings, service, Retriever(service, settings), articles, duplicate_of)


@pytest.fixture(scope="session")
def slice_index(tmp_path_factory: pytest.TempPathFactory) -> SliceIndex:
    with _lock:  # imported by two modules: build once, share
        if "slice" not in _built:
            _built["slice"] = build_slice_index(tmp_path_factory.mktemp("retrieval-slice"))
        return _built["slice"]
