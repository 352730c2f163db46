"""validate_records: API order records through the ingest rules, fast and SQL-equivalent."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.data import DataParams
from ingest.checks import number, timestamp, timestamp_value, timestamps
from ingest.ingest import RecordError, validate_records
from ingest.records import validate_records_sql
from tests.hypothesis_profiles import examples

RETAIL = DataParams.model_validate(
    {
        "source": "data/raw/online_retail.parquet",
        "columns": {
            "customer_id": "CustomerID",
            "order_id": "InvoiceNo",
            "order_ts": "InvoiceDate",
            "quantity": "Quantity",
            "unit_price": "UnitPrice",
            "product_id": "StockCode",
            "status": "Status",
        },
        "status": {
            "cancelled_prefix": {"column": "InvoiceNo", "prefix": "C"},
            "value_map": {"Refunded": "returned", "done": "completed"},
        },
        "non_product_codes": {"column": "StockCode", "codes": ["POST"], "regex": "^gift_"},
        "data_end": "2011-12-09",
    }
)


def _rec(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"customer_id": "c1", "order_ts": "2011-03-01T10:00:00", "amount": 5.0}
    return base | fields


def test_hand_checked_records_give_one_named_error_each() -> None:
    records = [
        _rec(),
        _rec(customer_id="  "),
        _rec(order_ts="01/03/2011"),
        _rec(amount="12,5"),
        _rec(amount=0),
        _rec(),
        _rec(status="on hold"),
        _rec(colour="red"),
        "not a dict",
        _rec(order_ts="2011-12-10"),
    ]
    result = validate_records(records, RETAIL)
    assert result.errors == [
        RecordError(1, "customer_id", "missing_customer_id", "  "),
        RecordError(2, "order_ts", "bad_timestamp", "01/03/2011"),
        RecordError(3, "amount", "bad_number", "12,5"),
        RecordError(4, "amount", "nonpositive_price", "0"),
        RecordError(5, "*", "duplicate_line", None),
        RecordError(6, "status", "unknown_status", "on hold"),
        RecordError(7, "colour", "unknown_field", None),
        RecordError(8, "*", "not_a_record", "str"),
        RecordError(9, "order_ts", "after_data_end", "2011-12-10"),
    ]
    assert result.frame.to_dict("records") == [
        {
            "customer_id": "c1",
            "order_id": "c1@2011-03-01T10:00:00",
            "order_ts": pd.Timestamp("2011-03-01 10:00"),
            "amount": 5.0,
            "status": "completed",
        }
    ]


def test_status_prefix_sign_and_codes_follow_the_data_params() -> None:
    records = [
        {"customer_id": 17850.0, "order_id": "C1", "order_ts": datetime(2011, 1, 5), "quantity": 2,
         "unit_price": 1.5, "product_id": "A"},
        {"customer_id": "17850", "order_id": "2", "order_ts": date(2011, 1, 6), "quantity": -1,
         "unit_price": 1.5, "product_id": "A"},
        {"customer_id": "17850", "order_id": "3", "order_ts": "2011-01-07", "quantity": 1,
         "unit_price": 3.0, "product_id": "A", "status": "REFUNDED"},
        {"customer_id": "17850", "order_id": "4", "order_ts": "2011-01-08", "quantity": 1,
         "unit_price": 3.0, "product_id": "gift_0001_20"},
        {"customer_id": "17850", "order_id": "5", "order_ts": "2011-01-09", "quantity": 1,
         "unit_price": 3.0, "product_id": " POST "},
    ]  # fmt: skip
    result = validate_records(records, RETAIL)
    frame = result.frame
    assert frame["customer_id"].tolist() == ["17850"] * 3
    assert frame["status"].tolist() == ["cancelled", "returned", "returned"]
    assert frame["amount"].tolist() == [-3.0, -1.5, -3.0]
    assert frame["quantity"].tolist() == [-2.0, -1.0, -1.0]
    assert [(e.index, e.reason) for e in result.errors] == [
        (3, "non_product_code"),
        (4, "non_product_code"),
    ]


def test_aware_datetimes_and_offsets_become_naive_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    records = [
        _rec(order_ts=datetime(2011, 3, 1, 12, tzinfo=plus2), amount=1.0),
        _rec(order_ts="2011-03-01T12:00:00+02:00", amount=2.0),
        _rec(order_ts="2011-03-01T10:00:00Z", amount=3.0),
    ]
    frame = validate_records(records).frame
    assert frame["order_ts"].tolist() == [pd.Timestamp("2011-03-01 10:00")] * 3
    assert frame["order_id"].nunique() == 1


def test_no_amount_and_no_price_is_a_bad_number() -> None:
    result = validate_records([{"customer_id": "a", "order_ts": "2011-01-01", "quantity": 1}])
    assert result.errors == [RecordError(0, "amount", "bad_number", None)]
    assert result.frame.empty and "amount" in result.frame.columns


TIMESTAMP_TEXTS = [
    "2011-01-31", "2011-1-5", "2011/01/31", "2011-01-31 10:00", "2011-01-31T10:00:00",
    "2011-01-31 1:2:3", "2011-01-31 10:00:00.5", "2011-01-31 10:00:00.1234567",
    "2011-01-31 10:00:00+02:00", "2011-01-31T10:00:00Z", "2011-01-31T10:00:00+0530",
    "2011-01-31T10:00:00-05", "2011-01-31T10:00:00 UTC", " 2011-01-31 ", "02011-01-31",
    "2011-01-31 10", "31-01-2011", "20110131", "2011-02-30", "2011-01-31 25:00:00",
    "2011-01-31 10:00:60", "", "garbage", "2011-13-01",
]  # fmt: skip
NUMBER_TEXTS = [
    "12", " 12 ", "1_000", "1e3", "+5", "-0", ".5", "5.", "nan", "NaN", "-inf", "infinity",
    "1e400", "0x10", "1,5", "", " ", "1 2", "--1", "e5", "١٢",
]  # fmt: skip


def _sql_parse(expr: str, texts: list[str]) -> list[Any]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return [con.execute(expr, [t]).fetchone()[0] for t in texts]  # type: ignore[index]


def test_python_timestamp_parser_matches_duckdb() -> None:
    sql = (
        "SELECT CASE WHEN length(trim($1)) <= 19 THEN TRY_CAST(trim($1) AS TIMESTAMP) "
        "ELSE CAST(TRY_CAST(trim($1) AS TIMESTAMPTZ) AS TIMESTAMP) END"
    )
    assert [timestamp(t) for t in TIMESTAMP_TEXTS] == _sql_parse(sql, TIMESTAMP_TEXTS)


def _as_datetime64(value: datetime | None) -> np.datetime64:
    return np.datetime64("NaT", "us") if value is None else np.datetime64(value, "us")


def test_column_timestamp_parser_equals_the_scalar_one() -> None:
    """The numpy fast path for plain ISO text and the fallback agree with timestamp()."""
    values: list[Any] = [
        *TIMESTAMP_TEXTS, "0000-01-01", "0001-01-01", "9999-12-31T23:59:59.9999999",
        "2000-02-29", "1900-02-29", "2004-02-29T00:00:00", "1969-12-31T23:59:59.999999",
        "2011-04-31", "2011-01-31T10:00:00.", "2011-01-31T10:00:00.12a", "2011-01-31\x00",
        "2011-01-31T24:00:00", "2011-00-10", "2011-01-00", "2011-01-31T10:00:00.\u0662",
        "\u0662\u0660\u0661\u0661-01-31", None, 5, datetime(2011, 1, 1, tzinfo=UTC),
        date(2011, 2, 2),
    ]  # fmt: skip
    expected = np.array([_as_datetime64(timestamp_value(v)) for v in values])
    np.testing.assert_array_equal(timestamps(values), expected)


@settings(max_examples=examples(200))
@given(
    parts=st.tuples(
        st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25),
        st.integers(0, 61), st.integers(0, 61),
    ),
    form=st.sampled_from(["date", "T", " "]),
    fraction=st.text("0123456789", max_size=10),
)  # fmt: skip
def test_column_timestamp_parser_on_random_iso_texts(
    parts: tuple[int, ...], form: str, fraction: str
) -> None:
    year, month, day, hour, minute, second = parts
    text = f"{year:04d}-{month:02d}-{day:02d}"
    if form != "date":
        text += f"{form}{hour:02d}:{minute:02d}:{second:02d}" + (f".{fraction}" if fraction else "")
    assert timestamps([text])[0] == _as_datetime64(timestamp(text)) or (
        timestamp(text) is None and np.isnat(timestamps([text])[0])
    )


def test_a_bad_row_in_the_middle_of_two_hundred_is_named() -> None:
    """Errors name the row index and field wherever the row sits in a large request."""
    records = [
        _rec(order_id=f"o{i}", order_ts=f"2011-{1 + i % 11:02d}-{1 + i % 28:02d}T10:00:00",
             amount=1.0 + i, product_id=f"P{i % 9}")
        for i in range(200)
    ]  # fmt: skip
    records[117] = {**records[117], "order_ts": "2011-02-30T10:00:00"}
    records[150] = {**records[150], "amount": "12,5"}
    records[151] = {**records[151], "quantity": 2}  # another field set: a second group
    records[152] = {**records[152], "colour": "red"}
    records[199] = dict(records[3])  # a repeat of an earlier line
    result = validate_records(records, RETAIL)
    assert result.errors == [
        RecordError(117, "order_ts", "bad_timestamp", "2011-02-30T10:00:00"),
        RecordError(150, "amount", "bad_number", "12,5"),
        RecordError(152, "colour", "unknown_field"),
        RecordError(199, "*", "duplicate_line"),
    ]
    assert result.frame["order_id"].tolist() == [
        f"o{i}" for i in range(200) if i not in (117, 150, 152, 199)
    ]
    assert result.frame["quantity"].notna().tolist() == [
        i == 151 for i in range(200) if i not in (117, 150, 152, 199)
    ]
    pd.testing.assert_frame_equal(result.frame, validate_records_sql(records, RETAIL).frame)


def test_python_number_parser_matches_duckdb() -> None:
    ours = [number(t) for t in NUMBER_TEXTS]
    theirs = _sql_parse("SELECT TRY_CAST($1 AS DOUBLE)", NUMBER_TEXTS)
    assert [str(x) for x in ours] == [str(x) for x in theirs]


_VALUE = {
    "customer_id": st.sampled_from(["c1", "c2", " c1 ", "", "17850.0", 17850.0, 12]),
    "order_id": st.sampled_from(["C1", "o1", "", " o2"]),
    "order_ts": st.sampled_from(
        [
            "2011-03-01",
            "2011-03-01 10:00:00",
            "2011-03-01T10:00:00+02:00",
            "2011-03-01T10:00:00.123456789",
            "2011-03-01 23:59:59.5",
            "2011-02-29",
            "bad",
            "2011-12-10",
            datetime(2011, 5, 1, 8, 30),
            datetime(2011, 5, 1, tzinfo=UTC),
            date(2011, 6, 1),
        ]
    ),
    "amount": st.sampled_from([5.0, -2.0, 0, "x", float("nan"), float("inf"), "", "7.5"]),
    "quantity": st.sampled_from([1, -1, 0, 2.5, "y", ""]),
    "unit_price": st.sampled_from([1.0, 0.0, -1.0, "z", "3"]),
    "product_id": st.sampled_from(["A", "POST", "gift_1", " B ", ""]),
    "category": st.sampled_from(["toys", "", "books"]),
    "status": st.sampled_from(["completed", "Refunded", "cancelled", "", "weird", "RETURNED"]),
}
RECORDS = st.lists(
    st.fixed_dictionaries(
        {"customer_id": st.none() | _VALUE["customer_id"], "order_ts": _VALUE["order_ts"]},
        optional={
            k: st.none() | v for k, v in _VALUE.items() if k not in ("customer_id", "order_ts")
        },
    ),
    max_size=12,
)


@settings(max_examples=examples(60), suppress_health_check=[HealthCheck.too_slow])
@given(records=RECORDS, use_params=st.booleans())
def test_fast_path_agrees_with_the_batch_sql(
    records: list[dict[str, Any]], use_params: bool
) -> None:
    params = RETAIL if use_params else None
    fast, reference = validate_records(records, params), validate_records_sql(records, params)
    assert fast.errors == reference.errors
    pd.testing.assert_frame_equal(fast.frame, reference.frame)


def test_two_hundred_records_are_all_kept_with_their_amounts() -> None:
    """Correctness only: the timing lives in benchmarks (bench_serving, 200 raw orders)."""
    records = [
        _rec(customer_id=f"c{i % 7}", order_ts=f"2011-03-{1 + i % 28:02d}T10:{i % 60:02d}",
             quantity=1 + i % 3, unit_price=2.5, amount=None, product_id=f"P{i}", status="done")
        for i in range(200)
    ]  # fmt: skip
    result = validate_records(records, RETAIL)
    assert not result.errors
    frame = result.frame
    assert frame["product_id"].tolist() == [f"P{i}" for i in range(200)]
    assert frame["amount"].tolist() == [2.5 * (1 + i % 3) for i in range(200)]
    assert (frame["status"] == "completed").all()
    assert frame["customer_id"].tolist() == [f"c{i % 7}" for i in range(200)]


def test_optional_fields_are_optional_per_record() -> None:
    """One record's quantity (or product) does not make it required on the others."""
    records = [
        _rec(quantity=6, product_id="85123A", order_ts="2011-03-02T10:15:00"),
        _rec(order_ts="2011-06-11T09:00:00"),
        _rec(order_ts="2011-07-01T14:30:00", quantity=None, amount=-20.0, status="returned"),
        _rec(order_ts="2011-07-02T14:30:00", quantity=""),
    ]
    for validate in (validate_records, validate_records_sql):
        result = validate(records, RETAIL)
        assert result.errors == [RecordError(3, "quantity", "bad_number", "")]
        frame = result.frame
        assert frame["quantity"].tolist()[:1] == [6.0] and frame["quantity"][1:].isna().all()
        assert frame["product_id"].tolist()[0] == "85123A"
        assert frame["product_id"][1:].isna().all()
        assert frame["amount"].tolist() == [5.0, 5.0, -20.0]
