"""train + evaluate stage mains on synthetic snapshots, the dvc.yaml wiring of their
outputs, and the Complete Journey params file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from bundle.model import ChurnModel
from config.base import load_section, read_params
from config.data import DataParams
from config.root import load_params
from config.training import TrainParams
from training.evaluate import main as evaluate_main
from training.pipeline import fit_all
from training.split import make_split
from training.train import main as train_main

from .conftest import ROOT, write_params

# ../shared/data beside the checkout (CI clones the repo next to it)
SHARED = ROOT.parent / "shared" / "data"


@pytest.mark.slow
def test_train_then_evaluate_write_declared_outputs(
    snapshots: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # mlflow.set_tracking_uri (called by earlier tests) exports MLFLOW_TRACKING_URI,
    # which would win over the params file.
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))  # as DVC sets it for a stage
    snaps = tmp_path / "snapshots.parquet"
    snapshots.to_parquet(snaps)
    params = write_params(
        tmp_path / "params.yaml", "sqlite:///mlflow.db", split={"backtest_folds": 2}
    )
    common = ["--params", str(params), "--snapshots", str(snaps)]
    models = [
        "--model-dir",
        str(tmp_path / "models/churn"),
        "--baselines",
        str(tmp_path / "b.json"),
    ]
    report = ["--report", str(tmp_path / "reports/train.json")]
    scores = ["--test-scores", str(tmp_path / "test_scores.parquet")]
    assert train_main([*common, *models, *report, *scores]) == 0
    assert (tmp_path / "mlflow.db").exists()  # relative SQLite path: under the repo root
    plots = tmp_path / "reports/plots"
    assert (
        evaluate_main(
            [
                "--params",
                str(params),
                *scores,
                "--train-report",
                str(tmp_path / "reports/train.json"),
                "--metrics",
                str(tmp_path / "reports/metrics.json"),
                "--plots",
                str(plots),
                "--backtest",
                str(tmp_path / "bt.json"),
            ]
        )
        == 0
    )

    metrics = json.loads((tmp_path / "reports/metrics.json").read_text())
    train = json.loads((tmp_path / "reports/train.json").read_text())
    assert metrics["model"] == train["test"]["model"]  # evaluate reports train's numbers
    # ... and those numbers are the evaluated fold's model (refitted here with the params
    # train recorded; the saved bundle is the served refit), recomputed without
    # evaluate_frame
    test_rows = snapshots[snapshots["cutoff"] == snapshots["cutoff"].max()]
    y = test_rows["label"].to_numpy()
    cfg = load_params(params)
    split = make_split(snapshots, cfg.features.horizon_days, cfg.split)
    fitted = fit_all(snapshots, split, cfg, params=TrainParams.model_validate(train["params"]))
    p = fitted.model.predict_proba(test_rows)
    # the held-out scores evaluate draws its curves from are those of the same refit
    held = pd.read_parquet(tmp_path / "test_scores.parquet")
    assert held["customer_id"].tolist() == test_rows["customer_id"].tolist()
    np.testing.assert_allclose(held["model"].to_numpy(), p, rtol=0, atol=1e-12)
    for name, q in fitted.baselines.predict(test_rows).items():
        np.testing.assert_allclose(held[name].to_numpy(), q, rtol=0, atol=1e-12, err_msg=name)
    # scores that are not the evaluated fold's rows are refused, naming what differs
    held.iloc[:-1].to_parquet(tmp_path / "short.parquet")
    short = [*scores[:1], str(tmp_path / "short.parquet")]
    with pytest.raises(ValueError, match=r"rows, not .*rerun the train stage"):
        evaluate_main(
            ["--params", str(params), *short,
             "--train-report", str(tmp_path / "reports/train.json"),
             "--metrics", str(tmp_path / "m2.json"), "--plots", str(tmp_path / "p2"),
             "--backtest", str(tmp_path / "bt2.json")]
        )  # fmt: skip
    assert metrics["test_cutoff"] == test_rows["cutoff"].max().date().isoformat()
    assert metrics["model"]["n"] == len(test_rows)
    assert metrics["model"]["base_rate"] == pytest.approx(y.mean(), abs=1e-12)
    assert metrics["model"]["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert metrics["model"]["brier"] == pytest.approx(np.mean((p - y) ** 2), abs=1e-12)
    base_auc = {n: roc_auc_score(y, q) for n, q in fitted.baselines.predict(test_rows).items()}
    for name, auc in base_auc.items():
        assert metrics["baselines"][name]["roc_auc"] == pytest.approx(auc, abs=1e-12), name
    assert set(metrics["baselines"]) == {"recency", "rules", "logreg", "bgnbd"}
    assert {"rule_precision", "rule_recall", "rule_flag_rate"} <= set(metrics["baselines"]["rules"])
    vs = metrics["vs_best_baseline"]
    best = max(base_auc, key=lambda n: base_auc[n])
    assert vs["baseline"] == best
    assert vs["auc_diff"] == pytest.approx(roc_auc_score(y, p) - base_auc[best], abs=1e-12)
    # a real interval around the difference, not a point or a bound on one side only
    assert vs["auc_diff_ci_low"] < vs["auc_diff"] < vs["auc_diff_ci_high"]
    assert vs["auc_diff_ci_high"] - vs["auc_diff_ci_low"] < 0.5
    assert len(json.loads((tmp_path / "bt.json").read_text())["folds"]) == 2

    model = ChurnModel.load(tmp_path / "models/churn")
    assert model.metadata["model_version"] == "1"
    assert model.metadata["alias"] in {"champion", "candidate"}
    assert model.metadata["test_cutoff"] == metrics["test_cutoff"]
    # served = the same procedure one horizon later: it learns from the test cutoff itself
    assert train["served"]["split"]["valid_cutoff"] is None  # split.window: all_labelled
    assert train["served"]["split"]["train_cutoffs"][-1] == metrics["test_cutoff"]
    assert metrics["test_cutoff"] not in train["split"]["train_cutoffs"]
    assert model.metadata["served_split"] == train["served"]["split"]
    assert model.metadata["test_metrics"] == metrics["model"]
    assert model.metadata["backtest_mean"] == train["backtest"]["mean"]["model"]
    assert train["backtest"]["test_cutoffs"][-1] == metrics["test_cutoff"]

    declared = yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]
    for plot in declared:
        (spec,) = plot.values()
        for file, column in spec["y"].items():
            table = pd.read_csv(tmp_path / file)
            assert {spec["x"], column} <= set(table.columns), file


def test_completejourney_params_parse_and_name_real_columns() -> None:
    path = ROOT / "params/completejourney.yaml"
    cfg = load_params(path)
    data = load_section(read_params(path), "data", DataParams)
    assert cfg.features.horizon_days == 90
    assert cfg.registry.model_name != load_params(ROOT / "params.yaml").registry.model_name
    if not SHARED.is_dir():
        pytest.skip(f"Complete Journey data not present in {SHARED}")
    tx = set(pq.read_schema(SHARED / Path(data.source).name).names)
    mapped = {v for v in data.columns.model_dump().values() if v is not None}
    lookup_added = {c for lk in data.lookups for c in lk.columns}
    assert mapped - lookup_added <= tx
    for lk in data.lookups:
        assert {lk.key, *lk.columns} <= set(pq.read_schema(SHARED / Path(lk.source).name).names)
