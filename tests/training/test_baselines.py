"""Baselines: BG/NBD P(no order in H) checked by numerical integration and against
lifetimes' P(alive); serialisation round trip; fitted on training rows only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter
from scipy import integrate, stats

from config.root import load_params
from config.scoring import RulesParams
from config.training import BaselineParams, SplitParams, TrainParams, TuningParams
from training.baselines import Baselines, BGNBDBaseline, bgnbd_inputs, fit_baselines
from training.pipeline import fit_all
from training.split import make_split, part

from .conftest import ROOT

MODEL = BGNBDBaseline(r=0.5, alpha=30.0, a=0.1, b=2.0, unit_days=1.0, horizon_days=90.0)


def _frame(orders: list[int], tenure: list[float], since: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"orders_lifetime": orders, "tenure_days": tenure, "days_since_last_order": since}
    )


def test_bgnbd_inputs_from_features() -> None:
    x, t_x, big_t = bgnbd_inputs(_frame([1, 5], [100.0, 200.0], [100.0, 20.0]), 1.0)
    assert x.tolist() == [0, 4]
    assert t_x.tolist() == [0.0, 180.0]
    assert big_t.tolist() == [100.0, 200.0]
    _, t_w, big_tw = bgnbd_inputs(_frame([5], [210.0], [7.0]), 7.0)
    assert (t_w[0], big_tw[0]) == (29.0, 30.0)


def test_p_alive_matches_lifetimes() -> None:
    bgf = BetaGeoFitter()
    bgf.params_ = pd.Series({"r": MODEL.r, "alpha": MODEL.alpha, "a": MODEL.a, "b": MODEL.b})
    x, t_x, big_t = np.array([0.0, 2, 10]), np.array([0.0, 50, 190]), np.array([100.0, 200, 200])
    ours = MODEL.p_alive(x, t_x, big_t)
    theirs = bgf.conditional_probability_alive(x, t_x, big_t)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)


def test_p0_equals_integral_over_the_rate_posterior() -> None:
    frame = _frame([4], [200.0], [60.0])
    x, t_x, big_t = bgnbd_inputs(frame, 1.0)
    alive = MODEL.p_alive(x, t_x, big_t)[0]
    shape, rate = MODEL.r + x[0], MODEL.alpha + big_t[0]
    silent, _ = integrate.quad(
        lambda lam: np.exp(-lam * 90.0) * stats.gamma.pdf(lam, shape, scale=1 / rate), 0, np.inf
    )
    assert MODEL.predict_proba(frame)[0] == pytest.approx(1 - alive + alive * silent, rel=1e-8)


def test_p0_is_not_one_minus_p_alive_for_one_time_buyers() -> None:
    # One-time buyers have P(alive) = 1, so 1 - P(alive) = 0 would rank them safest;
    # P(no order in H) still grows with how long they have been silent.
    p = MODEL.predict_proba(_frame([1, 1], [30.0, 300.0], [30.0, 300.0]))
    assert 0 < p[0] < p[1] < 1


def test_fit_and_round_trip(snapshots: pd.DataFrame) -> None:
    train = snapshots[snapshots["cutoff"] < snapshots["cutoff"].max()]
    fitted = fit_baselines(train, BaselineParams(), RulesParams(), 90)
    again = Baselines.from_dict(fitted.to_dict())
    test = snapshots[snapshots["cutoff"] == snapshots["cutoff"].max()]
    for name, p in fitted.predict(test).items():
        np.testing.assert_allclose(again.predict(test)[name], p)
        assert ((p > 0) & (p < 1)).all(), name
    # the recency baseline ranks exactly by days since the last order
    order = np.argsort(test["days_since_last_order"].to_numpy())
    assert np.all(np.diff(fitted.predict(test)["recency"][order]) >= 0)


def test_missing_feature_is_named() -> None:
    with pytest.raises(KeyError, match="tenure_days"):
        bgnbd_inputs(pd.DataFrame({"orders_lifetime": [1]}), 1.0)


def test_fit_all_fits_the_baselines_on_training_rows_only(snapshots: pd.DataFrame) -> None:
    """Baselines from ``fit_all`` equal baselines fitted on the training cutoffs alone,
    and not those fitted on training + validation (or all) rows."""
    cfg = load_params(ROOT / "params.yaml").model_copy(
        update={
            "seed": 0,
            "split": SplitParams(),
            "train": TrainParams(num_boost_round=20, early_stopping_rounds=5, num_threads=1),
            "tuning": TuningParams(enabled=False),
        }
    )
    split = make_split(snapshots, cfg.features.horizon_days, cfg.split)
    fitted = fit_all(snapshots, split, cfg)
    horizon = cfg.features.horizon_days

    def fit_on(frame: pd.DataFrame) -> dict:
        return fit_baselines(frame, cfg.baselines, cfg.rules, horizon).to_dict()

    assert fitted.baselines.to_dict() == fit_on(part(snapshots, split.train))
    wider = part(snapshots, (*split.train, split.valid))
    assert fitted.baselines.to_dict() != fit_on(wider)
    assert fitted.baselines.to_dict() != fit_on(snapshots)
