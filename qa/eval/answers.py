"""`qa eval answers`: answer quality on MultiHop-RAG.

Scored per query type:
- inference queries (an entity answer): the paper's loose match (the answer shares a word with
  the gold answer; lenient, any long answer passes) and a strict one (the normalised gold answer
  appears in the answer's lead sentence, and that lead has at most 25 words);
- null queries: the abstention rate; answerable queries: the false-abstention rate;
- citation precision: the share of citations whose passage holds a gold fact;
- seconds per answer, and the answering time after retrieval;
- the strict accuracy averaged per question group (queries sharing gold facts, see
  `qa.eval.multihop.fact_groups`) and the number of groups: test's 590 inference queries are
  mostly two groups about two stories, so an answerer that gets one entity wrong loses a group
  at once; the group average says how robust the accuracy is across stories.
Comparison and temporal queries (yes/no judgments) are scored only when an LLM is configured.
"""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path
from typing import Any

from index.settings import Settings
from qa.eval.multihop import Split, fact_groups, fact_in_chunk, load_queries
from qa.types import Answer

STRICT_LEAD_WORDS = 25
_MARKER = re.compile(r"\[\d+\]")
_PUNCT = re.compile(r"[^\w\s]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def normalise(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


def lead_sentence(answer: Answer) -> str:
    """What the answer says first: its structured lead ("Nov. 4"; "Jorge Arreaza: Venezuelan
    Foreign Minister" for a description), its first list item, else the first sentence of its
    text, markers removed (an LLM answer has no structured lead)."""
    if answer.lead is not None:
        lead = answer.lead
        return f"{lead.subject}: {lead.text}" if lead.subject else lead.text
    if answer.items:
        return answer.items[0].text
    plain = _MARKER.sub("", answer.answer).replace("**", "").strip().lstrip("-* ").strip()
    return _SENTENCE_END.split(plain, maxsplit=1)[0].strip() if plain else ""


def loose_match(answer_text: str, gold: str) -> bool:
    """The paper's rule: at least one shared whitespace token, case-insensitive."""
    return bool(set(normalise(gold).split()) & set(normalise(answer_text).split()))


def strict_match(answer: Answer, gold: str) -> bool:
    lead = lead_sentence(answer)
    if len(lead.split()) > STRICT_LEAD_WORDS:
        return False
    return f" {normalise(gold)} " in f" {normalise(lead)} "


def citation_precision(answer: Answer, facts: tuple[str, ...]) -> float | None:
    if not answer.citations:
        return None
    good = sum(any(fact_in_chunk(f, c.passage or c.quote) for f in facts) for c in answer.citations)
    return good / len(answer.citations)


COVERAGE_POINTS = (0.2, 0.4, 0.6, 0.8, 1.0)


def doubt_figures(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """Of the answered questions: the share marked doubtful (AnswerConfig.doubtful_below), and
    the accuracy of those and of the rest (None where there are none)."""
    answered = [r for r in rows if not r["abstained"]]
    doubtful = [bool(r["right"]) for r in answered if r.get("doubtful")]
    sure = [bool(r["right"]) for r in answered if not r.get("doubtful")]

    def share(values: list[bool]) -> float | None:
        return round(sum(values) / len(values), 4) if values else None

    return {
        "doubtful_share": round(len(doubtful) / len(answered), 4) if answered else None,
        "doubtful_accuracy": share(doubtful),
        "sure_accuracy": share(sure),
    }


def risk_coverage(rows: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Accuracy of the answered share at each coverage, most confident answers first.

    Coverage is the share of all questions answered (near misses included: answering one is
    an error). Without a `confidence` on the answers there is one point: what was answered."""
    answered = [r for r in rows if not r["abstained"]]
    if not rows or not answered:
        return []
    if any(r["confidence"] is None for r in answered):
        return [_point(answered, len(rows))]
    ranked = sorted(answered, key=lambda r: -float(r["confidence"]))
    takes = (round(share * len(rows)) for share in COVERAGE_POINTS)
    return [_point(ranked[:take], len(rows)) for take in takes if 0 < take <= len(ranked)]


def _point(answered: list[dict[str, Any]], total: int) -> dict[str, float]:
    return {
        "coverage": round(len(answered) / total, 3),
        "accuracy": round(sum(bool(r["right"]) for r in answered) / len(answered), 3),
    }


def run_answer_eval(
    settings: Settings,
    split: Split = "test",
    limit: int | None = None,
    assistant: Any = None,
    data_dir: Path | None = None,
    rows_out: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The report; with `rows_out`, each question's row (question, gold, answer) is appended
    to it, for comparing two answerers question by question on dev (never on test)."""
    from qa.assistant import Assistant
    from qa.eval.retrieval import COLLECTION, open_multihop_index

    if assistant is None:
        service = open_multihop_index(settings, data_dir)
        assistant = Assistant(settings, collection=COLLECTION, service=service)
    with_llm = assistant.llm is not None
    types = {"inference_query", "null_query"}
    if with_llm:
        types |= {"comparison_query", "temporal_query"}
    queries = load_queries(split, data_dir, include_null=True)
    queries = [q for q in queries if q.question_type in types]
    if limit:
        queries = queries[:limit]

    rows = []
    for query, group in zip(queries, fact_groups(queries), strict=True):
        started = time.perf_counter()
        answer = assistant.ask(query.query)
        seconds = time.perf_counter() - started
        retrieve_ms = sum(v for k, v in answer.timings_ms.items() if k.startswith("retrieve."))
        strict = strict_match(answer, query.answer)
        null = query.question_type == "null_query"
        rows.append(
            {
                "type": query.question_type,
                "abstained": answer.abstained,
                "loose": loose_match(answer.answer, query.answer),
                "strict": strict,
                # for the risk-coverage curve: answering a null question is an error; the
                # confidence is the offline answerer's (a model's answer carries none)
                "right": answer.abstained if null else strict,
                "confidence": answer.confidence if answer.mode == "extractive" else None,
                "doubtful": answer.doubtful,
                "citation_precision": citation_precision(answer, query.facts),
                "seconds": seconds,
                "answer_ms": max(0.0, seconds * 1000 - retrieve_ms),
                "mode": answer.mode,
                "group": group,
            }
        )
        if rows_out is not None:
            lead = lead_sentence(answer)
            rows_out.append({"query": query.query, "gold": query.answer, "lead": lead, **rows[-1]})
    return _summarise(split, rows, with_llm)


def _by_group(rows: list[dict]) -> list[list[dict]]:
    """The rows in their question groups, largest first."""
    groups: dict[int, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["group"], []).append(row)
    return sorted(groups.values(), key=len, reverse=True)


def _group_macro(groups: list[list[dict]]) -> float:
    """Strict accuracy averaged over question groups."""
    return round(statistics.fmean(_rate(g, "strict") for g in groups), 4) if groups else 0.0


def _rate(rows: list[dict], key: str) -> float:
    return round(sum(bool(r[key]) for r in rows) / len(rows), 4) if rows else 0.0


def _summarise(split: str, rows: list[dict], with_llm: bool) -> dict[str, Any]:
    by_type: dict[str, list[dict]] = {}
    for row in rows:
        by_type.setdefault(row["type"], []).append(row)
    answerable = [r for r in rows if r["type"] != "null_query"]
    precisions = [
        r["citation_precision"] for r in answerable if r["citation_precision"] is not None
    ]
    seconds = [r["seconds"] for r in rows] or [0.0]
    answer_ms = [r["answer_ms"] for r in rows] or [0.0]
    inference = by_type.get("inference_query", [])
    nulls = by_type.get("null_query", [])
    groups = _by_group(inference)
    metrics: dict[str, float | None] = {
        "inference_loose_accuracy": _rate(inference, "loose"),
        "inference_strict_accuracy": _rate(inference, "strict"),
        "inference_strict_group_mean": _group_macro(groups),
        "null_abstention": _rate(nulls, "abstained"),
        "false_abstention": _rate(answerable, "abstained"),
        "citation_precision": round(statistics.fmean(precisions), 4) if precisions else 0.0,
        # inference and null questions, as the risk-coverage curve
        **doubt_figures(inference + nulls),
    }
    if with_llm:
        for name in ("comparison_query", "temporal_query"):
            metrics[f"{name.split('_')[0]}_loose_accuracy"] = _rate(by_type.get(name, []), "loose")
    return {
        "split": split,
        "queries": len(rows),
        "by_type": {name: len(group) for name, group in sorted(by_type.items())},
        "inference_groups": len(groups),
        # Figures only (a group's size and strict rate), the two largest: a test split's
        # pooled accuracy moves with them.
        "inference_largest_groups": [
            {"questions": len(g), "strict": _rate(g, "strict")} for g in groups[:2]
        ],
        "llm": with_llm,
        "metrics": metrics,
        # Inference and null questions, most confident answers first.
        "risk_coverage": risk_coverage(inference + nulls),
        "seconds_per_answer": {
            "p50": round(statistics.median(seconds), 4),
            "mean": round(statistics.fmean(seconds), 4),
        },
        "answer_ms_after_retrieval": {
            "p50": round(statistics.median(answer_ms), 2),
            "p95": round(_percentile(answer_ms, 95), 2),
        },
    }


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def metrics_table(title: str, metrics: dict[str, float | None]) -> list[str]:
    """A report's title line and its metrics as a markdown table ("–" where a split has no
    such question; more rows may follow)."""
    return [
        title,
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {k} | {'–' if v is None else f'{v:.3f}'} |" for k, v in metrics.items()),
    ]


def format_answer_report(report: dict[str, Any]) -> str:
    lines = metrics_table(
        f"MultiHop-RAG answers — split {report['split']}, {report['queries']} queries "
        f"{report['by_type']}, {'LLM' if report['llm'] else 'offline extractive'}",
        report["metrics"],
    )
    spa = report["seconds_per_answer"]
    after = report["answer_ms_after_retrieval"]
    lines += [
        f"| seconds per answer (p50) | {spa['p50']:.3f} |",
        f"| answer ms after retrieval (p50 / p95) | {after['p50']:.0f} / {after['p95']:.0f} |",
    ]
    curve = "; ".join(
        f"{p['coverage']:.2f} → {p['accuracy']:.2f}" for p in report.get("risk_coverage", [])
    )
    if curve:
        lines += ["", f"Risk–coverage, inference and null (coverage → accuracy): {curve}"]
    return "\n".join(lines)
