"""Property: for any messy export, every row is accounted for and clean rows obey the schema."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.data import DataParams
from ingest.ingest import IngestError, run_ingest
from tests.hypothesis_profiles import examples

COLUMNS = ("cust", "ts", "qty", "price", "code", "status")
_TEXT = st.text(alphabet="abcXYZ019 -.:/", max_size=6)
CELLS: dict[str, st.SearchStrategy[str | None]] = {
    "cust": st.sampled_from(["c1", "c2", " c3 ", "", "17850.0", "00123", "  "]) | _TEXT,
    "ts": st.sampled_from(
        [
            "2011-01-01",
            "2011-01-01 10:00:00",
            "2011-01-01T10:00:00+02:00",
            "2011-06-30 23:59:59.5",
            "20110101",
            "2011-02-30",
            "99999-01-01",
            "garbage",
            "",
        ]
    )
    | _TEXT,
    "qty": st.sampled_from(["1", "-2", "0", "x", "nan", "inf", "1e400", " 3 ", ""])
    | st.integers(-5, 50).map(str),
    "price": st.sampled_from(["2.5", "0", "-1", "abc", "", "1e308", "-inf"])
    | st.floats(-10, 1e4, allow_nan=False).map(repr),
    "code": st.sampled_from(["P1", "P2", "POST", "", "p 3"]),
    "status": st.sampled_from(["Completed", "Refunded", "Cancelled", " done ", "weird", ""]),
}
ROW = st.fixed_dictionaries({c: st.none() | CELLS[c] for c in COLUMNS})


@st.composite
def exports(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Rows with nulls, junk and exact repeats of earlier rows."""
    rows = draw(st.lists(ROW, min_size=1, max_size=40))
    repeats = draw(st.lists(st.integers(0, len(rows) - 1), max_size=5))
    return rows + [dict(rows[i]) for i in repeats]


def _params(source: Path, with_status: bool) -> DataParams:
    columns = {
        "customer_id": "cust",
        "order_ts": "ts",
        "quantity": "qty",
        "unit_price": "price",
        "product_id": "code",
        "status": "status" if with_status else None,
    }
    return DataParams.model_validate(
        {
            "source": str(source),
            "columns": columns,
            "status": {
                "value_map": {"Completed": "completed", "Refunded": "returned", "done": "completed"}
            },
            "non_product_codes": {"column": "code", "codes": ["POST"]},
            "data_end": "2011-12-31",
            "max_quarantine_share": 1.0,
        }
    )


def _write(rows: list[dict[str, Any]], folder: Path, fmt: str) -> Path:
    if fmt == "parquet":
        table = pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in COLUMNS})
        pq.write_table(table, folder / "export.parquet")
        return folder / "export.parquet"
    pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(folder / "export.csv", index=False)
    return folder / "export.csv"


def _check_schema(orders: pd.DataFrame) -> None:
    assert list(orders.columns) == [
        "customer_id", "order_id", "order_ts", "amount", "status", "quantity", "product_id",
    ]  # fmt: skip
    assert str(orders["order_ts"].dtype).startswith("datetime64")
    assert orders["amount"].dtype == "float64" and orders["quantity"].dtype == "float64"
    for row in orders.itertuples(index=False):
        assert isinstance(row.customer_id, str) and row.customer_id == row.customer_id.strip(" ")
        assert row.customer_id and isinstance(row.order_id, str) and row.order_id
        assert not pd.isna(row.order_ts) and row.order_ts < pd.Timestamp("2012-01-01")
        assert math.isfinite(row.amount) and math.isfinite(row.quantity)
        assert row.status in ("completed", "returned", "cancelled")
        if row.status == "completed":
            assert row.amount > 0 and row.quantity > 0
        else:
            assert row.amount <= 0 and row.quantity <= 0
        assert row.product_id != "POST"


@settings(max_examples=examples(40), suppress_health_check=[HealthCheck.too_slow])
@given(rows=exports(), fmt=st.sampled_from(["csv", "parquet"]), with_status=st.booleans())
def test_rows_in_equals_clean_plus_quarantined_and_clean_rows_obey_schema(
    rows: list[dict[str, Any]], fmt: str, with_status: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = _write(rows, folder, fmt)
        orders_path, q_path, report_path = (
            folder / "o.parquet",
            folder / "q.parquet",
            folder / "r.json",
        )
        try:
            run_ingest(_params(source, with_status), orders_path, q_path, report_path)
        except IngestError as exc:
            assert str(exc).startswith("no clean rows"), exc
        report = json.loads(report_path.read_text())
        quarantine = pd.read_parquet(q_path)
        orders = pd.read_parquet(orders_path) if orders_path.exists() else None
        clean = 0 if orders is None else len(orders)
        assert report["rows_in"] == len(rows) == clean + len(quarantine)
        assert report["rows_quarantined"] == len(quarantine)
        assert sum(report["quarantined_by_reason"].values()) == len(quarantine)
        assert quarantine["source_row"].is_unique
        assert set(quarantine["source_row"]) <= set(range(1, len(rows) + 1))
        # CSV cannot tell a null cell from an empty one; Parquet can
        distinct = len(
            {tuple(r[c] if fmt == "parquet" else r[c] or "" for c in COLUMNS) for r in rows}
        )
        assert clean <= distinct  # exact repeats never reach the clean table twice
        if orders is not None:
            assert report["rows_clean"] == clean
            _check_schema(orders)
