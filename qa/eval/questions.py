"""`qa eval questions`: short questions of the kind people type, over the MultiHop-RAG corpus.

MultiHop-RAG's questions are long and name their sources; people type "Who is Binance's new
CEO?" or "How much will Binance pay?". `questions/dev.jsonl` (60, used while building the
answerer) and `questions/test.jsonl` (120, written apart from it in two passes and kept for
reporting) hold, per 60: 14 who, 10 which-organisation, 8 when, 8 how-much/many, 8 list
questions and 12 that no article answers. Every answer was checked to appear verbatim in one
sentence of one article (`evidence`, `url`).

Scored per answerable question: the answer (or an alias) in the answer's lead sentence of at
most 25 words ("lead", as `qa eval answers` strict), anywhere in the answer text ("anywhere"),
the first citation from the gold article; list questions by the share of gold items named;
abstention on the unanswerable ones, false abstention on the rest.

A third kind lives beside each split (`questions/<split>-describe.jsonl`): open questions about
what someone did, said or why ("How did X react to …?", "What did X say about …?"), whose
answer is a sentence, not a name. Each carries a key phrase copied from its evidence sentence
that only an answering sentence holds; scored by whether the first citation quotes it
("describe_first_quote"), whether the reply holds it anywhere, and whether the first citation
comes from the gold article.

A typed set lives beside them too (`questions/<split>-typed.jsonl`, scored by `qa.eval.typed`):
short typed questions, swapped-party pairs, near misses and dated questions, each with the
entities that stand in another role, so a wrong party is counted as such ("role_error").

And a follow-up set (`questions/<split>-followups.jsonl`, scored by `qa.eval.followups`): the
second question of two-turn chats, answered with the first turn as history, as the chat does.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from index.settings import Settings
from qa.eval.answers import (
    STRICT_LEAD_WORDS,
    lead_sentence,
    metrics_table,
    normalise,
    risk_coverage,
)
from qa.eval.followups import load_followups, score_followup, summarise_followups
from qa.eval.typed import (
    list_precision,
    load_typed,
    mean_list_precision,
    score_typed,
    summarise_stories,
    summarise_typed,
)
from qa.types import Answer

QUESTIONS_DIR = Path(__file__).resolve().parent / "questions"
QuestionSplit = Literal["dev", "test"]


@dataclass(frozen=True)
class UserQuestion:
    id: str
    question: str
    type: str  # who | org | when | number | list | null | describe
    answer: str | list[str] | None
    aliases: tuple[str, ...]
    url: str | None
    evidence: str | None


def load_questions(split: QuestionSplit = "dev") -> list[UserQuestion]:
    rows = [
        json.loads(line)
        for path in (QUESTIONS_DIR / f"{split}.jsonl", QUESTIONS_DIR / f"{split}-describe.jsonl")
        if path.exists()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line
    ]
    return [
        UserQuestion(
            r["id"],
            r["question"],
            r["type"],
            r["answer"],
            tuple(r.get("aliases") or ()),
            r.get("url"),
            r.get("evidence"),
        )
        for r in rows
    ]


def says(text: str, forms: list[str]) -> bool:
    """Whether `text` holds one of `forms` as whole words (case and punctuation ignored)."""
    padded = f" {normalise(text)} "
    return any(normalise(form) and f" {normalise(form)} " in padded for form in forms)


def _aliases_of(item: str, aliases: tuple[str, ...]) -> list[str]:
    """A list question's aliases are one flat list: an item's are those sharing a word with it
    ("Jeff" for "Jeff Shiffrin", "King Charles" for "King Charles III", "United States" and
    "USA" for "US")."""
    words = set(normalise(item).split())
    flat = normalise(item).replace(" ", "")

    def belongs(alias: str) -> bool:
        alias_words = normalise(alias).split()
        initials = "".join(w[0] for w in alias_words)
        return bool(words & set(alias_words)) or flat in (initials, initials[: len(flat)])

    return [alias for alias in aliases if belongs(alias)]


def lead_names(answer: Answer, forms: list[str]) -> bool:
    """Whether the answer's lead (at most 25 words, as `qa eval answers` strict) names one of
    `forms`."""
    lead = lead_sentence(answer)
    return says(lead, forms) and len(lead.split()) <= STRICT_LEAD_WORDS


def score(question: UserQuestion, answer: Answer) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": question.id,
        "type": question.type,
        "abstained": answer.abstained,
        "confidence": answer.confidence,
        "right": False,
    }
    if question.type == "null":
        return row
    if question.type == "list":
        items = list(question.answer or [])
        named = [
            says(answer.answer, [item, *_aliases_of(item, question.aliases)]) for item in items
        ]
        row["list_recall"] = sum(named) / len(items) if items else 0.0
        row["list_precision"] = list_precision(answer, [*items, *question.aliases])
        row["right"] = row["list_recall"] >= 0.5
        return row
    forms = [str(question.answer), *question.aliases]
    first_from_gold = bool(answer.citations) and answer.citations[0].url == question.url
    if question.type == "describe":
        row["describe_first_quote"] = bool(answer.citations) and says(
            answer.citations[0].quote, forms
        )
        row["describe_anywhere"] = says(answer.answer, forms)
        row["describe_gold_article"] = first_from_gold
        row["right"] = row["describe_anywhere"]
        return row
    row["lead"] = lead_names(answer, forms)
    row["anywhere"] = says(answer.answer, forms)
    row["cited_gold_article"] = first_from_gold
    row["right"] = row["lead"]
    return row


def run_question_eval(
    settings: Settings,
    split: QuestionSplit = "dev",
    assistant: Any = None,
    data_dir: Path | None = None,
) -> dict[str, Any]:
    from qa.assistant import Assistant
    from qa.eval.retrieval import COLLECTION, open_multihop_index

    if assistant is None:
        service = open_multihop_index(settings, data_dir)
        assistant = Assistant(settings, collection=COLLECTION, service=service)
    rows, typed_rows, story_rows, seconds = [], [], [], []
    for question in load_questions(split):
        started = time.perf_counter()
        answer = assistant.ask(question.question)
        seconds.append(time.perf_counter() - started)
        rows.append({**score(question, answer), "answer": answer.answer[:300]})
    for typed in load_typed(QUESTIONS_DIR, split):
        started = time.perf_counter()
        answer = assistant.ask(typed.question)
        seconds.append(time.perf_counter() - started)
        typed_rows.append({**score_typed(typed, answer), "answer": answer.answer[:300]})
    for story in load_typed(QUESTIONS_DIR, split, "stories"):
        started = time.perf_counter()
        answer = assistant.ask(story.question)
        seconds.append(time.perf_counter() - started)
        story_rows.append({**score_typed(story, answer), "answer": answer.answer[:300]})
    report = summarise(split, rows, seconds, llm=assistant.llm is not None)
    report["user_risk_coverage"] = risk_coverage(rows)
    if typed_rows:
        report["typed_metrics"] = summarise_typed(typed_rows)
        report["risk_coverage"] = risk_coverage(typed_rows)
        report["typed_questions"] = len(typed_rows)
        report["rows"] += typed_rows
    if story_rows:
        report["story_metrics"] = summarise_stories(story_rows)
        report["story_questions"] = len(story_rows)
        report["rows"] += story_rows
    followup_rows = [
        score_followup(row, lambda q, h: assistant.ask(q, history=h), lead_names)
        for row in load_followups(QUESTIONS_DIR, split)
    ]
    if followup_rows:
        report["followup_metrics"] = summarise_followups(followup_rows)
        report["followup_questions"] = len(followup_rows)
        report["rows"] += followup_rows
    if split == "test":  # held out: the report gives figures only, never a test row to read
        del report["rows"]
    return report


def _mean(values: list[float]) -> float:
    return round(statistics.fmean(values), 3) if values else 0.0


def summarise(
    split: str, rows: list[dict[str, Any]], seconds: list[float], llm: bool = False
) -> dict[str, Any]:
    single = [r for r in rows if "lead" in r]
    answerable = [r for r in rows if r["type"] != "null"]
    metrics = {
        "lead": _mean([r["lead"] for r in single]),
        **{
            f"lead_{kind}": _mean([r["lead"] for r in single if r["type"] == kind])
            for kind in ("who", "org", "when", "number")
        },
        "anywhere": _mean([r["anywhere"] for r in single]),
        "cited_gold_article": _mean([r["cited_gold_article"] for r in single]),
        "list_recall": _mean([r["list_recall"] for r in rows if "list_recall" in r]),
        "list_precision": mean_list_precision(rows),  # None when no list answer had items
        "null_abstention": _mean([r["abstained"] for r in rows if r["type"] == "null"]),
        "false_abstention": _mean([r["abstained"] for r in answerable]),
    }
    describe = [r for r in rows if r["type"] == "describe"]
    if describe:
        metrics |= {
            key: _mean([r[key] for r in describe])
            for key in ("describe_first_quote", "describe_anywhere", "describe_gold_article")
        }
    return {
        "split": split,
        "questions": len(rows),
        "llm": llm,
        "metrics": metrics,
        "seconds_per_answer_p50": round(statistics.median(seconds), 3) if seconds else 0.0,
        "rows": rows,
    }


def _set_table(name: str, questions: int, metrics: dict[str, float | None]) -> list[str]:
    """A question set's figures as a Markdown table ("–" where the split has none)."""
    rows = [
        f"| {key} | {'–' if value is None else f'{value:.3f}'} |" for key, value in metrics.items()
    ]
    return [
        "",
        f"{name} set ({questions} questions):",
        "",
        "| metric | value |",
        "|---|---|",
        *rows,
    ]


