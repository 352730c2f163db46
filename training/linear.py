"""Fit the linear part of a blended model (:mod:`bundle.linear`) on training rows.

L2-regularised logistic regression with the same objective as scikit-learn's
``LogisticRegression(C=c)`` (``c * sum(log loss) + |coef|^2 / 2``, intercept not
penalised), solved with bounded L-BFGS so that a feature with a catalog ``direction``
gets a coefficient of that sign (or 0): like the booster's monotone constraints, the
served probability can only rise with ``days_since_last_order``, whatever the
correlations between features.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from bundle.linear import LinearPart, fit_transform_stats
from features.catalog import BY_NAME


def _objective(
    theta: NDArray[np.float64], z: NDArray[np.float64], s: NDArray[np.float64], c: float
) -> tuple[float, NDArray[np.float64]]:
    """(loss, gradient) of ``c * sum(log(1 + exp(-s * m))) + |coef|^2 / 2``."""
    coef, b = theta[:-1], theta[-1]
    m = z @ coef + b
    loss = c * float(np.logaddexp(0.0, -s * m).sum()) + 0.5 * float(coef @ coef)
    g = -s * c / (1.0 + np.exp(s * m))  # d loss / d m
    return loss, np.append(z.T @ g + coef, g.sum())


def fit_linear(
    rows: pd.DataFrame,
    names: list[str],
    c: float,
    monotone: bool = True,
    threads: int = 1,
    winsor: float = 0.0,
) -> LinearPart:
    """Logistic regression of ``label`` on the symlog, median-filled, standardised
    features ``names`` of ``rows``, each winsorised at its training ``winsor`` quantiles
    (:func:`bundle.linear.fit_transform_stats`); coefficient signs follow the catalog
    directions when ``monotone``. Deterministic (no random start).

    The solver's matrix products run on ``threads`` BLAS threads (``train.num_threads``,
    like the booster): on a few thousand rows more threads only add synchronisation,
    several times the whole fit on a busy machine.

    Raises
    ------
    ValueError
        When the rows hold only one label class, or the solver does not converge.
    """
    y = rows["label"].to_numpy()
    if len(np.unique(y)) < 2:
        raise ValueError("linear part: the training rows hold only one label class")
    z, fill, mean, scale, low, high = fit_transform_stats(
        rows.loc[:, names].to_numpy(dtype=np.float64), winsor
    )
    s = np.where(y == 1, 1.0, -1.0)
    bounds: list[tuple[float | None, float | None]] = []
    for name in names:
        direction = BY_NAME[name].direction if monotone and name in BY_NAME else 0
        bounds.append(
            (0.0, None) if direction > 0 else (None, 0.0) if direction < 0 else (None, None)
        )
    bounds.append((None, None))  # intercept
    rate = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    start = np.append(np.zeros(z.shape[1]), np.log(rate / (1 - rate)))
    with threadpool_limits(limits=threads, user_api="blas"):
        res = minimize(
            _objective, start, args=(z, s, c), jac=True, method="L-BFGS-B", bounds=bounds,
            options={"maxiter": 10000, "gtol": 1e-10, "ftol": 1e-15},
        )  # fmt: skip
    if not res.success and "ABNORMAL" not in str(res.message):
        raise ValueError(f"linear part: the solver did not converge: {res.message}")
    return LinearPart(
        fill=tuple(float(v) for v in fill),
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        coef=tuple(float(v) for v in res.x[:-1]),
        intercept=float(res.x[-1]),
        c=float(c),
        low=tuple(float(v) for v in low),
        high=tuple(float(v) for v in high),
    )
