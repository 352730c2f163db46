"""Session fixtures shared across the test packages.

``pipeline_run`` runs the real pipeline (``dvc repro``) once per test session in a
temporary copy of the repository, with its own MLflow SQLite store, so stage-level
integration tests, the notebook, the report browser check and the end-to-end server test
all read outputs produced by the real stages without touching the working tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _repo_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [line for line in out.splitlines() if line and (ROOT / line).is_file()]


def copy_repo(dst: Path) -> Path:
    """Copy the repository's tracked and untracked-but-not-ignored files into ``dst``."""
    for rel in _repo_files():
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "copy"]):
        subprocess.run(cmd, cwd=dst, check=True, env=env, capture_output=True)
    return dst


def pipeline_env(repo: Path) -> dict[str, str]:
    """Environment for running stages in ``repo``: venv first on PATH, private MLflow store."""
    bindir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
        "MLFLOW_TRACKING_URI": f"sqlite:///{repo / 'mlflow.db'}",
        "DVC_NO_ANALYTICS": "1",
    }


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary repository copy on which ``dvc repro`` has completed."""
    repo = copy_repo(tmp_path_factory.mktemp("pipeline") / "repo")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dvc"), "repro"],
        cwd=repo,
        env=pipeline_env(repo),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.fail(f"dvc repro failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return repo
