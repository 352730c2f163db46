"""The report stage on a small synthetic workspace."""

from __future__ import annotations

import base64
import io
import re
import warnings

import pytest
from fontTools.ttLib import TTFont

from report import report as report_stage
from report.webfont import CHINESE
from tests.scoring.conftest import report_args, write_params


def test_report_has_every_section_and_real_images(report_path):
    html = report_path.read_text(encoding="utf-8")
    for anchor in ("data", "metrics", "reliability", "drivers", "root-cause", "top"):
        assert f'id="{anchor}"' in html
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) >= 6
    for img in images:
        assert base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "rfm_logreg" in html and "0.7500" in html  # metrics.json was read
    assert "http://" not in html and "https://" not in html  # self-contained


def test_report_in_chinese(pipeline_dir):
    write_params(pipeline_dir / "params_zh.yaml", lang="zh-CN")
    args = report_args(pipeline_dir, "report_zh.html")
    args[1] = str(pipeline_dir / "params_zh.yaml")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report_stage.main(args)
    missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
    assert not missing, f"Chinese drawn as boxes in the plots: {missing[:3]}"
    html = (pipeline_dir / "reports" / "report_zh.html").read_text(encoding="utf-8")
    assert "客户流失预警报告" in html and "高风险客户的主要原因分布" in html
    assert 'lang="zh-CN"' in html
    from features.wording import FEATURE_LABELS

    assert [zh for _, zh in FEATURE_LABELS.values() if zh in html], "no Chinese feature label"
    assert not any(f">{name}<" in html for name in FEATURE_LABELS), "raw feature names shown"
    # the page's Chinese text carries its glyphs (readers without a CJK font see no boxes)
    found = re.search(r"url\(data:font/woff;base64,([^)]+)\)", html)
    assert found, "no embedded font"
    cmap = TTFont(io.BytesIO(base64.b64decode(found.group(1)))).getBestCmap()
    page = html.replace(found.group(0), "")
    assert {c for c in CHINESE.findall(page) if ord(c) not in cmap} == set()


def test_a_page_without_chinese_embeds_no_font(report_path):
    assert "@font-face" not in report_path.read_text(encoding="utf-8")


@pytest.mark.slow
def test_report_is_logged_to_mlflow(pipeline_dir, monkeypatch):
    import mlflow

    write_params(pipeline_dir / "params_mlflow.yaml", registry_enabled=True)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(pipeline_dir)  # MLflow puts a new experiment's artifacts in ./mlruns
    args = report_args(pipeline_dir, "report_mlflow.html")
    args[1] = str(pipeline_dir / "params_mlflow.yaml")
    report_stage.main(args)
    mlflow.set_tracking_uri(f"sqlite:///{pipeline_dir / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["churn"], output_format="list")
    assert len(runs) == 1
    files = [a.path for a in mlflow.MlflowClient().list_artifacts(runs[0].info.run_id, "reports")]
    assert files == ["reports/report_mlflow.html"]
    assert (pipeline_dir / "mlruns").is_dir()


def test_impacts_are_probability_points_that_add_up(model, snapshot):
    """The report's per-feature impacts are in percentage points of the served probability:
    each customer's row sums to probability - base probability (as the API's reasons)."""
    import numpy as np

    from report.build import probability_points
    from scoring.contributions import tree_contributions
    from scoring.reasons import family_map

    x = model.matrix(snapshot)
    contrib = tree_contributions(model.booster, x, "auto", 5000)
    points = probability_points(contrib, family_map(model.feature_names), model)
    assert points.shape == (len(snapshot), len(model.feature_names))
    base = model.calibrator.transform(contrib[:, -1])
    np.testing.assert_allclose(points.sum(axis=1) / 100, model.predict_proba(snapshot) - base,
                               atol=1e-9)  # fmt: skip
    assert np.abs(points).max() < 100
    # not log-odds: those do not add up to the probability change
    assert not np.allclose(contrib[:, :-1].sum(axis=1), points.sum(axis=1) / 100, atol=1e-3)


def test_counts_read_as_integers_and_tiers_as_value_tiers(pipeline_dir):
    from report.build import _group, metrics_table

    columns, rows = metrics_table({"model": {"n": 3368.0, "roc_auc": 0.73824}})
    assert columns == ["n", "roc_auc"] and rows == [["model", "3,368", "0.7382"]]
    assert _group("high", "en") == "high value" and _group("low", "zh-CN") == "低价值"
    if not (pipeline_dir / "reports" / "report_zh.html").exists():
        test_report_in_chinese(pipeline_dir)  # writes it
    html = (pipeline_dir / "reports" / "report_zh.html").read_text(encoding="utf-8")
    assert "<th>高价值</th>" in html or "<th>中价值</th>" in html or "<th>低价值</th>" in html
    assert '<div class="wide"><table>' in html  # the wide metrics table scrolls, never cut


def test_retraining_the_same_model_leaves_the_report_unchanged(pipeline_dir, model, tmp_path):
    """The page shows the model's version and content digest, not its training time, so a
    re-run that reproduces the model leaves the tracked report byte-identical."""
    from bundle.model import bundle_digest

    pages = []
    for i, trained_at in enumerate(("2011-12-09T10:00:00+00:00", "2026-01-01T08:30:00+00:00")):
        retrained = model.with_metadata(trained_at=trained_at, model_version="7")
        bundle = retrained.save(tmp_path / f"m{i}")
        args = report_args(pipeline_dir, f"rerun_{i}.html")
        args[args.index("--model-dir") + 1] = str(bundle)
        report_stage.main(args)
        pages.append((pipeline_dir / "reports" / f"rerun_{i}.html").read_text(encoding="utf-8"))
        assert trained_at not in pages[-1]
    assert pages[0] == pages[1]
    assert f"<td>{bundle_digest(tmp_path / 'm0')[:12]}</td>" in pages[0]
    assert "<td>7</td>" in pages[0]
