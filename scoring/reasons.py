"""Per-customer reason codes: family contributions, probability impacts, top-k reasons.

Definitions (also in docs/reasons.md):

- **Family contribution** ``c_f``: the sum of the TreeSHAP margin contributions of the
  features of family ``f`` (catalog families), so correlated features of one cause are
  not split into several small reasons.
- **Impact** (probability points): the Shapley value of family ``f`` in the game
  ``g(S) = calibrator(bias + sum_{j in S} c_j)`` over the ``m <= 8`` families, computed
  exactly from all ``2^m`` subsets. Efficiency gives
  ``base_probability + sum_f impact_f == calibrator(margin) == churn probability``, with
  ``base_probability = calibrator(bias)`` (``bias`` = TreeSHAP expected value). For a
  linear map this equals the probability with and without ``c_f``; for the non-linear
  calibration it shares the interaction terms fairly instead of double counting them.
- **Reason**: a family with impact above ``reasons.min_impact``, top ``k`` by impact;
  its driving feature is the family's feature with the largest positive contribution
  (among features with a value, when one of them raises risk).
  Customers at ``low`` risk get no reasons, or (``low_risk_mode: protective``) the
  families that lower their risk the most, coded ``PROTECT_<FAMILY>``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from bundle.calibration import Calibrator
from features.catalog import BY_NAME, Family

logger = logging.getLogger(__name__)

Array = NDArray[np.float64]


@dataclass(frozen=True)
class FamilyMap:
    """Which family each model feature belongs to (families in catalog order)."""

    families: tuple[Family, ...]
    member: NDArray[np.int64]  # (p,) family index of each feature

    @property
    def onehot(self) -> Array:
        """(p, m) 0/1 matrix: feature j belongs to family i."""
        out = np.zeros((len(self.member), len(self.families)))
        out[np.arange(len(self.member)), self.member] = 1.0
        return out


def family_map(feature_names: tuple[str, ...] | list[str]) -> FamilyMap:
    """Map model features to their catalog families; unknown features are an error."""
    unknown = [n for n in feature_names if n not in BY_NAME]
    if unknown:
        raise KeyError(f"model features not in the catalog: {unknown}")
    fams = tuple(f for f in Family if any(BY_NAME[n].family == f for n in feature_names))
    index = {f: i for i, f in enumerate(fams)}
    member = np.array([index[BY_NAME[n].family] for n in feature_names], dtype=np.int64)
    return FamilyMap(fams, member)


def family_contributions(contrib: Array, fmap: FamilyMap) -> Array:
    """(n, m) sums of the feature contributions of each family (bias column dropped)."""
    return np.asarray(contrib[:, : len(fmap.member)] @ fmap.onehot)


def _shapley_weights(m: int) -> tuple[Array, Array]:
    """Subset membership (2^m, m) and weights W so that ``g @ W`` are Shapley values."""
    subsets = np.arange(2**m)
    member = ((subsets[:, None] >> np.arange(m)) & 1).astype(float)
    size = member.sum(axis=1).astype(int)
    fact = [math.factorial(i) for i in range(m + 1)]

    def w(s: int) -> float:  # weight of a coalition of size s joined by one more player
        return fact[s] * fact[m - s - 1] / fact[m]

    with_i = np.array([w(s - 1) if s > 0 else 0.0 for s in size])
    without_i = np.array([w(s) if s < m else 0.0 for s in size])
    weights = member * with_i[:, None] - (1.0 - member) * without_i[:, None]
    return member, weights


def shapley_impacts(
    fam: Array, bias: Array, calibrator: Calibrator, chunk_rows: int
) -> tuple[Array, Array]:
    """Exact Shapley impacts in probability points, and the base probability per row.

    ``fam`` is (n, m) family contributions on the margin, ``bias`` (n,) the expected
    value. Rows are processed ``chunk_rows`` at a time to bound the (rows x 2^m) buffer.
    """
    n, m = fam.shape
    member, weights = _shapley_weights(m)
    impacts = np.empty((n, m))
    for start in range(0, n, chunk_rows):
        sl = slice(start, start + chunk_rows)
        z = bias[sl, None] + fam[sl] @ member.T
        g = calibrator.transform(z.ravel()).reshape(z.shape)
        impacts[sl] = g @ weights
    return impacts, calibrator.transform(np.asarray(bias, dtype=float))


def _prior(frame: pd.DataFrame, now: str, window: str) -> Array:
    """Value in the 90 days before the last 90 (``<window> - <now>``), NaN if absent."""
    if now not in frame or window not in frame:
        return np.full(len(frame), np.nan)
    return frame[window].to_numpy(float) - frame[now].to_numpy(float)


def _usual_gap(frame: pd.DataFrame) -> Array:
    """The usual gap behind the overdue ratio: days since last order / ratio."""
    days = frame["days_since_last_order"].to_numpy(float)
    ratio = frame["overdue_ratio"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(ratio > 0, days / ratio, np.nan)
    if "gap_mean_days" in frame:
        gap = np.where(np.isnan(gap), frame["gap_mean_days"].to_numpy(float), gap)
    return gap


def _prior_aov(frame: pd.DataFrame) -> Array:
    spend = _prior(frame, "spend_90d", "spend_180d")
    orders = _prior(frame, "orders_90d", "orders_180d")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(orders > 0, spend / orders, np.nan)


#: How the customer's own reference is read from the snapshot, per ``own`` feature.
OWN_REFERENCE: dict[str, Callable[[pd.DataFrame], Array]] = {
    "overdue_ratio": _usual_gap,
    "orders_trend_90d": lambda f: _prior(f, "orders_90d", "orders_180d"),
    "spend_trend_90d": lambda f: _prior(f, "spend_90d", "spend_180d"),
    "aov_trend_90d": _prior_aov,
}


def resolve_reference(
    model_reference: Mapping[str, float], snapshot: pd.DataFrame, feature_names: tuple[str, ...]
) -> dict[str, float]:
    """Population references: the bundle's medians, completed from ``snapshot``.

    The bundle stores medians of active customers at the training cutoffs; a feature it
    lacks falls back to the median over ``snapshot`` (the scored, active population),
    logged as a warning so the report can say so.
    """
    out = {k: float(v) for k, v in model_reference.items()}
    missing = [n for n in feature_names if BY_NAME[n].reference == "population" and n not in out]
    for name in missing:
        out[name] = (
            float(np.nanmedian(snapshot[name].to_numpy(float))) if len(snapshot) else math.nan
        )
    if missing:
        logger.warning("reference medians computed from the scored snapshot for %s", missing)
    return out


def reference_matrix(
    snapshot: pd.DataFrame, feature_names: tuple[str, ...], population: Mapping[str, float]
) -> Array:
    """(n, p) reference value of every feature for every customer."""
    out = np.full((len(snapshot), len(feature_names)), np.nan)
    for j, name in enumerate(feature_names):
        if BY_NAME[name].reference == "own":
            if name in OWN_REFERENCE:
                out[:, j] = OWN_REFERENCE[name](snapshot)
        else:
            out[:, j] = population.get(name, math.nan)
    return out


@dataclass(frozen=True)
class ReasonTable:
    """Top-k reasons of n customers as (n, k) arrays; ``family == -1`` marks no reason."""

    family: NDArray[np.int64]
    impact: Array
    feature: NDArray[np.int64]
    value: Array
    reference: Array
    protective: NDArray[np.bool_]  # (n,) the row lists protective reasons


def _drivers(contrib: Array, x: Array, fmap: FamilyMap, sign: float) -> NDArray[np.int64]:
    """(n, m) index of the feature driving each family.

    The driver is the family feature with the largest ``sign * contribution`` among
    those with a value: a missing value can carry a contribution (LightGBM routes it),
    but its sentence would have no number. Only when no feature with a value pushes in
    the family's direction does the missing one drive.
    """
    n, m = contrib.shape[0], len(fmap.families)
    out = np.empty((n, m), dtype=np.int64)
    rows = np.arange(n)
    for i in range(m):
        members = np.flatnonzero(fmap.member == i)
        signed = sign * contrib[:, members]
        known = np.where(np.isnan(x[:, members]), -np.inf, signed)
        best_known = np.argmax(known, axis=1)
        use_known = known[rows, best_known] > 0
        out[:, i] = members[np.where(use_known, best_known, np.argmax(signed, axis=1))]
    return out


def select_reasons(
    impacts: Array,
    contrib: Array,
    x: Array,
    references: Array,
    fmap: FamilyMap,
    low_risk: NDArray[np.bool_],
    top_k: int,
    min_impact: float,
    protective: bool,
) -> ReasonTable:
    """Pick the top-k reasons per row, vectorised over customers.

    Rows not at low risk get the families raising risk by more than ``min_impact``;
    low-risk rows get nothing, or with ``protective`` the families lowering risk by more
    than ``min_impact``.
    """
    n, m = impacts.shape
    k = min(top_k, m)
    sign = np.where(low_risk, -1.0, 1.0)[:, None]
    order = np.argsort(-sign * impacts, axis=1, kind="stable")[:, :k]
    chosen = np.take_along_axis(impacts, order, axis=1)
    valid = sign * chosen > min_impact
    if not protective:
        valid &= ~low_risk[:, None]
    pos, neg = _drivers(contrib, x, fmap, 1.0), _drivers(contrib, x, fmap, -1.0)
    drivers = np.where(low_risk[:, None], neg, pos)
    feature = np.take_along_axis(drivers, order, axis=1)
    rows = np.arange(n)[:, None]
    return ReasonTable(
        family=np.where(valid, order, -1),
        impact=np.where(valid, chosen, np.nan),
        feature=np.where(valid, feature, -1),
        value=np.where(valid, x[rows, feature], np.nan),
        reference=np.where(valid, references[rows, feature], np.nan),
        protective=low_risk & protective,
    )
