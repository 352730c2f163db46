"""Bootstrap metrics computed for many resamples at once.

A bootstrap resample of ``n`` rows is fully described by how many times it draws each
row (its count vector), and ROC-AUC and average precision of a resample are
sums over the distinct score levels weighted by those counts. So instead of sorting
and ranking every resample (``n_boot`` sorts), each score vector is sorted once and a
chunk of resamples is scored with a few array reductions over a (resamples x rows)
count matrix. The resamples themselves are drawn exactly as before (same generator
calls in the same order), so the intervals are those of the per-resample loop:
ROC-AUC is bit-identical (its Mann-Whitney sums are exact in float64), and so is
average precision (each resample sums the same terms in the same order).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

#: Cells of one (resamples x rows) count matrix: bounds the memory of a chunk (~32 MB).
CHUNK_CELLS = 4_000_000


def chunks(n_boot: int, n: int) -> Iterator[tuple[int, int]]:
    """(start, stop) ranges of resamples whose count matrix fits :data:`CHUNK_CELLS`."""
    size = max(1, CHUNK_CELLS // max(n, 1))
    for start in range(0, n_boot, size):
        yield start, min(n_boot, start + size)


def counts(idx: NDArray[np.integer[Any]], n: int) -> Array:
    """(c, n) how many times each of the ``n`` rows is drawn by each row of ``idx``."""
    c = idx.shape[0]
    flat = (idx + (np.arange(c) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=c * n).reshape(c, n).astype(np.float64)


@dataclass(frozen=True)
class Levels:
    """One score vector sorted once: the row order and where each distinct level starts."""

    order: NDArray[np.intp]
    starts: NDArray[np.intp]
    y_sorted: Array

    @classmethod
    def of(cls, y: NDArray[Any], score: NDArray[Any], descending: bool = False) -> Levels:
        s = np.asarray(score, dtype=np.float64)
        order = np.argsort(-s if descending else s, kind="mergesort")
        s_sorted = s[order]
        starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
        return cls(order, starts, np.asarray(y, dtype=np.float64)[order])

    def split(self, w: Array) -> tuple[Array, Array]:
        """(c, levels) drawn positives and negatives per score level."""
        ws = w[:, self.order]
        pos = np.add.reduceat(ws * self.y_sorted, self.starts, axis=1)
        neg = np.add.reduceat(ws, self.starts, axis=1) - pos
        return pos, neg


def roc_auc_many(levels: Levels, w: Array) -> Array:
    """ROC-AUC of each resample (rows of ``w``); NaN when it holds one class only.

    ``levels`` must be ascending (:meth:`Levels.of`). The Mann-Whitney sum over levels
    (negatives below + half the ties, per positive) equals the rank formula exactly.
    """
    pos, neg = levels.split(w)
    below = np.cumsum(neg, axis=1) - neg
    u = (pos * (below + 0.5 * neg)).sum(axis=1)
    p, q = pos.sum(axis=1), neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((p > 0) & (q > 0), u / (p * q), np.nan)


def average_precision_many(levels: Levels, w: Array) -> Array:
    """Average precision of each resample as :func:`training.metrics.average_precision_fast`
    computes it (ties grouped by threshold; 0.0 without positives); ``levels`` must be
    descending. Bit-identical: each row sums the same terms, over its drawn levels only.
    """
    pos, neg = levels.split(w)
    tps = np.cumsum(pos, axis=1)
    n_pred = tps + np.cumsum(neg, axis=1)
    total = tps[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tps / n_pred
        recall = tps / total
    drawn = (pos + neg) > 0
    out = np.zeros(len(w))
    for i in range(len(w)):
        if total[i, 0] == 0:
            continue
        r = recall[i, drawn[i]]
        out[i] = np.sum(np.diff(np.r_[0.0, r]) * precision[i, drawn[i]])
    return out
