"""``churn outcomes import FILE.csv`` and the stage entry point, on small files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from alerts.alerts import main as alerts_stage
from alerts.outcomes import ImportError_, import_outcomes
from alerts.store import AlertStore, open_store
from alerts.worklist import build_worklist
from cli.churn import app
from config.alerts import AlertsParams
from tests.alerts.helpers import scores_frame

ROOT = Path(__file__).resolve().parents[2]
HEADER = "alert_id,customer_id,action,contacted_at,result,note\n"


def _seed(store: AlertStore) -> pd.DataFrame:
    wl = build_worklist(
        scores_frame(10), store.history(), AlertsParams(capacity_per_cycle=5, control_share=0.0), 1
    )
    store.save_worklist(wl.alerts)
    return wl.alerts


def test_import_is_validated_first_and_idempotent(store: AlertStore, tmp_path: Path) -> None:
    alerts = _seed(store)
    good = tmp_path / "good.csv"
    good.write_text(
        HEADER
        + f"{alerts['alert_id'][0]},,called,2011-12-12T10:00:00+08:00,retained,好\n"
        + f",{alerts['customer_id'][1]},visit,2011-12-13 09:00,no_answer,\n",
        encoding="utf-8-sig",
    )
    first = import_outcomes(store, good)
    again = import_outcomes(store, good)
    assert (first.created, first.duplicates) == (2, 0)
    assert (again.created, again.duplicates) == (0, 2)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        HEADER
        + f"{alerts['alert_id'][2]},,called,2011-12-12T10:00:00Z,retained,\n"
        + f"{alerts['alert_id'][3]},,called,2011-12-12T10:00:00Z,happy,\n"
        + ",,called,2011-12-12T10:00:00Z,lost,\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportError_, match=r"row 3: result") as err:
        import_outcomes(store, bad)
    assert "row 4: alert_id: Value error, alert_id or customer_id is required" in str(err.value)
    assert len(store.outcomes_frame()) == 2  # nothing of the bad file was stored


def test_cli_import(tmp_path: Path) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["alerts"]["db_url"] = f"sqlite:///{tmp_path / 'alerts.db'}"
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    store = open_store(params["alerts"]["db_url"])
    alerts = _seed(store)
    csv = tmp_path / "outcomes.csv"
    csv.write_text(HEADER + f"{alerts['alert_id'][0]},,called,2011-12-12,lost,\n")
    runner = CliRunner()
    done = runner.invoke(app, ["outcomes", "import", str(csv), "--params", str(path)])
    assert done.exit_code == 0, done.output
    assert "1 outcomes stored" in done.output
    csv.write_text(HEADER + "nope,,called,2011-12-12,lost,\n")
    failed = runner.invoke(app, ["outcomes", "import", str(csv), "--params", str(path)])
    assert failed.exit_code == 1 and "no alert" in failed.output


def test_stage_writes_files_and_is_stable_on_rerun(tmp_path: Path) -> None:
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["alerts"]["db_url"] = "sqlite:///alerts.db"  # relative: next to the params file
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True))
    scores_frame(300, owners=["ann", "bob", "cat"]).to_parquet(tmp_path / "scores.parquet")
    out = tmp_path / "out"
    argv = ["--params", str(tmp_path / "params.yaml"), "--scores", str(tmp_path / "scores.parquet"),
            "--orders", str(tmp_path / "no_orders.parquet"),
            "--worklist", str(out / "w.parquet"), "--csv", str(out / "w.csv"),
            "--json", str(out / "w.json"), "--performance", str(out / "perf.json")]  # fmt: skip
    alerts_stage(argv)
    first = pd.read_parquet(out / "w.parquet")
    alerts_stage(argv)  # the same cycle again: the same alerts, nothing new stored
    assert pd.read_parquet(out / "w.parquet")["alert_id"].tolist() == first["alert_id"].tolist()
    raw = (out / "w.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
    delivered = pd.read_csv(out / "w.csv", encoding="utf-8-sig")
    assert len(delivered) == (first["group"] == "treatment").sum() == 75  # 25 per owner
    assert delivered["owner"].value_counts().to_dict() == {"ann": 25, "bob": 25, "cat": 25}
    body = json.loads((out / "w.json").read_text(encoding="utf-8"))
    assert body["cycle"] == "2011-12-10" and len(body["alerts"]) == 75
    assert "group" not in body["alerts"][0]  # the control group is never delivered
    store = open_store(f"sqlite:///{tmp_path / 'alerts.db'}")
    assert len(store.alerts_frame()) == len(first)
