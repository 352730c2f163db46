"""CSV reading that cannot lose a line, and the plausible-value rules (issue 11).

Each export here broke the old reader: DuckDB's sniffer took ``#`` for a comment
character (the line vanished before counting), a malformed line stopped the stage,
GBK could not be read, and impossible dates or amounts came out clean.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from config.data import DataParams
from ingest.csvread import count_lines
from ingest.ingest import IngestError, run_ingest, validate_records

HEADER = "cust,ts,amount,note\n"


def _params(path: Path, /, **overrides: Any) -> DataParams:
    raw: dict[str, Any] = {
        "source": str(path),
        "columns": {"customer_id": "cust", "order_ts": "ts", "amount": "amount"},
        "max_quarantine_share": 1.0,
    }
    return DataParams.model_validate(raw | overrides)


def _run(tmp_path: Path, params: DataParams) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    out = tmp_path / "out"
    report = run_ingest(params, out / "o.parquet", out / "q.parquet", out / "r.json")
    return report, pd.read_parquet(out / "o.parquet"), pd.read_parquet(out / "q.parquet")


def test_hash_cells_are_data_not_comments(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(HEADER + "#17998,2011-01-03,5,#x\n17999,2011-01-04,6,ok\n#,2011-01-05,7,#\n")
    report, clean, bad = _run(tmp_path, _params(path))
    assert report["rows_in"] == 3 and report["source_lines"] == 4
    assert list(clean["customer_id"]) == ["#17998", "17999", "#"]
    assert bad.empty


def test_malformed_lines_are_quarantined_with_line_and_text(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    lines = [
        "1,2011-01-03,5,ok",  # line 2: clean
        "2,2011-01-03,5,ok,EXTRA",  # line 3: 5 fields
        "",  # line 4: blank
        '"3,2011-01-04,6,open quote',  # line 5: unbalanced quote
        '4,2011-01-05,7,"multi',  # line 6-7: one record over two lines
        'line"',
        "5,2011-01-06",  # line 8: 2 fields
        "6,2011-01-07,8,last",  # line 9: clean, no final newline
    ]
    path.write_text(HEADER + "\n".join(lines))
    report, clean, bad = _run(tmp_path, _params(path))
    assert count_lines(path, "utf-8") == 9 == report["source_lines"]
    assert report["rows_in"] == 7 == report["rows_clean"] + report["rows_quarantined"]
    assert list(clean["customer_id"]) == ["1", "4", "6"]
    assert report["quarantined_by_reason"]["malformed_line"] == 4
    assert list(bad["source_line"]) == [3, 4, 5, 8]
    assert list(bad["raw_line"]) == [lines[1], "", lines[3], lines[6]]
    assert list(bad["reason"]) == ["malformed_line"] * 4
    assert bad["problem"].iloc[0] == "5 fields, the header has 4"


def test_gbk_and_gb18030_exports_are_read(tmp_path: Path) -> None:
    text = "客户,ts,amount,note\n张三,2011-01-03,5,北京\n李四,2011-01-04,6,上海\n"
    for encoding in ("gbk", "gb18030"):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes(text.encode(encoding))
        columns = {"customer_id": "客户", "order_ts": "ts", "amount": "amount"}
        params = _params(path, csv_encoding=encoding, columns=columns)
        _, clean, _ = _run(tmp_path / encoding, params)
        assert list(clean["customer_id"]) == ["张三", "李四"]


def test_a_wrong_encoding_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes((HEADER + "1,2011-01-03,5,ok\n2,2011-01-03,5,北京\n").encode("gbk"))
    with pytest.raises(IngestError, match=r"line 3 is not valid utf-8.*data\.csv_encoding"):
        _run(tmp_path, _params(path))


def test_quote_escape_and_headerless_dialect(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_text("'a;1';2011-01-03;5;'it\\'s'\nb;2011-01-04;6;x\n")
    columns = {"customer_id": "column0", "order_ts": "column1", "amount": "column2"}
    params = _params(
        path, csv_delimiter=";", csv_quote="'", csv_escape="\\", csv_header=False, columns=columns
    )
    report, clean, _ = _run(tmp_path, params)
    assert report["rows_in"] == 2
    assert list(clean["customer_id"]) == ["a;1", "b"]


def test_implausible_timestamps_and_amounts_are_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    rows = [
        "1,2011-01-03,5,ok",
        "2,0001-01-01,5,year one",
        "3,1900-01-01,5,too early",
        "4,9999-12-31,5,far future",
        "5,2011-01-03,1e308,huge",
        "6,2011-01-03,-1e12,huge return",
        "7,1990-01-01,5,on min_date",
    ]
    path.write_text(HEADER + "\n".join(rows) + "\n")
    report, clean, bad = _run(tmp_path, _params(path))
    assert list(clean["customer_id"]) == ["1", "7"]
    assert list(bad["reason"]) == ["implausible_timestamp"] * 3 + ["implausible_amount"] * 2
    assert list(bad["reason_column"]) == ["ts"] * 3 + ["amount"] * 2
    assert report["rows_in"] == 7


def test_plausible_rules_apply_to_api_records() -> None:
    base = {"customer_id": "c1", "amount": 5.0}
    records = [
        {**base, "order_ts": "2011-01-03"},
        {**base, "order_ts": "0001-01-01"},
        {**base, "order_ts": "2027-01-03"},  # beyond now + 1 day
        {"customer_id": "c1", "order_ts": "2011-01-04", "amount": 1e308},
    ]
    result = validate_records(records, now=datetime(2026, 12, 1))
    assert len(result.frame) == 1
    assert [(e.index, e.field, e.reason) for e in result.errors] == [
        (1, "order_ts", "implausible_timestamp"),
        (2, "order_ts", "implausible_timestamp"),
        (3, "amount", "implausible_amount"),
    ]


def test_csv_lookups_use_the_same_dialect(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes((HEADER + "1,2011-01-03,5,#P1\n2,2011-01-04,6,P2\n").encode("gbk"))
    products = tmp_path / "products.csv"
    products.write_bytes("note,dept\n#P1,玩具\nP2,书\n".encode("gbk"))
    lookup = {"source": str(products), "key": "note", "columns": ["dept"]}
    columns = {"customer_id": "cust", "order_ts": "ts", "amount": "amount", "category": "dept"}
    params = _params(path, csv_encoding="gbk", lookups=[lookup], columns=columns)
    _, clean, _ = _run(tmp_path, params)
    assert list(clean["category"]) == ["玩具", "书"]
    products.write_bytes("note,dept\n#P1,玩具,extra\nP2,书\n".encode("gbk"))
    with pytest.raises(IngestError, match=r"products\.csv: line 2 is malformed \(3 fields"):
        _run(tmp_path / "again", params)
