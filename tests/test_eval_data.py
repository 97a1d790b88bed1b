"""The MultiHop-RAG copy shipped in qa/eval/data: complete, hash-checked, and replaceable."""

from __future__ import annotations

import hashlib
import json
import lzma
import shutil
from pathlib import Path

import pytest

from qa.eval import multihop


def test_vendored_copy_is_complete_and_needs_nothing_beside_the_repository() -> None:
    assert multihop.DEFAULT_DATA_DIR.is_relative_to(Path(multihop.__file__).parent)
    records = multihop.corpus_records()
    assert len(records) == 609
    assert len({r["url"] for r in records}) == 609
    queries = multihop.load_queries("all", include_null=True)
    assert len(queries) == 2556
    dev = {q.index for q in multihop.load_queries("dev", include_null=True)}
    test = {q.index for q in multihop.load_queries("test", include_null=True)}
    assert dev and test and not dev & test and len(dev | test) == 2556


def test_corpus_path_materialises_the_published_bytes() -> None:
    path = multihop.corpus_path()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == multihop.EXPECTED_SHA256["corpus.json"]


def _plain_copy(target: Path) -> Path:
    target.mkdir()
    for name in ("corpus.json", "MultiHopRAG.json"):
        packed = multihop.DEFAULT_DATA_DIR / f"{name}.xz"
        (target / name).write_bytes(lzma.decompress(packed.read_bytes()))
    shutil.copy(multihop.DEFAULT_DATA_DIR / "split.json", target / "split.json")
    return target


def test_another_copy_is_read_from_data_dir(tmp_path: Path) -> None:
    copy = _plain_copy(tmp_path / "copy")
    assert multihop.corpus_path(copy) == copy / "corpus.json"
    assert len(multihop.load_queries("dev", copy)) == len(multihop.load_queries("dev"))


def test_a_copy_that_is_not_the_published_data_is_refused(tmp_path: Path) -> None:
    copy = _plain_copy(tmp_path / "copy")
    records = json.loads((copy / "corpus.json").read_text(encoding="utf-8"))
    records[0]["body"] = "edited"
    (copy / "corpus.json").write_text(json.dumps(records), encoding="utf-8")
    with pytest.raises(multihop.DataError, match=r"corpus\.json.*sha256 differs"):
        multihop.corpus_records(copy)


def test_a_missing_copy_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(multihop.DataError, match=r"MultiHopRAG\.json not found in .*empty"):
        multihop.load_queries("dev", tmp_path / "empty")


def _query(i: int, *evidence: tuple[str, str]) -> multihop.MultiHopQuery:
    return multihop.MultiHopQuery(
        index=i,
        query=f"q{i}",
        answer="",
        question_type="inference_query",
        facts=tuple(f for _, f in evidence),
        urls=tuple(dict.fromkeys(u for u, _ in evidence)),
        urls_per_fact=tuple(u for u, _ in evidence),
    )


def test_fact_groups_join_queries_sharing_a_fact_directly_or_through_another() -> None:
    queries = [
        _query(0, ("a", "x"), ("b", "y")),
        _query(1, ("b", "y"), ("c", "z")),  # shares (b, y) with 0
        _query(2, ("c", "z")),  # shares (c, z) with 1, so with 0
        _query(3, ("a", "y")),  # same fact text, another article: not shared
    ]
    groups = multihop.fact_groups(queries)
    assert groups[0] == groups[1] == groups[2] != groups[3]


def test_the_split_keeps_each_fact_group_on_one_side() -> None:
    everything = multihop.load_queries("all", include_null=True)
    dev = {q.index for q in multihop.load_queries("dev", include_null=True)}
    sides: dict[int, set[bool]] = {}
    for query, group in zip(everything, multihop.fact_groups(everything), strict=True):
        sides.setdefault(group, set()).add(query.index in dev)
    assert all(len(side) == 1 for side in sides.values())


def test_the_answer_report_gives_the_group_mean_and_the_largest_groups() -> None:
    from qa.eval.answers import _summarise

    def row(strict: bool, group: int) -> dict:
        return {
            "type": "inference_query",
            "abstained": False,
            "loose": True,
            "strict": strict,
            "citation_precision": None,
            "seconds": 0.1,
            "answer_ms": 1.0,
            "mode": "extractive",
            "group": group,
            "right": strict,
            "confidence": 0.5,
        }

    rows = [row(True, 1), row(False, 1), row(True, 1), row(True, 2), row(False, 3)]
    report = _summarise("dev", rows, with_llm=False)
    assert report["metrics"]["inference_strict_accuracy"] == 0.6
    assert report["metrics"]["inference_strict_group_mean"] == round((2 / 3 + 1 + 0) / 3, 4)
    assert report["inference_groups"] == 3
    assert report["inference_largest_groups"] == [
        {"questions": 3, "strict": 0.6667},
        {"questions": 1, "strict": 1.0},
    ]


def test_the_answer_report_ranks_multihop_answers_by_confidence() -> None:
    """The curve takes the most confident answers first; an answered null question is an
    error, an abstained one is not answered."""
    from qa.eval.answers import _summarise

    def row(kind: str, right: bool, confidence: float, abstained: bool = False) -> dict:
        return {
            "type": kind,
            "abstained": abstained,
            "loose": right,
            "strict": right,
            "citation_precision": None,
            "seconds": 0.1,
            "answer_ms": 1.0,
            "mode": "extractive",
            "group": 1,
            "right": right,
            "confidence": confidence,
        }

    rows = [
        row("inference_query", True, 0.9),
        row("null_query", False, 0.8),  # answered a question with no answer
        row("inference_query", False, 0.3),
        row("inference_query", True, 0.2),
        row("null_query", True, 0.0, abstained=True),
    ]
    curve = _summarise("dev", rows, with_llm=False)["risk_coverage"]
    assert curve == [
        {"coverage": 0.2, "accuracy": 1.0},
        {"coverage": 0.4, "accuracy": 0.5},
        {"coverage": 0.6, "accuracy": 0.333},
        {"coverage": 0.8, "accuracy": 0.5},
    ]


def test_doubt_figures_compare_doubtful_answers_with_the_rest() -> None:
    from qa.eval.answers import doubt_figures

    rows = [
        {"abstained": False, "right": False, "doubtful": True},
        {"abstained": False, "right": True, "doubtful": True},
        {"abstained": False, "right": False, "doubtful": True},
        {"abstained": False, "right": True, "doubtful": False},
        {"abstained": True, "right": True, "doubtful": False},  # not answered: not counted
    ]
    assert doubt_figures(rows) == {
        "doubtful_share": 0.75,
        "doubtful_accuracy": 0.3333,
        "sure_accuracy": 1.0,
    }
    assert doubt_figures(rows[3:])["doubtful_accuracy"] is None
