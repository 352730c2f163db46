"""Per-customer reason codes: family contributions, probability impacts, top-k reasons.

Definitions (also in docs/reasons.md):

- **Family contribution** ``c_f``: the sum of the TreeSHAP margin contributions of the
  features of family ``f`` (catalog families), so correlated features of one cause are
  not split into several small reasons.
- **Impact** (probability points): the Shapley value of family ``f`` in the game
  ``g(S) = calibrator(bias + sum_{j in S} c_j)`` over the families, computed exactly
  from all ``2^m`` subsets of a row's nonzero families when there are at most
  ``score.shapley_max_players`` of them, else over that many players (the largest
  families and two pools of the others; :func:`shapley_impacts`). Efficiency gives
  ``base_probability + sum_f impact_f == calibrator(margin) == churn probability``, with
  ``base_probability = calibrator(bias)`` (``bias`` = TreeSHAP expected value). For a
  linear map this equals the probability with and without ``c_f``; for the non-linear
  calibration it shares the interaction terms fairly instead of double counting them.
- **Reason**: a family with impact above ``reasons.min_impact``, top ``k`` by impact;
  its driving feature is the family's feature with the largest positive contribution
  among those whose value differs from its reference in the risky direction
  (:func:`eligible`); a family with no such feature is no reason for that customer.
  Customers at ``low`` risk get no reasons, or (``low_risk_mode: protective``) the
  families that lower their risk the most, coded ``PROTECT_<FAMILY>``.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from features.catalog import BY_NAME, Family
from features.wording import MISSING_IS_RISK, NEUTRAL, RISKY

logger = logging.getLogger(__name__)

Array = NDArray[np.float64]


@dataclass(frozen=True)
class FamilyMap:
    """Which family each model feature belongs to (families in catalog order)."""

    families: tuple[Family, ...]
    member: NDArray[np.int64]  # (p,) family index of each feature
    names: tuple[str, ...]  # (p,) the model's feature names

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
    return FamilyMap(fams, member, tuple(feature_names))


def family_contributions(contrib: Array, fmap: FamilyMap) -> Array:
    """(n, m) sums of the feature contributions of each family (bias column dropped)."""
    return np.asarray(contrib[:, : len(fmap.member)] @ fmap.onehot)


def _prior(frame: pd.DataFrame, now: str, window: str) -> Array:
    """Value in the 90 days before the last 90 (``<window> - <now>``), NaN if absent."""
    if now not in frame or window not in frame:
        return np.full(len(frame), np.nan)
    return frame[window].to_numpy(float) - frame[now].to_numpy(float)


def _usual_gap(frame: pd.DataFrame) -> Array:
    """The usual gap behind the overdue ratio: days since last order / ratio.

    A one-order customer has no usual gap (features use the assumed
    ``features.single_order_gap_days``): NaN, so no sentence quotes the assumption.
    """
    days = frame["days_since_last_order"].to_numpy(float)
    ratio = frame["overdue_ratio"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(ratio > 0, days / ratio, np.nan)
    if "gap_mean_days" in frame:
        mean_gap = frame["gap_mean_days"].to_numpy(float)
        gap = np.where(np.isnan(gap), mean_gap, gap)
        gap = np.where(np.isnan(mean_gap), np.nan, gap)  # one order: no usual gap
    if "orders_lifetime" in frame:
        gap = np.where(frame["orders_lifetime"].to_numpy(float) <= 1, np.nan, gap)
    return gap


def _prior_aov(frame: pd.DataFrame) -> Array:
    spend = _prior(frame, "spend_90d", "spend_180d")
    orders = _prior(frame, "orders_90d", "orders_180d")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(orders > 0, spend / orders, np.nan)


#: How the customer's own reference is read from the snapshot, per ``own`` feature.
OWN_REFERENCE: dict[str, Callable[[pd.DataFrame], Array]] = {
    "overdue_ratio": _usual_gap,
    "overdue_days": lambda f: (
        f["gap_mean_days"].to_numpy(float) if "gap_mean_days" in f else np.full(len(f), np.nan)
    ),
    "orders_trend_90d": lambda f: _prior(f, "orders_90d", "orders_180d"),
    "spend_trend_90d": lambda f: _prior(f, "spend_90d", "spend_180d"),
    "aov_trend_90d": _prior_aov,
    # Signals (issue 14): complaints in the 90 days before the last 30.
    "complaints_30d": lambda f: _prior(f, "complaints_30d", "complaints_120d"),
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


# Decimals a value is shown with, per catalog unit: a value and a reference that print
# the same ("1 order (active customers: 1)") are no difference.
_SHOWN_DECIMALS: dict[str, int] = {
    "days": 0, "orders": 1, "products": 1, "categories": 1, "currency": 0, "share": 3,
    "ratio": 3, "tier": 0,
}  # fmt: skip


@dataclass(frozen=True)
class _Directions:
    """Per-feature constants of :func:`eligible` for one model's feature order."""

    population: NDArray[np.bool_]  # (p,) compared with the population reference
    neutral: Array  # (p,) the neutral point of ``own`` features (NaN: none)
    risky: Array  # (p,) +1 / -1 from RISKY
    decimals: tuple[tuple[int, NDArray[np.intp]], ...]  # shown decimals -> columns
    missing_is_risk: NDArray[np.bool_]  # (p,)
    no_reference_is_risk: NDArray[np.bool_]  # (p,) overdue_ratio: a value, no usual gap


