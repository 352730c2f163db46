"""Architecture facts checked on the real ``dvc repro`` (the session's ``pipeline_run``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from benchmarks.repo_copy import pipeline_env

pytestmark = pytest.mark.slow


def _dvc_status(repo: Path) -> str:
    dvc = str(Path(sys.executable).parent / "dvc")
    out = subprocess.run(
        [dvc, "status"], cwd=repo, env=pipeline_env(repo), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def _changed_stages(status: str) -> set[str]:
    return {line.split(":")[0].strip() for line in status.splitlines() if line.endswith(":")}


@pytest.mark.parametrize(
    ("path", "stale"),
    [
        ("report/templates/report.html.j2", {"report"}),
        ("serving/app.py", set()),
        ("scoring/sentences.py", {"score", "report"}),
    ],
)
def test_a_package_edit_reruns_only_the_stages_that_import_it(
    pipeline_run: Path, path: str, stale: set[str]
) -> None:
    assert _changed_stages(_dvc_status(pipeline_run)) == set()
    target = pipeline_run / path
    original = target.read_bytes()
    try:
        target.write_bytes(original + b"\n")
        assert _changed_stages(_dvc_status(pipeline_run)) == stale
    finally:
        target.write_bytes(original)


def test_behavioural_checks_ran_on_the_candidate_and_are_in_mlflow(pipeline_run: Path) -> None:
    train = json.loads((pipeline_run / "reports" / "train.json").read_text())
    checks = train["behaviour"]
    assert "invariance:id_and_row_order" in checks
    assert "minimum:lapsed_above_active" in checks
    assert any(name.startswith("directional:") for name in checks)
    uri = f"sqlite:///{pipeline_run / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run = client.get_run(train["registry"]["mlflow_run_id"])
    assert run.data.metrics["behaviour.checks"] == len(checks)
    assert run.data.metrics["behaviour.failed"] == sum(not c["passed"] for c in checks.values())
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert "behaviour.json" in artifacts
