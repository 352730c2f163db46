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
    # training range of each standardised input: an input is clipped to it, so a feature
    # nearly constant in training (tiny scale) cannot extrapolate to a huge log-odds on a
    # later cutoff (the booster saturates the same way). None: no clipping (older bundles)
    low: tuple[float, ...] | None = None
    high: tuple[float, ...] | None = None

    def standardized(self, x: Array) -> Array:
        """The model inputs ``z`` for a feature matrix ``x`` (n, k)."""
        t = symlog(np.asarray(x, dtype=np.float64))
        t = np.where(np.isnan(t), np.asarray(self.fill), t)
        z = (t - np.asarray(self.mean)) / np.asarray(self.scale)
        if self.low is not None and self.high is not None:
            z = np.clip(z, np.asarray(self.low), np.asarray(self.high))
        return z

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
            **({} if self.low is None else {"low": list(self.low)}),
            **({} if self.high is None else {"high": list(self.high)}),
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
        bounds: dict[str, tuple[float, ...] | None] = {"low": None, "high": None}
        for key in ("low", "high"):
            if key in d:
                bounds[key] = tuple(float(v) for v in d[key])
                if len(bounds[key] or ()) != n_features:
                    raise ValueError(f"linear part: {key!r} does not have {n_features} values")
        if (bounds["low"] is None) != (bounds["high"] is None):
            raise ValueError("linear part: 'low' and 'high' come together")
        if bounds["low"] is not None and any(
            lo > hi for lo, hi in zip(bounds["low"], bounds["high"] or (), strict=True)
        ):
            raise ValueError("linear part: a 'low' bound is above its 'high' bound")
        return cls(
            fill=vectors["fill"],
            mean=vectors["mean"],
            scale=vectors["scale"],
            coef=vectors["coef"],
            intercept=float(d["intercept"]),
            c=float(d["c"]),
            low=bounds["low"],
            high=bounds["high"],
        )


def fit_transform_stats(
    x: Array, winsor: float = 0.0
) -> tuple[Array, Array, Array, Array, Array, Array]:
    """(z, fill, mean, scale, low, high) of a training matrix, as :class:`LinearPart`
    applies them.

    Each symlog input is winsorised at its training ``winsor`` and ``1 - winsor``
    quantiles before standardising, and ``low``/``high`` are the standardised bounds, so
    training rows and later rows are clipped alike and ``z`` has mean 0 on the training
    rows. A feature that is constant but for under ``winsor`` of the rows carries no
    weight (its rare values would otherwise sit dozens of standard deviations out).
    """
    t = symlog(np.asarray(x, dtype=np.float64))
    with np.errstate(all="ignore"):
        fill = np.nanmedian(np.where(np.isnan(t).all(axis=0), 0.0, t), axis=0)
    fill = np.where(np.isnan(fill), 0.0, fill)
    t = np.where(np.isnan(t), fill, t)
    lo, hi = np.quantile(t, [winsor, 1.0 - winsor], axis=0, method="nearest")
    t = np.clip(t, lo, hi)
    mean = t.mean(axis=0)
    scale = t.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    return (t - mean) / scale, fill, mean, scale, (lo - mean) / scale, (hi - mean) / scale


def blend_margin(
    booster_margin: Array, x: Array, linear: LinearPart | None, weight: float
) -> Array:
    """``weight * booster_margin + (1 - weight) * linear margin`` of the matrix ``x``
    (the booster's margin alone when there is no linear part)."""
    if linear is None:
        return booster_margin
    return weight * booster_margin + (1.0 - weight) * linear.margin(x)
