"""Calibration choice on validation: CV log loss decides; isotonic never outputs 0/1."""

from __future__ import annotations

import numpy as np

from training.calibrate import choose_calibrator


def test_auto_picks_sigmoid_for_logistic_data_and_isotonic_is_clipped() -> None:
    rng = np.random.default_rng(0)
    margin = rng.normal(0, 2, 3000)
    y = (rng.random(3000) < 1 / (1 + np.exp(-(0.7 * margin - 0.3)))).astype(int)
    cal, scores = choose_calibrator(margin, y, "auto", eps=1e-3, seed=1)
    assert cal.kind == "sigmoid"
    assert scores["sigmoid"] < scores["isotonic"]
    iso, _ = choose_calibrator(margin, y, "isotonic", eps=1e-3, seed=1)
    p = iso.transform(np.array([-50.0, 50.0]))
    assert p[0] >= 1e-3 and p[1] <= 1 - 1e-3


def test_auto_picks_isotonic_for_a_step_shaped_truth() -> None:
    rng = np.random.default_rng(0)
    margin = rng.normal(0, 2, 4000)
    truth = np.where(margin > 0.5, 0.9, 0.1)
    y = (rng.random(4000) < truth).astype(int)
    cal, _ = choose_calibrator(margin, y, "auto", eps=1e-3, seed=1)
    assert cal.kind == "isotonic"
