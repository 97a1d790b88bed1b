"""Score the offline answerer on the *dev* splits, fast: real retrieval once, answers per setting.

    QA_DATA_DIR=/path/to/index .venv/bin/python scripts/tune_answers.py [--lexical]
        [--sets multihop,questions] [--set sentence_floor=0.3,0.5 --set w_articles=0.2,0.35]
        [--rows rows.json] [--split test] [--same-as earlier-rows.json]

Retrieval runs once per question and is cached in the data dir
(`dev-<set>-passages-<reranker hash>-k<top_k>.pkl`, so a retrained reranker or another
QA_TOP_K gets fresh passages); each setting (fields of qa.answer.config.AnswerConfig, every
combination of the values given) then re-answers the same passages. Sets:

- `multihop`: MultiHop-RAG dev inference + null queries: strict/loose accuracy, citation
  precision, null and false abstention, strict accuracy averaged over question groups — the
  figures `qa eval answers` gives (the cached passages are what it retrieves: on dev both
  give the same figures to the fourth decimal, for main's answerer and this one);
- `questions`: the user-question, describe and typed dev sets of `qa eval questions`, scored
  by its own scorers (qa.eval.questions.score, qa.eval.typed.score_typed);
- `stories`: the story set's dev half (qa.eval.typed: many questions about each of the
  corpus's largest stories), as `qa eval questions` scores it;
- `followups`: two-turn chats (qa.eval.followups): the follow-up condensed offline with the
  first turn's answer as history, then answered; a rewrite not seen before is retrieved then
  and added to the cache.

Answer times (ms_p50, ms_p95) are after retrieval, as `qa eval` measures them: the question's
embedding, which retrieval computed and the embedding model caches, is computed before the
clock starts; each setting after the first finds the parse cache warm, so compare times of
first settings only. `--rows` writes every answered row (question, answer, scores) to compare
two runs question by question.

Tune on dev. `--split test` is the held-out check the guide asks of every rule and constant (a
change that moves dev but not test is removed): it scores one setting (one value per `--set`,
or a patched rule) on the test splits and prints aggregates only; its `--rows` writes one
digest per answer, which says how many answers changed and never what they are
(`--same-as` an earlier run's file prints that count, on either split). The first
run retrieves and caches the test passages as for dev (`test-<set>-passages-….pkl`); its
figures equal `qa eval answers|questions --split test` (round 9 checked it to the fourth
decimal).
"""

from __future__ import annotations

from index.offline import apply_offline_defaults

apply_offline_defaults()

# ruff: noqa: E402 - imports after the offline env defaults
import argparse
import hashlib
import itertools
import json
import pickle
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from index.embedding import make_embedding
from index.settings import Settings
from qa.answer import AnswerConfig, ExtractiveAnswerer
from qa.conversation import condense
from qa.eval.answers import (
    citation_precision,
    doubt_figures,
    loose_match,
    risk_coverage,
    strict_match,
)
from qa.eval.followups import load_followups, score_followup, summarise_followups
from qa.eval.multihop import fact_groups, load_queries
from qa.eval.questions import QUESTIONS_DIR, lead_names, load_questions, score, summarise
from qa.eval.typed import (
    load_typed,
    score_typed,
    summarise_stories,
    summarise_typed,
)
from qa.retrieval.rerank import DEFAULT_MODEL_PATH
from qa.types import Answer, Passage, Turn

TYPES = ("inference_query", "null_query")
SETS = ("multihop", "questions", "stories", "followups")


