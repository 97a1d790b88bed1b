"""The command line's ways in besides the `qa` console script: `python -m qa` and
`python -m qa.cli` run the same Typer app (they used to do nothing and exit 0)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run_module(module: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(REPO), **env}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=REPO,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("module", ["qa", "qa.cli"])
def test_python_dash_m_runs_the_cli(module: str) -> None:
    shown = run_module(module, "--help")
    assert shown.returncode == 0 and "Usage:" in shown.stdout and "ingest" in shown.stdout
    refused = run_module(module, "articles", "list", QA_TOP_K="abc")
    assert refused.returncode == 2
    assert refused.stderr.strip() == "error: QA_TOP_K='abc': input should be a valid integer"
