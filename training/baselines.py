"""Baselines fitted on the same training cutoffs and scored on the same test cutoff.

- ``recency``: days since the last order, mapped to a probability by a one-feature
  logistic regression on ``log1p(days)`` (monotone, so its ranking is the raw recency).
- ``rules``: the vendor rules (:mod:`bundle.rules`); the score is the number of rules
  that fire, mapped to the training churn rate per count.
- ``logreg``: logistic regression on log1p-scaled, standardised RFM features.
- ``bgnbd``: BG/NBD (fitted as lifetimes' ``BetaGeoFitter`` fits it,
  :mod:`training.bgnbd`) probability of **no order in the horizon** -- not
  1 - P(alive), which ranks one-time buyers wrongly.

Each baseline serialises to a JSON-friendly dict, so ``train`` writes them once and
``evaluate`` scores the test cutoff with exactly the fitted baselines.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from bundle.rules import evaluate_rules
from config.scoring import RulesParams
from config.training import BaselineParams
from training.bgnbd import BGNBDConvergenceError, fit_bgnbd

logger = logging.getLogger(__name__)
Array = NDArray[np.float64]
_BGNBD_RETRIES = 3


def _column(frame: pd.DataFrame, name: str) -> Array:
    if name not in frame.columns:
        raise KeyError(f"baseline needs feature column {name!r}, which the frame lacks")
    values = frame[name].to_numpy(dtype=np.float64)
    if np.isnan(values).any():
        raise ValueError(f"feature column {name!r} has {int(np.isnan(values).sum())} NaN rows")
    return values


def _log1p_matrix(frame: pd.DataFrame, names: tuple[str, ...]) -> Array:
    """log1p of each feature (negatives clipped to 0: net refunds are no spend)."""
    return np.column_stack([np.log1p(np.clip(_column(frame, n), 0, None)) for n in names])


@dataclass(frozen=True)
class LogRegBaseline:
    """Logistic regression on standardised log1p(RFM)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    @classmethod
    def fit(cls, frame: pd.DataFrame, y: NDArray[Any], features: tuple[str, ...], c: float):
        """Fit on the training rows (L2 penalty strength ``1 / c``)."""
        x = _log1p_matrix(frame, features)
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale[scale == 0] = 1.0
        lr = LogisticRegression(C=c, solver="lbfgs", max_iter=2000)
        lr.fit((x - mean) / scale, np.asarray(y))
        return cls(
            features=features,
            mean=tuple(map(float, mean)),
            scale=tuple(map(float, scale)),
            coef=tuple(map(float, lr.coef_[0])),
            intercept=float(lr.intercept_[0]),
        )

    def predict_proba(self, frame: pd.DataFrame) -> Array:
        x = (_log1p_matrix(frame, self.features) - np.array(self.mean)) / np.array(self.scale)
        return np.asarray(expit(x @ np.array(self.coef) + self.intercept))


@dataclass(frozen=True)
class RecencyBaseline:
    """P(churn) = expit(a * log1p(days_since_last_order) + b)."""

    a: float
    b: float

    @classmethod
    def fit(cls, frame: pd.DataFrame, y: NDArray[Any]) -> RecencyBaseline:
        fitted = LogRegBaseline.fit(frame, y, ("days_since_last_order",), c=1e6)
        a = fitted.coef[0] / fitted.scale[0]
        return cls(a=a, b=fitted.intercept - a * fitted.mean[0])

    def predict_proba(self, frame: pd.DataFrame) -> Array:
        days = np.log1p(np.clip(_column(frame, "days_since_last_order"), 0, None))
        return np.asarray(expit(self.a * days + self.b))


def rule_count(frame: pd.DataFrame, params: RulesParams) -> NDArray[np.int64]:
    """How many vendor rules fire per row."""
    return evaluate_rules(frame, params).sum(axis=1).to_numpy(dtype=np.int64)


@dataclass(frozen=True)
class RulesBaseline:
    """The vendor rules; probability = training churn rate per number of rules fired.

    Rates use add-one smoothing so a count unseen in training is not 0 or 1.
    """

    rates: tuple[float, ...]

    @classmethod
    def fit(cls, frame: pd.DataFrame, y: NDArray[Any], params: RulesParams) -> RulesBaseline:
        counts = rule_count(frame, params)
        y_arr = np.asarray(y, dtype=np.float64)
        prior = float(y_arr.mean())
        n_rules = evaluate_rules(frame.head(0), params).shape[1]
        rates = []
        for k in range(n_rules + 1):
            mask = counts == k
            rates.append((y_arr[mask].sum() + prior) / (mask.sum() + 1.0))
        return cls(rates=tuple(float(r) for r in rates))

    def predict_proba(self, frame: pd.DataFrame, params: RulesParams) -> Array:
        counts = np.clip(rule_count(frame, params), 0, len(self.rates) - 1)
        return np.asarray(self.rates, dtype=np.float64)[counts]