class PassageCache:
    """Retrieved passages per question, kept in the data dir (`<split>-<set>-passages-<reranker
    hash>-k<top_k>.pkl`, so a retrained reranker or another QA_TOP_K gets fresh passages).
    A question not seen before is retrieved when asked: a follow-up's rewrite is known only
    once the first turn is answered."""

    def __init__(self, settings: Settings, name: str, split: str) -> None:
        fingerprint = hashlib.sha256(DEFAULT_MODEL_PATH.read_bytes()).hexdigest()[:12]
        self.settings = settings
        self.path = (
            settings.data_dir / f"{split}-{name}-passages-{fingerprint}-k{settings.top_k}.pkl"
        )
        self.stored: dict[str, list[Passage]] = (
            pickle.loads(self.path.read_bytes()) if self.path.exists() else {}
        )
        self.assistant: Any = None
        self.grown = False

    def __call__(self, question: str) -> list[Passage]:
        if question not in self.stored:
            self.stored[question] = self._search(question)
            self.grown = True
        return self.stored[question]

    def _search(self, question: str) -> list[Passage]:
        if self.assistant is None:
            from qa.assistant import Assistant
            from qa.eval.retrieval import COLLECTION, open_multihop_index

            service = open_multihop_index(self.settings)
            self.assistant = Assistant(self.settings, collection=COLLECTION, service=service)
        return self.assistant.search(question).passages

    def save(self) -> None:
        if self.grown:
            self.path.write_bytes(pickle.dumps(self.stored))
            self.grown = False


def cached_passages(
    settings: Settings, name: str, questions: list[str], split: str = "dev"
) -> list[list[Passage]]:
    """The retrieved passages of each question, from the cache or retrieved now."""
    cache = PassageCache(settings, name, split)
    found = [cache(q) for q in questions]
    cache.save()
    return found


def _timed(answerer: ExtractiveAnswerer, question: str, passages: list[Passage], ms: list[float]):
    """The answer, its time after retrieval appended to `ms`. Retrieval embedded the question
    moments before in the product (the embedding caches it): so here, before the clock."""
    if answerer.vectors is not None:
        answerer.vectors.query(question)
    started = time.perf_counter()
    answer = answerer.answer(question, passages)
    ms.append((time.perf_counter() - started) * 1000)
    return answer


def score_multihop(
    answerer: ExtractiveAnswerer, queries: list, passages: list, rows_out: list
) -> dict[str, Any]:
    rows: dict[str, list[float]] = {
        k: [] for k in ("strict", "loose", "cp", "null_abst", "false_abst")
    }
    ms: list[float] = []
    by_group: dict[int, list[bool]] = {}
    for query, found, group in zip(queries, passages, fact_groups(queries), strict=True):
        answer = _timed(answerer, query.query, found, ms)
        row: dict[str, Any] = {"q": query.query, "gold": query.answer, "type": query.question_type}
        row |= {"answer": answer.answer[:300], "abstained": answer.abstained}
        row |= {"confidence": answer.confidence, "right": answer.abstained}  # right if null
        row["signals"] = answer.confidence_signals
        row["doubtful"] = answer.doubtful
        rows_out.append(row)
        if query.question_type == "null_query":
            rows["null_abst"].append(answer.abstained)
            continue
        rows["false_abst"].append(answer.abstained)
        row["strict"] = row["right"] = strict_match(answer, query.answer)
        rows["strict"].append(row["strict"])
        by_group.setdefault(group, []).append(row["strict"])
        rows["loose"].append(loose_match(answer.answer, query.answer))
        precision = citation_precision(answer, query.facts)
        if precision is not None:
            rows["cp"].append(precision)
    figures: dict[str, Any] = {k: round(sum(v) / len(v), 4) if v else 0.0 for k, v in rows.items()}
    # Test is mostly two question groups (qa.eval.answers): the mean over groups says how
    # robust strict accuracy is across stories, which the pooled figure on dev does not.
    means = [sum(v) / len(v) for v in by_group.values()]
    figures["strict_group_mean"] = round(sum(means) / len(means), 4) if means else 0.0
    largest = max(by_group.values(), key=len, default=[])
    figures["largest_group"] = round(sum(largest) / len(largest), 4) if largest else 0.0
    curve = risk_coverage(rows_out[-len(queries) :]) if queries else []
    figures["rc"] = [(p["coverage"], p["accuracy"]) for p in curve]
    figures |= doubt_figures(rows_out[-len(queries) :])
    return figures | _latency(ms)


