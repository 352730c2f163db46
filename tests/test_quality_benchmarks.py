"""The quality protocols the README and docs/training.md show, run as written.

``bench_holdout`` cuts the bundled export at 2011-09-09, runs the real stages in a
temporary folder and compares the served scores with what happened next and with
baselines computed outside the project; ``sweep_cuts`` runs the stages on a short
history (the export cut at 2011-05-31) that must degrade, not crash.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HOLDOUT = "python -m benchmarks.bench_holdout --datasets online_retail --bootstrap 50"
SWEEP = "python -m benchmarks.sweep_cuts --datasets online_retail --cuts 2011-06-01"


def _documented(command: str) -> None:
    text = (ROOT / "README.md").read_text() + (ROOT / "docs" / "training.md").read_text()
    assert f"`{command}" in text, f"{command!r} is no longer shown in the docs"


def _run(command: str, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, *shlex.split(command)[1:], *extra]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=1200)


@pytest.mark.slow
def test_holdout_protocol_runs_and_the_served_model_ranks_above_recency(tmp_path: Path) -> None:
    _documented(HOLDOUT)
    out = tmp_path / "holdout.json"
    done = _run(HOLDOUT, "--out", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    (result,) = json.loads(out.read_text())
    rows = result["rows"]
    assert result["dataset"] == "online_retail" and result["n"] > 3000
    served, recency = rows["served model"], rows["recency (LR, H earlier)"]
    assert served["missing"] == 0.0
    assert served["ece_lo"] <= served["ece"] <= served["ece_hi"]
    assert served["roc_auc"] > recency["roc_auc"]  # the protocol measures, it does not echo
    assert "served model" in done.stdout and "BG/NBD" in done.stdout


@pytest.mark.slow
def test_a_short_history_trains_and_scores(tmp_path: Path) -> None:
    _documented(SWEEP)
    out = tmp_path / "sweep.json"
    done = _run(SWEEP, "--out", str(out))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (row,) = json.loads(out.read_text())
    assert row["ok"] and row["scored"] > 2000 and not row["test_evaluated"]
    assert row["degradations"]  # a short history says how it degraded
