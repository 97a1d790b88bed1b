"""The follow-up set of `qa eval questions`: the second question of a two-turn chat.

The chat window, `qa chat` and the API send the conversation with each question; before
retrieval, `qa.conversation.condense` rewrites a question that leans on the previous turn into
one that stands alone ("When did he take over?" after a question about Binance's CEO). This set
measures that rewrite where users meet it: `questions/<split>-followups.jsonl`, written blind to
the code over the MultiHop-RAG corpus (split by the article answering the follow-up). Each row
has a first question (`turn1`), the follow-up as typed (`question`), the follow-up as a careful
person would write it alone (`standalone`), its answer, aliases and evidence, and a `kind`:

- `explicit`: the follow-up leans on the first turn with a pronoun or a follow-up word
  ("When did he take over?", "And Canada?");
- `implicit`: it is elliptical with no such word ("When was the ruling?");
- `standalone`: a complete question that needs no history (another story, or the same one
  spelled out): a rewrite can only hurt it.

Each conversation is answered as a client holds it: the first question is answered, and its
answer text goes with the follow-up as history. Scored like the user questions (the answer or an
alias in the lead, ≤ 25 words): `lead` with the history, and two references for the same
follow-up: `bare_lead` asked with no history (what the rewrite adds) and `oracle_lead` asked as
the person's standalone question (what a perfect rewrite would reach). `kept` says whether the
rewrite left a standalone follow-up as typed.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.types import Answer, Turn

KINDS = ("explicit", "implicit", "standalone")


@dataclass(frozen=True)
class FollowUp:
    id: str
    kind: str  # explicit | implicit | standalone
    turn1: str
    question: str
    standalone: str
    answer: str
    aliases: tuple[str, ...]
    url: str
    evidence: str

    @property
    def forms(self) -> list[str]:
        return [self.answer, *self.aliases]


def load_followups(questions_dir: Path, split: str) -> list[FollowUp]:
    path = questions_dir / f"{split}-followups.jsonl"
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [
        FollowUp(
            id=r["id"],
            kind=r["kind"],
            turn1=r["turn1"],
            question=r["question"],
            standalone=r["standalone"],
            answer=r["answer"],
            aliases=tuple(r.get("aliases") or ()),
            url=r["url"],
            evidence=r["evidence"],
        )
        for r in rows
    ]


# (question, history) -> the answer, through the product's condense-then-retrieve path.
Ask = Callable[[str, list[Turn]], Answer]
LeadRight = Callable[[Answer, list[str]], bool]


def score_followup(row: FollowUp, ask: Ask, lead_right: LeadRight) -> dict[str, Any]:
    """One conversation answered three ways: with its history, alone, and as rewritten by a
    person. `lead_right` is the user questions' scorer (`qa.eval.questions.lead_names`)."""
    first = ask(row.turn1, [])
    history = [
        Turn(role="user", content=row.turn1),
        Turn(role="assistant", content=first.answer),
    ]
    answer = ask(row.question, history)
    bare = ask(row.question, [])
    oracle = ask(row.standalone, [])
    condensed = answer.standalone_question or row.question
    return {
        "id": row.id,
        "type": f"followup_{row.kind}",
        "kind": row.kind,
        "abstained": answer.abstained,
        "confidence": answer.confidence,
        "lead": lead_right(answer, row.forms),
        "bare_lead": lead_right(bare, row.forms),
        "oracle_lead": lead_right(oracle, row.forms),
        "kept": condensed.strip() == row.question.strip(),
        "condensed": condensed,
        "answer": answer.answer[:300],
    }


def _mean(values: list[bool]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def summarise_followups(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """Lead right with the history, alone and as the person's rewrite, over all follow-ups and
    per kind; and the share of standalone follow-ups the rewrite left as typed."""
    figures: dict[str, float | None] = {}
    for key in ("lead", "bare_lead", "oracle_lead"):
        figures[f"followup_{key}"] = _mean([r[key] for r in rows])
        for kind in KINDS:
            figures[f"followup_{key}_{kind}"] = _mean([r[key] for r in rows if r["kind"] == kind])
    figures["followup_standalone_kept"] = _mean(
        [r["kept"] for r in rows if r["kind"] == "standalone"]
    )
    return figures
