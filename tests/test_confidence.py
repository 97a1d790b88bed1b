"""The offline answer's confidence: a logistic model of being right, and the script fitting it."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from index.settings import Settings
from qa.answer import AnswerConfig, ExtractiveAnswerer
from qa.answer.confidence import Signals, calibrated
from tests.test_answer_extractive import cut_passages, seed_body

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def test_the_confidence_is_the_logistic_of_the_weighted_features() -> None:
    signals = Signals(kind="name", relevance=0.5, in_role=True, name_margin=5.0)
    weights = {"bias": -1.0, "relevance": 2.0, "in_role": 1.0, "name_margin": 1.0}
    # the margin is capped at 2; a feature without a weight (name_fit) counts nothing
    assert calibrated(signals.features(), weights) == pytest.approx(
        1 / (1 + math.exp(-(-1 + 1 + 1 + 2)))
    )
    assert calibrated(signals.features(), {}) == 0.5
    assert 0.0 < calibrated(signals.features(), {"bias": -1e6}) < 1e-12  # no overflow


def test_name_features_count_only_for_a_name_answer() -> None:
    as_list = Signals(kind="list", relevance=0.5, name_fit=1.0, name_margin=1.0)
    features = as_list.features()
    assert features["kind_list"] == 1.0 and features["name_fit"] == features["name_margin"] == 0


def test_a_name_in_the_asked_role_that_leads_clearly_is_more_confident() -> None:
    """The fitted weights (AnswerConfig) read the role and the lead's margin the right way."""
    weights = AnswerConfig().confidence_weights
    shared = {"kind": "name", "relevance": 0.6, "cited_score": 0.8, "name_fit": 1.0}
    placed = Signals(**shared, in_role=True, name_margin=1.0)
    guessed = Signals(**shared, in_role=False, name_margin=0.0)
    assert calibrated(placed.features(), weights) > calibrated(guessed.features(), weights) + 0.2


def test_an_answer_carries_its_signals_but_the_api_does_not_show_them() -> None:
    answerer = ExtractiveAnswerer(Settings())
    answer = answerer.answer("which countries back Maduro?", cut_passages(seed_body()))
    assert answer.kind == "list" and answer.confidence_signals["in_role"] == 1.0
    weights = AnswerConfig().confidence_weights
    z = weights["bias"] + sum(weights[k] * v for k, v in answer.confidence_signals.items())
    assert answer.confidence == pytest.approx(1 / (1 + math.exp(-z)), abs=1e-4)
    assert "confidence_signals" not in answer.model_dump()


def _fit_script(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))  # it imports tune_answers beside it
    spec = importlib.util.spec_from_file_location("fit_confidence", SCRIPTS / "fit_confidence.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_fit_recovers_a_known_logistic_relation(monkeypatch: pytest.MonkeyPatch) -> None:
    fit = _fit_script(monkeypatch)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4000, 2)) * [1.0, 3.0] + [0.5, 0.0]  # unlike scales and means
    chance = 1 / (1 + np.exp(-(0.5 + 2.0 * x[:, 0] - 0.5 * x[:, 1])))
    y = (rng.random(4000) < chance).astype(float)
    weights, bias = fit.fit_logistic(x, y, l2=0.0)
    assert weights == pytest.approx([2.0, -0.5], abs=0.2) and bias == pytest.approx(0.5, abs=0.2)
    assert fit.auc(np.array([0.9, 0.1, 0.5]), np.array([1.0, 0.0, 0.0])) == 1.0
    assert fit.auc(np.array([0.9]), np.array([1.0])) is None  # no wrong answer to compare
    assert "fit_confidence" not in sys.modules  # loaded from its file, not installed


def test_an_answer_below_the_doubt_threshold_is_marked_and_the_cli_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from qa.cli import _print_answer
    from qa.render import DOUBTFUL

    passages = cut_passages(seed_body())
    question = "which countries back Maduro?"
    doubting = ExtractiveAnswerer(Settings(), config=AnswerConfig(doubtful_below=1.0))
    trusting = ExtractiveAnswerer(Settings(), config=AnswerConfig(doubtful_below=0.0))
    doubtful, sure = doubting.answer(question, passages), trusting.answer(question, passages)
    assert doubtful.doubtful and not sure.doubtful
    assert doubtful.answer == sure.answer  # the caution is beside the answer, not in it
    _print_answer(doubtful, streamed=False)
    assert f"low confidence: {DOUBTFUL}" in capsys.readouterr().out


def test_the_shipped_weights_cover_every_feature_and_nothing_else() -> None:
    """qa/models/confidence.json is refitted by scripts/fit_confidence.py --write; a feature
    renamed or added without refitting would silently count nothing."""
    features = Signals(kind="name", relevance=0.0).features()
    assert set(AnswerConfig().confidence_weights) == {"bias", *features}
