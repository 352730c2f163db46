"""Choose the served calibration on folds before the test cutoff (``split.window:
all_labelled`` with ``train.calibration: auto``).

With every labelled cutoff in the training rows there is no held-out cutoff left to fit
a calibrator on, so the only out-of-time evidence is the procedure's own record on the
rolling folds whose label window ends by the test cutoff (the selection folds of
:func:`training.split.selection_splits`): on each fold ``s`` the blend trained on the
cutoffs whose labels end by ``s`` predicts ``s``. Three calibrations compete:

- ``identity``: the blended margin as fitted, ``p = expit(margin)``;
- ``shift``: an intercept shift ``p = expit(margin + d)`` with ``d`` the one that makes
  the mean prediction equal the churn rate on the earlier folds (the base rate drifts,
  the ranking does not);
- ``sigmoid``: Platt scaling ``expit(a * margin + b)`` on the earlier folds' margins.

Each is judged forward-chained, as it would have been used: fitted on folds ``1..k-1``,
scored by Brier on fold ``k``. The lowest mean Brier wins; ties and too little evidence
(fewer than ``MIN_FOLDS`` folds, i.e. fewer than two forward comparisons) keep
``identity``. The winner is refitted on every fold's margins. Nothing of the test
cutoff is seen.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import brentq
from scipy.special import expit
from sklearn.metrics import brier_score_loss

from bundle.calibration import Calibrator, IdentityCalibrator, SigmoidCalibrator, fit_sigmoid
from bundle.linear import blend_margin
from config.root import Params
from config.training import TrainParams
from training.blend import fit_blend
from training.split import CutoffSplit, part, train_part

logger = logging.getLogger(__name__)

CANDIDATES = ("identity", "shift", "sigmoid")
#: Folds needed before anything but ``identity`` can win (two forward comparisons).
MIN_FOLDS = 3


@dataclass(frozen=True)
class FoldMargins:
    """The blend's out-of-time margins on one selection fold's test cutoff."""

    cutoff: pd.Timestamp
    margin: NDArray[np.float64]
    label: NDArray[np.int64]


def fit_shift(margin: NDArray[np.float64], y: NDArray[Any]) -> SigmoidCalibrator:
    """The intercept ``d`` with ``mean(expit(margin + d)) == mean(y)`` (a = 1)."""
    rate = float(np.mean(y))
    if rate <= 0.0 or rate >= 1.0:  # one class only: no finite shift
        return SigmoidCalibrator(a=1.0, b=0.0)
    d = brentq(lambda v: float(np.mean(expit(margin + v))) - rate, -20.0, 20.0)
    return SigmoidCalibrator(a=1.0, b=float(d))


def fit_kind(kind: str, margin: NDArray[np.float64], y: NDArray[Any]) -> Calibrator:
    """Fit calibration ``kind`` (one of :data:`CANDIDATES`) on (margin, y)."""
    if kind == "identity":
        return IdentityCalibrator()
    if kind == "shift":
        return fit_shift(margin, y)
    if kind == "sigmoid":
        return fit_sigmoid(margin, y)
    raise ValueError(f"unknown calibration candidate {kind!r} (one of {CANDIDATES})")


def fold_margins(
    snapshots: pd.DataFrame,
    splits: list[CutoffSplit],
    names: list[str],
    params: TrainParams,
    seed: int,
) -> list[FoldMargins]:
    """The blend (``params``, no calibration) refitted on each fold, margins on its test."""
    plain = params.model_copy(update={"calibration": "identity"})
    out = []
    for split in splits:
        booster, linear, _ = fit_blend(train_part(snapshots, split), names, plain, seed)
        test = part(snapshots, split.test)
        x = test.loc[:, names].to_numpy(dtype=np.float64)
        tree = np.asarray(booster.predict(x, raw_score=True), dtype=np.float64)
        margin = blend_margin(tree, x, linear, params.blend_weight)
        out.append(FoldMargins(split.test, margin, test["label"].to_numpy().astype(np.int64)))
    return out


def choose(folds: list[FoldMargins]) -> tuple[Calibrator, dict[str, Any]]:
    """The calibration with the lowest forward-chained mean Brier, refitted on all folds.

    Returns the calibrator and a JSON-friendly record of the comparison.
    """
    record: dict[str, Any] = {
        "calibration_data": "selection folds (forward-chained)",
        "calibration_cutoffs": [f.cutoff.date().isoformat() for f in folds],
        # calibration-in-the-large out of time, per fold: how the base rate drifts
        "calibration_folds": [
            {
                "cutoff": f.cutoff.date().isoformat(),
                "churn_rate": round(float(f.label.mean()), 4),
                "mean_probability": round(float(expit(f.margin).mean()), 4),
            }
            for f in folds
        ],
    }
    if len(folds) < MIN_FOLDS:
        record["calibration_choice"] = (
            f"identity: {len(folds)} selection fold(s), at least {MIN_FOLDS} are needed to "
            "compare calibrations out of time"
        )
        return IdentityCalibrator(), record
    briers: dict[str, list[float]] = {kind: [] for kind in CANDIDATES}
    for k in range(1, len(folds)):
        m_prev = np.concatenate([f.margin for f in folds[:k]])
        y_prev = np.concatenate([f.label for f in folds[:k]])
        for kind in CANDIDATES:
            p = fit_kind(kind, m_prev, y_prev).transform(folds[k].margin)
            briers[kind].append(float(brier_score_loss(folds[k].label, p)))
    means = {kind: float(np.mean(v)) for kind, v in briers.items()}
    best = min(CANDIDATES, key=lambda kind: (round(means[kind], 6), CANDIDATES.index(kind)))
    margin = np.concatenate([f.margin for f in folds])
    label = np.concatenate([f.label for f in folds])
    calibrator = fit_kind(best, margin, label)
    record.update(
        {
            "calibration_forward_brier": {k: [round(b, 6) for b in v] for k, v in briers.items()},
            "calibration_mean_brier": {k: round(v, 6) for k, v in means.items()},
            "calibration_choice": best,
            "calibration_rows": int(label.size),
            "calibration_base_rate": float(label.mean()),
        }
    )
    logger.info("calibration (forward-chained mean Brier) %s -> %s", means, best)
    return calibrator, record


def forward_calibrator(
    snapshots: pd.DataFrame,
    splits: list[CutoffSplit],
    names: list[str],
    params: TrainParams,
    cfg: Params,
) -> tuple[Calibrator, dict[str, Any]]:
    """:func:`choose` on the margins of ``splits`` (the selection folds of the run)."""
    return choose(fold_margins(snapshots, splits, names, params, cfg.seed))
