"""Online features equal the batch snapshot row exactly, and bad input is named."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from config.base import load_section, read_params
from config.features import FeatureParams
from features import build_online
from features.engines import DuckDBEngine
from features.schedule import build_schedule
from ingest.ingest import main as ingest_main

ROOT = Path(__file__).resolve().parents[2]
PARAMS = ROOT / "params.yaml"


@pytest.fixture(scope="module")
def params() -> FeatureParams:
    return load_section(read_params(PARAMS), "features", FeatureParams)


@pytest.fixture(scope="module")
def orders_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Canonical orders from the bundled raw data, via the ingest stage."""
    root = tmp_path_factory.mktemp("online")
    raw = read_params(PARAMS)
    raw["data"]["source"] = str(ROOT / raw["data"]["source"])
    (root / "params.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    ingest_main(
        [
            "--params", str(root / "params.yaml"), "--orders", str(root / "orders.parquet"),
            "--quarantine", str(root / "q.parquet"), "--report", str(root / "ingest.json"),
        ]
    )  # fmt: skip
    return root / "orders.parquet"


@pytest.fixture(scope="module")
def batch(orders_path: Path, params: FeatureParams) -> tuple[pd.DataFrame, frozenset[str]]:
    """Latest snapshot and the earliest labelled cutoff, without labels."""
    engine = DuckDBEngine(orders_path, params)
    try:
        schedule = build_schedule(*engine.bounds(), params)
        frame = engine.features([schedule.labelled[0], schedule.latest], labelled=False)
        return frame, engine.columns
    finally:
        engine.close()


def _sample(frame: pd.DataFrame, n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    ids = frame["customer_id"].unique()
    return sorted(rng.choice(ids, size=n, replace=False).tolist())


def test_online_equals_batch_for_sample_customers(
    orders_path: Path, batch: tuple[pd.DataFrame, frozenset[str]], params: FeatureParams
) -> None:
    frame, columns = batch
    orders = pd.read_parquet(orders_path)
    seed = int(read_params(PARAMS)["seed"])
    for cutoff, rows in frame.groupby("cutoff"):
        for customer in _sample(rows, 12, seed):
            # every order of the customer, including those after the cutoff
            records = orders[orders.customer_id == customer].to_dict("records")
            got = build_online(records, pd.Timestamp(cutoff), params, columns=columns)
            want = rows[rows.customer_id == customer].reset_index(drop=True)
            pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_online_several_customers_in_one_call(
    orders_path: Path, batch: tuple[pd.DataFrame, frozenset[str]], params: FeatureParams
) -> None:
    frame, columns = batch
    latest = frame[frame.cutoff == frame.cutoff.max()]
    customers = _sample(latest, 5, seed=1)
    orders = pd.read_parquet(orders_path)
    got = build_online(
        orders[orders.customer_id.isin(customers)], latest.cutoff.iloc[0], params, columns=columns
    )
    want = latest[latest.customer_id.isin(customers)].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def _record(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "customer_id": "42",
        "order_id": "o1",
        "order_ts": "2024-05-01T10:00:00",
        "amount": 12.5,
        "status": "completed",
    }
    return {**base, **overrides}


def test_timezone_aware_inputs_are_converted_to_utc(params: FeatureParams) -> None:
    naive = build_online([_record()], "2024-06-01T00:00:00", params)
    aware = build_online(
        [_record(order_ts="2024-05-01T12:00:00+02:00")], "2024-06-01T02:00:00+02:00", params
    )
    pd.testing.assert_frame_equal(naive, aware, check_exact=True)
    assert naive["days_since_last_order"].iloc[0] == pytest.approx(30 + 14 / 24)


def test_columns_argument_pins_the_feature_set(params: FeatureParams) -> None:
    frame = build_online([_record()], "2024-06-01", params, columns={"product_id"})
    assert "products_90d" in frame.columns and "categories_90d" not in frame.columns
    assert frame["products_90d"].iloc[0] == 0  # the posted rows have no product ids


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({k: v for k, v in _record().items() if k != "amount"}, "amount"),
        (_record(order_ts="not a date"), "order_ts.*row"),
        (_record(amount="twelve"), "amount.*row"),
        (_record(status="shipped"), "status.*row"),
        (_record(customer_id=None), "customer_id.*row"),
    ],
)
def test_bad_input_names_the_field(
    record: dict[str, object], message: str, params: FeatureParams
) -> None:
    with pytest.raises(ValueError, match=message):
        build_online([_record(order_id="ok"), record], "2024-06-01", params)


def test_no_completed_order_before_as_of_gives_no_row(params: FeatureParams) -> None:
    frame = build_online([_record(order_ts="2024-07-01")], "2024-06-01", params)
    assert frame.empty


def test_batch_engine_reads_zone_aware_times_in_utc_whatever_the_machine_zone(
    tmp_path: Path, params: FeatureParams
) -> None:
    """A Parquet ``order_ts`` with a time zone is read as its UTC time by the batch
    engine, as by ingest and :func:`build_online`, even where the machine's zone is
    not UTC (DuckDB's session zone would otherwise shift it by the machine's offset)."""
    import subprocess
    import sys
    import textwrap

    times = pd.to_datetime(["2024-05-01 23:00", "2024-05-20 23:30"]).tz_localize("UTC")
    frame = pd.DataFrame({"customer_id": "c1", "order_id": ["o1", "o2"], "order_ts": times,
                          "amount": 10.0, "status": "completed"})  # fmt: skip
    path = tmp_path / "orders.parquet"
    frame.to_parquet(path, index=False)
    as_of = pd.Timestamp("2024-06-01")
    script = textwrap.dedent(f"""
        import json, pandas as pd
        from config.features import FeatureParams
        from features.engines import DuckDBEngine
        engine = DuckDBEngine({str(path)!r}, FeatureParams(**{params.model_dump()!r}))
        out = engine.features([pd.Timestamp({str(as_of)!r})], labelled=False)
        print(json.dumps(float(out.days_since_last_order.iloc[0])))
    """)  # fmt: skip
    env = {**os.environ, "TZ": "Asia/Shanghai"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, cwd=ROOT, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    batch_days = json.loads(done.stdout.strip().splitlines()[-1])
    online = build_online(frame.to_dict("records"), as_of, params)
    assert batch_days == online.days_since_last_order.iloc[0] == (11 * 24 + 0.5) / 24
