"""The score and report stages inside the real `dvc repro` of the bundled data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bundle.model import ChurnModel
from scoring.results import read_scores
from tests.report.test_report_browser import CHROMIUM, loaded_images

pytestmark = pytest.mark.slow


def test_every_customer_scored_and_every_row_additive(pipeline_run: Path):
    latest = pd.read_parquet(pipeline_run / "data" / "processed" / "latest.parquet")
    scores = read_scores(str(pipeline_run / "data" / "scores" / "latest.parquet"))
    assert sorted(scores["customer_id"]) == sorted(latest["customer_id"].astype(str))
    impacts = scores.filter(like="impact_").sum(axis=1)
    np.testing.assert_allclose(
        scores["base_probability"] + impacts, scores["churn_probability"], atol=1e-9
    )
    model = ChurnModel.load(pipeline_run / "models" / "churn")
    np.testing.assert_allclose(scores["churn_probability"], model.predict_proba(latest))
    at_risk = scores[scores["risk_level"] != "low"]
    assert all(len(r) > 0 for r in at_risk["reasons"].head(50)) or len(at_risk) == 0
    csv = pd.read_csv(pipeline_run / "data" / "scores" / "latest.csv", dtype={"customer_id": str})
    assert len(csv) == len(scores)


def test_report_written(pipeline_run: Path):
    html = (pipeline_run / "reports" / "churn_report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") >= 6


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_real_report_renders_in_chromium(pipeline_run: Path, tmp_path: Path):
    images, loaded, text = loaded_images(pipeline_run / "reports" / "churn_report.html", tmp_path)
    assert images >= 6 and loaded == images and text > 500
