"""Curve data for ``dvc plots`` (one CSV per plot and model) and PNGs for MLflow.

Plots: ROC, precision-recall, reliability diagram (calibration) and cumulative gains,
each for the model and every baseline on the same test cutoff.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.metrics import precision_recall_curve, roc_curve

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
        fpr, tpr, _ = roc_curve(y, score)
        out["roc"][name] = _thin(pd.DataFrame({"fpr": fpr, "tpr": tpr}))
        precision, recall, _ = precision_recall_curve(y, score)
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
        fig.tight_layout()
        path = out_dir / f"{plot}.png"
        fig.savefig(path, metadata={"Software": None})
        plt.close(fig)
        written.append(path)
    return written
