"""The alerts stage measures the stored alerts into the file the analyst report reads."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from alerts.alerts import main as alerts_stage
from tests.alerts.helpers import scores_frame

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, as_of: str, capsys) -> tuple[dict, str]:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    argv = ["--params", str(tmp_path / "params.yaml"), "--scores", str(tmp_path / "s.parquet"),
            "--orders", str(tmp_path / "orders.parquet"), "--worklist", str(out / "w.parquet"),
            "--csv", str(out / "w.csv"), "--json", str(out / "w.json"),
            "--performance", str(out / "perf.json")]  # fmt: skip
    scores_frame(40, as_of=as_of).to_parquet(tmp_path / "s.parquet")
    alerts_stage(argv)
    return json.loads((out / "perf.json").read_text(encoding="utf-8")), capsys.readouterr().out


def test_stage_writes_pending_then_measured_performance(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["alerts"] |= {"db_url": "sqlite:///alerts.db", "control_share": 0.5}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True))
    # every even customer orders again in the months after the June cycle, up to December
    days = [*pd.date_range("2011-06-15", "2011-11-15", freq="MS"), pd.Timestamp("2011-12-09")]
    orders = pd.DataFrame(
        [(f"c{i:03d}", ts, "completed") for i in range(0, 40, 2) for ts in days],
        columns=["customer_id", "order_ts", "status"],
    )
    orders.to_parquet(tmp_path / "orders.parquet")
    perf, said = _run(tmp_path, "2011-12-10", capsys)
    assert perf["measured_alerts"] == 0 and perf["pending_alerts"] == 40
    assert perf["next_due"] == "2012-03-09" and perf["data_end"] == "2011-12-09"
    assert "capacity_per_owner is off" in said  # the scores carry no owner: stated
    perf, _ = _run(tmp_path, "2011-06-01", capsys)  # an earlier cycle, horizon passed
    assert perf["measured_alerts"] == 40 and perf["pending_alerts"] == 40
    overall = perf["overall"]
    assert overall["treatment"] + overall["control"] == 40
    assert overall["control"] > 5
    # odd customers churned, even ones stayed: hit rate = share of odd ids in control
    june = pd.read_parquet(tmp_path / "out" / "w.parquet")
    odd = june["customer_id"].str[-1].astype(int) % 2 == 1
    control = june["group"] == "control"
    assert overall["hit_rate_control"] == (odd & control).sum() / control.sum()
    assert overall["retention_treatment"] == (~odd & ~control).sum() / (~control).sum()
    assert {r["segment"] for s in perf["by"].values() for r in s} == {
        "reason_family", "action", "owner", "value_tier"
    }  # fmt: skip
