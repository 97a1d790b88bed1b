"""scripts/tune_answers.py: the held-out check scores one setting, never a sweep, on test."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "tune_answers.py"


def _script():
    spec = importlib.util.spec_from_file_location("tune_answers", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_sweep_on_test_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    tune = _script()
    monkeypatch.setattr(
        sys, "argv", ["tune_answers.py", "--split", "test", "--set", "w_kind=0.1,0.2"]
    )
    with pytest.raises(SystemExit, match="one value per --set"):
        tune.main()


def test_settings_expand_to_every_combination() -> None:
    combos = _script().parse_settings(["w_kind=0.1,0.2", "max_sentences=2,3"])
    assert len(combos) == 4 and {"w_kind": 0.2, "max_sentences": 3} in combos


def test_same_as_counts_changed_answers_against_digests_or_rows() -> None:
    tune = _script()
    rows = [{"answer": "**Sam Altman** [1]."}, {"answer": "The articles don't say."}]
    digests = tune.answer_digests(rows)
    # a dev run's rows and a test run's digests compare alike
    assert tune.answers_changed(digests, tune.stored_digests(rows)) == (0, 2)
    moved = tune.answer_digests([{"answer": "**Greg Brockman** [1]."}, rows[1]])
    assert tune.answers_changed(moved, digests) == (1, 2)
    with pytest.raises(SystemExit, match="2 answers stored, 1 now"):
        tune.answers_changed(moved[:1], digests)
