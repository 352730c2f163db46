"""Keys a data scientist set for this run: ``dvc exp run -S train.<key>=<value>``.

``-S`` rewrites ``params.yaml`` in the experiment's workspace, whose git ``HEAD`` is the
baseline commit. A ``train:`` key whose value differs from the committed ``params.yaml``
was set on purpose, so tuning must not override it: the key is removed from every
``tuning.grid`` entry (and its Optuna range collapsed to the value). Without this, the
grid's ``num_leaves``/``max_depth`` replaced the ``-S`` values and ``dvc exp run`` trained
the same model as the baseline. The same holds for a hand edit of ``params.yaml``
followed by ``dvc repro``: an edited ``train:`` key is trained with as written.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import Any

import yaml

from config.training import TrainParams, TuningParams

logger = logging.getLogger(__name__)

#: ``train:`` keys the Optuna search varies (each has a ``tuning.<key>`` range).
OPTUNA_KEYS: tuple[str, ...] = (
    "num_leaves",
    "max_depth",
    "min_data_in_leaf",
    "learning_rate",
    "lambda_l2",
    "feature_fraction",
)


def committed_section(params_path: Path, section: str) -> dict[str, Any] | None:
    """``section`` of ``params_path`` as committed at git ``HEAD`` (None outside git)."""
    path = params_path.resolve()
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=path.parent, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        rel = path.relative_to(Path(top).resolve()).as_posix()
        text = subprocess.run(
            ["git", "show", f"HEAD:{rel}"],
            cwd=top, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, ValueError, subprocess.CalledProcessError):
        return None
    loaded = yaml.safe_load(text) or {}
    value = loaded.get(section) if isinstance(loaded, dict) else None
    return value if isinstance(value, dict) else None


def pinned_keys(train: TrainParams, committed: dict[str, Any] | None) -> list[str]:
    """``train`` keys whose value differs from the committed section, in field order."""
    if committed is None:
        return []
    base = TrainParams.model_validate(committed)
    return [k for k in TrainParams.model_fields if getattr(train, k) != getattr(base, k)]


def pin_tuning(tuning: TuningParams, train: TrainParams, pinned: list[str]) -> TuningParams:
    """``tuning`` that leaves the ``pinned`` train keys at their set values.

    Grid entries lose the pinned keys (duplicates then collapse, ties keep the first);
    Optuna ranges of pinned keys become ``(value, value)``. With nothing left to
    choose, tuning is turned off.
    """
    if not pinned:
        return tuning
    grid: list[dict[str, float | int]] = []
    for entry in tuning.grid:
        kept = {k: v for k, v in entry.items() if k not in pinned}
        if kept not in grid:
            grid.append(kept)
    cross = {k: v for k, v in tuning.cross.items() if k not in pinned}
    update: dict[str, Any] = {"grid": tuple(grid), "cross": cross}
    for key in set(pinned) & set(OPTUNA_KEYS):
        value = getattr(train, key)
        update[key] = (value, value)
    if tuning.method == "backtest_grid" and all(not e for e in grid) and not cross:
        update["enabled"] = False
    if tuning.method == "optuna" and set(OPTUNA_KEYS) <= set(pinned):
        update["enabled"] = False
    return tuning.model_copy(update=update)


def explicit_tuning(
    params_path: Path, train: TrainParams, tuning: TuningParams
) -> tuple[TuningParams, list[str]]:
    """:func:`pin_tuning` for the keys set for this run; logs what is pinned."""
    pinned = pinned_keys(train, committed_section(params_path, "train"))
    if pinned:
        values = ", ".join(f"train.{k}={getattr(train, k)}" for k in pinned)
        logger.info(
            "%s set for this run (differs from the committed params): excluded from tuning%s",
            values,
            "" if pin_tuning(tuning, train, pinned).enabled or not tuning.enabled
            else "; nothing left to tune, tuning off",
        )  # fmt: skip
    return pin_tuning(tuning, train, pinned), pinned