def bgnbd_inputs(frame: pd.DataFrame, unit_days: float) -> tuple[Array, Array, Array]:
    """BG/NBD ``(x, t_x, T)`` from catalog features, in units of ``unit_days``.

    x = repeat orders = orders_lifetime - 1; t_x = time of the last order since the
    first = tenure_days - days_since_last_order; T = tenure_days.
    """
    orders = _column(frame, "orders_lifetime")
    tenure = _column(frame, "tenure_days")
    since = _column(frame, "days_since_last_order")
    x = np.clip(orders - 1, 0, None)
    t_x = np.where(x > 0, np.clip(tenure - since, 0, None), 0.0) / unit_days
    return x, np.minimum(t_x, tenure / unit_days), tenure / unit_days


@dataclass(frozen=True)
class BGNBDBaseline:
    """BG/NBD (:func:`training.bgnbd.fit_bgnbd`); scores P(no order in the next
    ``horizon`` days)."""

    r: float
    alpha: float
    a: float
    b: float
    unit_days: float
    horizon_days: float

    @classmethod
    def fit(cls, frame: pd.DataFrame, params: BaselineParams, horizon_days: int):
        """Maximum-likelihood fit on the training snapshots' (x, t_x, T)."""
        x, t_x, big_t = bgnbd_inputs(frame, params.bgnbd_time_unit_days)
        penalizer = params.bgnbd_penalizer
        for attempt in range(_BGNBD_RETRIES + 1):
            try:
                r, alpha, a, b = fit_bgnbd(x, t_x, big_t, penalizer)
                break
            except BGNBDConvergenceError:
                if attempt == _BGNBD_RETRIES:
                    raise
                # lifetimes' own advice: a small L2 penalty on the parameters helps the
                # optimiser when a sample has few repeat buyers.
                penalizer = max(penalizer * 10, 1e-3)
                logger.warning("BG/NBD did not converge; retrying with penalizer %g", penalizer)
        logger.info("BG/NBD fit: r=%.4g alpha=%.4g a=%.4g b=%.4g", r, alpha, a, b)
        return cls(r, alpha, a, b, params.bgnbd_time_unit_days, float(horizon_days))

    def p_alive(self, x: Array, t_x: Array, big_t: Array) -> Array:
        """P(alive | x, t_x, T) (Fader, Hardie & Lee 2005); 1 for no repeat orders."""
        log_div = (self.r + x) * np.log((self.alpha + big_t) / (self.alpha + t_x)) + np.log(
            self.a / (self.b + np.maximum(x, 1) - 1)
        )
        return np.where(x == 0, 1.0, expit(-log_div))

    def predict_proba(self, frame: pd.DataFrame) -> Array:
        """P0 = 1 - p_alive + p_alive * ((alpha + T) / (alpha + T + H))^(r + x).

        Alive customers buy at a Gamma(r + x, alpha + T) posterior rate, so their chance
        of no order in H is the Poisson zero term averaged over that posterior; a dead
        customer never orders again.
        """
        x, t_x, big_t = bgnbd_inputs(frame, self.unit_days)
        h = self.horizon_days / self.unit_days
        alive = self.p_alive(x, t_x, big_t)
        silent = ((self.alpha + big_t) / (self.alpha + big_t + h)) ** (self.r + x)
        return np.asarray(1.0 - alive + alive * silent)


@dataclass(frozen=True)
class Baselines:
    """All fitted baselines, scored together."""

    recency: RecencyBaseline
    rules: RulesBaseline
    logreg: LogRegBaseline
    bgnbd: BGNBDBaseline
    rules_params: RulesParams

    def predict(self, frame: pd.DataFrame) -> dict[str, Array]:
        """Probability of churn per baseline name."""
        return {
            "recency": self.recency.predict_proba(frame),
            "rules": self.rules.predict_proba(frame, self.rules_params),
            "logreg": self.logreg.predict_proba(frame),
            "bgnbd": self.bgnbd.predict_proba(frame),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "recency": self.recency.__dict__,
            "rules": {"rates": list(self.rules.rates)},
            "logreg": {
                k: (list(v) if isinstance(v, tuple) else v) for k, v in self.logreg.__dict__.items()
            },
            "bgnbd": self.bgnbd.__dict__,
            "rules_params": self.rules_params.model_dump(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Baselines:
        lr = d["logreg"]
        return cls(
            recency=RecencyBaseline(**d["recency"]),
            rules=RulesBaseline(rates=tuple(d["rules"]["rates"])),
            logreg=LogRegBaseline(
                features=tuple(lr["features"]),
                mean=tuple(lr["mean"]),
                scale=tuple(lr["scale"]),
                coef=tuple(lr["coef"]),
                intercept=float(lr["intercept"]),
            ),
            bgnbd=BGNBDBaseline(**d["bgnbd"]),
            rules_params=RulesParams.model_validate(d["rules_params"]),
        )


def fit_baselines(
    train: pd.DataFrame,
    params: BaselineParams,
    rules_params: RulesParams,
    horizon_days: int,
) -> Baselines:
    """Fit every baseline on the training snapshots (label column ``label``)."""
    y = train["label"].to_numpy()
    return Baselines(
        recency=RecencyBaseline.fit(train, y),
        rules=RulesBaseline.fit(train, y, rules_params),
        logreg=LogRegBaseline.fit(train, y, params.logreg_features, params.logreg_c),
        bgnbd=BGNBDBaseline.fit(train, params, horizon_days),
        rules_params=rules_params,
    )
