"""Architecture facts checked on the real ``dvc repro`` (the session's ``pipeline_run``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from benchmarks.repo_copy import pipeline_env
from bundle.model import ChurnModel

pytestmark = pytest.mark.slow


def _dvc_status(repo: Path) -> str:
    dvc = str(Path(sys.executable).parent / "dvc")
    out = subprocess.run(
        [dvc, "status"], cwd=repo, env=pipeline_env(repo), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def _changed_stages(status: str) -> set[str]:
    """Stage names in `dvc status` output: unindented lines ending with a colon."""
    return {
        line[:-1].strip()
        for line in status.splitlines()
        if line.endswith(":") and not line[:1].isspace()
    }


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
    # the run id is the bundle's (a per-run identifier stays out of the tracked report)
    bundle = ChurnModel.load(pipeline_run / "models" / "churn")
    run = client.get_run(bundle.metadata["mlflow_run_id"])
    assert run.data.metrics["behaviour.checks"] == len(checks)
    assert run.data.metrics["behaviour.failed"] == sum(not c["passed"] for c in checks.values())
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert "behaviour.json" in artifacts


def test_churn_status_reports_a_params_bundle_mismatch(pipeline_run: Path, tmp_path: Path) -> None:
    """`churn status` names where params.yaml disagrees with a registered bundle."""
    import yaml

    raw = yaml.safe_load((pipeline_run / "params.yaml").read_text())
    horizon = raw["features"]["horizon_days"]
    raw["features"]["horizon_days"] = horizon + 30
    changed = tmp_path / "params.yaml"
    changed.write_text(yaml.safe_dump(raw))
    churn = str(Path(sys.executable).parent / "churn")
    env = pipeline_env(pipeline_run)
    same = subprocess.run(
        [churn, "status", "--params", str(pipeline_run / "params.yaml")],
        env=env, capture_output=True, text=True, cwd=pipeline_run,
    )  # fmt: skip
    assert same.returncode == 0, same.stderr
    assert f"horizon {horizon} days" in same.stdout and "mismatch" not in same.stdout
    out = subprocess.run(
        [churn, "status", "--params", str(changed)],
        env=env, capture_output=True, text=True, cwd=pipeline_run,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert (
        f"params mismatch: features.horizon_days is {horizon + 30} in params but {horizon}" in text
    )


def test_tracked_reports_hold_no_per_run_identifiers_or_timings(pipeline_run: Path) -> None:
    """A re-run that trains the same model leaves the git-tracked reports unchanged."""
    bundle = ChurnModel.load(pipeline_run / "models" / "churn")
    volatile = [bundle.metadata["mlflow_run_id"], bundle.metadata["trained_at"]]
    assert all(volatile), volatile
    for report in sorted((pipeline_run / "reports").glob("*.json")):
        text = report.read_text()
        assert not any(v in text for v in volatile), report.name
        data = json.loads(text)
        assert not _volatile_keys(data), report.name
    train = json.loads((pipeline_run / "reports" / "train.json").read_text())
    assert train["registry"]["alias"] == bundle.metadata["alias"]
    assert train["registry"]["gate"] == bundle.metadata["gate"]


def _volatile_keys(data: object) -> list[str]:
    """Keys anywhere in ``data`` naming a timing, a timestamp or a per-run identifier."""
    if isinstance(data, dict):
        own = [
            k for k in map(str, data)
            if "seconds" in k or k.endswith(("_at", "run_id")) or k == "model_version"
        ]  # fmt: skip
        return own + [k for v in data.values() for k in _volatile_keys(v)]
    if isinstance(data, list):
        return [k for v in data for k in _volatile_keys(v)]
    return []
