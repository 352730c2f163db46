"""The linear part of a blended churn model: L2 logistic regression on log features.

A served model's margin is ``w * gbm_margin + (1 - w) * linear_margin``
(:class:`bundle.model.ChurnModel`, ``blend_weight`` = w). The linear part reads every
feature through the symmetric log ``sign(x) * log1p(|x|)`` (counts, money and days
are heavy-tailed), fills a missing value with the training median of that transform,
and standardises with the training mean and scale. Its exact contributions are
``coef_j * z_j``: the standardised inputs have mean 0 over the training rows, so the
intercept is the expected margin and each row's contributions sum to its margin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def symlog(x: Array) -> Array:
    """``sign(x) * log1p(|x|)``: monotone, defined for negative values, NaN stays NaN."""
    return np.sign(x) * np.log1p(np.abs(x))


@dataclass(frozen=True)
class LinearPart:
    """Coefficients and input transform of the linear part, in the bundle's column order."""

    fill: tuple[float, ...]  # training median of symlog(x), used for a missing value
    mean: tuple[float, ...]  # training mean after filling
    scale: tuple[float, ...]  # training standard deviation (1 where constant)
    coef: tuple[float, ...]
    intercept: float
    c: float  # inverse L2 strength it was fitted with (reported, not used to predict)

    def standardized(self, x: Array) -> Array:
        """The model inputs ``z`` for a feature matrix ``x`` (n, k)."""
        t = symlog(np.asarray(x, dtype=np.float64))
        t = np.where(np.isnan(t), np.asarray(self.fill), t)
        return (t - np.asarray(self.mean)) / np.asarray(self.scale)

    def margin(self, x: Array) -> Array:
        """Log-odds of the linear part per row."""
        return self.intercept + self.standardized(x) @ np.asarray(self.coef)

    def contributions(self, x: Array) -> Array:
        """Exact contributions (n, k + 1): ``coef_j * z_j``, last column the intercept."""
        parts = self.standardized(x) * np.asarray(self.coef)
        return np.hstack([parts, np.full((len(parts), 1), self.intercept)])

    def to_dict(self) -> dict[str, Any]:
        return {
            "fill": list(self.fill),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "c": self.c,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], n_features: int) -> LinearPart:
        """Parse :meth:`to_dict` output; every vector must have ``n_features`` values."""
        vectors = {k: tuple(float(v) for v in d[k]) for k in ("fill", "mean", "scale", "coef")}
        bad = [k for k, v in vectors.items() if len(v) != n_features]
        if bad:
            raise ValueError(f"linear part: {bad} do not have {n_features} values")
        if any(s <= 0 for s in vectors["scale"]):
            raise ValueError("linear part: scale values must be > 0")
        return cls(**vectors, intercept=float(d["intercept"]), c=float(d["c"]))


def fit_transform_stats(x: Array) -> tuple[Array, Array, Array, Array]:
    """(z, fill, mean, scale) of a training matrix, as :class:`LinearPart` applies them."""
    t = symlog(np.asarray(x, dtype=np.float64))
    with np.errstate(all="ignore"):
        fill = np.nanmedian(np.where(np.isnan(t).all(axis=0), 0.0, t), axis=0)
    fill = np.where(np.isnan(fill), 0.0, fill)
    t = np.where(np.isnan(t), fill, t)
    mean = t.mean(axis=0)
    scale = t.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    return (t - mean) / scale, fill, mean, scale
