"""The calibrated-probability Shapley step over reason families (docs/reasons.md).

The impact of family ``f`` is its Shapley value in the game
``g(S) = calibrator(bias + sum_{j in S} c_j)`` over the families: exact over all
``2^m`` subsets of a row's nonzero families when there are at most
``score.shapley_max_players`` of them, else over that many players (the largest
families and two pools of the others). Efficiency gives
``base_probability + sum_f impact_f == calibrator(margin)``.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.typing import NDArray

from bundle.calibration import Calibrator

Array = NDArray[np.float64]


@functools.lru_cache(maxsize=16)
def _shapley_weights(m: int) -> tuple[Array, Array]:
    """Subset membership (2^m, m) and weights W so that ``g @ W`` are Shapley values.

    Cached per ``m`` (read-only arrays): a constant of the model, not of the rows.
    """
    subsets = np.arange(2**m)
    member = ((subsets[:, None] >> np.arange(m)) & 1).astype(float)
    size = member.sum(axis=1).astype(int)
    fact = [math.factorial(i) for i in range(m + 1)]

    def w(s: int) -> float:  # weight of a coalition of size s joined by one more player
        return fact[s] * fact[m - s - 1] / fact[m]

    with_i = np.array([w(s - 1) if s > 0 else 0.0 for s in size])
    without_i = np.array([w(s) if s < m else 0.0 for s in size])
    weights = member * with_i[:, None] - (1.0 - member) * without_i[:, None]
    member.flags.writeable = False
    weights.flags.writeable = False
    return member, weights


def _exact_impacts(
    fam: Array, bias: Array, calibrator: Calibrator, chunk_rows: int
) -> tuple[Array, Array]:
    """Exact Shapley values of the players ``fam`` (n, m) from all ``2^m`` subsets."""
    n, m = fam.shape
    member, weights = _shapley_weights(m)
    impacts = np.empty((n, m))
    for start in range(0, n, chunk_rows):
        sl = slice(start, start + chunk_rows)
        z = bias[sl, None] + fam[sl] @ member.T
        g = calibrator.transform(z.ravel()).reshape(z.shape)
        impacts[sl] = g @ weights
    return impacts, calibrator.transform(np.asarray(bias, dtype=float))


def _players(fam: Array, max_players: int) -> tuple[Array, NDArray[np.int64], Array]:
    """At most ``max_players`` players per row, and how to map them back to families.

    A row with at most ``max_players`` nonzero families keeps them all (the rest, zero,
    are null players). Otherwise the ``max_players - 2`` largest ``|c_f|`` stay players
    and the other families join one player of their positive and one of their negative
    contributions. Returns the players' contributions (n, max_players), the family
    index of each singleton column (n, max_players - 2), and the grouped families'
    contributions (n, m; 0 for singletons and for rows that group nothing).
    """
    n = fam.shape[0]
    keep = max_players - 2
    order = np.argsort(-np.abs(fam), axis=1, kind="stable")
    rows = np.arange(n)[:, None]
    grouped = (np.abs(fam) > 0).sum(axis=1) > max_players
    rest = np.where(grouped[:, None], fam, 0.0)
    rest[rows, order[:, :keep]] = 0.0
    players = np.take_along_axis(fam, order[:, :max_players], axis=1)
    players[grouped, keep] = np.where(rest > 0, rest, 0.0).sum(axis=1)[grouped]
    players[grouped, keep + 1] = np.where(rest < 0, rest, 0.0).sum(axis=1)[grouped]
    return players, order[:, :max_players], rest


def shapley_impacts(
    fam: Array,
    bias: Array,
    calibrator: Calibrator,
    chunk_rows: int,
    max_players: int | None = None,
) -> tuple[Array, Array]:
    """Shapley impacts in probability points, and the base probability per row.

    ``fam`` is (n, m) family contributions on the margin, ``bias`` (n,) the expected
    value. Exact over every family when ``max_players`` is None or ``m <= max_players``.
    Otherwise exact over each row's nonzero families when there are at most
    ``max_players`` of them (a zero family is a null player: its value is 0 and it
    changes no other value); a row with more keeps its ``max_players - 2`` largest
    families as players and pools the others into one positive and one negative player,
    whose Shapley values are shared among their members in proportion to their
    contributions (each member keeps its sign). Either way ``base + sum(impacts)`` is
    the probability exactly (efficiency), and the cost is ``2^max_players`` calibrator
    evaluations per row instead of ``2^m``. Rows go ``chunk_rows`` at a time to bound
    the (rows x subsets) buffer.
    """
    n, m = fam.shape
    if max_players is None or m <= max_players:
        return _exact_impacts(fam, bias, calibrator, chunk_rows)
    players, index, rest = _players(fam, max_players)
    phi, base = _exact_impacts(players, bias, calibrator, chunk_rows)
    keep = max_players - 2
    grouped = np.abs(rest).sum(axis=1) > 0
    impacts = np.zeros((n, m))
    rows = np.arange(n)[:, None]
    single = np.where(grouped[:, None], np.arange(max_players) < keep, True)
    impacts[np.broadcast_to(rows, index.shape)[single], index[single]] = phi[single]
    for col, part in (
        (keep, np.where(rest > 0, rest, 0.0)),
        (keep + 1, np.where(rest < 0, rest, 0.0)),
    ):
        total = players[:, col : col + 1]
        share = np.divide(
            part, total, out=np.zeros_like(part), where=grouped[:, None] & (total != 0)
        )
        impacts += share * phi[:, col : col + 1]
    return impacts, base
