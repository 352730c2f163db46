"""The replay command of docs/alerts.md, run as written on the ``dvc repro`` copy: it
prints the SIMULATED label and the table, and recovers the planted uplift."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from benchmarks.repo_copy import pipeline_env

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _documented_command() -> str:
    text = (ROOT / "docs" / "alerts.md").read_text(encoding="utf-8")
    found = re.search(r"`(python -m alerts\.replay[^`]*)`", text)
    assert found, "docs/alerts.md shows no replay command"
    return " ".join(found.group(1).split())


def test_documented_replay_runs_and_recovers_the_planted_uplift(pipeline_run: Path) -> None:
    command = _documented_command()
    done = subprocess.run(
        shlex.split(command), cwd=pipeline_run, env=pipeline_env(pipeline_run),
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("SIMULATED")
    assert "| ORDER_CYCLE |" in done.stdout
    result = json.loads((pipeline_run / "reports" / "alerts_replay.json").read_text())
    assert result["note"].startswith("SIMULATED") and result["planted"] == {"ORDER_CYCLE": 0.08}
    assert result["cycles"] == 8
    planted = next(r for r in result["by"]["reason_family"] if r["value"] == "ORDER_CYCLE")
    assert planted["uplift_low"] <= 0.08 <= planted["uplift_high"]
