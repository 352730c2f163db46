"""training.bgnbd fits the parameters lifetimes' BetaGeoFitter fits, with and without a
penalty, on simulated customers and on the bundled snapshots; bad input is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter

from training.baselines import bgnbd_inputs
from training.bgnbd import BGNBDConvergenceError, _Data, _objective, fit_bgnbd


def _simulated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customers drawn from the BG/NBD process itself (r 0.8, alpha 4, a 0.6, b 2.5)."""
    rng = np.random.default_rng(seed)
    big_t = rng.integers(4, 52, n).astype(float)
    rate = rng.gamma(0.8, 1 / 4.0, n)
    drop = rng.beta(0.6, 2.5, n)
    x, t_x, now = np.zeros(n), np.zeros(n), np.zeros(n)
    alive = np.ones(n, dtype=bool)
    for _ in range(200):
        now = now + rng.exponential(1 / rate)
        buys = alive & (now <= big_t)
        x[buys] += 1
        t_x[buys] = now[buys]
        alive = buys & (rng.random(n) >= drop)
    return x, t_x, big_t


def _lifetimes(x, t_x, big_t, penalizer: float) -> np.ndarray:
    fitted = BetaGeoFitter(penalizer_coef=penalizer).fit(x, t_x, big_t)
    return np.array([fitted.params_[k] for k in ("r", "alpha", "a", "b")])


@pytest.mark.parametrize("penalizer", [0.0, 0.01])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_lifetimes_on_simulated_customers(seed: int, penalizer: float) -> None:
    x, t_x, big_t = _simulated(3000, seed)
    ours = np.array(fit_bgnbd(x, t_x, big_t, penalizer))
    np.testing.assert_allclose(ours, _lifetimes(x, t_x, big_t, penalizer), rtol=1e-6)


def test_matches_lifetimes_on_the_bundled_snapshots(snapshots: pd.DataFrame) -> None:
    train = snapshots[snapshots["cutoff"] < snapshots["cutoff"].max()]
    x, t_x, big_t = bgnbd_inputs(train, 7.0)
    ours = np.array(fit_bgnbd(x, t_x, big_t))
    np.testing.assert_allclose(ours, _lifetimes(x, t_x, big_t, 0.0), rtol=1e-6)


def test_gradient_matches_finite_differences() -> None:
    x, t_x, big_t = _simulated(500, 3)
    data = _Data(x, t_x / big_t.max(), big_t / big_t.max())
    theta = np.log([0.7, 0.3, 0.4, 2.5])
    _, grad = _objective(theta, data, 0.05)
    eps = 1e-6
    numeric = [
        (_objective(theta + eps * e, data, 0.05)[0] - _objective(theta - eps * e, data, 0.05)[0])
        / (2 * eps)
        for e in np.eye(4)
    ]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one customer"):
        fit_bgnbd(np.array([]), np.array([]), np.array([]))
    with pytest.raises(ValueError, match="t_x <= T"):
        fit_bgnbd(np.array([1.0]), np.array([5.0]), np.array([3.0]))


def test_non_convergence_is_an_error() -> None:
    x, t_x, big_t = _simulated(200, 4)
    with pytest.raises(BGNBDConvergenceError, match="did not converge"):
        fit_bgnbd(x, t_x, big_t, tol=1e-300)
