"""A SQL query on a database ingests exactly like the same rows from a file.

SQLite runs everywhere (the embedded case); PostgreSQL runs against the real server that
``.ci/run`` starts (``CHURN_TEST_PG_URL``) and is skipped where none is configured.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from config.data import DatabaseSource, DataParams
from config.root import load_params
from ingest.database import redacted
from ingest.ingest import run_ingest
from ingest.source import IngestError

ROOT = Path(__file__).resolve().parents[2]
N_ROWS = 30_000  # enough lines for every quarantine reason and many Arrow batches
# .ci/run starts a real server and sets CHURN_TEST_PG_URL (SQLAlchemy form; ADBC wants libpq's)
POSTGRES_URL = (os.environ.get("CHURN_TEST_PG_URL") or "").replace("+psycopg", "", 1) or None


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first N_ROWS lines of the bundled Online Retail export, as a Parquet file."""
    frame = pd.read_parquet(ROOT / "data" / "raw" / "online_retail.parquet").head(N_ROWS)
    path = tmp_path_factory.mktemp("export") / "orders.parquet"
    frame.to_parquet(path, index=False)
    return path


def _data_params(source: str | DatabaseSource) -> DataParams:
    data = load_params(ROOT / "params.yaml").data
    # the first lines of the export have more anonymous lines than the whole file
    return data.model_copy(update={"source": source, "format": "auto", "max_quarantine_share": 0.9})


def _ingest(tmp_path: Path, params: DataParams, name: str) -> tuple[dict, pd.DataFrame]:
    out = tmp_path / name
    report = run_ingest(params, out / "orders.parquet", out / "q.parquet", out / "r.json")
    assert json.loads((out / "r.json").read_text()) == report
    return report, pd.read_parquet(out / "orders.parquet")


def _load(con: object, frame: pd.DataFrame) -> None:
    cur = con.cursor()  # type: ignore[attr-defined]
    cur.adbc_ingest("erp_orders", pa.Table.from_pandas(frame, preserve_index=False), "replace")
    cur.close()
    con.commit()  # type: ignore[attr-defined]


def _same_as_file(tmp_path: Path, export: Path, source: DatabaseSource) -> None:
    file_report, file_orders = _ingest(tmp_path, _data_params(str(export)), "file")
    db_report, db_orders = _ingest(tmp_path, _data_params(source), "db")
    # the clean table's row order is not part of the contract (DuckDB writes in parallel)
    keys = list(file_orders.columns)
    pd.testing.assert_frame_equal(
        db_orders.sort_values(keys).reset_index(drop=True),
        file_orders.sort_values(keys).reset_index(drop=True),
    )
    for key in ("rows_in", "rows_clean", "rows_quarantined", "quarantined_by_reason"):
        assert db_report[key] == file_report[key], key
    assert db_report["rows_in"] == N_ROWS
    assert db_report["rows_in"] == db_report["rows_clean"] + db_report["rows_quarantined"]
    assert "password" not in json.dumps(db_report)


def test_sqlite_query_gives_the_same_orders_as_the_file(tmp_path: Path, export: Path):
    import adbc_driver_sqlite.dbapi as sqlite

    db = tmp_path / "erp.db"
    with sqlite.connect(str(db)) as con:
        _load(con, pd.read_parquet(export))
    source = DatabaseSource(url=f"sqlite:///{db}", query="SELECT * FROM erp_orders")
    _same_as_file(tmp_path, export, source)


@pytest.mark.skipif(
    POSTGRES_URL is None, reason="CHURN_TEST_POSTGRES_URL not set (.ci/run sets it)"
)
def test_postgresql_query_gives_the_same_orders_as_the_file(
    tmp_path: Path, export: Path, monkeypatch: pytest.MonkeyPatch
):
    import adbc_driver_postgresql.dbapi as postgresql

    assert POSTGRES_URL is not None
    with postgresql.connect(POSTGRES_URL) as con:
        _load(con, pd.read_parquet(export))
    monkeypatch.setenv("CHURN_ERP_URL", POSTGRES_URL)
    query = "SELECT * FROM erp_orders"
    _same_as_file(tmp_path, export, DatabaseSource(url_env="CHURN_ERP_URL", query=query))


def test_a_password_in_params_is_refused() -> None:
    with pytest.raises(ValueError, match=r"url holds a password.*url_env"):
        DatabaseSource(url="postgresql://u:secret@db/erp", query="select 1")


def test_a_missing_environment_variable_is_named(tmp_path: Path) -> None:
    source = DatabaseSource(url_env="CHURN_NO_SUCH_URL_FOR_TESTS", query="select 1")
    with pytest.raises(IngestError, match="CHURN_NO_SUCH_URL_FOR_TESTS is not set"):
        _ingest(tmp_path, _data_params(source), "x")


def test_a_failing_query_is_named_without_credentials(tmp_path: Path, export: Path) -> None:
    import adbc_driver_sqlite.dbapi as sqlite

    db = tmp_path / "erp.db"
    with sqlite.connect(str(db)) as con:
        _load(con, pd.read_parquet(export).head(10))
    source = DatabaseSource(url=f"sqlite:///{db}", query="SELECT * FROM no_such_table")
    with pytest.raises(IngestError, match=r"data\.source\.query failed on sqlite://"):
        _ingest(tmp_path, _data_params(source), "x")


def test_redacted_drops_user_information() -> None:
    assert (
        redacted("postgresql://u:pw@db.example:5433/erp?x=1") == "postgresql://db.example:5433/erp"
    )
