"""A throw-away copy of this repository for running the real pipeline in isolation.

Used by the test session fixture (``tests/conftest.py``) and the pipeline benchmark, so
neither touches the working tree, its DVC outputs or its MLflow registry.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

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
    """Copy tracked and untracked-but-not-ignored files into ``dst``, as a fresh git repo."""
    for rel in _repo_files():
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
    ident = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t"}
    env = {**os.environ, **ident, "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "copy"]):
        subprocess.run(cmd, cwd=dst, check=True, env=env, capture_output=True)
    return dst


def pipeline_env(repo: Path) -> dict[str, str]:
    """Environment for stages in ``repo``: this venv first on PATH, a private MLflow store."""
    bindir = str(Path(sys.executable).parent)
    # the alerts stage writes to the copy's own SQLite file, never a shared database
    outer = {k: v for k, v in os.environ.items() if k not in ("CHURN_DB_URL", "CHURN_WEBHOOK_URL")}
    return {
        **outer,
        "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
        "MLFLOW_TRACKING_URI": f"sqlite:///{repo / 'mlflow.db'}",
        "DVC_NO_ANALYTICS": "1",
    }


def stage_command(name: str) -> list[str]:
    """DVC stage ``name``'s command exactly as ``dvc.yaml`` writes it, run by this Python.

    Benchmarks that run stages one by one read them from here, so their paths and
    arguments cannot drift from the pipeline's.
    """
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    cmd = shlex.split(stages[name]["cmd"])
    if cmd[:2] != ["python", "-m"]:
        raise ValueError(f"stage {name} does not run `python -m ...`: {cmd[:3]}")
    return [sys.executable, *cmd[1:]]