def score_questions(
    answerer: ExtractiveAnswerer, user: list, typed: list, passages: list, rows_out: list
) -> dict[str, Any]:
    ms: list[float] = []
    user_rows, typed_rows = [], []
    for question, found in zip(user, passages[: len(user)], strict=True):
        answer = _timed(answerer, question.question, found, ms)
        user_rows.append({**score(question, answer), "q": question.question})
        user_rows[-1] |= {"gold": question.answer, "answer": answer.answer[:300]}
        user_rows[-1]["signals"] = answer.confidence_signals
    for question, found in zip(typed, passages[len(user) :], strict=True):
        answer = _timed(answerer, question.question, found, ms)
        typed_rows.append({**score_typed(question, answer), "q": question.question})
        typed_rows[-1] |= {
            "gold": question.answer,
            "distractors": question.distractors,
            "answer": answer.answer[:300],
            "signals": answer.confidence_signals,
        }
    rows_out += user_rows + typed_rows
    user_metrics = summarise("", user_rows, [])["metrics"]  # the split is only echoed
    keep = (
        "lead",
        "list_recall",
        "list_precision",
        "null_abstention",
        "false_abstention",
        "describe_anywhere",
    )
    figures: dict[str, Any] = {k: user_metrics[k] for k in keep}
    typed_metrics = summarise_typed(typed_rows)
    figures |= {
        k: v
        for k, v in typed_metrics.items()
        if not k.startswith("typed_right_") or k == "typed_right"
    }
    figures["typed_rc"] = [(p["coverage"], p["accuracy"]) for p in risk_coverage(typed_rows)]
    return figures | _latency(ms)


def score_stories(
    answerer: ExtractiveAnswerer, stories: list, passages: list, rows_out: list
) -> dict[str, Any]:
    ms: list[float] = []
    rows = []
    for question, found in zip(stories, passages, strict=True):
        answer = _timed(answerer, question.question, found, ms)
        rows.append({**score_typed(question, answer), "q": question.question})
        rows[-1] |= {"gold": question.answer, "answer": answer.answer[:300]}
        rows[-1]["signals"] = answer.confidence_signals
    rows_out += rows
    return dict(summarise_stories(rows)) | _latency(ms)


def score_followup_set(
    answerer: ExtractiveAnswerer, followups: list, passages: PassageCache, rows_out: list
) -> dict[str, Any]:
    """The follow-up set as the chat answers it offline: condense with the first turn's answer
    as history, then answer the rewrite from its (cached) passages."""
    ms: list[float] = []

    def ask(question: str, history: list[Turn]) -> Answer:
        standalone = condense(question, history).question
        answer = _timed(answerer, standalone, passages(standalone), ms)
        return answer.model_copy(
            update={"standalone_question": standalone if standalone != question else ""}
        )

    rows = [{**score_followup(row, ask, lead_names), "q": row.question} for row in followups]
    passages.save()
    rows_out += rows
    return dict(summarise_followups(rows)) | _latency(ms)


def _latency(ms: list[float]) -> dict[str, float]:
    if not ms:
        return {}
    ordered = sorted(ms)
    return {
        "ms_p50": round(statistics.median(ordered), 1),
        "ms_p95": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 1),
    }


def _number(text: str) -> int | float:
    return int(text) if text.lstrip("-").isdigit() else float(text)


