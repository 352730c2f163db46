"""Figures of the analyst report, returned as base64 PNG so the HTML is self-contained.

Every function takes already computed arrays and returns the PNG as a base64 string;
nothing here reads files. Chinese labels need a CJK font: :func:`font_family` puts a
system one first when present (Debian's ``fonts-noto-cjk`` or ``fonts-wqy-zenhei``), then
the subset of Noto Sans CJK SC shipped in ``report/fonts`` (so a machine without CJK
fonts draws Chinese too), then DejaVu Sans.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib as mpl
import numpy as np
import shap
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from numpy.typing import NDArray

Array = NDArray[np.float64]
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "Droid Sans Fallback")
SHIPPED_FONT = Path(__file__).resolve().parent / "fonts" / "ChurnSansSC-Regular.otf"
SHIPPED_FAMILY = "Churn Sans SC"  # report/fonts/README.md


def _register_cjk_fonts() -> None:
    """Add system CJK fonts matplotlib's cached font list does not know yet.

    matplotlib caches its font list on first use; fonts installed later (e.g.
    ``apt-get install fonts-noto-cjk`` after matplotlib ran once) stay invisible until
    they are added explicitly.
    """
    known = {f.fname for f in font_manager.fontManager.ttflist}
    for path in font_manager.findSystemFonts():
        name = Path(path).name.lower()
        if path not in known and ("sanscjk" in name or "wqy" in name):
            font_manager.fontManager.addfont(path)


def font_family() -> list[str]:
    """Installed CJK fonts first, then the shipped subset, then DejaVu Sans.

    matplotlib falls back glyph by glyph along this list, so a character missing from
    one font is drawn from the next.
    """
    installed = {f.name for f in font_manager.fontManager.ttflist}
    if not installed & set(CJK_FONTS):
        _register_cjk_fonts()
    if SHIPPED_FAMILY not in installed:
        font_manager.fontManager.addfont(str(SHIPPED_FONT))
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return [f for f in CJK_FONTS if f in installed] + [SHIPPED_FAMILY, "DejaVu Sans"]


@contextmanager
def _style() -> Iterator[None]:
    with mpl.rc_context(
        {"font.family": "sans-serif", "font.sans-serif": font_family(),
         "axes.unicode_minus": False, "figure.dpi": 100, "axes.spines.top": False,
         "axes.spines.right": False}
    ):  # fmt: skip
        yield


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    """A pyplot-free figure (no global state, no GUI backend needed)."""
    fig = Figure(figsize=(width, height))
    return fig, fig.subplots()


def to_base64(fig: Figure) -> str:
    """Render ``fig`` as PNG (Agg canvas)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def bar_chart(labels: Sequence[str], values: Array, title: str, xlabel: str) -> str:
    """Horizontal bars, largest on top."""
    with _style():
        order = np.argsort(values)
        fig, ax = _figure(7, 0.32 * len(labels) + 1.2)
        ax.barh(np.asarray(labels, dtype=object)[order], np.asarray(values)[order], color="#3b6ea8")
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        return to_base64(fig)


def reliability(bin_pred: Array, bin_obs: Array, counts: Array, labels: dict[str, str]) -> str:
    """Mean predicted vs observed churn rate per probability bin, with the diagonal."""
    with _style():
        fig, ax = _figure(5.5, 5)
        ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label=labels["perfect"])
        size = 20 + 200 * counts / max(float(counts.max()), 1.0)
        ax.scatter(bin_pred, bin_obs, s=size, color="#c0392b", zorder=3, label=labels["model"])
        ax.plot(bin_pred, bin_obs, color="#c0392b")
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel=labels["x"], ylabel=labels["y"])
        ax.set_title(labels["title"])
        ax.legend(loc="upper left")
        return to_base64(fig)


@contextmanager
def _legacy_seed(seed: int) -> Iterator[None]:
    """Seed numpy's global RNG for a call that uses it, then restore its state.

    shap's beeswarm shuffles the drawing order with ``np.random``; seeded, the same data
    gives the same PNG, so a re-run leaves the tracked report unchanged.
    """
    state = np.random.get_state()
    np.random.seed(seed)  # shap reads the legacy global generator
    try:
        yield
    finally:
        np.random.set_state(state)


def beeswarm(
    contrib: Array, values: Array, names: Sequence[str], text: dict[str, str], seed: int
) -> str:
    """shap's beeswarm: one row per feature (in the given order), dots = customers.

    ``contrib`` holds the impacts in the unit the axis names (the report passes
    probability points), ``values`` the feature values that colour the dots (shap's
    colour bar, clipped at the 5th/95th percentile, missing values grey). shap writes
    English on the axis and the colour bar; ``text`` replaces it: ``title``, ``x``,
    ``colour`` (colour-bar label), ``low`` and ``high`` (its ends).
    """
    explanation = shap.Explanation(
        values=np.asarray(contrib, dtype=float), data=np.asarray(values, dtype=float),
        feature_names=list(names),
    )  # fmt: skip
    with _style(), _legacy_seed(seed):
        fig, ax = _figure(8, 0.45 * len(names) + 1.5)
        shap.plots.beeswarm(
            explanation, max_display=len(names), order=np.arange(len(names)), ax=ax,
            show=False, plot_size=None, color_bar_label=text["colour"],
            group_remaining_features=False, s=8, alpha=0.7,
        )  # fmt: skip
        ax.set_xlabel(text["x"])
        ax.set_title(text["title"])
        bar = fig.axes[-1]  # the colour bar shap added
        bar.set_yticks([0, 1], [text["low"], text["high"]])
        return to_base64(fig)


def dependence(value: Array, contrib: Array, name: str, ylabel: str) -> str:
    """SHAP dependence: feature value vs its contribution (x axis: 1st-99th percentile)."""
    with _style():
        fig, ax = _figure(4.5, 3.4)
        finite = np.isfinite(value)
        ax.scatter(value[finite], contrib[finite], s=6, alpha=0.5, color="#3b6ea8")
        if finite.sum() > 10:  # long tails (spend) would squash the bulk into one column
            lo, hi = np.percentile(value[finite], [1, 99])
            if hi > lo:
                pad = 0.03 * (hi - lo)
                ax.set_xlim(lo - pad, hi + pad)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlabel(name)
        ax.set_ylabel(ylabel)
        return to_base64(fig)


def stacked_shares(
    shares: dict[str, dict[str, float]],
    codes: Sequence[str],
    title: str,
    ylabel: str,
    xlabel: str,
) -> str:
    """Stacked bars: share of at-risk customers by top reason code, per group."""
    with _style():
        groups = list(shares)
        fig, ax = _figure(7, 4)
        bottom = np.zeros(len(groups))
        cmap = mpl.colormaps["tab10"]
        for i, code in enumerate(codes):
            heights = np.array([shares[g].get(code, 0.0) for g in groups])
            ax.bar(groups, heights, bottom=bottom, label=code, color=cmap(i % 10))
            bottom += heights
        ax.set_ylim(0, 1)
        ax.set_ylabel(ylabel)
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
        return to_base64(fig)