@functools.lru_cache(maxsize=32)
def _directions(names: tuple[str, ...]) -> _Directions:
    features = [BY_NAME[name] for name in names]
    shown = np.array([_SHOWN_DECIMALS.get(f.unit, 3) for f in features], dtype=np.intp)
    return _Directions(
        population=np.array([f.reference == "population" for f in features], dtype=bool),
        neutral=np.array([NEUTRAL.get(name, np.nan) for name in names], dtype=np.float64),
        risky=np.array([RISKY[name] for name in names], dtype=np.float64),
        decimals=tuple((int(d), np.flatnonzero(shown == d)) for d in np.unique(shown)),
        missing_is_risk=np.array([name in MISSING_IS_RISK for name in names], dtype=bool),
        no_reference_is_risk=np.array([name == "overdue_ratio" for name in names], dtype=bool),
    )


def _round_shown(values: Array, decimals: tuple[tuple[int, NDArray[np.intp]], ...]) -> Array:
    """Each column rounded to the decimals it is shown with."""
    out = np.empty_like(values)
    for places, columns in decimals:
        out[:, columns] = np.round(values[:, columns], places)
    return out


def eligible(x: Array, references: Array, names: tuple[str, ...], sign: float) -> NDArray[np.bool_]:
    """(n, p) the feature's value reads as a risk (``sign`` +1) or protection (-1).

    A value qualifies when it differs, as shown, from its comparison point in the risky
    direction of :data:`features.wording.RISKY` (the reverse for protection): the
    population median, or for ``own`` features the neutral point of
    :data:`features.wording.NEUTRAL`. A missing value qualifies as a risk only where
    missingness is itself the fact (one or two orders so far), and so does a one-order
    customer's overdue ratio (no usual gap: its sentence says so). Vectorised over
    features with per-model constants: one request scores one row, where a loop over
    the features cost more than the arithmetic.
    """
    d = _directions(tuple(names))
    x = np.asarray(x, dtype=np.float64)
    point = np.where(d.population, references, d.neutral)
    with np.errstate(invalid="ignore"):
        diff = _round_shown(x, d.decimals) - _round_shown(point, d.decimals)
        out = sign * d.risky * diff > 0
    if sign > 0:
        missing = np.isnan(x)
        out |= d.missing_is_risk & missing
        out |= d.no_reference_is_risk & ~missing & np.isnan(references)
    return out


def _drivers(
    contrib: Array, ok: NDArray[np.bool_], fmap: FamilyMap, sign: float
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """(n, m) index of the feature driving each family, and whether there is one.

    The driver is the family feature with the largest ``sign * contribution`` among
    those whose value reads in that direction (``ok``, from :func:`eligible`). A family
    without such a feature is no reason for that customer, whatever its impact: its
    sentence would state a value no worse than the reference.
    """
    n, m = contrib.shape[0], len(fmap.families)
    out = np.empty((n, m), dtype=np.int64)
    found = np.empty((n, m), dtype=bool)
    rows = np.arange(n)
    for i in range(m):
        members = np.flatnonzero(fmap.member == i)
        signed = np.where(ok[:, members], sign * contrib[:, members], -np.inf)
        best = np.argmax(signed, axis=1)
        out[:, i] = members[best]
        found[:, i] = signed[rows, best] > 0
    return out, found


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
    than ``min_impact``. A family counts only with a driving feature whose value reads
    in its direction (:func:`eligible`); the next family takes a skipped one's place.
    """
    n, m = impacts.shape
    k = min(top_k, m)
    pos, pos_found = _drivers(contrib, eligible(x, references, fmap.names, 1.0), fmap, 1.0)
    neg, neg_found = _drivers(contrib, eligible(x, references, fmap.names, -1.0), fmap, -1.0)
    drivers = np.where(low_risk[:, None], neg, pos)
    found = np.where(low_risk[:, None], neg_found, pos_found)
    sign = np.where(low_risk, -1.0, 1.0)[:, None]
    key = np.where(found, sign * impacts, -np.inf)
    order = np.argsort(-key, axis=1, kind="stable")[:, :k]
    chosen = np.take_along_axis(impacts, order, axis=1)
    valid = np.take_along_axis(key, order, axis=1) > min_impact
    if not protective:
        valid &= ~low_risk[:, None]
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
