"""Signal tables at ingest (issue 14): mapping, quarantine with reasons, conservation.

Every table is checked for rows in = clean + quarantined; each bad row lands in the
quarantine with its reason and the blamed source column; a table can come from a CSV
file (the orders' reader and dialect), Parquet or a SQL query (SQLite here; PostgreSQL
when ``.ci/run`` sets ``CHURN_TEST_PG_URL``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from config.base import read_params
from config.data import DatabaseSource
from config.root import load_params, parse_params
from config.signals import SignalsParams
from ingest.ingest import main as ingest_main
from ingest.signals import present_tables, run_signals
from ingest.source import IngestError

ROOT = Path(__file__).resolve().parents[2]
DATA = load_params(ROOT / "params.yaml").data
POSTGRES_URL = (os.environ.get("CHURN_TEST_PG_URL") or "").replace("+psycopg", "", 1) or None

TICKETS = pd.DataFrame(
    {
        "client": ["1", "2", "", "3", "4", "5", "6"],
        "opened": [
            "2024-01-02",
            "2024-01-03",
            "2024-01-03",
            "yesterday",
            "2024-02-01",
            "1970-01-01",
            "2024-03-01",
        ],
        "closed": ["2024-01-05", None, None, None, "2024-01-01", None, None],
        "kind": ["Complaint", "question", "complaint", "x", "x", "x", " COMPLAINT "],
        "csat": ["4", None, None, None, None, None, "abc"],
    }
)
# row 3: blank customer; 4: bad timestamp; 5: closed before opened; 6: before min_date;
# 7: satisfaction not a number. Rows 1-2 are clean.
TICKET_REASONS = {
    "missing_customer_id": ("client", 3),
    "bad_timestamp": ("opened", 4),
    "time_order": ("closed", 5),
    "implausible_timestamp": ("opened", 6),
    "bad_number": ("csat", 7),
}
CONTRACTS = pd.DataFrame(
    {
        "client": ["1", "2", "3"],
        "start": ["2024-01-01", "2024-01-01", "2024-01-01"],
        "end": ["2025-01-01", "2025-01-01", "2025-01-01"],
        "renew": ["Yes", "no", "maybe"],  # "maybe" is no yes/no value
    }
)


def _signals(tmp_path: Path, **extra: object) -> SignalsParams:
    tickets_csv = tmp_path / "tickets.csv"
    TICKETS.to_csv(tickets_csv, index=False)
    contracts = tmp_path / "contracts.parquet"
    CONTRACTS.to_parquet(contracts, index=False)
    raw = {
        "tickets": {
            "source": str(tickets_csv),
            "columns": {
                "customer_id": "client",
                "opened_at": "opened",
                "closed_at": "closed",
                "type": "kind",
                "satisfaction": "csat",
            },
            "complaint_types": ["Complaint"],
            "max_quarantine_share": 0.9,
        },
        "contracts": {
            "source": str(contracts),
            "columns": {
                "customer_id": "client",
                "start_at": "start",
                "end_at": "end",
                "auto_renew": "renew",
            },
            "max_quarantine_share": 0.5,
        },
        **extra,
    }
    return SignalsParams.model_validate(raw)


def test_every_row_is_clean_or_quarantined_with_its_reason(tmp_path: Path) -> None:
    out = tmp_path / "signals"
    report = run_signals(_signals(tmp_path), DATA, out)
    assert present_tables(out) == ("tickets", "contracts")
    t = report["tickets"]
    assert (t["rows_in"], t["rows_clean"], t["rows_quarantined"]) == (7, 2, 5)
    assert {r: n for r, n in t["quarantined_by_reason"].items() if n} == {
        r: 1 for r in TICKET_REASONS
    }
    q = pd.read_parquet(out / "tickets.quarantine.parquet")
    got = {row.reason: (row.column_name, row.source_row) for row in q.itertuples()}
    assert got == TICKET_REASONS
    clean = pd.read_parquet(out / "tickets.parquet")
    assert clean["customer_id"].tolist() == ["1", "2"]
    assert clean["is_complaint"].tolist() == [True, False]  # case-insensitive, trimmed
    assert clean["satisfaction"].tolist()[0] == 4.0
    c = report["contracts"]
    assert (c["rows_in"], c["rows_clean"], c["quarantined_by_reason"]["bad_boolean"]) == (3, 2, 1)
    assert pd.read_parquet(out / "contracts.parquet")["auto_renew"].tolist() == [True, False]


def test_the_quarantine_share_limit_stops_the_table(tmp_path: Path) -> None:
    signals = _signals(tmp_path)
    strict = signals.model_copy(
        update={"tickets": signals.tickets.model_copy(update={"max_quarantine_share": 0.5})}  # type: ignore[union-attr]
    )
    with pytest.raises(IngestError, match=r"signals.tickets: 5 of 7 rows .* quarantined"):
        run_signals(strict, DATA, tmp_path / "signals")


def test_a_mapped_column_missing_from_the_source_is_named(tmp_path: Path) -> None:
    usage = tmp_path / "usage.parquet"
    pd.DataFrame({"client": ["1"], "at": ["2024-01-01"]}).to_parquet(usage)
    signals = _signals(
        tmp_path,
        usage={
            "source": str(usage),
            "columns": {"customer_id": "client", "ts": "at", "event": "feature"},
        },
    )
    with pytest.raises(IngestError, match=r"signals.usage.columns.event = 'feature'"):
        run_signals(signals, DATA, tmp_path / "signals")


def test_params_name_an_unmapped_required_column() -> None:
    raw = {"tickets": {"source": "x.csv", "columns": {"customer_id": "c"}}}
    with pytest.raises(ValueError, match=r"map required column\(s\) \['opened_at'\]"):
        SignalsParams.model_validate(raw)
    raw = {
        "tickets": {
            "source": "x.csv",
            "columns": {"customer_id": "c", "opened_at": "o", "openedd": "x"},
        }
    }
    with pytest.raises(ValueError, match="unknown canonical column"):
        SignalsParams.model_validate(raw)


def test_unmapped_tables_leave_an_empty_manifest(tmp_path: Path) -> None:
    out = tmp_path / "signals"
    out.mkdir()
    (out / "usage.parquet").write_bytes(b"stale")
    assert run_signals(SignalsParams(), DATA, out) == {}
    assert present_tables(out) == ()
    assert not list(out.glob("*.parquet"))  # a table no longer mapped leaves no file


def _db_tickets(con: object) -> None:
    cur = con.cursor()  # type: ignore[attr-defined]
    table = pa.Table.from_pandas(TICKETS.astype("string"), preserve_index=False)
    cur.adbc_ingest("crm_tickets", table, "replace")
    cur.close()
    con.commit()  # type: ignore[attr-defined]


def _same_from_database(tmp_path: Path, source: DatabaseSource) -> None:
    file_report = run_signals(_signals(tmp_path), DATA, tmp_path / "file")
    signals = _signals(tmp_path)
    db = signals.model_copy(
        update={"tickets": signals.tickets.model_copy(update={"source": source})}  # type: ignore[union-attr]
    )
    db_report = run_signals(db, DATA, tmp_path / "db")
    for key in ("rows_in", "rows_clean", "rows_quarantined", "quarantined_by_reason"):
        assert db_report["tickets"][key] == file_report["tickets"][key], key
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "db" / "tickets.parquet"),
        pd.read_parquet(tmp_path / "file" / "tickets.parquet"),
    )


def test_a_signal_table_from_sqlite_matches_the_file(tmp_path: Path) -> None:
    import adbc_driver_sqlite.dbapi as sqlite

    db = tmp_path / "crm.db"
    with sqlite.connect(str(db)) as con:
        _db_tickets(con)
    source = DatabaseSource(url=f"sqlite:///{db}", query="SELECT * FROM crm_tickets")
    _same_from_database(tmp_path, source)


@pytest.mark.skipif(POSTGRES_URL is None, reason="CHURN_TEST_PG_URL not set (.ci/run sets it)")
def test_a_signal_table_from_postgresql_matches_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import adbc_driver_postgresql.dbapi as postgresql

    assert POSTGRES_URL is not None
    with postgresql.connect(POSTGRES_URL) as con:
        _db_tickets(con)
    monkeypatch.setenv("CHURN_CRM_URL", POSTGRES_URL)
    query = "SELECT * FROM crm_tickets"
    _same_from_database(tmp_path, DatabaseSource(url_env="CHURN_CRM_URL", query=query))


def test_the_stage_writes_signals_into_its_report(tmp_path: Path) -> None:
    raw = read_params(ROOT / "params.yaml")
    orders = tmp_path / "orders.parquet"
    pd.read_parquet(ROOT / "data/raw/online_retail.parquet").head(2000).to_parquet(orders)
    raw["data"]["source"] = str(orders)
    raw["signals"] = _signals(tmp_path).model_dump(mode="json", exclude_none=True)
    parse_params(raw)  # valid
    params = tmp_path / "params.yaml"
    params.write_text(json.dumps(raw))  # JSON is YAML
    args = [
        "--params",
        str(params),
        "--orders",
        str(tmp_path / "o.parquet"),
        "--quarantine",
        str(tmp_path / "q.parquet"),
        "--report",
        str(tmp_path / "r.json"),
    ]
    with pytest.raises(SystemExit):  # signals mapped but no --signals directory
        ingest_main(args)
    ingest_main([*args, "--signals", str(tmp_path / "signals")])
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["signals"]["tickets"]["rows_in"] == 7
    assert report["rows_in"] == report["rows_clean"] + report["rows_quarantined"]
