"""Ingest stage on small hand-checked exports of several shapes, and its failures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from config.data import DataParams
from ingest.ingest import IngestError, main, run_ingest
from ingest.sql import REASONS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ingest"
ROOT = Path(__file__).resolve().parents[2]


def _params(path: Path | str, /, **overrides: Any) -> DataParams:
    raw: dict[str, Any] = {
        "source": str(path),
        "columns": {
            "customer_id": "CustomerID",
            "order_id": "InvoiceNo",
            "order_ts": "InvoiceDate",
            "quantity": "Quantity",
            "unit_price": "UnitPrice",
            "product_id": "StockCode",
        },
        "status": {"cancelled_prefix": {"column": "InvoiceNo", "prefix": "C"}},
        "non_product_codes": {"column": "StockCode", "regex": "^(POST|M)$"},
        "max_quarantine_share": 1.0,
    }
    raw.update(overrides)
    return DataParams.model_validate(raw)


def _run(tmp_path: Path, params: DataParams) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    out = tmp_path / "out"
    report = run_ingest(params, out / "orders.parquet", out / "q.parquet", out / "report.json")
    assert json.loads((out / "report.json").read_text()) == report
    return report, pd.read_parquet(out / "orders.parquet"), pd.read_parquet(out / "q.parquet")


def _retail(path: Path) -> Path:
    """An Online Retail shaped export with one line per quirk (hand-checked below)."""
    ts = pd.Timestamp("2011-01-10 09:00")
    rows = [
        ("536365", "85123A", 6, ts, 2.55, 17850.0),  # 1 clean sale
        ("536365", "85123A", 6, ts, 2.55, 17850.0),  # 2 exact repeat -> duplicate_line
        ("C536379", "85123A", -6, ts, 2.55, 17850.0),  # 3 C invoice -> cancelled
        ("536380", "22633", -2, ts, 1.0, 12583.0),  # 4 negative quantity -> returned
        ("536381", "22633", 1, ts, 1.0, None),  # 5 missing_customer_id
        ("536382", "22633", 1, ts, 0.0, 12583.0),  # 6 nonpositive_price
        ("536383", "POST", 1, ts, 18.0, 12583.0),  # 7 non_product_code
        ("536384", "22633", 1, pd.NaT, 1.0, 12583.0),  # 8 bad_timestamp
        ("536385", "22633", 1, ts, float("inf"), 12583.0),  # 9 bad_number
    ]
    frame = pd.DataFrame(
        rows,
        columns=["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"],
    )
    frame.to_parquet(path)
    return path


def test_retail_shape_every_line_accounted_with_hand_checked_values(tmp_path: Path) -> None:
    report, orders, quarantine = _run(tmp_path, _params(_retail(tmp_path / "r.parquet")))
    assert report["rows_in"] == 9 and report["rows_clean"] == 3
    assert report["rows_quarantined"] == 6
    assert list(report["quarantined_by_reason"]) == list(REASONS)
    assert {k: v for k, v in report["quarantined_by_reason"].items() if v} == {
        "missing_customer_id": 1,
        "bad_timestamp": 1,
        "bad_number": 1,
        "nonpositive_price": 1,
        "duplicate_line": 1,
        "non_product_code": 1,
    }
    assert report["status_counts"] == {"completed": 1, "returned": 1, "cancelled": 1}
    assert orders["customer_id"].tolist() == ["17850", "17850", "12583"]
    assert orders["order_id"].tolist() == ["536365", "C536379", "536380"]
    assert orders["amount"].tolist() == pytest.approx([15.3, -15.3, -2.0])
    assert orders["quantity"].tolist() == [6.0, -6.0, -2.0]
    assert orders["status"].tolist() == ["completed", "cancelled", "returned"]
    assert list(orders.columns) == [
        "customer_id", "order_id", "order_ts", "amount", "status", "quantity", "product_id",
    ]  # fmt: skip
    assert quarantine["source_row"].tolist() == [2, 5, 6, 7, 8, 9]
    assert quarantine["reason"].tolist() == [
        "duplicate_line", "missing_customer_id", "nonpositive_price", "non_product_code",
        "bad_timestamp", "bad_number",
    ]  # fmt: skip
    assert quarantine["reason_column"].tolist()[1:] == [
        "CustomerID", "UnitPrice", "StockCode", "InvoiceDate", "UnitPrice",
    ]  # fmt: skip
    assert quarantine["StockCode"].iloc[3] == "POST"  # original source columns kept


def test_semicolon_csv_with_status_column_and_yyyymmdd_dates(tmp_path: Path) -> None:
    params = DataParams.model_validate(
        {
            "source": str(FIXTURES / "semicolon_status.csv"),
            "csv_delimiter": ";",
            "decimal_separator": ",",
            "date_format": "%Y%m%d",
            "columns": {
                "customer_id": "Kunde",
                "order_id": "Bestellung",
                "order_ts": "Datum",
                "product_id": "Artikel",
                "category": "Kategorie",
                "quantity": "Menge",
                "unit_price": "Preis",
                "status": "Status",
            },
            "status": {
                "value_map": {
                    "Completed": "completed",
                    "Refunded": "returned",
                    "Cancelled": "cancelled",
                }
            },
            "non_product_codes": {"column": "Artikel", "codes": ["SHIP"]},
            "data_end": "2011-12-30",
            "max_quarantine_share": 1.0,
        }
    )
    report, orders, quarantine = _run(tmp_path, params)
    assert (report["rows_in"], report["rows_clean"], report["rows_quarantined"]) == (13, 5, 8)
    assert dict(zip(quarantine["source_row"], quarantine["reason"], strict=True)) == {
        2: "duplicate_line",
        5: "missing_customer_id",
        6: "bad_timestamp",
        7: "bad_number",
        8: "nonpositive_price",
        9: "non_product_code",
        10: "unknown_status",
        11: "after_data_end",
    }
    assert orders["customer_id"].tolist() == ["00123", "00124", "00125", "00132", "00133"]
    assert orders["status"].tolist() == [
        "completed", "returned", "cancelled", "returned", "completed",
    ]  # fmt: skip
    assert orders["amount"].tolist() == pytest.approx([7.0, -10.0, -5.0, -3.5, 8.0])
    assert orders["quantity"].tolist() == [2.0, -1.0, -1.0, -1.0, 4.0]
    assert orders["order_id"].iloc[4] == "00133@2011-03-02T00:00:00"
    assert pd.isna(orders["category"].iloc[4]) and orders["category"].iloc[0] == "Toys"
    assert orders["order_ts"].iloc[0] == pd.Timestamp("2011-01-31")
    assert report["customers"] == 5 and report["orders"] == 5
    assert (report["date_min"], report["date_max"]) == (
        "2011-01-31T00:00:00",
        "2011-03-02T00:00:00",
    )
    assert (quarantine["Kunde"].iloc[0], quarantine["Preis"].iloc[0]) == ("00123", "3,50")


def test_amount_only_export_offsets_and_synthesised_orders(tmp_path: Path) -> None:
    params = DataParams.model_validate(
        {
            "source": str(FIXTURES / "amount_only.csv"),
            "columns": {"customer_id": "customer", "order_ts": "ts", "amount": "total"},
            "max_quarantine_share": 1.0,
        }
    )
    report, orders, quarantine = _run(tmp_path, params)
    assert list(orders.columns) == ["customer_id", "order_id", "order_ts", "amount", "status"]
    # +02:00 12:00 is 10:00 UTC: the same customer-timestamp, so the same order
    assert orders["order_id"].tolist() == ["c1@2011-01-01T10:00:00"] * 2 + [
        "c2@2011-01-02T09:30:00"
    ]
    assert orders["status"].tolist() == ["completed", "completed", "returned"]
    assert orders["amount"].tolist() == [10.5, 4.0, -3.0]
    assert quarantine["reason"].tolist() == ["bad_timestamp", "bad_number", "bad_number"]
    assert quarantine["reason_column"].tolist() == ["ts", "total", "total"]
    assert report["orders"] == 2 and report["customers"] == 2


def test_integer_yyyymmdd_parquet_column(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"cust": ["a", "b", "c"], "day": [20110131, 20110229, 20111201], "value": [1.0, 2.0, 3.0]}
    )
    frame.to_parquet(tmp_path / "int_dates.parquet")
    columns = {"customer_id": "cust", "order_ts": "day", "amount": "value"}
    params = _params(
        tmp_path / "int_dates.parquet",
        columns=columns,
        status={},
        non_product_codes={},
        date_format="%Y%m%d",
    )
    _, orders, quarantine = _run(tmp_path, params)
    assert orders["order_ts"].tolist() == [pd.Timestamp("2011-01-31"), pd.Timestamp("2011-12-01")]
    assert quarantine["reason"].tolist() == ["bad_timestamp"]  # 2011 has no 29 February
    without_format = _params(
        tmp_path / "int_dates.parquet", columns=columns, status={}, non_product_codes={}
    )
    with pytest.raises(IngestError, match=r"'day' has type BIGINT: set data.date_format"):
        _run(tmp_path, without_format)


def test_glob_of_files_duplicates_across_files_and_source_location(tmp_path: Path) -> None:
    src = tmp_path / "exports"
    src.mkdir()
    shutil.copy(FIXTURES / "amount_only.csv", src / "2011-01.csv")
    (src / "2011-02.csv").write_text(
        "customer,ts,total\nc9,2011-02-01,1\nc1,2011-01-01T10:00:00Z,10.5\n"
    )
    params = DataParams.model_validate(
        {
            "source": str(src / "*.csv"),
            "columns": {"customer_id": "customer", "order_ts": "ts", "amount": "total"},
            "max_quarantine_share": 1.0,
        }
    )
    report, _, quarantine = _run(tmp_path, params)
    assert report["files"] == 2 and report["rows_in"] == 8 and report["rows_clean"] == 4
    last = quarantine.iloc[-1]
    assert (last["reason"], last["source_row"]) == ("duplicate_line", 2)
    assert last["source_file"].endswith("2011-02.csv")


@pytest.mark.parametrize("data_end", ["2011-01-10", "2011-01-10T09:00:00"])
def test_data_end_keeps_lines_up_to_the_declared_end(tmp_path: Path, data_end: str) -> None:
    report, _, _ = _run(tmp_path, _params(_retail(tmp_path / "r.parquet"), data_end=data_end))
    assert report["quarantined_by_reason"]["after_data_end"] == 0 and report["rows_clean"] == 3


def test_lines_after_data_end_are_quarantined(tmp_path: Path) -> None:
    params = _params(_retail(tmp_path / "r.parquet"), data_end="2011-01-10T08:59:59")
    with pytest.raises(IngestError, match=r"no clean rows: .*after_data_end=3"):
        _run(tmp_path, params)


_TYPO_COLUMNS = {"customer_id": "Customer", "order_ts": "InvoiceDate", "amount": "UnitPrice"}
FAILURES = [
    (
        {"columns": _TYPO_COLUMNS},
        r"data.columns.customer_id = 'Customer' \(did you mean 'CustomerID'",
    ),
    ({"source": "nowhere/orders.parquet"}, r"'nowhere/orders.parquet' does not exist"),
    ({"source": "nowhere/*.csv"}, r"data.source 'nowhere/\*.csv' matches no file"),
    ({"max_quarantine_share": 0.5}, r"6 of 9 rows \(66.7%\) quarantined, above data.max_quar"),
    ({"non_product_codes": {"column": "StockCode", "regex": "."}}, r"no clean rows: all 9 rows"),
]


@pytest.mark.parametrize(("change", "message"), FAILURES)
def test_clear_failures_name_the_column_file_or_count(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    params = _params(_retail(tmp_path / "r.parquet"), **change)
    with pytest.raises(IngestError, match=message):
        _run(tmp_path, params)


def test_share_failure_still_writes_report_and_quarantine_but_no_orders(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "orders.parquet").write_text("stale")
    params = _params(_retail(tmp_path / "r.parquet"), max_quarantine_share=0.1)
    with pytest.raises(IngestError):
        run_ingest(params, out / "orders.parquet", out / "q.parquet", out / "report.json")
    assert json.loads((out / "report.json").read_text())["rows_quarantined"] == 6
    assert len(pd.read_parquet(out / "q.parquet")) == 6
    assert not (out / "orders.parquet").exists()


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"this is not parquet at all")
    with pytest.raises(IngestError, match=r"cannot read .*broken.parquet"):
        _run(tmp_path, _params(bad))


def _params_with_data(tmp_path: Path, data: dict[str, Any]) -> Path:
    """The repository's params.yaml with the ``data`` section replaced."""
    raw = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump({**raw, "data": data}), encoding="utf-8")
    return path


