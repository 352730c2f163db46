"""Choose and fit the calibrator on the validation cutoff.

Sigmoid (Platt) and isotonic calibration are compared by cross-validated log loss on
the validation rows (a calibrator scored on the rows it was fitted on would always
favour isotonic); the winner is refitted on all validation rows and ships in the
bundle. Isotonic output is clipped to [eps, 1 - eps] by :mod:`bundle.calibration`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold

from bundle.calibration import Calibrator, IdentityCalibrator, fit_isotonic, fit_sigmoid

logger = logging.getLogger(__name__)

_FOLDS = 5


def _fit(kind: str, margin: NDArray[np.float64], y: NDArray[Any], eps: float) -> Calibrator:
    if kind == "sigmoid":
        return fit_sigmoid(margin, y)
    if kind == "isotonic":
        return fit_isotonic(margin, y, eps=eps)
    raise ValueError(f"unknown calibration kind {kind!r} (sigmoid | isotonic)")


def cv_log_loss(
    kind: str, margin: NDArray[np.float64], y: NDArray[Any], eps: float, seed: int
) -> float:
    """Mean out-of-fold log loss of calibrator ``kind`` on (margin, y)."""
    folds = StratifiedKFold(n_splits=_FOLDS, shuffle=True, random_state=seed)
    losses = []
    for fit_idx, held_idx in folds.split(margin.reshape(-1, 1), y):
        cal = _fit(kind, margin[fit_idx], y[fit_idx], eps)
        p = np.clip(cal.transform(margin[held_idx]), 1e-6, 1 - 1e-6)
        losses.append(log_loss(y[held_idx], p, labels=[0, 1]))
    return float(np.mean(losses))


def choose_calibrator(
    margin: NDArray[np.float64], y: NDArray[Any], mode: str, eps: float, seed: int
) -> tuple[Calibrator, dict[str, float]]:
    """Fit the calibrator for ``mode`` (``auto`` picks the lower CV log loss;
    ``identity`` fits nothing).

    Returns the calibrator fitted on all rows and the CV log loss of each candidate.
    """
    if mode == "identity":  # the margin is served as fitted: p = expit(margin)
        return IdentityCalibrator(), {}
    margin = np.asarray(margin, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    scores = {kind: cv_log_loss(kind, margin, y, eps, seed) for kind in ("sigmoid", "isotonic")}
    kind = min(scores, key=lambda k: scores[k]) if mode == "auto" else mode
    logger.info("calibration: CV log loss %s -> %s", scores, kind)
    return _fit(kind, margin, y, eps), scores
