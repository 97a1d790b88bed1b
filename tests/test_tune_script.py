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
