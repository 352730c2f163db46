"""Probability calibration of the raw LightGBM margin, serialisable to JSON.

Calibration is fitted on the validation cutoff (never the test one) and ships inside the
model bundle, so every consumer (batch scoring, reasons, the API) maps margins to
probabilities the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

Array = NDArray[np.float64]


class Calibrator(Protocol):
    """Maps raw margins (log-odds from LightGBM) to calibrated probabilities."""

    @property
    def kind(self) -> str: ...

    def transform(self, margin: Array) -> Array: ...

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class SigmoidCalibrator:
    """Platt scaling: p = expit(a * margin + b)."""

    a: float
    b: float
    kind: str = "sigmoid"

    def transform(self, margin: Array) -> Array:
        return np.asarray(expit(self.a * np.asarray(margin, dtype=float) + self.b))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "a": self.a, "b": self.b}


@dataclass(frozen=True)
class IsotonicCalibrator:
    """Isotonic regression on the margin, read by linear interpolation.

    Outputs are clipped to ``[eps, 1 - eps]``: isotonic fits return exact 0 and 1 on
    sparse tails, which would make log loss infinite and claim certainty we lack.
    """

    x: tuple[float, ...]
    y: tuple[float, ...]
    eps: float
    kind: str = "isotonic"

    def transform(self, margin: Array) -> Array:
        p = np.interp(np.asarray(margin, dtype=float), self.x, self.y)
        return np.clip(p, self.eps, 1.0 - self.eps)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "x": list(self.x), "y": list(self.y), "eps": self.eps}


@dataclass(frozen=True)
class IdentityCalibrator:
    """No recalibration: p = expit(margin). For a margin already fitted to the labels on
    every labelled cutoff (``split.window: all_labelled``), where no held-out cutoff is
    left to recalibrate on."""

    kind: str = "identity"

    def transform(self, margin: Array) -> Array:
        return np.asarray(expit(np.asarray(margin, dtype=float)))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind}


def fit_sigmoid(margin: Array, y: NDArray[Any]) -> SigmoidCalibrator:
    """Fit Platt scaling (unregularised logistic regression on the margin)."""
    lr = LogisticRegression(C=1e6, solver="lbfgs", max_iter=1000)
    lr.fit(np.asarray(margin, dtype=float).reshape(-1, 1), np.asarray(y))
    return SigmoidCalibrator(a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))


def fit_isotonic(margin: Array, y: NDArray[Any], eps: float = 1e-3) -> IsotonicCalibrator:
    """Fit isotonic regression on the margin; keep its step knots for interpolation."""
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    iso.fit(np.asarray(margin, dtype=float), np.asarray(y, dtype=float))
    return IsotonicCalibrator(
        x=tuple(float(v) for v in iso.X_thresholds_),
        y=tuple(float(v) for v in iso.y_thresholds_),
        eps=eps,
    )


def calibrator_from_dict(d: dict[str, Any]) -> Calibrator:
    """Rebuild a calibrator saved with ``to_dict``."""
    if d["kind"] == "sigmoid":
        return SigmoidCalibrator(a=float(d["a"]), b=float(d["b"]))
    if d["kind"] == "identity":
        return IdentityCalibrator()
    if d["kind"] == "isotonic":
        return IsotonicCalibrator(x=tuple(d["x"]), y=tuple(d["y"]), eps=float(d["eps"]))
    raise ValueError(f"unknown calibrator kind {d['kind']!r}")