def format_question_report(report: dict[str, Any]) -> str:
    lines = metrics_table(
        f"User-style questions over MultiHop-RAG — split {report['split']}, "
        f"{report['questions']} questions, {'LLM' if report['llm'] else 'offline extractive'}",
        report["metrics"],
    )
    lines.append(f"| seconds per answer (p50) | {report['seconds_per_answer_p50']:.3f} |")
    if report.get("typed_metrics"):
        lines += _set_table("Typed", report["typed_questions"], report["typed_metrics"])
        curve = ", ".join(
            f"{p['coverage']:.2f} → {p['accuracy']:.2f}" for p in report["risk_coverage"]
        )
        lines.append(f"| risk–coverage (coverage → accuracy) | {curve or '–'} |")
    if report.get("story_metrics"):
        lines += _set_table("Story", report["story_questions"], report["story_metrics"])
    if report.get("followup_metrics"):
        lines += _set_table("Follow-up", report["followup_questions"], report["followup_metrics"])
    user_curve = ", ".join(
        f"{p['coverage']:.2f} → {p['accuracy']:.2f}" for p in report.get("user_risk_coverage", [])
    )
    if user_curve:
        lines.append(f"\nUser questions, risk–coverage (coverage → accuracy): {user_curve}")
    return "\n".join(lines)
