"""Stage-level tests for ``python -m features.features`` on a small synthetic order file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from config.base import load_section, read_params
from config.features import FeatureParams
from features.catalog import ORDER_FEATURE_NAMES as FEATURE_NAMES
from features.catalog import SIGNAL_CATALOG, feature_names
from features.features import main
from features.schedule import build_schedule, data_end

PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"


def synthetic_orders(n_customers: int = 60, seed: int = 7) -> pd.DataFrame:
    """Order lines over ~2 years for ``n_customers`` customers (optional product_id)."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2022-01-01")
    rows = []
    for c in range(n_customers):
        n = int(rng.integers(1, 25))
        days = np.sort(rng.uniform(0, 720, n))
        for i, d in enumerate(days):
            status = "cancelled" if rng.random() < 0.1 else "completed"
            for _ in range(int(rng.integers(1, 3))):
                amount = float(rng.gamma(2.0, 30.0)) * (-1 if status == "cancelled" else 1)
                rows.append(
                    {
                        "customer_id": f"C{c:03d}",
                        "order_id": f"C{c:03d}-{i}",
                        "order_ts": start + pd.Timedelta(seconds=int(d * 86400)),
                        "amount": amount,
                        "status": status,
                        "product_id": f"P{int(rng.integers(0, 30))}",
                    }
                )
    return pd.DataFrame(rows)


def _params() -> FeatureParams:
    return load_section(read_params(PARAMS), "features", FeatureParams)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("features")
    orders = synthetic_orders()
    orders.to_parquet(root / "orders.parquet", index=False)
    paths = {k: root / f"{k}.parquet" for k in ("snapshots", "latest")}
    paths["report"] = root / "features.json"
    paths["orders"] = root / "orders.parquet"
    main(
        [
            "--params", str(PARAMS), "--orders", str(paths["orders"]),
            "--snapshots", str(paths["snapshots"]), "--latest", str(paths["latest"]),
            "--report", str(paths["report"]),
        ]
    )  # fmt: skip
    return paths


def test_snapshot_columns_follow_catalog(built: dict[str, Path]) -> None:
    snaps = pd.read_parquet(built["snapshots"])
    names = feature_names({"product_id"})
    assert list(snaps.columns) == ["customer_id", "cutoff", *names, "label"]
    latest = pd.read_parquet(built["latest"])
    assert list(latest.columns) == ["customer_id", "cutoff", *names]
    assert str(snaps["label"].dtype) == "int8"
    assert set(snaps["label"].unique()) <= {0, 1}
    assert snaps["customer_id"].map(type).eq(str).all()


def test_cutoffs_follow_schedule(built: dict[str, Path]) -> None:
    orders = pd.read_parquet(built["orders"])
    params = _params()
    schedule = build_schedule(orders.order_ts.min(), orders.order_ts.max(), params)
    snaps = pd.read_parquet(built["snapshots"])
    assert sorted(snaps["cutoff"].unique()) == list(schedule.labelled)
    assert len(schedule.labelled) >= 4
    latest = pd.read_parquet(built["latest"])
    assert latest["cutoff"].unique().tolist() == [data_end(orders.order_ts.max())]


def test_report_records_omitted_category_features(built: dict[str, Path]) -> None:
    report = json.loads(built["report"].read_text())
    by_order = [f for f in report["omitted_features"] if f["name"] in FEATURE_NAMES]
    omitted = {f["name"] for f in by_order}
    assert omitted == set(FEATURE_NAMES) - set(feature_names({"product_id"}))
    assert all("category" in f["reason"] for f in by_order)
    # no signal table mapped: every signal feature is omitted, and the report says why
    signals = [f for f in report["omitted_features"] if f["name"] not in FEATURE_NAMES]
    assert {f["name"] for f in signals} == {f.name for f in SIGNAL_CATALOG}
    assert all(f["reason"].startswith("signal table(s) not mapped: ") for f in signals)
    snaps = pd.read_parquet(built["snapshots"])
    assert report["snapshot_rows"] == len(snaps)
    per_cutoff = snaps.groupby("cutoff")["label"].mean()
    for entry in report["cutoffs"]:
        assert entry["label_rate"] == pytest.approx(per_cutoff[pd.Timestamp(entry["cutoff"])])


def test_population_and_label_match_definition(built: dict[str, Path]) -> None:
    """Recompute population and label in pandas for every cutoff."""
    orders = pd.read_parquet(built["orders"])
    done = orders[orders.status == "completed"]
    params = _params()
    snaps = pd.read_parquet(built["snapshots"])
    for cutoff, rows in snaps.groupby("cutoff"):
        t = pd.Timestamp(cutoff)
        since = t - pd.Timedelta(days=params.lookback_days)
        lookback = done[(done.order_ts < t) & (done.order_ts >= since)]
        assert set(rows.customer_id) == set(lookback.customer_id)
        until = t + pd.Timedelta(days=params.horizon_days)
        future = done[(done.order_ts >= t) & (done.order_ts < until)]
        expected = (~rows.customer_id.isin(set(future.customer_id))).astype("int8")
        assert rows["label"].tolist() == expected.tolist()


def test_missing_required_column_is_named(tmp_path: Path) -> None:
    synthetic_orders(3).drop(columns=["status"]).to_parquet(tmp_path / "o.parquet")
    with pytest.raises(ValueError, match="status"):
        main(
            [
                "--params", str(PARAMS), "--orders", str(tmp_path / "o.parquet"),
                "--snapshots", str(tmp_path / "s.parquet"),
                "--latest", str(tmp_path / "l.parquet"), "--report", str(tmp_path / "r.json"),
            ]
        )  # fmt: skip


def test_history_below_horizon_plus_min_history_names_found_and_needed() -> None:
    params = _params()  # H = 90, min_history_days = 60: 150 days needed
    first = pd.Timestamp("2022-01-01 10:00")
    ok = build_schedule(first, first + pd.Timedelta(days=149), params)  # 150 days incl. last
    assert len(ok.labelled) == 1
    with pytest.raises(ValueError, match=r"149 days of orders .*need at least 150 days"):
        build_schedule(first, first + pd.Timedelta(days=148), params)
