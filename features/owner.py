"""Each customer's owner (sales rep) as of a cutoff: who gets the customer's alerts.

The export may map an owner column (``data.columns.owner``, or a lookup table joined on
by ingest). The owner is **not** a feature: it routes alerts to a rep and feeds
``alerts.capacity_per_owner``; it never enters the feature frame the model sees.

As of cutoff ``T``, a customer's owner is the owner on their **latest line strictly
before ``T``** that names one (any status: a return or a cancellation still says who
held the account then). Lines at the same latest timestamp with different owners are
broken by the alphabetically first owner, so the answer does not depend on file order.
A reassignment dated on or after ``T`` is not used, the same as-of rule as the
features (nothing after the cutoff leaks into what is scored at the cutoff).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

OWNER = "owner"


def _source(path: Path) -> str:
    target = str(path / "**" / "*.parquet") if path.is_dir() else str(path)
    return "read_parquet('" + target.replace("'", "''") + "')"


def has_owner(path: str | Path) -> bool:
    """Whether the cleaned orders at ``path`` carry an ``owner`` column."""
    p = Path(path)
    first = sorted(p.rglob("*.parquet"))[0] if p.is_dir() else p
    return OWNER in pq.read_schema(first).names


def owner_as_of(path: str | Path, cutoff: pd.Timestamp) -> pd.Series:
    """``customer_id -> owner`` as of ``cutoff`` (customers with no owner are absent)."""
    sql = f"""
SELECT customer_id, owner FROM (
  SELECT CAST(customer_id AS VARCHAR) AS customer_id, CAST(owner AS VARCHAR) AS owner,
         row_number() OVER (PARTITION BY customer_id
                            ORDER BY order_ts DESC, owner ASC) AS n
  FROM {_source(Path(path))}
  WHERE owner IS NOT NULL AND order_ts < ?)
WHERE n = 1
"""
    with duckdb.connect(":memory:") as con:
        con.execute("SET TimeZone = 'UTC'")
        stamp = pd.Timestamp(cutoff).to_pydatetime()
        frame = con.execute(sql, [stamp]).df()
    return pd.Series(frame[OWNER].to_numpy(dtype=object), index=frame["customer_id"], name=OWNER)


def with_owner(frame: pd.DataFrame, owners: pd.Series) -> pd.DataFrame:
    """``frame`` with an ``owner`` column appended (None where the customer has none)."""
    mapped = frame["customer_id"].astype(str).map(owners)
    out = frame.copy()
    out[OWNER] = mapped.astype(object).where(mapped.notna(), None)
    return out
