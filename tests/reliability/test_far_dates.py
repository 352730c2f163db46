"""Far dates through ingest and features (issue 11, item 2 end to end).

Before: orders dated 0001-01-01, 1900-01-01 or 9999-12-31 came out of ingest clean;
year 1 then crashed ``features`` (``Overflow in multiplication of INT64``) and year
9999 made it "succeed" with one customer in a latest snapshot cut at 10000-01-01.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml

from benchmarks.synthetic import ExportShape, write_export
from features.features import main as features_main
from ingest.ingest import main as ingest_main

ROOT = Path(__file__).resolve().parents[2]
FAR = ("0001-01-01 10:00:00", "1900-01-01 10:00:00", "9999-12-31 10:00:00")


def test_far_dates_are_quarantined_and_features_build(tmp_path: Path) -> None:
    export = write_export(
        ExportShape(n_lines=6000, n_customers=300, seed=3), tmp_path / "e.csv", "csv"
    )
    lines = export.read_text().splitlines()
    for i, when in enumerate(FAR):
        cells = {"InvoiceNo": f"FAR{i}", "StockCode": "85123A", "Description": "far",
                 "Quantity": "2", "InvoiceDate": when, "UnitPrice": "2.5",
                 "CustomerID": "12350", "Country": "EIRE"}  # fmt: skip
        lines.append(",".join(cells[c] for c in lines[0].split(",")))
    export.write_text("\n".join(lines) + "\n")
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["data"] |= {"source": str(export), "format": "csv"}
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(raw))
    orders, quarantine, report_path = (tmp_path / n for n in ("o.parquet", "q.parquet", "r.json"))
    ingest_main(["--params", str(params), "--orders", str(orders),
                 "--quarantine", str(quarantine), "--report", str(report_path)])  # fmt: skip
    report = json.loads(report_path.read_text())
    assert report["quarantined_by_reason"]["implausible_timestamp"] == len(FAR)
    assert report["rows_in"] == len(lines) - 1 == report["rows_clean"] + report["rows_quarantined"]
    assert report["date_max"] < "2013-01-01" and report["date_min"] > "2010-01-01"
    far = pd.read_parquet(quarantine).query("reason == 'implausible_timestamp'")
    assert sorted(far["InvoiceNo"]) == ["FAR0", "FAR1", "FAR2"]
    latest = tmp_path / "latest.parquet"
    features_main(["--params", str(params), "--orders", str(orders),
                   "--snapshots", str(tmp_path / "snaps.parquet"), "--latest", str(latest),
                   "--report", str(tmp_path / "features.json")])  # fmt: skip
    snapshot = pd.read_parquet(latest)
    assert pd.to_datetime(snapshot["cutoff"]).max() < pd.Timestamp("2013-01-01")
    assert len(snapshot) > 50