def parse_settings(specs: list[str]) -> list[dict[str, int | float]]:
    """["name=1,2", ...] -> every combination of AnswerConfig overrides."""
    axes = []
    for spec in specs:
        name, values = spec.split("=", 1)
        if name not in AnswerConfig.model_fields:
            raise SystemExit(f"--set {spec}: AnswerConfig has no field {name!r}")
        axes.append([(name, _number(v)) for v in values.split(",")])
    return [dict(combo) for combo in itertools.product(*axes)] or [{}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lexical", action="store_true", help="no embedding cosine")
    parser.add_argument("--set", action="append", default=[], help="field=v1,v2,...")
    parser.add_argument(
        "--sets", default=",".join(SETS), help="multihop,questions,stories,followups"
    )
    parser.add_argument("--rows", type=Path, help="write every answered row here (JSON)")
    parser.add_argument(
        "--split",
        choices=("dev", "test"),
        default="dev",
        help="test: the held-out check of one setting (one value per --set, no sweep); "
        "--rows then writes one digest per answer (which answers changed), never the rows",
    )
    parser.add_argument(
        "--same-as",
        type=Path,
        help="an earlier run's --rows file (same split and sets): print how many answers "
        "differ, e.g. to show a refactoring changed none",
    )
    args = parser.parse_args()
    split = args.split
    if split == "test" and any("," in spec for spec in args.set):
        raise SystemExit("--split test checks one setting: one value per --set (tune on dev)")
    settings = Settings()
    chosen = [s.strip() for s in args.sets.split(",") if s.strip()]
    runs = load_runs(settings, split, chosen)
    embedding = None if args.lexical else make_embedding(settings)
    rows: list[dict[str, Any]] = []
    for overrides in parse_settings(args.set):
        config = AnswerConfig(**overrides)
        answerer = ExtractiveAnswerer(settings, embedding, config=config)
        label = " ".join(f"{k}={v}" for k, v in overrides.items()) or "defaults"
        for name, run in runs:
            print(label, name, run(answerer, rows), flush=True)
    if args.rows and split == "test":  # which answers changed, not what they are
        args.rows.write_text(json.dumps(answer_digests(rows)))
    elif args.rows:
        args.rows.write_text(json.dumps(rows, indent=1, default=str))
    if args.same_as:
        before = json.loads(args.same_as.read_text())
        changed, total = answers_changed(answer_digests(rows), stored_digests(before))
        print(f"answers changed against {args.same_as}: {changed} of {total}")


Run = Callable[[ExtractiveAnswerer, list], dict[str, Any]]


def load_runs(settings: Settings, split: str, chosen: list[str]) -> list[tuple[str, Run]]:
    """Each chosen set's questions and cached passages, as a function scoring an answerer
    (appending every answered row to the list it is given)."""
    runs: list[tuple[str, Run]] = []
    if "multihop" in chosen:
        queries = [q for q in load_queries(split, include_null=True) if q.question_type in TYPES]
        mh = cached_passages(settings, "multihop", [q.query for q in queries], split)
        runs.append(("multihop", lambda a, out: score_multihop(a, queries, mh, out)))
    if "questions" in chosen:
        user = load_questions(split)
        typed = load_typed(QUESTIONS_DIR, split)
        asked = [q.question for q in user] + [q.question for q in typed]
        qp = cached_passages(settings, "questions", asked, split)
        runs.append(("questions", lambda a, out: score_questions(a, user, typed, qp, out)))
    if "stories" in chosen:
        stories = load_typed(QUESTIONS_DIR, split, "stories")
        sp = cached_passages(settings, "stories", [q.question for q in stories], split)
        runs.append(("stories", lambda a, out: score_stories(a, stories, sp, out)))
    if "followups" in chosen:
        followups = load_followups(QUESTIONS_DIR, split)
        fp = PassageCache(settings, "followups", split)
        runs.append(("followups", lambda a, out: score_followup_set(a, followups, fp, out)))
    return runs


def answer_digests(rows: list[dict[str, Any]]) -> list[str]:
    """One short digest per answer's text: which answers a change moved, not what they say."""
    return [hashlib.sha1(str(r.get("answer")).encode()).hexdigest()[:10] for r in rows]


def stored_digests(stored: list[Any]) -> list[str]:
    """Digests from an earlier `--rows` file: a test run's digests, or a dev run's rows."""
    return [d if isinstance(d, str) else answer_digests([d])[0] for d in stored]


def answers_changed(now: list[str], before: list[str]) -> tuple[int, int]:
    """(answers that differ, answers compared); another number of answers is refused: the
    two runs did not answer the same questions."""
    if len(now) != len(before):
        raise SystemExit(f"--same-as: {len(before)} answers stored, {len(now)} now (other sets?)")
    return sum(a != b for a, b in zip(now, before, strict=True)), len(now)


if __name__ == "__main__":
    main()