def test_main_prints_one_clean_line_and_exits_nonzero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params_file = _params_with_data(
        tmp_path,
        {"source": "missing.csv", "columns": {"customer_id": "a", "order_ts": "b", "amount": "c"}},
    )
    args = ["--params", str(params_file), "--orders", str(tmp_path / "o.parquet")]
    args += ["--quarantine", str(tmp_path / "q.parquet"), "--report", str(tmp_path / "r.json")]
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "ingest failed: data.source file 'missing.csv' does not exist" in err
    assert "Traceback" not in err


def test_main_names_a_mistyped_params_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params_file = _params_with_data(
        tmp_path,
        {"source": "x.csv", "colums": {"customer_id": "a", "order_ts": "b", "amount": "c"}},
    )
    args = ["--params", str(params_file), "--orders", "o", "--quarantine", "q", "--report", "r"]
    with pytest.raises(SystemExit):
        main(args)
    assert "data.colums" in capsys.readouterr().err


@pytest.mark.slow
def test_bundled_online_retail_accounts_for_every_row(tmp_path: Path) -> None:
    from config.base import load_section, read_params

    params = load_section(read_params(ROOT / "params.yaml"), "data", DataParams)
    params = params.model_copy(update={"source": str(ROOT / params.source)})
    report, orders, quarantine = _run(tmp_path, params)
    assert report["rows_in"] == 541_909
    assert report["rows_clean"] + report["rows_quarantined"] == 541_909
    assert len(orders) + len(quarantine) == 541_909
    # data/README.md: 135,080 lines have no CustomerID; all are quarantined first
    assert report["quarantined_by_reason"]["missing_customer_id"] == 135_080
    assert (report["date_min"], report["date_max"]) == (
        "2010-12-01T08:26:00",
        "2011-12-09T12:50:00",
    )
    assert set(orders["status"]) <= {"completed", "returned", "cancelled"}
    assert orders.loc[orders["order_id"].str.startswith("C"), "status"].eq("cancelled").all()


