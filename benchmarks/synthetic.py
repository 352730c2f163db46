"""Synthetic order exports shaped like UCI Online Retail, generated inside DuckDB.

The export has Online Retail's columns (``InvoiceNo, StockCode, Description, Quantity,
InvoiceDate, UnitPrice, CustomerID, Country``), so the default ``data`` params map it
unchanged, and its quirks at configurable rates: missing customers, ``C`` cancellation
invoices, stray negative quantities, zero prices, postage/fee codes and exact repeats.

Behind the lines is a small purchase process, so features have something to find:

* heterogeneous rates: invoice ``o`` belongs to customer ``floor(N * u**1.7)``, so a few
  customers order often and most rarely;
* dropout: each customer is active from a start to an end drawn per customer; about
  half end before the data does (churners);
* pre-churn signals: invoice times are denser early in a customer's life (gaps lengthen
  towards the end), quantities shrink as the end nears, returns become likelier;
* seasonality: time is warped so that autumn months are busier.

Every random number is a hash of (seed, entity, stream), so a file is a pure function
of its arguments and DuckDB may generate it on all cores: 10M lines take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import duckdb


@dataclass(frozen=True)
class ExportShape:
    """Size, time span and quirk rates of a synthetic export."""

    n_lines: int
    n_customers: int
    seed: int
    lines_per_invoice: int = 20
    start: str = "2010-12-01 08:00:00"
    span_days: int = 730
    missing_customer_rate: float = 0.2
    cancel_rate: float = 0.02
    stray_return_rate: float = 0.01
    zero_price_rate: float = 0.005
    fee_rate: float = 0.005
    duplicate_rate: float = 0.01
    peak_year_fraction: float = 0.92  # from a 1 December start: November is busiest


def _u(seed: int, entity: str, stream: int) -> str:
    """SQL for a uniform [0, 1) number, a pure function of (seed, entity, stream)."""
    return f"((hash({seed}, {stream}, {entity}) >> 11) / 9007199254740992.0)"


def export_sql(shape: ExportShape) -> str:
    """A SELECT producing the export's lines in invoice order (insertion order kept)."""
    s = shape
    years, phase = s.span_days / 365.25, s.peak_year_fraction
    u = lambda entity, stream: _u(s.seed, entity, stream)  # noqa: E731
    return f"""
WITH lines AS (
  SELECT i,
         CASE WHEN {u("i", 1)} < {s.duplicate_rate} AND i > 0 THEN i - 1 ELSE i END AS src
  FROM range({s.n_lines}) t(i)
), inv AS (
  SELECT i, src, src // {s.lines_per_invoice} AS o FROM lines
), cust AS (
  SELECT *, CAST(floor({s.n_customers} * pow({u("o", 2)}, 1.7)) AS BIGINT) AS c FROM inv
), life AS (
  SELECT *, 0.8 * {u("c", 3)} AS c_start,
         least(1.0, 0.8 * {u("c", 3)} - 0.6 * ln(1.0 - {u("c", 4)})) AS c_end
  FROM cust
), timed AS (
  SELECT *, pow({u("o", 5)}, 1.6) AS r FROM life
), placed AS (
  SELECT *, c_start + r * (c_end - c_start) AS x FROM timed
), seasonal AS (
  -- time warp with density 1 / (1 - 0.35 cos(2 pi (k x - {s.peak_year_fraction}))), k years
  -- in the span: each year is busiest {s.peak_year_fraction:.2f} of the way through
  SELECT *, x - 0.35 / (2 * pi() * {years}) * (sin(2 * pi() * ({years} * x - {phase}))
         - sin(-2 * pi() * {phase})) AS t
  FROM placed
)
SELECT
  CASE WHEN {u("o", 6)} < {s.cancel_rate} THEN 'C' ELSE '' END
    || CAST(536365 + o AS VARCHAR) AS InvoiceNo,
  CASE WHEN {u("src", 7)} < {s.fee_rate} THEN 'POST'
       ELSE CAST(10000 + CAST(floor(4000 * pow({u("src", 8)}, 2)) AS BIGINT) AS VARCHAR)
  END AS StockCode,
  'ITEM ' || CAST(CAST(floor(4000 * pow({u("src", 8)}, 2)) AS BIGINT) AS VARCHAR) AS Description,
  CAST(greatest(1, round((1 + 23 * pow({u("src", 9)}, 3)) * (1.0 - 0.6 * r))) AS BIGINT)
    * CASE WHEN {u("o", 6)} < {s.cancel_rate} THEN -1
           WHEN {u("src", 10)} < {s.stray_return_rate} * (1 + 6 * r) THEN -1 ELSE 1 END
    AS Quantity,
  TIMESTAMP '{s.start}' + to_minutes(CAST(
    floor(least(greatest(t, 0.0), 0.9999999) * {s.span_days} * 1440) AS BIGINT)) AS InvoiceDate,
  CASE WHEN {u("src", 11)} < {s.zero_price_rate} THEN 0.0
       ELSE round(0.29 + 12 * pow({u("src", 12)}, 2.5), 2) END AS UnitPrice,
  CASE WHEN {u("o", 13)} < {s.missing_customer_rate} THEN NULL
       ELSE CAST(12346 + c AS DOUBLE) END AS CustomerID,
  ['United Kingdom', 'Germany', 'France', 'EIRE', 'Spain'][
    1 + CAST(floor(5 * pow({u("c", 14)}, 3)) AS BIGINT)] AS Country
FROM seasonal
"""


def write_export(shape: ExportShape, path: Path, fmt: Literal["parquet", "csv"]) -> Path:
    """Write the export to ``path`` as Parquet (zstd) or CSV with a header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER"
    target = str(path).replace("'", "''")
    with duckdb.connect() as con:
        con.execute(f"COPY ({export_sql(shape)}) TO '{target}' ({options})")
    return path
