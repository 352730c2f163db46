"""The report's beeswarm is shap's own plot, in probability points, with a colour bar and
the catalog's feature labels in the report's language."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from config.report import ReportParams
from features.wording import FEATURE_LABELS, label
from report import plots
from report.build import TEXT, ReportInputs, global_figures, probability_points
from scoring.contributions import tree_contributions
from scoring.reasons import family_map


def _figures(model, snapshot, lang: str, monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    drawn: list[Figure] = []
    monkeypatch.setattr(plots, "to_base64", lambda fig: drawn.append(fig) or "")
    inputs = ReportInputs(
        model=model, test=pd.DataFrame(), sample=snapshot, scores=pd.DataFrame(), metrics={}
    )
    global_figures(inputs, ReportParams(lang=lang, top_features=6, n_dependence=0), seed=7)
    return drawn


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_beeswarm_has_colour_bar_catalog_labels_and_probability_points(
    model, snapshot, lang, monkeypatch
):
    t = TEXT[lang]
    swarms = [f for f in _figures(model, snapshot, lang, monkeypatch) if len(f.axes) == 2]
    assert len(swarms) == 1, "one figure with a colour bar: the beeswarm"
    ax, bar = swarms[0].axes
    assert ax.get_title() == t["beeswarm"] and ax.get_xlabel() == t["shap_x"]
    assert bar.get_ylabel() == t["colour"]
    assert [x.get_text() for x in bar.get_yticklabels()] == [t["low"], t["high"]]
    # rows: the six features with the largest mean |impact|, top row first, catalog labels
    x = model.matrix(snapshot)
    contrib = model.blend_contributions(tree_contributions(model.booster, x, "auto", 5000), x)
    points = probability_points(contrib, family_map(model.feature_names), model)
    top = np.argsort(np.abs(points).mean(axis=0))[::-1][:6]
    expected = [label(FEATURE_LABELS, model.feature_names[j], lang) for j in top]
    rows = sorted(ax.get_yticklabels(), key=lambda tick: -tick.get_position()[1])
    assert [tick.get_text() for tick in rows] == expected
    assert not set(expected) & set(model.feature_names), "raw feature names shown"
    # dots are the customers' impacts in percentage points (not log-odds)
    dots = np.concatenate([c.get_offsets()[:, 0] for c in ax.collections if len(c.get_offsets())])
    assert np.allclose(np.sort(dots), np.sort(points[:, top].ravel()))
