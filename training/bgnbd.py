"""Maximum-likelihood fit of the BG/NBD model (Fader, Hardie & Lee 2005).

The objective, its optimiser and its starting point are those of lifetimes'
``BetaGeoFitter.fit`` (mean negative log-likelihood over customers on log parameters,
time scaled so the oldest customer's age is 1, an L2 penalty on the parameters, BFGS
from 0.1 with ``tol`` 1e-7), so the fitted parameters agree with it to the optimiser's
tolerance (tested). The gradient is analytic (digamma terms) instead of autograd's
traced one, and no Hessian or standard errors are computed: the baseline needs the four
parameters only. That takes a fit from about half a second to a few milliseconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import digamma, gammaln

Array = NDArray[np.float64]


class BGNBDConvergenceError(RuntimeError):
    """The optimiser stopped without converging (a larger penalty usually helps)."""


class _Data:
    """The inputs as distinct values and row indices into them: the special functions
    of the likelihood are then evaluated once per distinct value (a few hundred) and
    gathered, which gives the per-row terms bit for bit."""

    def __init__(self, x: Array, t_x: Array, big_t: Array) -> None:
        self.ux, self.ix = np.unique(x, return_inverse=True)
        self.ut, self.it = np.unique(t_x, return_inverse=True)
        self.uT, self.iT = np.unique(big_t, return_inverse=True)
        self.x = x
        self.repeat = x > 0
        self.b_shift = np.maximum(self.ux, 1) - 1


def _objective(log_params: Array, d: _Data, penalizer: float) -> Any:
    """(mean negative log-likelihood + penalty, its gradient in log parameters)."""
    r, alpha, a, b = params = np.exp(log_params)
    x, ix = d.x, d.ix
    a1 = (gammaln(r + d.ux) - gammaln(r))[ix] + r * np.log(alpha)
    a2 = (gammaln(a + b) + gammaln(b + d.ux) - gammaln(b) - gammaln(a + b + d.ux))[ix]
    log_at, log_ax = np.log(alpha + d.uT)[d.iT], np.log(alpha + d.ut)[d.it]
    a3 = -(r + x) * log_at
    b_x = (b + d.b_shift)[ix]
    a4 = np.log(a) - np.log(b_x) - (r + x) * log_ax
    top = np.maximum(a3, a4)
    e3, e4 = np.exp(a3 - top), np.exp(a4 - top) * d.repeat
    ll = a1 + a2 + np.log(e3 + e4) + top
    w3 = e3 / (e3 + e4)
    w4 = 1.0 - w3
    n = x.size
    d_r = (digamma(r + d.ux) - digamma(r))[ix] + np.log(alpha) - w3 * log_at - w4 * log_ax
    d_alpha = r / alpha - (r + x) * (w3 / (alpha + d.uT)[d.iT] + w4 / (alpha + d.ut)[d.it])
    ab = digamma(a + b) - digamma(a + b + d.ux)
    d_a = ab[ix] + w4 / a
    d_b = (ab + digamma(b + d.ux) - digamma(b))[ix] - w4 / b_x
    grad_ll = np.array([d_r.sum(), d_alpha.sum(), d_a.sum(), d_b.sum()])
    value = -ll.sum() / n + penalizer * np.sum(params**2)
    grad = (-grad_ll / n + 2.0 * penalizer * params) * params  # chain rule: d/d log p
    return value, grad


def fit_bgnbd(
    x: Array, t_x: Array, big_t: Array, penalizer: float = 0.0, tol: float = 1e-7
) -> tuple[float, float, float, float]:
    """(r, alpha, a, b) in the time unit of the inputs.

    ``x``: repeat purchases, ``t_x``: time of the last purchase since the first,
    ``big_t``: age; one entry per customer.

    Raises
    ------
    ValueError
        On empty input, negative values, or ``t_x`` > ``big_t``.
    BGNBDConvergenceError
        When the optimiser reports no convergence.
    """
    x, t_x, big_t = (np.asarray(v, dtype=np.float64) for v in (x, t_x, big_t))
    if x.size == 0:
        raise ValueError("BG/NBD needs at least one customer")
    if (x < 0).any() or (t_x < 0).any() or (t_x > big_t).any():
        raise ValueError("BG/NBD inputs need x >= 0 and 0 <= t_x <= T for every customer")
    x = np.floor(x)  # whole purchases, as lifetimes casts them
    scale = 1.0 / big_t.max()
    out = minimize(
        _objective,
        x0=0.1 * np.ones(4),
        jac=True,
        tol=tol,
        args=(_Data(x, t_x * scale, big_t * scale), penalizer),
    )
    if not out.success:
        raise BGNBDConvergenceError(f"BG/NBD fit did not converge: {out.message}")
    r, alpha, a, b = (float(v) for v in np.exp(out.x))
    return r, alpha / scale, a, b