def test_a_source_column_named_reason_is_kept_and_ours_is_underscored(tmp_path: Path) -> None:
    source = tmp_path / "returns.csv"
    source.write_text("customer,ts,total,reason\nc1,2011-01-01,5,\nc2,2011-01-02,oops,damaged\n")
    params = DataParams.model_validate(
        {
            "source": str(source),
            "columns": {"customer_id": "customer", "order_ts": "ts", "amount": "total"},
            "max_quarantine_share": 1.0,
        }
    )
    report, _, quarantine = _run(tmp_path, params)
    assert report["quarantined_by_reason"]["bad_number"] == 1
    assert quarantine[["reason", "_reason", "source_row"]].values.tolist() == [
        ["damaged", "bad_number", 2]
    ]


def _lookup_params(tmp_path: Path, products: pd.DataFrame) -> DataParams:
    products.to_parquet(tmp_path / "products.parquet")
    lookup = {"source": str(tmp_path / "products.parquet"), "key": "StockCode"}
    lookup |= {"lookup_key": "code", "columns": ["dept"]}
    params = _params(_retail(tmp_path / "r.parquet"), lookups=[lookup])
    columns = params.columns.model_copy(update={"category": "dept"})
    return params.model_copy(update={"columns": columns})


def test_lookup_adds_categories_in_source_order(tmp_path: Path) -> None:
    products = pd.DataFrame({"code": ["22633", "85123A", "99999"], "dept": ["toys", "home", "x"]})
    _, orders, quarantine = _run(tmp_path, _lookup_params(tmp_path, products))
    assert orders["category"].tolist() == ["home", "home", "toys"]
    assert orders["order_id"].tolist() == ["536365", "C536379", "536380"]
    assert quarantine["source_row"].tolist() == [2, 5, 6, 7, 8, 9]
    assert "dept" in quarantine.columns  # looked-up columns travel with the line


def test_lookup_with_repeated_keys_is_refused(tmp_path: Path) -> None:
    products = pd.DataFrame({"code": ["22633", "22633"], "dept": ["toys", "games"]})
    with pytest.raises(IngestError, match=r"products.parquet.* 1 value\(s\) of 'code' on more"):
        _run(tmp_path, _lookup_params(tmp_path, products))
