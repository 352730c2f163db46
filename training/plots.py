"""Curve data for ``dvc plots`` (one CSV per plot and model) and PNGs for MLflow.

Plots: ROC, precision-recall, reliability diagram (calibration) and cumulative gains,
each for the model and every baseline on the same test cutoff. The ROC and
precision-recall points are scikit-learn's ``roc_curve`` / ``precision_recall_curve``
computed with numpy (tested equal), so the ``evaluate`` stage does not import
scikit-learn (about 2 s of its run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

PLOTS = {
    "roc": ("fpr", "tpr"),
    "pr": ("recall", "precision"),
    "reliability": ("mean_predicted", "observed"),
    "gains": ("share_customers", "share_churners"),
}
_MAX_POINTS = 200


def _thin(frame: pd.DataFrame) -> pd.DataFrame:
    """Keep at most ~_MAX_POINTS evenly spaced rows (always the first and last)."""
    if len(frame) <= _MAX_POINTS:
        return frame.reset_index(drop=True)
    idx = np.unique(np.linspace(0, len(frame) - 1, _MAX_POINTS).round().astype(int))
    return frame.iloc[idx].reset_index(drop=True)


def reliability(y: NDArray[Any], p: NDArray[Any], bins: int) -> pd.DataFrame:
    """Mean predicted vs observed churn rate per equal-width probability bin."""
    idx = np.clip((np.asarray(p) * bins).astype(int), 0, bins - 1)
    frame = pd.DataFrame({"bin": idx, "p": p, "y": y}).groupby("bin")
    out = frame.agg(mean_predicted=("p", "mean"), observed=("y", "mean"), count=("y", "size"))
    return out.reset_index()


def _thresholds(y: NDArray[Any], score: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
    """(false, true positives) above each distinct score, highest threshold first."""
    s = np.asarray(score, dtype=np.float64)
    order = np.argsort(s, kind="mergesort")[::-1]
    s = s[order]
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]  # last row of each distinct score
    tps = np.cumsum(np.asarray(y, dtype=np.float64)[order])[last]
    return 1.0 + last - tps, tps


def roc_points(y: NDArray[Any], score: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
    """(fpr, tpr) as ``sklearn.metrics.roc_curve`` (collinear points dropped); NaN for a
    class that is absent."""
    fps, tps = _thresholds(y, score)
    if fps.size > 2:
        keep = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        fps, tps = fps[keep], tps[keep]
    fps, tps = np.r_[0.0, fps], np.r_[0.0, tps]
    fpr = fps / fps[-1] if fps[-1] > 0 else np.full(fps.shape, np.nan)
    tpr = tps / tps[-1] if tps[-1] > 0 else np.full(tps.shape, np.nan)
    return fpr, tpr


def pr_points(y: NDArray[Any], score: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
    """(precision, recall) as ``sklearn.metrics.precision_recall_curve``: recall
    decreasing, ending at (1, 0); recall 1 throughout without positives."""
    fps, tps = _thresholds(y, score)
    precision = tps / (tps + fps)  # every threshold holds at least one row
    recall = tps / tps[-1] if tps[-1] > 0 else np.ones_like(tps)
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0]


def gains(y: NDArray[Any], score: NDArray[Any]) -> pd.DataFrame:
    """Share of churners captured when contacting the top share of customers."""
    order = np.argsort(-np.asarray(score), kind="stable")
    captured = np.cumsum(np.asarray(y)[order]) / max(int(np.sum(y)), 1)
    share = np.arange(1, len(order) + 1) / len(order)
    return _thin(pd.DataFrame({"share_customers": share, "share_churners": captured}))


def curve_tables(
    y: NDArray[Any], scores: dict[str, NDArray[Any]], bins: int
) -> dict[str, dict[str, pd.DataFrame]]:
    """``{plot: {model_name: table}}`` for every plot in :data:`PLOTS`."""
    out: dict[str, dict[str, pd.DataFrame]] = {name: {} for name in PLOTS}
    for name, score in scores.items():
        fpr, tpr = roc_points(y, score)
        out["roc"][name] = _thin(pd.DataFrame({"fpr": fpr, "tpr": tpr}))
        precision, recall = pr_points(y, score)
        out["pr"][name] = _thin(pd.DataFrame({"recall": recall, "precision": precision}))
        out["reliability"][name] = reliability(y, score, bins)
        out["gains"][name] = gains(y, score)
    return out


def write_plot_data(tables: dict[str, dict[str, pd.DataFrame]], out_dir: Path) -> list[Path]:
    """Write ``out_dir/<plot>/<model>.csv`` files (rounded, so reruns are identical)."""
    written = []
    for plot, by_model in tables.items():
        (out_dir / plot).mkdir(parents=True, exist_ok=True)
        for name, table in by_model.items():
            path = out_dir / plot / f"{name}.csv"
            table.round(6).to_csv(path, index=False)
            written.append(path)
    return written


def write_pngs(tables: dict[str, dict[str, pd.DataFrame]], out_dir: Path) -> list[Path]:
    """One PNG per plot with every model overlaid (for MLflow and the docs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for plot, by_model in tables.items():
        x, y = PLOTS[plot]
        fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
        for name, table in by_model.items():
            ax.plot(table[x], table[y], label=name, lw=2 if name == "model" else 1)
        if plot in ("roc", "reliability", "gains"):
            ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.set_title(plot)
        ax.legend(fontsize=8)
        # fixed margins (the axes hold 0..1 ticks and short labels): tight_layout would
        # lay the text out a second time, a third of the rendering time
        fig.subplots_adjust(left=0.13, right=0.97, bottom=0.12, top=0.93)
        path = out_dir / f"{plot}.png"
        fig.savefig(path, metadata={"Software": None})
        plt.close(fig)
        written.append(path)
    return written
