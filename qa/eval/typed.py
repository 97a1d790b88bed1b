"""The typed question set of `qa eval questions`: does the answer name the right thing in the
right role, and does it decline when the articles don't say?

`questions/<split>-typed.jsonl` was written by three writers blind to the code, over articles no
other set uses (kept apart by article between dev and test); the third (ids `C-…`, round 7 of
issue 15) added 24 pairs, 24 near misses and 24 dated questions, half to each split, because 14
test pairs made the pair figure move in steps of 0.07. Each row has a `kind`:

- `typed`: a short question with one right answer of a definite `answer_type` (person,
  organisation, place, group, date, money, percent, quantity, work, thing) and `form`
  (name, date, figure or list);
- `pair`: two questions over one sentence with the parties swapped ("Which countries back
  Maduro?" / "Which recognized Guaido?"); each lists the other's answer in `distractors`;
- `near_miss`: the subject is in the corpus, the asked attribute is not (answer null);
- `dated`: the right answer depends on a date the question names (`as_of`); the other dates'
  answers are `distractors`.

A story set lives beside it (`questions/<split>-stories.jsonl`, kind `story`): multi-source
questions in MultiHop-RAG's inference style ("Which individual, reported by The Verge and
CNBC, …?") about the corpus's eight largest stories, 18 a story, written by a writer blind to
the code from the corpus alone (never MultiHop-RAG's questions), split odd/even within each
story (dev/test). MultiHop-RAG's own test split puts most of its inference questions in two
stories and its dev split has none that large; this set measures what a wrong name costs
across a whole story. A story answer is right when its lead names the full answer
(`short_forms` such as a bare surname are not enough, as MultiHop's strict rule); the
figures are the share right and its mean over the stories. `sources` hold the verbatim
evidence sentences (two articles or more from different outlets).

`distractors` are entities of the evidence (or its article) that stand in another role. Scores:

- right: a name/date/figure answer is right when its lead (≤ 25 words) names the answer or an
  alias and no distractor; a list answer when it names at least half the items and no
  distractor;
- role error: an answer that names a distractor and not the right answer (a list: names any
  distractor) — the wrong party with a real citation;
- list precision: the share of a list answer's items that are answer items (recall alone
  rewards naming everything a sentence holds);
- pairs are right when both members are; near misses when the answerer abstains;
- risk–coverage: answers ordered by the answerer's `confidence` (when it reports one), the
  accuracy of the answered share at each coverage.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.eval.answers import STRICT_LEAD_WORDS, doubt_figures, lead_sentence, normalise
from qa.types import Answer

KINDS = ("typed", "pair", "near_miss", "dated", "story")


@dataclass(frozen=True)
class TypedQuestion:
    id: str
    question: str
    kind: str
    answer_type: str
    form: str  # name | date | figure | list
    answer: str | list[str] | None
    aliases: tuple[str, ...]
    url: str | None
    evidence: str | None
    distractors: tuple[str, ...]
    pair: str | None
    as_of: str | None
    story: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TypedQuestion:
        return cls(
            id=row["id"],
            question=row["question"],
            kind=row["kind"],
            answer_type=row.get("answer_type") or "",
            form=row.get("form") or "name",
            answer=row.get("answer"),
            aliases=tuple(row.get("aliases") or ()),
            url=row.get("url"),
            evidence=row.get("evidence"),
            distractors=tuple(row.get("distractors") or ()),
            pair=row.get("pair"),
            as_of=row.get("as_of"),
            story=row.get("story"),
        )

    @property
    def answerable(self) -> bool:
        return self.kind != "near_miss"


def load_typed(folder: Path, split: str, name: str = "typed") -> list[TypedQuestion]:
    """`<split>-<name>.jsonl` of `folder` ([] when the split has none); `name="stories"` for
    the story set."""
    path = folder / f"{split}-{name}.jsonl"
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [TypedQuestion.from_row(json.loads(line)) for line in lines if line.strip()]


def _names(text: str, form: str) -> bool:
    target = normalise(form)
    return bool(target) and f" {target} " in f" {normalise(text)} "


def _names_any(text: str, forms: tuple[str, ...] | list[str]) -> bool:
    return any(_names(text, form) for form in forms)


def _item_forms(item: str, aliases: tuple[str, ...]) -> list[str]:
    """An item and the aliases that share a word with it (list aliases are one flat list)."""
    words = set(normalise(item).split())
    return [item, *(a for a in aliases if words & set(normalise(a).split()))]


def answer_lead(answer: Answer) -> str:
    """The part of the reply that states the answer: its lead (qa.eval.answers.lead_sentence)."""
    return lead_sentence(answer)


def _list_text(answer: Answer) -> str:
    """What a list answer names: its items when it has them, else its whole text."""
    if answer.items:
        return " ; ".join(item.text for item in answer.items)
    return answer.answer


def list_precision(answer: Answer, forms: list[str]) -> float | None:
    """The share of a list answer's items that are answer items: an item naming an answer
    form or named by one ("CMA CGM SA" / "CMA CGM", "UK" / "the UK"); None without items."""
    if not answer.items:
        return None
    good = [any(_names(i.text, f) or _names(f, i.text) for f in forms) for i in answer.items]
    return sum(good) / len(good)


def score_typed(question: TypedQuestion, answer: Answer) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": question.id,
        "kind": question.kind,
        "answer_type": question.answer_type,
        "form": question.form,
        "pair": question.pair,
        "abstained": answer.abstained,
        "confidence": getattr(answer, "confidence", None),
        "doubtful": getattr(answer, "doubtful", False),
    }
    if question.story is not None:
        row["story"] = question.story
    if not question.answerable:
        row["right"] = answer.abstained
        row["role_error"] = False
        return row
    if answer.abstained:
        row["right"] = row["role_error"] = False
        return row
    if question.form == "list":
        text = _list_text(answer)
        items = list(question.answer or [])
        named = [_names_any(text, _item_forms(item, question.aliases)) for item in items]
        wrong = _names_any(text, question.distractors)
        row["list_recall"] = sum(named) / len(items) if items else 0.0
        row["list_precision"] = list_precision(answer, [*items, *question.aliases])
        row["right"] = bool(items) and 2 * sum(named) >= len(items) and not wrong
        row["role_error"] = wrong
        return row
    lead = answer_lead(answer)
    forms = [str(question.answer), *question.aliases]
    says_right = _names_any(lead, forms) and len(lead.split()) <= STRICT_LEAD_WORDS
    says_wrong = _names_any(lead, _apart_from(question.distractors, forms))
    row["right"] = says_right and not says_wrong
    row["role_error"] = says_wrong and not _names_any(lead, forms)
    return row


def _apart_from(distractors: tuple[str, ...], forms: list[str]) -> list[str]:
    """Distractors that no right form contains: "Pink Friday" (her debut) is no wrong answer
    inside "Pink Friday 2" (the asked fifth album)."""
    return [d for d in distractors if not any(_names(form, d) for form in forms)]


def mean_list_precision(rows: list[dict[str, Any]]) -> float | None:
    """Mean list precision over the list answers that have items."""
    return _mean([r["list_precision"] for r in rows if r.get("list_precision") is not None])


def _mean(values: list[Any]) -> float | None:
    return round(statistics.fmean(float(v) for v in values), 3) if values else None


def _pairs_right(rows: list[dict[str, Any]]) -> float | None:
    pairs: dict[str, list[bool]] = {}
    for row in rows:
        if row["kind"] == "pair" and row["pair"]:
            pairs.setdefault(row["pair"], []).append(bool(row["right"]))
    return _mean([len(both) == 2 and all(both) for both in pairs.values()])


def summarise_typed(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """The typed set's metrics (None where the split has no question of that kind)."""
    answerable = [r for r in rows if r["kind"] != "near_miss"]
    singles = [r for r in rows if r["kind"] == "typed" and r["form"] != "list"]
    lists = [r for r in rows if r["kind"] == "typed" and r["form"] == "list"]
    metrics: dict[str, float | None] = {
        "typed_right": _mean([r["right"] for r in singles]),
        "typed_list_recall": _mean([r.get("list_recall", 0.0) for r in lists]),
        "typed_list_precision": mean_list_precision(lists),
        "pair_both_right": _pairs_right(rows),
        "near_miss_abstained": _mean([r["right"] for r in rows if r["kind"] == "near_miss"]),
        "dated_right": _mean([r["right"] for r in rows if r["kind"] == "dated"]),
        "role_error": _mean([r["role_error"] for r in answerable]),
        "typed_false_abstention": _mean([r["abstained"] for r in answerable]),
        **{f"typed_{k}": v for k, v in doubt_figures(rows).items()},
    }
    for answer_type in sorted({r["answer_type"] for r in singles}):
        metrics[f"typed_right_{answer_type}"] = _mean(
            [r["right"] for r in singles if r["answer_type"] == answer_type]
        )
    return metrics


def summarise_stories(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """The story set's figures: the share right, and its mean over the stories (each story
    counts once, however many questions it has)."""
    by_story: dict[str, list[bool]] = {}
    for row in rows:
        by_story.setdefault(row["story"], []).append(bool(row["right"]))
    return {
        "story_right": _mean([r["right"] for r in rows]),
        "story_mean": _mean([sum(v) / len(v) for v in by_story.values()]),
        "story_false_abstention": _mean([r["abstained"] for r in rows]),
    }
