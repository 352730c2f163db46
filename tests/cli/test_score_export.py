"""``churn score --export``: a new export scored with a given model, nothing retrained."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.churn import app
from scoring.results import read_scores
from tests.scoring.conftest import train_model

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _export(path: Path, customers: int = 40, seed: int = 3) -> Path:
    """An Online Retail-shaped CSV export (the params.yaml column mapping)."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(customers):
        n = int(rng.integers(1, 8))
        days = np.sort(rng.integers(0, 340, n))
        for i, d in enumerate(days):
            ts = pd.Timestamp("2011-01-03 10:00") + pd.Timedelta(days=int(d))
            rows.append(
                {
                    "InvoiceNo": f"{540000 + c * 10 + i}",
                    "StockCode": f"8512{i % 4}A",
                    "Description": "ITEM",
                    "Quantity": int(rng.integers(1, 12)),
                    "InvoiceDate": ts.strftime("%Y-%m-%d %H:%M:%S"),
                    "UnitPrice": 2.55,
                    "CustomerID": float(17000 + c),
                    "Country": "United Kingdom",
                }
            )
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, train_frame: pd.DataFrame) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "churn"
    train_model(train_frame).save(out)
    return out


@pytest.fixture(scope="module")
def train_frame() -> pd.DataFrame:
    from benchmarks.synthetic_features import synthetic_features

    return synthetic_features(3000, seed=7)


def test_score_export_to_csv_with_bom_and_parquet(tmp_path: Path, model_dir: Path) -> None:
    export = _export(tmp_path / "new_orders.csv")
    params = str(ROOT / "params.yaml")
    out = tmp_path / "scores.csv"
    args = ["score", "--export", str(export), "--out", str(out), "--params", params]
    result = CliRunner().invoke(app, [*args, "--model", str(model_dir)])
    assert result.exit_code == 0, result.output
    assert "scored 40 customers" in result.output and str(model_dir) in result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the zh columns
    csv = pd.read_csv(out, encoding="utf-8-sig", dtype={"customer_id": str})
    assert sorted(csv["customer_id"]) == [str(17000 + c) for c in range(40)]
    assert {"reason_1_en", "reason_1_zh", "rules_zh"} <= set(csv.columns)

    parquet = tmp_path / "scores.parquet"
    args[4] = str(parquet)
    result = CliRunner().invoke(app, [*args, "--model", str(model_dir)])
    assert result.exit_code == 0, result.output
    scores = read_scores(str(parquet))
    np.testing.assert_allclose(
        scores.set_index("customer_id").loc[csv["customer_id"], "churn_probability"],
        csv["churn_probability"],
    )
    assert not (ROOT / "new_orders.csv").exists()


def test_score_errors_are_one_line(tmp_path: Path, model_dir: Path) -> None:
    export = _export(tmp_path / "e.csv", customers=3)
    bad_out = CliRunner().invoke(
        app, ["score", "--export", str(export), "--out", str(tmp_path / "x.txt"),
              "--model", str(model_dir), "--params", str(ROOT / "params.yaml")],
    )  # fmt: skip
    assert bad_out.exit_code == 1 and ".csv or .parquet" in bad_out.output
    missing = CliRunner().invoke(
        app, ["score", "--export", str(export), "--out", str(tmp_path / "x.csv"),
              "--model", str(tmp_path / "nope"), "--params", str(ROOT / "params.yaml")],
    )  # fmt: skip
    assert missing.exit_code == 1 and "no model bundle" in missing.output
    assert "Traceback" not in missing.output


def test_help_describes_the_command() -> None:
    result = CliRunner().invoke(app, ["score", "--help"])
    assert result.exit_code == 0
    assert "--export" in result.output and "champion" in result.output
