"""The served calibration is chosen on the selection folds, forward-chained, never on
the test cutoff (``train.calibration: auto`` with ``split.window: all_labelled``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from config.root import load_params
from training.pipeline import fit_all, selection_splits
from training.recalibrate import MIN_FOLDS, FoldMargins, choose, fit_shift
from training.split import labelled_cutoffs, split_cutoffs

from .conftest import ROOT, make_snapshots

H = 90


def _folds(offsets: list[float], n: int = 4000, seed: int = 0) -> list[FoldMargins]:
    """Folds whose true log-odds are the margin + offset (offset 0: calibrated)."""
    rng = np.random.default_rng(seed)
    out = []
    for k, off in enumerate(offsets):
        margin = rng.normal(-0.3, 1.2, n)
        y = (rng.random(n) < expit(margin + off)).astype(np.int64)
        out.append(FoldMargins(pd.Timestamp("2021-01-01") + pd.Timedelta(days=30 * k), margin, y))
    return out


def test_too_few_folds_keep_identity_and_say_why() -> None:
    calibrator, record = choose(_folds([0.8] * (MIN_FOLDS - 1)))
    assert calibrator.kind == "identity"
    assert "at least 3" in record["calibration_choice"]


def test_a_persistent_base_rate_shift_is_corrected() -> None:
    calibrator, record = choose(_folds([0.8, 0.8, 0.8, 0.8]))
    assert record["calibration_choice"] in ("shift", "sigmoid")
    means = record["calibration_mean_brier"]
    assert means[record["calibration_choice"]] < means["identity"]
    assert calibrator.transform(np.array([0.0]))[0] == pytest.approx(expit(0.8), abs=0.03)


def test_a_calibrated_model_keeps_identity() -> None:
    calibrator, record = choose(_folds([0.0, 0.0, 0.0, 0.0]))
    assert record["calibration_choice"] == "identity", record
    assert calibrator.kind == "identity"


def test_shift_matches_the_mean_and_survives_one_class() -> None:
    margin = np.linspace(-2, 2, 101)
    y = (margin > 1.0).astype(int)
    cal = fit_shift(margin, y)
    assert cal.transform(margin).mean() == pytest.approx(y.mean(), abs=1e-9)
    assert fit_shift(margin, np.zeros(101)).b == 0.0


def test_fit_all_chooses_on_folds_before_the_test_cutoff() -> None:
    """Churn rises cutoff after cutoff: the model trained on earlier cutoffs under-predicts,
    the forward-chained folds show it, and the served calibration corrects it."""
    snapshots = make_snapshots(n_customers=1500, n_cutoffs=9, seed=4)
    rng = np.random.default_rng(9)
    cutoffs = labelled_cutoffs(snapshots)
    step = {c: 0.08 * k for k, c in enumerate(cutoffs)}  # churn share added per cutoff
    flip = rng.random(len(snapshots)) < snapshots["cutoff"].map(step).to_numpy()
    snapshots.loc[flip, "label"] = 1
    cfg = load_params(ROOT / "params.yaml")
    cfg = cfg.model_copy(update={"tuning": cfg.tuning.model_copy(update={"enabled": False})})
    params = cfg.train.model_copy(update={"calibration": "auto", "num_boost_round": 40})
    split = split_cutoffs(cutoffs, H, cfg.split, test=cutoffs[-1])
    model = fit_all(snapshots, split, cfg, params=params).model
    meta = model.metadata
    used = [pd.Timestamp(c) for c in meta["calibration_cutoffs"]]
    folds = selection_splits(snapshots, H, cfg.split, split.test, cfg.tuning.selection_folds)
    assert used == [f.test for f in folds] and len(used) >= MIN_FOLDS
    assert all(c + pd.Timedelta(days=H) <= split.test for c in used)  # labels end by T
    assert meta["calibration_choice"] in ("shift", "sigmoid")
    drift = meta["calibration_folds"]
    assert [d["cutoff"] for d in drift] == [c.date().isoformat() for c in used]
    assert all(d["mean_probability"] < d["churn_rate"] for d in drift[1:])  # under-predicts
    test = snapshots.loc[snapshots["cutoff"] == split.test]
    p = model.predict_proba(test)
    plain = expit(model.margin(test))
    rate = test["label"].mean()
    assert abs(p.mean() - rate) < abs(plain.mean() - rate)
