"""Session fixtures shared across the test packages.

``pipeline_run`` runs the real pipeline (``dvc repro``) once per test session in a
temporary copy of the repository, with its own MLflow SQLite store, so stage-level
integration tests, the notebook, the report browser check and the end-to-end server test
all read outputs produced by the real stages without touching the working tree.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.repo_copy import copy_repo, pipeline_env
from tests import hypothesis_profiles

hypothesis_profiles.load()

ROOT = Path(__file__).resolve().parents[1]


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
