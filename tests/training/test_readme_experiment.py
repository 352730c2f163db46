"""The README's experiment example, verbatim: `dvc exp run --temp -n depth4 -S ...`, then
`dvc metrics diff HEAD depth4` and `dvc plots diff HEAD depth4`.

Runs in a copy of the session's real pipeline run (committed there, so HEAD holds its
metrics). The experiment must train with the values set by ``-S`` (not the tuning
grid's), its run must be in the repository's one MLflow store with the DVC experiment
name as a tag, and the metrics diff must show a change in the model's metrics.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from benchmarks.repo_copy import pipeline_env

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _readme_command(prefix: str) -> list[str]:
    """The first backticked README command starting with ``prefix``, as argv."""
    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    found = re.search(rf"`({re.escape(prefix)}[^`]*)`", text)
    assert found, f"README shows no `{prefix} ...`"
    return shlex.split(found.group(1))


def _run(repo: Path, argv: list[str]) -> str:
    dvc = str(Path(sys.executable).parent / "dvc")
    assert argv[0] == "dvc"
    out = subprocess.run(
        [dvc, *argv[1:]], cwd=repo, env=pipeline_env(repo), capture_output=True, text=True
    )
    assert out.returncode == 0, f"{argv}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out.stdout


@pytest.fixture(scope="module")
def experiment(pipeline_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A committed copy of the pipeline run, after the README's `dvc exp run`."""
    repo = tmp_path_factory.mktemp("exp") / "repo"
    shutil.copytree(pipeline_run, repo, symlinks=True)
    ident = ["-c", "user.name=t", "-c", "user.email=t@t"]
    for cmd in (["add", "-A"], [*ident, "commit", "-qm", "pipeline outputs"]):
        subprocess.run(["git", *cmd], cwd=repo, check=True, capture_output=True)
    argv = _readme_command("dvc exp run --temp")
    name = argv[argv.index("-n") + 1]
    _run(repo, argv)
    return repo, name


def _set_values(argv: list[str]) -> dict[str, str]:
    sets = [argv[i + 1] for i, a in enumerate(argv) if a == "-S"]
    assert sets, argv
    return dict(s.split("=", 1) for s in sets)


def test_the_experiment_trained_with_the_set_values_and_is_in_mlflow(
    experiment: tuple[Path, str],
) -> None:
    repo, name = experiment
    wanted = _set_values(_readme_command("dvc exp run --temp"))
    assert set(wanted) == {"train.max_depth", "train.num_leaves"}
    uri = f"sqlite:///{repo / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        filter_string=f"tags.dvc_experiment = '{name}'",
    )
    assert len(runs) == 1, [r.data.tags for r in runs]
    params = runs[0].data.params
    for key, value in wanted.items():
        assert params[key] == value, (key, params[key])  # the served (refit) model
    # the same store holds the pipeline's own run: one store for the repository
    assert len(client.search_runs([runs[0].info.experiment_id])) >= 2


def test_metrics_diff_shows_the_model_changed(experiment: tuple[Path, str]) -> None:
    repo, name = experiment
    argv = _readme_command("dvc metrics diff HEAD")
    assert argv[-1] == name
    table = _run(repo, argv)
    assert "seconds" not in table  # timings are not metrics
    rows = {
        parts[1]: parts for line in table.splitlines() if len(parts := line.split()) >= 5
    }  # path, metric, HEAD, experiment, change
    assert "model.roc_auc" in rows, table
    assert float(rows["model.roc_auc"][2]) != float(rows["model.roc_auc"][3]), table


def test_plots_diff_draws_both_revisions(experiment: tuple[Path, str]) -> None:
    repo, name = experiment
    argv = _readme_command("dvc plots diff HEAD")
    assert argv[-1] == name
    _run(repo, argv)
    page = (repo / "dvc_plots" / "index.html").read_text(encoding="utf-8")
    assert '"rev": "HEAD"' in page and f'"rev": "{name}"' in page
    assert "cdn.jsdelivr" not in page
