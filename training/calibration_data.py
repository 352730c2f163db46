"""Which out-of-sample margins the calibrator is fitted on (``train.calibration_data``).

The calibrator maps the booster's margin to a probability, so it must see margins the
booster (or a model built the same way) did not train on, from cutoffs earlier than
the test cutoff. Three sources:

- ``validation``: the main booster's margins on the validation cutoff. One cutoff, so
  the calibrated mean follows that cutoff's churn rate (seasonal on Online Retail).
- ``forward``: forward chaining over the last ``calibration_cutoffs`` cutoffs ``c``
  whose label window ends by the test cutoff; for each, a helper model trained on the
  cutoffs with ``T + H <= c`` predicts ``c``. Cutoffs without such a training cutoff
  are skipped.
- ``grouped_oof``: customer-grouped K-fold (``calibration_folds``) over the pooled
  training cutoffs: each helper model trains on the other customers' rows and
  predicts the held-out customers' rows, so no customer is on both sides. The pooled
  base rate is that of all training cutoffs, like the baselines' intercepts.

Helper models reuse the main booster's params and tree count (:func:`fit_fixed`), so
their margins are on the main model's scale. The test cutoff is never used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.model_selection import GroupKFold

from config.training import TrainParams
from training.model import fit_fixed
from training.split import CutoffSplit, part, train_part, valid_part

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalibrationData:
    """Out-of-sample margins and labels for the calibrator, and where they came from."""

    margin: NDArray[np.float64]
    label: NDArray[np.int64]
    cutoffs: tuple[pd.Timestamp, ...]
    source: str

    def describe(self) -> dict[str, Any]:
        """JSON-friendly summary for bundle metadata and reports."""
        return {
            "calibration_data": self.source,
            "calibration_cutoffs": [t.date().isoformat() for t in self.cutoffs],
            "calibration_rows": int(self.label.size),
            "calibration_base_rate": float(self.label.mean()) if self.label.size else None,
        }


def _margin(booster: Any, frame: pd.DataFrame, names: list[str]) -> NDArray[np.float64]:
    x = frame.loc[:, names].to_numpy(dtype=np.float64)
    return np.asarray(booster.predict(x, raw_score=True), dtype=np.float64)


def customer_folds(
    customer_id: pd.Series, n_folds: int
) -> list[tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """Deterministic (fit, held-out) row positions; a customer is never split.

    Raises
    ------
    ValueError
        When there are fewer distinct customers than folds.
    """
    groups = customer_id.astype(str).to_numpy()
    n_customers = len(np.unique(groups))
    if n_customers < n_folds:
        raise ValueError(
            f"train.calibration_folds={n_folds} but only {n_customers} customers in the "
            "training cutoffs"
        )
    folds = GroupKFold(n_splits=n_folds)
    return [
        (np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64))
        for a, b in folds.split(np.zeros(len(groups)), groups=groups)
    ]


def grouped_oof(
    snapshots: pd.DataFrame,
    split: CutoffSplit,
    names: list[str],
    params: TrainParams,
    seed: int,
    n_trees: int,
) -> CalibrationData:
    """Customer-grouped out-of-fold margins over the pooled training cutoffs."""
    train = train_part(snapshots, split).reset_index(drop=True)
    margin = np.empty(len(train), dtype=np.float64)
    for fit_idx, held_idx in customer_folds(train["customer_id"], params.calibration_folds):
        booster = fit_fixed(train.iloc[fit_idx], names, params, seed, n_trees)
        margin[held_idx] = _margin(booster, train.iloc[held_idx], names)
    return CalibrationData(
        margin, train["label"].to_numpy().astype(np.int64), split.train, "grouped_oof"
    )


def forward_cutoffs(
    cutoffs: list[pd.Timestamp], split: CutoffSplit, horizon_days: int, k: int
) -> list[tuple[pd.Timestamp, tuple[pd.Timestamp, ...]]]:
    """(predicted cutoff c, its training cutoffs) for forward-chained calibration.

    ``c`` ranges over the last ``k`` cutoffs with ``c + H <= T_test`` that have at
    least one training cutoff ``t`` with ``t + H <= c``; oldest first.
    """
    horizon = pd.Timedelta(days=horizon_days)
    allowed = [c for c in cutoffs if c + horizon <= split.test]
    pairs = []
    for c in allowed:
        train = tuple(t for t in cutoffs if t + horizon <= c)
        if train:
            pairs.append((c, train))
    return pairs[-k:]


def forward(
    snapshots: pd.DataFrame,
    split: CutoffSplit,
    names: list[str],
    params: TrainParams,
    seed: int,
    n_trees: int,
    horizon_days: int,
) -> CalibrationData:
    """Forward-chained out-of-time margins (see the module docstring).

    Raises
    ------
    ValueError
        When no cutoff before the test cutoff has an earlier training cutoff.
    """
    cutoffs = sorted(pd.Timestamp(t) for t in pd.unique(snapshots["cutoff"]))
    pairs = forward_cutoffs(cutoffs, split, horizon_days, params.calibration_cutoffs)
    if not pairs:
        raise ValueError(
            "train.calibration_data=forward: no cutoff c with c + H <= the test cutoff "
            f"{split.test.date()} has a training cutoff t with t + H <= c; use "
            "validation or grouped_oof, or more cutoffs"
        )
    margins, labels = [], []
    for c, train_cutoffs in pairs:
        booster = fit_fixed(part(snapshots, train_cutoffs), names, params, seed, n_trees)
        target = part(snapshots, c)
        margins.append(_margin(booster, target, names))
        labels.append(target["label"].to_numpy().astype(np.int64))
    return CalibrationData(
        np.concatenate(margins), np.concatenate(labels), tuple(c for c, _ in pairs), "forward"
    )


def validation(
    snapshots: pd.DataFrame, split: CutoffSplit, names: list[str], booster: Any
) -> CalibrationData:
    """The main booster's margins on the validation cutoff."""
    valid = valid_part(snapshots, split)
    return CalibrationData(
        _margin(booster, valid, names),
        valid["label"].to_numpy().astype(np.int64),
        (split.valid,),
        "validation",
    )


def calibration_data(
    snapshots: pd.DataFrame,
    split: CutoffSplit,
    names: list[str],
    params: TrainParams,
    seed: int,
    booster: Any,
    horizon_days: int,
) -> CalibrationData:
    """Margins + labels for ``params.calibration_data``; every label window ends by the test
    cutoff (``c + H <= T_test``), so nothing of the test window is seen."""
    n_trees = int(booster.num_trees())
    if params.calibration_data == "validation":
        data = validation(snapshots, split, names, booster)
    elif params.calibration_data == "forward":
        data = forward(snapshots, split, names, params, seed, n_trees, horizon_days)
    else:
        data = grouped_oof(snapshots, split, names, params, seed, n_trees)
    horizon = pd.Timedelta(days=horizon_days)
    if any(c + horizon > split.test for c in data.cutoffs):
        raise AssertionError("calibration labels reach past the test cutoff")
    logger.info("calibration data: %s", data.describe())
    return data
