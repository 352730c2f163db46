"""Where the MLflow store is: one store per repository, whatever directory DVC runs in.

``dvc exp run --temp`` and queued experiments run stages in a scratch copy under
``.dvc/tmp/exps/``; a relative ``sqlite:///mlflow.db`` resolved there would log each
experiment to a throw-away store (and register "v1" again). DVC passes the original
repository root as ``DVC_ROOT`` (and the experiment's name as ``DVC_EXP_NAME``), so a
relative store path is resolved against that root; outside DVC, against the git
repository of the working directory, else the working directory itself.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

_SQLITE = "sqlite:///"
#: Environment variables DVC sets for a stage: the (original) repo root, the exp name.
DVC_ROOT = "DVC_ROOT"
DVC_EXP_NAME = "DVC_EXP_NAME"


def repo_root(env: Mapping[str, str], cwd: Path) -> Path:
    """The repository the MLflow store belongs to (see the module docstring)."""
    if env.get(DVC_ROOT):
        return Path(env[DVC_ROOT]).resolve()
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return cwd.resolve()
    return Path(out.stdout.strip()).resolve()


def resolve_tracking_uri(configured: str, root: Path, env: Mapping[str, str]) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else ``configured`` with a relative SQLite path
    made absolute under ``root``."""
    uri = env.get("MLFLOW_TRACKING_URI") or configured
    if uri.startswith(_SQLITE) and not uri.startswith(_SQLITE + "/"):
        uri = _SQLITE + str((root / uri[len(_SQLITE) :]).resolve())
    return uri


def experiment_tags(env: Mapping[str, str]) -> dict[str, str]:
    """Tags naming the DVC experiment a run belongs to (none outside ``dvc exp run``)."""
    name = env.get(DVC_EXP_NAME)
    return {"dvc_experiment": name} if name else {}
