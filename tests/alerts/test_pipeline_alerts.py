"""``dvc repro`` on the bundled data produces this cycle's worklist (the session's
``pipeline_run`` copy of the repository)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from alerts.store import open_store
from config.root import load_params

pytestmark = pytest.mark.slow


def test_make_run_writes_the_worklist_and_the_database(pipeline_run: Path) -> None:
    params = load_params(pipeline_run / "params.yaml").alerts
    scores = pd.read_parquet(pipeline_run / "data/scores/latest.parquet")
    worklist = pd.read_parquet(pipeline_run / "data/alerts/worklist.parquet")
    treated = worklist[worklist["group"] == "treatment"]
    control = int((worklist["group"] == "control").sum())
    eligible = scores["risk_level"].isin(params.risk_levels) & (
        scores["churn_probability"] >= params.min_probability
    )
    assert control > 0
    # control hold-outs use no capacity: every eligible customer not held out, up to capacity
    assert len(treated) == min(params.capacity_per_cycle, int(eligible.sum()) - control)
    assert set(worklist["customer_id"]) <= set(scores["customer_id"].astype(str))
    assert worklist["expected_value"].is_monotonic_decreasing
    csv = pd.read_csv(pipeline_run / "data/alerts/worklist.csv", encoding="utf-8-sig",
                      dtype={"customer_id": str})  # fmt: skip
    assert csv["alert_id"].tolist() == treated["alert_id"].tolist()
    body = json.loads((pipeline_run / "data/alerts/worklist.json").read_text(encoding="utf-8"))
    assert len(body["alerts"]) == len(treated)
    store = open_store(f"sqlite:///{pipeline_run / 'data/alerts/alerts.db'}")
    assert len(store.alerts_frame()) == len(worklist)
    store.engine.dispose()
    # the bundled export maps no owner: no owner column anywhere, per-owner capacity off
    assert "owner" not in scores.columns and worklist["owner"].isna().all()


def test_make_run_measures_the_alerts_for_the_report(pipeline_run: Path) -> None:
    perf = json.loads((pipeline_run / "reports/alerts_performance.json").read_text())
    worklist = pd.read_parquet(pipeline_run / "data/alerts/worklist.parquet")
    # one cycle at the end of the data: nothing measurable yet, said so in the report
    assert perf["measured_alerts"] == 0 and perf["pending_alerts"] == len(worklist)
    assert perf["next_due"] == str(worklist["due"].min())
    html = (pipeline_run / "reports/churn_report.html").read_text(encoding="utf-8")
    assert "No outcomes measured yet" in html
